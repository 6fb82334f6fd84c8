/**
 * Ready: everything the replica wants done since the last takeReady(), as one batch (etcd raft's
 * Ready). The driver MUST keep this order:
 *
 *   1. write `acceptor`, `accepted`, then `blocks` (with the head pointer, and deleting the
 *      accepted entries listed in `droppedAccepted`) in one batch, after the batches of earlier
 *      Readys; sync it when it carries a vote or a message of step 2 (blocks alone may wait for a
 *      later sync: a block lost in a crash is fetched again);
 *   2. only after that sync, send the messages that claim a vote (promises and acceptances:
 *      mustPersistBeforeSending() says which) and every message addressed to this node (handed
 *      back to step());
 *   3. everything else may leave at once, without waiting for the write: the other messages,
 *      the client `replies`, `serves`, `hashServes` and `events`.
 *
 * Step 2 after step 1 is what makes an acceptor's promise or acceptance durable before anyone can
 * count it, and a leader's own vote durable before it counts itself. Replies may go early because
 * a write is answered only once it is chosen, that is durable on a majority already. The host's
 * Ready loop (src/host/ready-loop.ts), which the node driver and the simulator both run, keeps
 * this order (mustPersistBeforeSending() says which messages wait).
 */
import type { HeadCertificate } from '../ledger/signing.js';
import type { VerifiedAnswer } from '../ledger/verified.js';
import type { ErrorCode } from '../lib/errors.js';
import type { Ballot, NodeId } from '../paxos/ballot.js';
import type { AcceptedEntry } from '../paxos/messages.js';
import type { AcceptorDurableState } from '../paxos/acceptor.js';
import type { Message } from './messages.js';
import type { SnapshotManifest } from '../kv/snapshot.js';
import type { Revisions } from '../kv/table.js';
import type { RangePage } from '../kv/range.js';
import type { KvChange, TxnOutput } from '../kv/state.js';

/** The codes a replica answers a client with: a subset of the one vocabulary, src/lib/errors.ts. */
export type ReplyError = Extract<ErrorCode, 'NOT_LEADER' | 'OVERLOADED' | 'DIVERGED' | 'INVALID_ARGUMENT' | 'NOT_READY' | 'UNAVAILABLE'>;

export type ClientReply =
  | {
      readonly requestId: number;
      readonly ok: true;
      readonly kind: 'write';
      /** ResultCode, with DUPLICATE_FLAG when answered from the dedup table. */
      readonly result: number;
      /** Height of the block that applied the command (the first time, for duplicates). */
      readonly height: number;
      /** For a verified write: the written key proven at that block (src/ledger/verified.ts). */
      readonly verified?: VerifiedAnswer;
      /** For a verified write this node applied but cannot prove: why (the result stands). */
      readonly unprovable?: string;
      /** For a txn: what its gets read and how many keys it deleted. */
      readonly txn?: TxnOutput;
    }
  | {
      readonly requestId: number;
      readonly ok: true;
      readonly kind: 'read';
      readonly value: Uint8Array | null;
      /** The key's revisions (src/kv/table.ts), when it is present. */
      readonly revisions?: Revisions;
      /** The state the read saw: after applying block `height` with hash `hash`. */
      readonly height: number;
      readonly hash: Uint8Array;
      readonly stale: boolean;
      /** For a verified read: what lets the client check the value without trusting this node. */
      readonly verified?: VerifiedAnswer;
    }
  | {
      readonly requestId: number;
      readonly ok: true;
      readonly kind: 'range';
      readonly page: RangePage;
      /** The state the page was read from: after applying block `height` with hash `hash`. */
      readonly height: number;
      readonly hash: Uint8Array;
      readonly stale: boolean;
    }
  | {
      readonly requestId: number;
      readonly ok: false;
      readonly error: ReplyError;
      readonly message: string;
      /** For NOT_LEADER: the leader this node knows of (0 = none). */
      readonly leader: NodeId;
    };

export interface FetchServe {
  readonly to: NodeId;
  readonly fromHeight: number;
  readonly maxBlocks: number;
}

/**
 * "Send `to` the hashes of your blocks at `heights`" (a `hashes` message, empty where no block):
 * a peer's bisection request, or this node's own (then `to` is this node: hand it to step()).
 */
export interface HashServe {
  readonly to: NodeId;
  readonly heights: readonly number[];
}

/** What a state sync (src/replica/state-sync.ts) has verified so far and the host persists. */
export interface SyncWrites {
  /** Checked headers to store in the header index (0x07). */
  readonly headers: Array<{ readonly height: number; readonly header: Uint8Array }>;
  /** Checked snapshot chunks of the checkpoint being loaded, in order. */
  readonly chunks: Array<{ readonly height: number; readonly index: number; readonly bytes: Uint8Array }>;
}

/**
 * A finished state sync: the chain now continues from block `height` (hash `blockHash`) with the state
 * of this checkpoint, and no body below it. The host stores the checkpoint's manifest, marks the
 * bodies below height + 1 as not kept, and moves the head pointer there, in one synced batch
 * after the headers and chunks of SyncWrites.
 */
export interface SnapshotInstall extends SnapshotManifest {
  /** How many of the Ready's `blocks` come before the install (they are at or below the old head). */
  readonly blocksBefore: number;
}

/** A peer's state sync request, answered from this node's store (src/host/serve.ts). */
export type SnapshotServe =
  | { readonly to: NodeId; readonly kind: 'offer' }
  | { readonly to: NodeId; readonly kind: 'headers'; readonly fromHeight: number; readonly count: number }
  | { readonly to: NodeId; readonly kind: 'chunk'; readonly height: number; readonly index: number };

export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ReplicaEvent {
  readonly level: EventLevel;
  readonly message: string;
  readonly ballot: Ballot;
  readonly height: number;
  readonly fields?: Record<string, unknown>;
}

export interface Ready {
  acceptor: AcceptorDurableState | undefined;
  accepted: AcceptedEntry[];
  /** Block records to append, in height order, with their block hashes. */
  blocks: Uint8Array[];
  blockHashes: Uint8Array[];
  /** Slots whose accepted entries became blocks: delete them with the blocks. */
  droppedAccepted: number[];
  /**
   * A head certificate newer than the last one handed out (signature rounds, verified-reads.ts):
   * store it in the same batch (not safety-critical: it lets tools check signatures offline).
   */
  certificate: HeadCertificate | undefined;
  messages: Message[];
  replies: ClientReply[];
  serves: FetchServe[];
  hashServes: HashServe[];
  /** State sync requests of peers to answer from the store. */
  snapshotServes: SnapshotServe[];
  /** State sync: verified headers and chunks to store, and at the end the install. */
  syncWrites: SyncWrites | undefined;
  install: SnapshotInstall | undefined;
  /**
   * With config.changeEvents: what each block appended by this Ready changed, in height order
   * (src/kv/state.ts KvChange), and the height a state sync installed (the changes below it
   * are unknown here: watchers of this node resume elsewhere).
   */
  changes: BlockChanges[];
  changesReset: number | undefined;
  events: ReplicaEvent[];
}

export interface BlockChanges {
  readonly height: number;
  readonly changes: readonly KvChange[];
}

export function emptyReady(): Ready {
  return {
    acceptor: undefined,
    accepted: [],
    blocks: [],
    blockHashes: [],
    droppedAccepted: [],
    certificate: undefined,
    messages: [],
    replies: [],
    serves: [],
    hashServes: [],
    snapshotServes: [],
    syncWrites: undefined,
    install: undefined,
    changes: [],
    changesReset: undefined,
    events: [],
  };
}

/**
 * Whether a message claims something this node must not forget: a promise or an acceptance. Such
 * a message (and any message to this node itself) is sent only after its Ready is synced.
 * Everything else (prepares, accepts, heartbeats, rejections, fetches, blocks read from disk,
 * status, rejoin messages) claims nothing durable and may leave at once, so that a leader's own
 * fsync and its followers' overlap.
 */
export function mustPersistBeforeSending(message: Message): boolean {
  return message.type === 'promise' || message.type === 'accepted';
}
