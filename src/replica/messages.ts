/**
 * Every message replicas exchange: the Paxos messages (src/paxos/messages.ts) plus liveness,
 * heads, catch-up and rejoin. parseMessage() checks a decoded network frame before anything acts
 * on it: wrong shapes, out-of-range numbers and oversized lists are refused with a reason.
 */
import { isU53 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { type Ballot, isBallot, type NodeId, NODE_ID_MAX } from '../paxos/ballot.js';
import type { PaxosMessage } from '../paxos/messages.js';
import { HEADER_BYTES } from '../chain/block.js';
import { SNAPSHOT_CHUNK_BYTES_MAX, SNAPSHOT_CHUNKS_MAX } from '../kv/snapshot.js';

export interface HeadRef {
  readonly height: number;
  readonly hash: Uint8Array;
}

/**
 * Leader -> follower, every heartbeat interval and at once for a read round. Carries the commit
 * index and the leader's head. `round` numbers the heartbeats for ReadIndex confirmation.
 */
export interface HeartbeatMessage {
  readonly type: 'heartbeat';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly ballot: Ballot;
  readonly chosenThrough: number;
  readonly head: HeadRef;
  readonly round: number;
}

export interface HeartbeatAckMessage {
  readonly type: 'heartbeat-ack';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly ballot: Ballot;
  readonly round: number;
  /** null while the node has no chain (no genesis yet). */
  readonly head: HeadRef | null;
  /**
   * Whether the sender votes. A learner (a wiped node rejoining) acks every ballot, whatever it
   * promised before it lost its disk, so its acks confirm neither a read round nor a leadership.
   */
  readonly voting: boolean;
}

/**
 * Pre-vote (Raft §9.6's idea for Paxos): before raising any promise, a node whose election timer
 * fired asks "would you promise `ballot`?". Nobody changes state; a node that still hears a live
 * leader, or promised higher, says no. Only with a majority of yeses does the real phase 1 run,
 * so a node coming back from a partition or a restart cannot push ballots up and depose a
 * healthy leader.
 */
export interface ProbeMessage {
  readonly type: 'probe';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly ballot: Ballot;
}

export interface ProbeReplyMessage {
  readonly type: 'probe-reply';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly ballot: Ballot;
  readonly granted: boolean;
  /** The leader the replier follows (0 = none). */
  readonly leader: NodeId;
}

/** Everyone -> everyone, periodically: who I follow, what I promised, my head. */
export interface StatusMessage {
  readonly type: 'status';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly promised: Ballot;
  readonly leader: NodeId;
  readonly voting: boolean;
  readonly head: HeadRef | null;
  /** Hash of the sender's block 0 (null without genesis): a learner trusts a genesis only when a
   * majority of the members report the same one. */
  readonly genesis: Uint8Array | null;
}

/** Catch-up: "send me blocks from `fromHeight`, at most `maxBlocks`". */
export interface FetchMessage {
  readonly type: 'fetch';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly fromHeight: number;
  readonly maxBlocks: number;
}

export interface BlocksMessage {
  readonly type: 'blocks';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly fromHeight: number;
  /** Stored block records for heights fromHeight, fromHeight + 1, ... */
  readonly records: readonly Uint8Array[];
  readonly head: HeadRef | null;
  /**
   * Set when the sender no longer keeps the body at fromHeight (retention pruned it): its lowest
   * kept body above genesis. The asker then syncs state from a checkpoint instead (state-sync.ts).
   */
  readonly oldestBody?: number;
}

/** State sync: "offer me your newest checkpoint". */
export interface SnapshotRequestMessage {
  readonly type: 'snapshot-request';
  readonly from: NodeId;
  readonly to: NodeId;
}

/** A checkpoint a peer can send, as its manifest says (checked by the asker against header `height`). */
export interface SnapshotOffer {
  readonly height: number;
  readonly blockHash: Uint8Array;
  readonly kvRoot: Uint8Array;
  readonly sessionsRoot: Uint8Array;
  readonly keys: number;
  readonly bytes: number;
  readonly sessions: number;
  readonly chunks: number;
}

export interface SnapshotOfferMessage {
  readonly type: 'snapshot-offer';
  readonly from: NodeId;
  readonly to: NodeId;
  /** null: the sender has no checkpoint. */
  readonly offer: SnapshotOffer | null;
}

/** State sync: "send me the headers from `fromHeight`, at most `count`". */
export interface HeadersRequestMessage {
  readonly type: 'headers-request';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly fromHeight: number;
  readonly count: number;
}

export interface HeadersMessage {
  readonly type: 'headers';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly fromHeight: number;
  /** Consecutive stored headers from fromHeight (HEADER_BYTES each), fewer than asked at the sender's head. */
  readonly headers: Uint8Array;
}

/** State sync: "send me chunk `index` of your checkpoint at `height`". */
export interface ChunkRequestMessage {
  readonly type: 'chunk-request';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly height: number;
  readonly index: number;
}

export interface ChunkMessage {
  readonly type: 'chunk';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly height: number;
  readonly index: number;
  /** The chunk (src/kv/snapshot.ts), or null: the sender no longer has that checkpoint. */
  readonly bytes: Uint8Array | null;
}

/** A wiped node, after waiting out any phase 1 that could count its forgotten promises. */
export interface RejoinRequestMessage {
  readonly type: 'rejoin-request';
  readonly from: NodeId;
  readonly to: NodeId;
  /** Random per start of the learner: a repeated request of one incarnation gets the same grant. */
  readonly nonce: number;
}

/**
 * The leader completed a phase 1 at `ballot` that started after the request and did not count
 * the requester; once the requester's chain reaches `horizon` it may vote for ballots >= `ballot`.
 */
export interface RejoinGrantMessage {
  readonly type: 'rejoin-grant';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly ballot: Ballot;
  readonly horizon: number;
  readonly nonce: number;
}

/**
 * Divergence bisection (src/replica/bisect.ts): "send me your block hashes at these heights".
 * Answered by the host from disk (Ready.hashServes), like a fetch.
 */
export interface HashesRequestMessage {
  readonly type: 'hashes-request';
  readonly from: NodeId;
  readonly to: NodeId;
  /** Ascending, at most HASH_HEIGHTS_MAX. */
  readonly heights: readonly number[];
}

export interface HashesMessage {
  readonly type: 'hashes';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly heights: readonly number[];
  /** The block hash at each of `heights`; empty where the sender holds no block. */
  readonly hashes: readonly Uint8Array[];
}

/**
 * Signed heads (src/replica/certify.ts): "sign your block (height, hash) if you hold it as
 * chosen". Answered with a head-signature once the receiver's chain has that block, never for a
 * block it does not hold.
 */
export interface SignRequestMessage {
  readonly type: 'sign-request';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly height: number;
  readonly hash: Uint8Array;
}

export interface HeadSignatureMessage {
  readonly type: 'head-signature';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly height: number;
  readonly hash: Uint8Array;
  /** Ed25519 over headStatement(genesis hash, height, hash) (src/ledger/signing.ts). */
  readonly signature: Uint8Array;
}

/** Most headers one `headers` message carries (~550 KB). */
export const HEADERS_PER_MESSAGE_MAX = 4096;
/** Largest snapshot chunk a peer may send (SNAPSHOT_CHUNK_BYTES_MAX in src/kv/snapshot.ts, under the frame bound). */
const CHUNK_MESSAGE_BYTES_MAX = SNAPSHOT_CHUNK_BYTES_MAX;

/** Most heights in one hashes request (bisection asks for 16 samples plus one bound). */
const HASH_HEIGHTS_MAX = 32;

export type ReplicaMessage =
  | ProbeMessage
  | ProbeReplyMessage
  | HeartbeatMessage
  | HeartbeatAckMessage
  | StatusMessage
  | FetchMessage
  | BlocksMessage
  | RejoinRequestMessage
  | RejoinGrantMessage
  | HashesRequestMessage
  | HashesMessage
  | SignRequestMessage
  | HeadSignatureMessage
  | SnapshotRequestMessage
  | SnapshotOfferMessage
  | HeadersRequestMessage
  | HeadersMessage
  | ChunkRequestMessage
  | ChunkMessage;

export type Message = PaxosMessage | ReplicaMessage;
export type MessageType = Message['type'];

const HASH_BYTES = 32;
const SIGNATURE_BYTES = 64;

function isNode(value: unknown): value is NodeId {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= NODE_ID_MAX;
}

function isBytes(value: unknown, maxBytes: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length <= maxBytes;
}

function isHead(value: unknown): value is HeadRef {
  const head = value as HeadRef;
  return typeof value === 'object' && value !== null && isU53(head.height) && isBytes(head.hash, HASH_BYTES) && head.hash.length === HASH_BYTES;
}

type Check = (value: Record<string, unknown>) => string | undefined;

const field = (name: string, ok: (value: unknown) => boolean): Check => (value) => (ok(value[name]) ? undefined : `bad ${name}`);
const ballotField = (name: string) => field(name, isBallot);
const u53Field = (name: string) => field(name, isU53);
const hashField = (name: string) => field(name, (v) => isBytes(v, HASH_BYTES) && (v as Uint8Array).length === HASH_BYTES);

const checks: Record<MessageType, Check[]> = {
  prepare: [ballotField('ballot'), u53Field('fromSlot')],
  promise: [
    ballotField('ballot'),
    u53Field('chosenThrough'),
    field('complete', (v) => typeof v === 'boolean'),
    u53Field('nextSlot'),
    field('accepted', (v) => Array.isArray(v) && v.length <= limits.promiseEntriesMax && v.every(isAcceptedEntry)),
  ],
  'prepare-reject': [ballotField('ballot'), ballotField('promised'), field('reason', (v) => v === 'promised-higher' || v === 'leader-alive' || v === 'not-voting'), field('leader', (v) => v === 0 || isNode(v))],
  accept: [ballotField('ballot'), u53Field('slot'), u53Field('chosenThrough'), field('value', (v) => isBytes(v, limits.bodyBytesMax))],
  accepted: [ballotField('ballot'), u53Field('slot')],
  'accept-reject': [ballotField('ballot'), u53Field('slot'), ballotField('promised'), field('reason', (v) => v === 'promised-higher' || v === 'not-voting' || v === 'too-far-ahead')],
  probe: [ballotField('ballot')],
  'probe-reply': [ballotField('ballot'), field('granted', (v) => typeof v === 'boolean'), field('leader', (v) => v === 0 || isNode(v))],
  heartbeat: [ballotField('ballot'), u53Field('chosenThrough'), field('head', isHead), u53Field('round')],
  'heartbeat-ack': [ballotField('ballot'), u53Field('round'), field('head', (v) => v === null || isHead(v)), field('voting', (v) => typeof v === 'boolean')],
  status: [
    ballotField('promised'),
    field('leader', (v) => v === 0 || isNode(v)),
    field('voting', (v) => typeof v === 'boolean'),
    field('head', (v) => v === null || isHead(v)),
    field('genesis', (v) => v === null || (isBytes(v, HASH_BYTES) && (v as Uint8Array).length === HASH_BYTES)),
  ],
  fetch: [u53Field('fromHeight'), field('maxBlocks', (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= limits.fetchBlocksMax)],
  blocks: [
    u53Field('fromHeight'),
    field('records', (v) => Array.isArray(v) && v.length <= limits.fetchBlocksMax && v.every((r) => isBytes(r, limits.bodyBytesMax + 1024))),
    field('head', (v) => v === null || isHead(v)),
    field('oldestBody', (v) => v === undefined || isU53(v)),
  ],
  'snapshot-request': [],
  'snapshot-offer': [field('offer', (v) => v === null || isOffer(v))],
  'headers-request': [u53Field('fromHeight'), field('count', (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= HEADERS_PER_MESSAGE_MAX)],
  headers: [u53Field('fromHeight'), field('headers', (v) => isBytes(v, HEADERS_PER_MESSAGE_MAX * HEADER_BYTES) && (v as Uint8Array).length % HEADER_BYTES === 0)],
  'chunk-request': [u53Field('height'), field('index', (v) => isU53(v) && (v as number) < SNAPSHOT_CHUNKS_MAX)],
  chunk: [u53Field('height'), field('index', (v) => isU53(v) && (v as number) < SNAPSHOT_CHUNKS_MAX), field('bytes', (v) => v === null || isBytes(v, CHUNK_MESSAGE_BYTES_MAX))],
  'rejoin-request': [u53Field('nonce')],
  'rejoin-grant': [ballotField('ballot'), u53Field('horizon'), u53Field('nonce')],
  'hashes-request': [field('heights', isHeights)],
  hashes: [
    field('heights', isHeights),
    (value) => {
      const hashes = value.hashes;
      const ok = Array.isArray(hashes) && hashes.length === (value.heights as unknown[]).length && hashes.every((hash) => isBytes(hash, HASH_BYTES) && (hash.length === 0 || hash.length === HASH_BYTES));
      return ok ? undefined : 'bad hashes';
    },
  ],
  'sign-request': [u53Field('height'), hashField('hash')],
  'head-signature': [u53Field('height'), hashField('hash'), field('signature', (v) => isBytes(v, SIGNATURE_BYTES) && (v as Uint8Array).length === SIGNATURE_BYTES)],
};

function isOffer(value: unknown): boolean {
  const offer = value as Record<string, unknown>;
  const isHash = (v: unknown) => isBytes(v, HASH_BYTES) && (v as Uint8Array).length === HASH_BYTES;
  return (
    typeof value === 'object' && value !== null && isU53(offer.height) && isHash(offer.blockHash) && isHash(offer.kvRoot) && isHash(offer.sessionsRoot) &&
    isU53(offer.keys) && isU53(offer.bytes) && isU53(offer.sessions) && Number.isInteger(offer.chunks) && (offer.chunks as number) >= 1 && (offer.chunks as number) <= SNAPSHOT_CHUNKS_MAX
  );
}

function isHeights(value: unknown): boolean {
  return Array.isArray(value) && value.length >= 1 && value.length <= HASH_HEIGHTS_MAX && value.every(isU53);
}

function isAcceptedEntry(value: unknown): boolean {
  const entry = value as Record<string, unknown>;
  return typeof value === 'object' && value !== null && isU53(entry.slot) && isBallot(entry.ballot) && isBytes(entry.value, limits.bodyBytesMax);
}

/** Validates a decoded frame as a Message; returns a reason string if it is not one. */
export function parseMessage(value: unknown): Message | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const record = value as Record<string, unknown>;
  const type = record.type;
  if (typeof type !== 'string' || !Object.hasOwn(checks, type)) return `unknown message type ${String(type)}`;
  if (!isNode(record.from) || !isNode(record.to)) return 'bad from/to';
  for (const check of checks[type as MessageType]) {
    const problem = check(record);
    if (problem) return `${type}: ${problem}`;
  }
  return value as Message;
}
