/**
 * Ready: everything the replica wants done since the last takeReady(), as one batch (etcd raft's
 * Ready). The driver MUST keep this order:
 *
 *   1. write `acceptor`, `accepted`, then `blocks` (with the head pointer, and deleting the
 *      accepted entries listed in `droppedAccepted`) in one batch, synced to disk;
 *   2. only then send `messages` (messages addressed to this node are handed back to step()),
 *      and deliver `replies`;
 *   3. `serves` and `events` may be handled at any time.
 *
 * Step 2 after step 1 is what makes an acceptor's promise or acceptance durable before anyone can
 * count it, and a leader's own vote durable before it counts itself.
 *
 * Only votes depend on durability. A driver may send every other message (and the replies) at
 * once, without waiting for the write: mustPersistBeforeSending() says which is which, and both
 * the node driver and the simulator use it. Messages to oneself always wait.
 */
import type { ErrorCode } from '../lib/errors.js';
import type { Ballot, NodeId } from '../paxos/ballot.js';
import type { AcceptedEntry } from '../paxos/messages.js';
import type { AcceptorDurableState } from '../paxos/acceptor.js';
import type { Message } from './messages.js';

/** The codes a replica answers a client with: a subset of the one vocabulary, src/lib/errors.ts. */
export type ReplyError = Extract<ErrorCode, 'NOT_LEADER' | 'OVERLOADED' | 'DIVERGED' | 'INVALID_ARGUMENT' | 'NOT_READY'>;

export type ClientReply =
  | {
      readonly requestId: number;
      readonly ok: true;
      readonly kind: 'write';
      /** ResultCode, with DUPLICATE_FLAG when answered from the dedup table. */
      readonly result: number;
      /** Height of the block that applied the command (the first time, for duplicates). */
      readonly height: number;
    }
  | {
      readonly requestId: number;
      readonly ok: true;
      readonly kind: 'read';
      readonly value: Uint8Array | null;
      /** The state the read saw: after applying block `height` with hash `hash`. */
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
  messages: Message[];
  replies: ClientReply[];
  serves: FetchServe[];
  events: ReplicaEvent[];
}

export function emptyReady(): Ready {
  return { acceptor: undefined, accepted: [], blocks: [], blockHashes: [], droppedAccepted: [], messages: [], replies: [], serves: [], events: [] };
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
