/**
 * The client protocol spoken on a node's port after ClientHello: requests `{ id, op, ... }`,
 * replies `{ id, ok, ... }` echoing the id (src/transport/server.ts). This file is the one
 * contract both sides use: parseClientRequest() checks a request before the node acts on it
 * (anything malformed is answered INVALID_ARGUMENT), encodeReply() is the only way the node
 * builds a reply frame, and the decode…Reply() functions are how the client reads one (a frame of
 * the wrong shape is refused, never cast).
 *
 * A write carries the command tuple of src/kv/command.ts with the client's session secret in the
 * session field; parsing it derives the session id the chain records (sealWireCommand).
 */
import type { HeadCertificateJson } from '../ledger/signing.js';
import { decodeVerifiedAnswer, encodeVerifiedAnswer, type VerifiedAnswer, type VerifyRequest } from '../ledger/verified.js';
import { isU53 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import type { ErrorCode } from '../lib/errors.js';
import type { SessionIds } from '../kv/session.js';
import { checkKey, describeResult, type SealedCommand, sealWireCommand, TXN_OPS_MAX } from '../kv/command.js';
import { isRevisions } from '../kv/state-proof.js';
import type { Revisions } from '../kv/table.js';
import { checkRangeQuery, RANGE_PAGE_ENTRIES_MAX, type RangeEntry, type RangeQuery } from '../kv/range.js';

/** Most blocks one `blocks` request returns, and most hashes one `hashes` request returns. */
export const BLOCKS_PER_REQUEST_MAX = 256;
export const HASHES_PER_REQUEST_MAX = 65_536;

export type ClientRequestBody =
  /** The command as the chain records it: the session id already derived from the secret. */
  | { readonly op: 'write'; readonly command: SealedCommand; readonly verify?: VerifyRequest }
  | { readonly op: 'read'; readonly key: string; readonly stale: boolean; readonly verify?: VerifyRequest }
  /** One page of a range read: { start: bin, after, end: bin | nil, limit, keysOnly, countOnly, stale }. */
  | { readonly op: 'range'; readonly query: RangeQuery; readonly stale: boolean }
  /** Streams the changes of `key` (or with `prefix` of the keys it starts) from height `from` (nil: from now): src/node/watch-hub.ts. */
  | { readonly op: 'watch'; readonly key: Uint8Array; readonly prefix: boolean; readonly from: number | undefined }
  /** Ends the watch that request `watch` started on this connection. */
  | { readonly op: 'unwatch'; readonly watch: number }
  /** Keeps a connection that only listens (a watch) from the idle timeout, and shows the node answers. */
  | { readonly op: 'ping' }
  | { readonly op: 'status' }
  | { readonly op: 'blocks'; readonly from: number; readonly to: number }
  | { readonly op: 'hashes'; readonly from: number; readonly to: number }
  | { readonly op: 'headers'; readonly from: number; readonly to: number };

/**
 * The codes a node answers on the wire: a subset of the one vocabulary (src/lib/errors.ts), and a
 * superset of the replica's own (ReplyError in src/replica/ready.ts).
 */
export type ErrorReplyCode = Extract<ErrorCode, 'NOT_LEADER' | 'OVERLOADED' | 'DIVERGED' | 'INVALID_ARGUMENT' | 'NOT_READY' | 'NOT_FOUND' | 'UNAVAILABLE' | 'PRUNED' | 'COMPACTED' | 'FELL_BEHIND'>;

export interface ErrorReply {
  readonly ok: false;
  readonly error: ErrorReplyCode;
  readonly message: string;
  /** NOT_LEADER: the leader's node id (0 = unknown) and client endpoint. */
  readonly leader?: number;
  readonly leaderEndpoint?: string;
}

/** Result names a write reply may carry (src/kv/command.ts resultNames). */
export type WriteResultName = 'OK' | 'DELETED' | 'NOT_FOUND' | 'CAS_MISMATCH' | 'INVALID' | 'STALE' | 'STATE_FULL' | 'COMPARE_FAILED';
const WRITE_RESULT_NAMES: ReadonlySet<string> = new Set<WriteResultName>(['OK', 'DELETED', 'NOT_FOUND', 'CAS_MISMATCH', 'INVALID', 'STALE', 'STATE_FULL', 'COMPARE_FAILED']);

/** What a txn's branch read and deleted; on the wire { gets: [[key, value | nil, createHeight, modHeight, version] ...], deleted }. */
export interface TxnReplyOutput {
  readonly gets: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array | null; readonly revisions: Revisions | null }>;
  readonly deleted: number;
}
const ERROR_REPLY_CODES: ReadonlySet<string> = new Set<ErrorReplyCode>(['NOT_LEADER', 'OVERLOADED', 'DIVERGED', 'INVALID_ARGUMENT', 'NOT_READY', 'NOT_FOUND', 'UNAVAILABLE', 'PRUNED', 'COMPACTED', 'FELL_BEHIND']);

export interface WriteReply {
  readonly ok: true;
  readonly result: WriteResultName;
  readonly code: number;
  /** Answered from the dedup table: the first result of this (session, seq). */
  readonly duplicate: boolean;
  readonly height: number;
  /** A verified write's proofs: the written key at block `height` (src/ledger/verified.ts). */
  readonly verified?: VerifiedAnswer;
  /** A verified write the node applied but could not prove: why. */
  readonly unprovable?: string;
  /** A txn's gets and deletions (absent for a duplicate: only its result was kept). */
  readonly txn?: TxnReplyOutput;
}

export interface ReadReply {
  readonly ok: true;
  readonly value: Uint8Array | null;
  /** The key's revisions when it is present (on the wire: [createHeight, modHeight, version]). */
  readonly revisions?: Revisions;
  readonly height: number;
  readonly hash: Uint8Array;
  readonly stale: boolean;
  /** A verified read's proofs (src/ledger/verified.ts); the client checks them before believing value. */
  readonly verified?: VerifiedAnswer;
}

export interface MemberStatus {
  readonly id: number;
  readonly endpoint: string;
  /** This node's link to the member (or 'self'). */
  readonly link: 'self' | 'connected' | 'connecting' | 'down';
  /** Why this node's link to the member last failed (e.g. "AUTH_FAILED: ..."), while it is not connected. */
  readonly linkError?: string;
  readonly head: { readonly height: number; readonly hash: string } | null;
}

export interface NodeStatus {
  readonly nodeId: number;
  readonly clusterId: string | null;
  readonly endpoint: string;
  readonly role: string;
  readonly leader: number;
  readonly ballot: string;
  readonly promised: string;
  readonly voting: boolean;
  readonly commitIndex: number;
  readonly head: { readonly height: number; readonly hash: string } | null;
  readonly stateRoot: string | null;
  readonly keys: number;
  /** State size against the limits genesis sets (limits null: none; the whole null before genesis). */
  readonly state?: { readonly keys: number; readonly bytes: number; readonly entriesMax: number | null; readonly bytesMax: number | null; readonly sessions: number } | null;
  /** Bytes of the files in the node's data directory (null: unknown). */
  readonly diskBytes?: number | null;
  /** Height of the newest checkpoint this node wrote or loaded (null: none yet). */
  readonly checkpointHeight?: number | null;
  /** Lowest height above genesis whose body this node keeps (retention drops older ones; null: no chain). */
  readonly oldestBody?: number | null;
  /**
   * State sync (loading a checkpoint from peers when the blocks it needs are pruned): the phase
   * ('idle', 'offers', 'headers', 'chunks'), the checkpoint's height and chunks once chosen, how
   * many chunks are loaded; syncs finished and chunks refused since start.
   */
  readonly stateSync?: { readonly phase: string; readonly height: number | null; readonly chunks: number | null; readonly loaded: number; readonly syncs: number; readonly chunksRefused: number; readonly chunksLoaded: number };
  readonly diverged: {
    readonly height: number;
    readonly peer: number;
    readonly ours: string;
    readonly theirs: string;
    /** First height where the two chains differ, once the node has found it by bisection. */
    readonly firstHeight?: number;
    readonly firstOurs?: string;
    readonly firstTheirs?: string;
  } | null;
  /** Peers whose block at some height has another hash than this node's (alarm, not verdict). */
  readonly disagreeingPeers?: ReadonlyArray<{ readonly peer: number; readonly height: number; readonly ours: string; readonly theirs: string }>;
  readonly members: readonly MemberStatus[];
  /** The newest head certificate this node made or stored (a majority's signatures of one block). */
  readonly certificate?: HeadCertificateJson | null;
  /**
   * Set when this node has peers but no working link to any of them (each tried and failed):
   * whatever its role says, it takes no part in the cluster. `reason` gives each link's error.
   */
  readonly cutOff?: { readonly reason: string } | null;
  readonly uptimeMs: number;
  readonly counters: Readonly<Record<string, number>>;
}

export interface StatusReply {
  readonly ok: true;
  readonly status: NodeStatus;
}

export interface BlocksReply {
  readonly ok: true;
  readonly from: number;
  readonly records: readonly Uint8Array[];
  readonly head: { readonly height: number; readonly hash: Uint8Array } | null;
}

export interface HeadersReply {
  readonly ok: true;
  readonly from: number;
  /** Stored block headers of heights from, from + 1, ... (137 bytes each, HEADER_BYTES, concatenated). */
  readonly headers: Uint8Array;
}

export interface HashesReply {
  readonly ok: true;
  readonly from: number;
  /** Block hashes of heights from, from + 1, ... (32 bytes each, concatenated). */
  readonly hashes: Uint8Array;
}

export function parseClientRequest(request: Readonly<Record<string, unknown>>, sessions: SessionIds): ClientRequestBody | string {
  switch (request.op) {
    case 'write': {
      const command = sealWireCommand(request.command, sessions);
      if (typeof command === 'string') return command;
      const verify = parseVerify(request.verify);
      if (typeof verify === 'string') return `write: ${verify}`;
      return verify ? { op: 'write', command, verify } : { op: 'write', command };
    }
    case 'read': {
      const problem = checkKey(request.key);
      if (problem) return `read: ${problem}`;
      const verify = parseVerify(request.verify);
      if (typeof verify === 'string') return `read: ${verify}`;
      if (verify && request.stale === true) return 'read: a verified read cannot be stale';
      return { op: 'read', key: request.key as string, stale: request.stale === true, ...(verify ? { verify } : {}) };
    }
    case 'range': {
      const { start, after, end, limit, keysOnly, countOnly, stale } = request;
      if (!isBytes(start) || (end !== null && !isBytes(end)) || !isU53(limit)) return 'range needs start (bytes), end (bytes or nil) and limit';
      const query: RangeQuery = { start, after: after === true, end, limit, keysOnly: keysOnly === true, countOnly: countOnly === true };
      const problem = checkRangeQuery(query);
      return problem ? `range: ${problem}` : { op: 'range', query, stale: stale === true };
    }
    case 'watch': {
      const { key, prefix, from } = request;
      if (!isBytes(key) || key.length > limits.keyBytesMax || (key.length === 0 && prefix !== true)) return 'watch needs a key (bytes; empty only with prefix)';
      if (from !== undefined && from !== null && !isU53(from)) return 'watch: from must be a height';
      return { op: 'watch', key, prefix: prefix === true, from: isU53(from) ? from : undefined };
    }
    case 'unwatch':
      return isU53(request.watch) ? { op: 'unwatch', watch: request.watch } : 'unwatch needs the id of the watch request';
    case 'ping':
      return { op: 'ping' };
    case 'status':
      return { op: 'status' };
    case 'blocks':
    case 'hashes':
    case 'headers': {
      const { from, to } = request;
      if (!isU53(from) || !isU53(to) || to < from) return `${request.op} needs 0 <= from <= to`;
      return { op: request.op, from, to };
    }
    default:
      return `unknown op ${String(request.op)}`;
  }
}

// -------------------------------------------------------------------------------------------------
// Replies

export type ClientReplyBody = ErrorReply | WriteReply | ReadReply | RangeReply | StatusReply | BlocksReply | HeadersReply | HashesReply;

/**
 * One page of a range read. On the wire entries are [key: bin, value: bin | nil, createHeight,
 * modHeight, version] (value nil for keysOnly).
 */
export interface RangeReply {
  readonly ok: true;
  readonly entries: readonly RangeEntry[];
  readonly more: boolean;
  readonly count: number;
  /** The state the page was read from: after block `height` with hash `hash`. */
  readonly height: number;
  readonly hash: Uint8Array;
  readonly stale: boolean;
}

/** The frame fields of a range reply (entries as tuples). */
function rangeReplyFields(reply: RangeReply): Record<string, unknown> {
  const entries = reply.entries.map((entry) => [entry.key, entry.value, entry.revisions.createHeight, entry.revisions.modHeight, entry.revisions.version]);
  return { ok: true, entries, more: reply.more, count: reply.count, height: reply.height, hash: reply.hash, stale: reply.stale };
}

export function decodeRangeReply(frame: unknown): Decoded<RangeReply> {
  return decodeReply(frame, 'range', ({ entries, more, count, height, hash, stale }) => {
    if (!Array.isArray(entries) || entries.length > RANGE_PAGE_ENTRIES_MAX || typeof more !== 'boolean' || !isU53(count) || !isU53(height) || !isBytes(hash) || typeof stale !== 'boolean') return undefined;
    const parsed: RangeEntry[] = [];
    for (const entry of entries as unknown[]) {
      if (!Array.isArray(entry) || entry.length !== 5 || !isBytes(entry[0]) || (entry[1] !== null && !isBytes(entry[1]))) return undefined;
      const revisions = decodeRevisions(entry.slice(2));
      if (!revisions) return undefined;
      parsed.push({ key: entry[0], value: entry[1] as Uint8Array | null, revisions });
    }
    return { ok: true, entries: parsed, more, count, height, hash, stale };
  });
}

/** The reply to a write the replica answered with result `code` (src/kv/command.ts ResultCode). */
export function writeReply(code: number, height: number): WriteReply {
  const described = describeResult(code);
  if (!WRITE_RESULT_NAMES.has(described.code)) throw new TypeError(`writeReply: unknown result code ${code}`);
  return { ok: true, result: described.code as WriteResultName, code, duplicate: described.duplicate, height };
}

/** The frame of a reply to request `id` (fields that are undefined are left out). */
export function encodeReply(id: number, reply: ClientReplyBody): { readonly id: number } & Readonly<Record<string, unknown>> {
  if (reply.ok && 'result' in reply && reply.verified === undefined && reply.unprovable === undefined && reply.txn === undefined) {
    // The hot path (one per write): a literal of one fixed shape, which V8 and msgpackr handle
    // far faster than an object grown field by field.
    return { id, ok: true, result: reply.result, code: reply.code, duplicate: reply.duplicate, height: reply.height };
  }
  const frame: Record<string, unknown> = { id };
  for (const [field, value] of Object.entries(reply)) if (value !== undefined) frame[field] = value;
  if ('entries' in reply) return { id, ...rangeReplyFields(reply) };
  if ('txn' in reply && reply.txn) {
    const gets = reply.txn.gets.map((get) => (get.revisions === null ? [get.key, null] : [get.key, get.value, ...encodeRevisions(get.revisions)]));
    frame.txn = { gets, deleted: reply.txn.deleted };
  }
  if ('verified' in reply && reply.verified) frame.verified = encodeVerifiedAnswer(reply.verified);
  if ('revisions' in reply && reply.revisions) frame.revisions = encodeRevisions(reply.revisions);
  return frame as { id: number };
}

/** A decoded reply: the expected success, the node's error, or why the frame is malformed. */
export type Decoded<T> = T | ErrorReply | string;

export function isErrorReply(reply: Decoded<unknown>): reply is ErrorReply {
  return typeof reply === 'object' && reply !== null && (reply as { ok?: unknown }).ok === false;
}

type Fields = Readonly<Record<string, unknown>>;

function decodeReply<T>(frame: unknown, what: string, decodeOk: (fields: Fields) => T | undefined): Decoded<T> {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return `${what} reply is not a map`;
  const fields = frame as Fields;
  if (fields.ok === false) return decodeErrorReply(fields) ?? `malformed error reply to ${what}`;
  if (fields.ok !== true) return `${what} reply has no ok field`;
  return decodeOk(fields) ?? `malformed ${what} reply`;
}

function decodeErrorReply(fields: Fields): ErrorReply | undefined {
  const { error, message, leader, leaderEndpoint } = fields;
  if (typeof error !== 'string' || !ERROR_REPLY_CODES.has(error) || typeof message !== 'string') return undefined;
  if ((leader !== undefined && leader !== null && !isU53(leader)) || (leaderEndpoint !== undefined && leaderEndpoint !== null && typeof leaderEndpoint !== 'string')) return undefined;
  return {
    ok: false,
    error: error as ErrorReplyCode,
    message,
    ...(isU53(leader) ? { leader } : {}),
    ...(typeof leaderEndpoint === 'string' ? { leaderEndpoint } : {}),
  };
}

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;
const isHead = (value: unknown): value is { height: number; hash: Uint8Array } =>
  typeof value === 'object' && value !== null && isU53((value as Fields).height) && isBytes((value as Fields).hash);

export function decodeWriteReply(frame: unknown): Decoded<WriteReply> {
  return decodeReply(frame, 'write', ({ result, code, duplicate, height, verified, unprovable, txn }) => {
    if (typeof result !== 'string' || !WRITE_RESULT_NAMES.has(result) || !isU53(code) || typeof duplicate !== 'boolean' || !isU53(height)) return undefined;
    // The name, the code and the duplicate flag must say the same thing (a client acts on each).
    const described = describeResult(code);
    if (described.code !== result || described.duplicate !== duplicate) return undefined;
    const output = decodeTxnOutput(txn);
    if (output === null) return undefined;
    const reply: WriteReply = { ok: true, result: result as WriteResultName, code, duplicate, height, ...(output ? { txn: output } : {}) };
    if (unprovable !== undefined) return typeof unprovable === 'string' ? { ...reply, unprovable } : undefined;
    if (verified === undefined) return reply;
    const answer = decodeVerifiedAnswer(verified);
    return typeof answer === 'string' ? undefined : { ...reply, verified: answer };
  });
}

export function decodeReadReply(frame: unknown): Decoded<ReadReply> {
  return decodeReply(frame, 'read', ({ value, height, hash, stale, verified, revisions: wireRevisions }) => {
    if ((value !== null && !isBytes(value)) || !isU53(height) || !isBytes(hash) || typeof stale !== 'boolean') return undefined;
    const revisions = decodeRevisions(wireRevisions);
    if (revisions === null || (revisions !== undefined && value === null)) return undefined;
    const reply = { ok: true as const, value, height, hash, stale, ...(revisions ? { revisions } : {}) };
    if (verified === undefined) return reply;
    const answer = decodeVerifiedAnswer(verified);
    return typeof answer === 'string' ? undefined : { ...reply, verified: answer };
  });
}

function decodeTxnOutput(wire: unknown): TxnReplyOutput | undefined | null {
  if (wire === undefined || wire === null) return undefined;
  if (typeof wire !== 'object') return null;
  const { gets, deleted } = wire as Fields;
  if (!Array.isArray(gets) || gets.length > TXN_OPS_MAX || !isU53(deleted)) return null;
  const parsed: Array<TxnReplyOutput['gets'][number]> = [];
  for (const get of gets as unknown[]) {
    if (!Array.isArray(get) || typeof get[0] !== 'string') return null;
    if (get.length === 2 && get[1] === null) {
      parsed.push({ key: get[0], value: null, revisions: null });
      continue;
    }
    const revisions = get.length === 5 && isBytes(get[1]) ? decodeRevisions(get.slice(2)) : null;
    if (!revisions) return null;
    parsed.push({ key: get[0], value: get[1] as Uint8Array, revisions });
  }
  return { gets: parsed, deleted };
}

/** Revisions as the wire carries them: [createHeight, modHeight, version]. */
function encodeRevisions(revisions: Revisions): [number, number, number] {
  return [revisions.createHeight, revisions.modHeight, revisions.version];
}

/** The wire form back (undefined: absent; null: malformed). */
function decodeRevisions(wire: unknown): Revisions | undefined | null {
  if (wire === undefined || wire === null) return undefined;
  if (!Array.isArray(wire) || wire.length !== 3) return null;
  const revisions = { createHeight: wire[0] as number, modHeight: wire[1] as number, version: wire[2] as number };
  return isRevisions(revisions) ? revisions : null;
}

/** The verify field of a read or write request: { trusted?: height, genesis?: boolean }, or absent. */
function parseVerify(value: unknown): VerifyRequest | undefined | string {
  if (value === undefined || value === null || value === false) return undefined;
  if (typeof value !== 'object') return 'verify must be a map';
  const { trusted, genesis } = value as Fields;
  if (trusted !== undefined && trusted !== null && !isU53(trusted)) return 'verify.trusted must be a height';
  return { ...(isU53(trusted) ? { trustedHeight: trusted } : {}), genesis: genesis === true };
}

/** A status reply; its NodeStatus is checked for its identifying fields only (it is informational). */
export function decodeStatusReply(frame: unknown): Decoded<StatusReply> {
  return decodeReply(frame, 'status', ({ status }) => {
    if (typeof status !== 'object' || status === null) return undefined;
    const { nodeId, role, members } = status as Fields;
    if (!isU53(nodeId) || typeof role !== 'string' || !Array.isArray(members)) return undefined;
    return { ok: true, status: status as NodeStatus };
  });
}

export function decodeBlocksReply(frame: unknown): Decoded<BlocksReply> {
  return decodeReply(frame, 'blocks', ({ from, records, head }) => {
    if (!isU53(from) || !Array.isArray(records) || !records.every(isBytes) || (head !== null && !isHead(head))) return undefined;
    return { ok: true, from, records, head: head === null ? null : { height: head.height, hash: head.hash } };
  });
}

export function decodeHeadersReply(frame: unknown): Decoded<HeadersReply> {
  return decodeReply(frame, 'headers', ({ from, headers }) => (isU53(from) && isBytes(headers) ? { ok: true, from, headers } : undefined));
}

export function decodeHashesReply(frame: unknown): Decoded<HashesReply> {
  return decodeReply(frame, 'hashes', ({ from, hashes }) => (isU53(from) && isBytes(hashes) ? { ok: true, from, hashes } : undefined));
}

/** One change a watch frame carries (src/node/watch-hub.ts). */
export interface WatchEventReply {
  readonly height: number;
  /** Position among the block's changes: (height, seq) is unique and ordered (a resumed watch skips what it had by it). */
  readonly seq: number;
  /** The index in its block of the command that made the change (a txn or delete-prefix makes several). */
  readonly index: number;
  readonly op: 'put' | 'delete';
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
  /** After a put; null for a delete. */
  readonly revisions: Revisions | null;
}

export interface WatchFrame {
  readonly ok: true;
  /** Every change up to this height was in this frame or an earlier one. */
  readonly height: number;
  /** The leader the node follows (0: none: it may be cut off). */
  readonly leader: number;
  readonly events: readonly WatchEventReply[];
}

/** A watch frame, or the node's error that ended the watch (`height`: see watch-hub.ts). */
export function decodeWatchFrame(frame: unknown): Decoded<WatchFrame> | (ErrorReply & { readonly height?: number }) {
  if (typeof frame === 'object' && frame !== null && (frame as Fields).ok === false) {
    const error = decodeErrorReply(frame as Fields);
    const height = (frame as Fields).height;
    return error ? { ...error, ...(isU53(height) ? { height } : {}) } : 'malformed watch error';
  }
  return decodeReply(frame, 'watch', ({ watch, height, leader, events }) => {
    if (watch !== true || !isU53(height) || !isU53(leader) || !Array.isArray(events) || events.length > WATCH_FRAME_EVENTS_MAX) return undefined;
    const parsed: WatchEventReply[] = [];
    for (const event of events as unknown[]) {
      if (!Array.isArray(event) || event.length !== 9 || !isU53(event[0]) || !isU53(event[1]) || !isU53(event[2]) || (event[3] !== 0 && event[3] !== 1) || !isBytes(event[4])) return undefined;
      const put = event[3] === 0;
      const revisions = put ? decodeRevisions(event.slice(6)) : null;
      if ((put && (!revisions || !isBytes(event[5]))) || (!put && event[5] !== null)) return undefined;
      parsed.push({ height: event[0], seq: event[1], index: event[2], op: put ? 'put' : 'delete', key: event[4], value: put ? (event[5] as Uint8Array) : null, revisions: revisions ?? null });
    }
    return { ok: true, height, leader, events: parsed };
  });
}

/** Most events in one watch frame (src/node/watch-hub.ts sends at most this many; a client refuses more). */
export const WATCH_FRAME_EVENTS_MAX = 1_000;
