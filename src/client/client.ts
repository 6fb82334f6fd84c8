/**
 * The paxchain client library.
 *
 * - Talks to any list of endpoints; finds the leader from NOT_LEADER replies (which name it) and
 *   otherwise tries the next endpoint.
 * - Every write carries (session secret, seq) from a session; a retry (after a timeout, a dropped
 *   connection or a leader change) reuses them, so the write is applied once and the retry gets
 *   the first result. The secret (32 random bytes) never leaves this process except in writes;
 *   nodes record only the session id derived from it (src/kv/session.ts), so nobody who reads
 *   the chain can write in this session. Sessions are one request at a time, so concurrent
 *   writes use a pool.
 * - One deadline per operation (`timeoutMs`); each attempt gets at most `attemptTimeoutMs`.
 * - Errors are PaxchainErrors with stable codes: TIMEOUT (no answer in time; a write may or may
 *   not have been applied), UNAVAILABLE (no leader with a majority could be reached),
 *   INVALID_ARGUMENT, DIVERGED, OVERLOADED (only after retries ran out).
 */
import { hashRecord } from '../chain/block.js';
import { CertifiedHeads, type TrustedHead, type TrustState, type VerifiedAnswer, type Verdict, verifyAnswer, verifyWrite } from '../ledger/verified.js';
import { fastSha256 } from '../native/sha256.js';
import { fastEd25519Verifier } from '../native/ed25519.js';
import { randomBytes } from 'node:crypto';
import { bytesEqual, fromUtf8, toHex, utf8 } from '../lib/bytes.js';
import { normalizeEndpoint, parseEndpoint, parseEndpointList } from '../lib/endpoint.js';
import { ErrorCode, isPaxchainError, PaxchainError } from '../lib/errors.js';
import { limits } from '../lib/limits.js';
import { nobleSha256 } from '../lib/sha256.js';
import { checkKey, type Command, commandBytes, type CompareRelation, type CompareTarget, decodeCommand, encodeCommand, TXN_BYTES_MAX, type TxnOp, utf8Length, writeEffect } from '../kv/command.js';
import { deriveSessionId, SESSION_SECRET_BYTES } from '../kv/session.js';
import { prefixEnd, RANGE_PAGE_ENTRIES_MAX } from '../kv/range.js';
import type { Revisions } from '../kv/table.js';
import { ClientConnection } from '../transport/index.js';
import { resolveHost } from './resolve.js';
import { Watch, type WatchOptions } from './watch.js';
import { VerifiedWatch, type WatchProofSource } from './verified-watch.js';
import {
  type BlocksReply,
  decodeBlocksReply,
  decodeHashesReply,
  decodeHeadersReply,
  decodeRangeReply,
  decodeReadReply,
  type Decoded,
  decodeStatusReply,
  decodeWriteReply,
  type HashesReply,
  type HeadersReply,
  isErrorReply,
  type NodeStatus,
  type WriteReply,
} from '../transport/protocol.js';

const DEFAULT_ENDPOINTS = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];
/** Sessions (concurrent writes) one client keeps at most. */
const SESSIONS_MAX = 4096;
/** The key a verified watch of every key (prefix "") reads to get signed heads. */
const WATCH_VERIFY_READ_KEY = 'paxchain/watch';
/** Headers a verified watch asks one node for at a time (137 bytes each: about 550 KiB). */
const WATCH_VERIFY_HEADERS_PER_REQUEST = 4096;
/** NOT_LEADER hints followed back to back before the client pauses (stale hints can loop). */
const REDIRECTS_WITHOUT_PAUSE = 3;
/** Errors after which a sent write may or may not have been applied. */
const OUTCOME_UNKNOWN: ReadonlySet<ErrorCode> = new Set([ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE, ErrorCode.OVERLOADED, ErrorCode.NOT_LEADER]);

export interface ClientOptions {
  readonly endpoints: readonly string[];
  /** Deadline of one operation, retries included. */
  readonly timeoutMs?: number;
  /** Deadline of one attempt at one node. */
  readonly attemptTimeoutMs?: number;
}

export type Value = string | Uint8Array;

export interface WriteResult {
  /** OK, DELETED, NOT_FOUND or CAS_MISMATCH. */
  readonly result: string;
  /** The write had been applied before (a retry): this is its first result. */
  readonly duplicate: boolean;
  /** Height of the block that applied it. */
  readonly height: number;
  /** The session id (hex) the chain records for this write, and its seq there. */
  readonly session: string;
  readonly seq: number;
}

export interface ReadResult {
  readonly value: Uint8Array | null;
  /** The key's revisions (creation height, last write's height, writes since creation) when present. */
  readonly revisions?: Revisions;
  readonly height: number;
  readonly hash: Uint8Array;
  readonly stale: boolean;
  /** The node that answered. */
  readonly endpoint: string;
}

export interface VerifiedReadResult extends ReadResult {
  /** The majority-signed head the value was proven under (the new trusted head). */
  readonly certified: TrustedHead;
  /** The trust state after this answer: save it, pass it to the next verified call. */
  readonly trust: TrustState;
  /** Set when this answer pinned the cluster (trust on first use: no genesis hash was given). */
  readonly pinnedOnFirstUse: boolean;
  /** The answer as the node sent it (what `chain prove` writes to a proof file). */
  readonly answer: VerifiedAnswer;
}

export interface VerifiedWriteResult extends WriteResult {
  /** The written key's value at block `height` as proven (null: absent). */
  readonly value: Uint8Array | null;
  readonly certified: TrustedHead;
  readonly trust: TrustState;
  readonly pinnedOnFirstUse: boolean;
  readonly answer: VerifiedAnswer;
}

export type TxnRequestOp =
  | { readonly kind: 'put'; readonly key: string; readonly value: Value }
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'delete-prefix'; readonly prefix: string }
  | { readonly kind: 'get'; readonly key: string };

export interface TxnRequest {
  readonly compares: ReadonlyArray<{ readonly target: CompareTarget; readonly key: string; readonly relation: CompareRelation; readonly operand: Value | number }>;
  readonly success?: readonly TxnRequestOp[];
  readonly failure?: readonly TxnRequestOp[];
}

export interface TxnResult extends WriteResult {
  /** Whether every compare held (the success ops ran; else the failure ops did). */
  readonly succeeded: boolean;
  /** What the branch's gets read, in order; null when not known (a duplicate's answer). */
  readonly gets: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array | null; readonly revisions?: Revisions }> | null;
  /** Keys the branch deleted; null when not known (a duplicate's answer). */
  readonly deleted: number | null;
}

export interface RangeOptions {
  /** The keys that start with `start` (then `end` must not be given). */
  readonly prefix?: boolean;
  /** Exclusive upper bound; absent or null: to the last key. */
  readonly end?: string | null;
  /** Most entries in all (default: every key of the range). */
  readonly limit?: number;
  readonly keysOnly?: boolean;
  readonly stale?: boolean;
}

export interface RangePageResult {
  readonly entries: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array | null; readonly revisions: Revisions }>;
  /** Whether the iterator has another page. */
  readonly more: boolean;
  /** The state the page was read from. */
  readonly height: number;
  readonly hash: Uint8Array;
  readonly stale: boolean;
  readonly endpoint: string;
}

export function rangeBounds(start: string, options: RangeOptions): { startBytes: Uint8Array; end: Uint8Array | null } {
  if (options.prefix && options.end !== undefined && options.end !== null) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'a prefix range has no end');
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 1)) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'limit must be a positive integer');
  if (start !== '') checkInput(start);
  if (options.end) checkInput(options.end);
  const startBytes = utf8(start);
  if (options.prefix) return { startBytes, end: start === '' ? null : prefixEnd(startBytes) };
  return { startBytes, end: options.end ? utf8(options.end) : null };
}

/** Trust before any answer: a pinned genesis hash, or none (the first answer pins it). */
export type InitialTrust = TrustState | { readonly genesisHash: undefined };

interface Session {
  /** Sent with every write; only this process knows it. */
  readonly secret: Uint8Array;
  /** The id nodes derive from the secret (hex), for results and errors. */
  readonly id: string;
  seq: number;
  busy: boolean;
}

/** A write's command with the session fields still to fill in. */
type WriteCommand = Command extends infer C ? (C extends Command ? Omit<C, 'session' | 'seq'> : never) : never;

function toBytes(value: Value): Uint8Array {
  return typeof value === 'string' ? utf8(value) : value;
}

export class PaxchainClient {
  private readonly endpoints: string[];
  private readonly connections = new Map<string, Promise<ClientConnection>>();
  private readonly sessions: Session[] = [];
  private leaderEndpoint: string | undefined;
  private next = 0;
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private closed = false;
  /** Watches opened and not yet ended: close() ends them. */
  private readonly watches = new Set<Watch>();
  /** Ed25519 verification of head certificates: OpenSSL's (the client runs on Node anyway). */
  private readonly verifier = fastEd25519Verifier;
  /** Heads this client already found majority-signed (one cluster's). */
  private certifiedHeads: CertifiedHeads | undefined;

  constructor(options: ClientOptions) {
    if (options.endpoints.length === 0) throw new TypeError('at least one endpoint is needed');
    // One spelling per endpoint (IPv6 in brackets), so NOT_LEADER hints match the list.
    this.endpoints = options.endpoints.map((endpoint) => normalizeEndpoint(endpoint));
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? Math.min(1500, this.timeoutMs);
  }

  put(key: string, value: Value): Promise<WriteResult> {
    checkInput(key, value);
    return this.write({ op: 'put', key, value: toBytes(value) });
  }

  delete(key: string): Promise<WriteResult> {
    checkInput(key);
    return this.write({ op: 'delete', key });
  }

  /** Compare-and-set: `expect` null = "key absent"; `value` null = delete on match. */
  cas(key: string, expect: Value | null, value: Value | null): Promise<WriteResult> {
    checkInput(key, expect ?? undefined);
    checkInput(key, value ?? undefined);
    return this.write({ op: 'cas', key, expect: expect === null ? null : toBytes(expect), value: value === null ? null : toBytes(value) });
  }

  /**
   * A transaction (src/kv/command.ts txn): if every compare holds, the success ops run, else the
   * failure ops, atomically in one command (etcd's Txn). `succeeded` says which branch ran; `gets`
   * holds what its get ops read, in order (null when the answer came from the dedup table after a
   * retry, which keeps only the result). Refused with INVALID_ARGUMENT before anything is sent if it
   * is malformed or past its bounds (TXN_COMPARES_MAX, TXN_OPS_MAX, TXN_BYTES_MAX).
   */
  async txn(request: TxnRequest): Promise<TxnResult> {
    const compares = request.compares.map((compare) => ({ ...compare, operand: typeof compare.operand === 'number' ? compare.operand : toBytes(compare.operand) }));
    const convert = (op: TxnRequestOp): TxnOp => (op.kind === 'put' ? { ...op, value: toBytes(op.value) } : op);
    const write = { op: 'txn' as const, compares, success: (request.success ?? []).map(convert), failure: (request.failure ?? []).map(convert) };
    const checked = decodeCommand(encodeCommand({ ...write, session: null, seq: 0 }));
    if (typeof checked === 'string') throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, checked);
    if (commandBytes(checked) > TXN_BYTES_MAX) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `txn larger than ${TXN_BYTES_MAX} bytes`);
    let output: WriteReply['txn'];
    const result = await this.write(write, undefined, (reply) => (output = reply.txn));
    const ran = result.result === 'OK' ? write.success : write.failure;
    const wanted = ran.filter((op) => op.kind === 'get').length;
    const gets = output ? output.gets.map((get) => ({ key: get.key, value: get.value, ...(get.revisions ? { revisions: get.revisions } : {}) })) : wanted === 0 ? [] : null;
    return { ...result, succeeded: result.result === 'OK', gets, deleted: output?.deleted ?? (result.duplicate ? null : 0) };
  }

  /** Linearizable read (at the leader), or with `stale` a local read at any node. */
  async get(key: string, options: { stale?: boolean; endpoint?: string } = {}): Promise<ReadResult> {
    checkInput(key);
    const stale = options.stale === true;
    const { reply, endpoint } = await this.request({ op: 'read', key, stale }, decodeReadReply, { anyNode: stale, endpoint: options.endpoint });
    return { value: reply.value, ...(reply.revisions ? { revisions: reply.revisions } : {}), height: reply.height, hash: reply.hash, stale: reply.stale, endpoint };
  }

  /**
   * A range read as an async iterator over pages, in key order: the keys in [start, end) (end null:
   * to the last key), or with `prefix` the keys that start with `start`; at most `limit` entries
   * in all. Each page is one request of at most RANGE_PAGE_ENTRIES_MAX entries and about
   * RANGE_PAGE_BYTES_MAX bytes, asked after the last key of the one before, so a huge range never
   * builds one huge reply. Each page is a linearizable read of its own (or with `stale` a local
   * one at any node), at a height that never goes down from page to page: a key appears at most
   * once, but a range of several pages is not one snapshot of the state.
   */
  async *range(start: string, options: RangeOptions = {}): AsyncGenerator<RangePageResult> {
    const { startBytes, end } = rangeBounds(start, options);
    const stale = options.stale === true;
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    let after = false;
    let from = startBytes;
    while (remaining > 0) {
      const limit = Math.min(remaining, RANGE_PAGE_ENTRIES_MAX);
      const request = { op: 'range', start: from, after, end, limit, keysOnly: options.keysOnly === true, countOnly: false, stale };
      const { reply, endpoint } = await this.request(request, decodeRangeReply, { anyNode: stale });
      const entries = reply.entries.map((entry) => ({ key: fromUtf8(entry.key), value: entry.value, revisions: entry.revisions }));
      remaining -= entries.length;
      const more = reply.more && remaining > 0;
      yield { entries, more, height: reply.height, hash: reply.hash, stale: reply.stale, endpoint };
      if (!more || reply.entries.length === 0) return;
      from = reply.entries[reply.entries.length - 1]!.key;
      after = true;
    }
  }

  /** How many keys the range of range() holds (one request; the node walks the range). */
  async count(start: string, options: Omit<RangeOptions, 'limit' | 'keysOnly'> = {}): Promise<{ count: number; height: number; hash: Uint8Array; endpoint: string }> {
    const { startBytes, end } = rangeBounds(start, options);
    const stale = options.stale === true;
    const request = { op: 'range', start: startBytes, after: false, end, limit: 1, keysOnly: true, countOnly: true, stale };
    const { reply, endpoint } = await this.request(request, decodeRangeReply, { anyNode: stale });
    return { count: reply.count, height: reply.height, hash: reply.hash, endpoint };
  }

  /**
   * Every change of `key` (with `prefix`: of every key that starts with it) from `fromHeight` on
   * (default: from the next block), as an async iterator of events in chain order
   * (src/client/watch.ts). It resumes on another node, from the height after the last one it
   * delivered, when its node dies, stops, loses its leader or drops it for reading too slowly:
   * no event is missed, repeated or reordered. Ends with COMPACTED when no node holds the asked
   * height any more; `return()` (or break in for await) ends it.
   */
  watch(key: string, options: WatchOptions = {}): Watch {
    if (this.closed) throw new TypeError('client is closed');
    if (!(options.prefix && key === '')) checkInput(key);
    if (options.fromHeight !== undefined && (!Number.isSafeInteger(options.fromHeight) || options.fromHeight < 0)) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `fromHeight must be a height, got ${options.fromHeight}`);
    const watch = new Watch(
      {
        endpoints: this.endpoints,
        connect: async (endpoint, timeoutMs) => {
          const { host, port } = parseEndpoint(endpoint);
          const address = await resolveHost(host, timeoutMs);
          return ClientConnection.connect(address, port, { connectTimeoutMs: timeoutMs, requestTimeoutMs: this.attemptTimeoutMs });
        },
      },
      key,
      { ...options, onEnd: () => this.watches.delete(watch) },
    );
    this.watches.add(watch);
    return watch;
  }

  /**
   * A watch (as `watch`) whose every event is checked against a majority-signed head before it is
   * delivered (src/client/verified-watch.ts): its block is in the signed chain and its command
   * writes that change. `trust` as for getVerified; `onTrust` is given each newer trust state (to
   * save). Ends with VERIFICATION_FAILED, naming the check and the height, at the first event
   * that does not check out.
   */
  watchVerified(key: string, trust: InitialTrust, options: WatchOptions & { readonly onTrust?: (trust: TrustState, pinnedOnFirstUse: boolean) => void } = {}): VerifiedWatch {
    const inner = this.watch(key, options);
    let state = trust;
    // Any key's verified read brings a signed head; the prefix "" is no key.
    const readKey = key === '' ? WATCH_VERIFY_READ_KEY : key;
    const source: WatchProofSource = {
      signedHead: async () => {
        const read = await this.getVerified(readKey, state);
        state = read.trust;
        options.onTrust?.(read.trust, read.pinnedOnFirstUse);
        return read.certified;
      },
      headers: (from, to) => this.fromAnyNode(async (endpoint) => {
        const reply = await this.headers(from, Math.min(to, from + WATCH_VERIFY_HEADERS_PER_REQUEST - 1), endpoint);
        return reply.headers.length > 0 ? reply.headers : undefined;
      }, `header ${from}`),
      block: (height) => this.fromAnyNode(async (endpoint) => (await this.blocks(height, height, endpoint)).records[0], `block ${height}`),
    };
    return new VerifiedWatch(inner, source, fastSha256);
  }

  /** The first answer a node has (a node that lags or pruned it has none: the next is asked). */
  private async fromAnyNode<T>(ask: (endpoint: string) => Promise<T | undefined>, what: string): Promise<T> {
    let last: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const endpoint = this.endpoints[(this.next + i) % this.endpoints.length]!;
      try {
        const answer = await ask(endpoint);
        if (answer !== undefined) return answer;
      } catch (error) {
        last = error;
      }
    }
    throw last ?? new PaxchainError(ErrorCode.NOT_FOUND, `no node sent ${what}`);
  }

  /**
   * A linearizable read the client checks itself (src/ledger/verified.ts): the value or its absence
   * is proven at a head a majority of genesis's members signed, that head extends `trust.head`,
   * and the node's word counts for nothing. Throws VERIFICATION_FAILED naming the failed check.
   */
  async getVerified(key: string, trust: InitialTrust, options: { genesis?: boolean } = {}): Promise<VerifiedReadResult> {
    checkInput(key);
    const { reply, endpoint } = await this.request({ op: 'read', key, verify: verifyField(trust, options.genesis) }, decodeReadReply, {});
    if (!reply.verified) throw new PaxchainError(ErrorCode.VERIFICATION_FAILED, `${endpoint} sent no proofs with a verified read`, { reason: 'NO_PROOF', endpoint });
    const { state, pinnedOnFirstUse } = this.trustFor(trust, reply.verified, endpoint);
    const verdict = checked(verifyAnswer(fastSha256, state, utf8(key), reply.verified, reply.value, this.verifier, this.certifiedHeads), endpoint);
    return { value: verdict.value, height: verdict.height, hash: hashRecord(nobleSha256, reply.verified.header), stale: false, endpoint, certified: verdict.certified, trust: verdict.trust, pinnedOnFirstUse, answer: reply.verified };
  }

  /**
   * A put the client checks itself: the block that applied it is in the history of a head a
   * majority signed, and that block's state holds the value (src/ledger/verified.ts verifyWrite).
   * The write is made like put(); only its proof is extra. Throws VERIFICATION_FAILED naming the
   * failed check (`details.write` carries the write's result and height: it was applied all the same).
   */
  putVerified(key: string, value: Value, trust: InitialTrust, options: { genesis?: boolean } = {}): Promise<VerifiedWriteResult> {
    checkInput(key, value);
    return this.writeVerified({ op: 'put', key, value: toBytes(value) }, trust, options.genesis);
  }

  /** A delete checked like putVerified: the key is absent in the state of the block that applied it. */
  deleteVerified(key: string, trust: InitialTrust, options: { genesis?: boolean } = {}): Promise<VerifiedWriteResult> {
    checkInput(key);
    return this.writeVerified({ op: 'delete', key }, trust, options.genesis);
  }

  /** A cas checked like putVerified: that block's state holds what its result says. */
  casVerified(key: string, expect: Value | null, value: Value | null, trust: InitialTrust, options: { genesis?: boolean } = {}): Promise<VerifiedWriteResult> {
    checkInput(key, expect ?? undefined);
    checkInput(key, value ?? undefined);
    return this.writeVerified({ op: 'cas', key, expect: expect === null ? null : toBytes(expect), value: value === null ? null : toBytes(value) }, trust, options.genesis);
  }

  /** The status of one node (no retries elsewhere). */
  async status(endpoint: string): Promise<NodeStatus> {
    const { reply } = await this.request({ op: 'status' }, decodeStatusReply, { endpoint, attempts: 1 });
    return reply.status;
  }

  /** Block records [from, to] (at most BLOCKS_PER_REQUEST_MAX) as stored by one node. */
  async blocks(from: number, to: number, endpoint?: string): Promise<BlocksReply> {
    return (await this.request({ op: 'blocks', from, to }, decodeBlocksReply, { endpoint, anyNode: true, attempts: endpoint ? 1 : undefined })).reply;
  }

  /** Block headers [from, to] (at most HASHES_PER_REQUEST_MAX) as stored by one node. */
  async headers(from: number, to: number, endpoint: string): Promise<HeadersReply> {
    return (await this.request({ op: 'headers', from, to }, decodeHeadersReply, { endpoint, attempts: 1 })).reply;
  }

  /** Block hashes [from, to] (at most HASHES_PER_REQUEST_MAX) as stored by one node. */
  async hashes(from: number, to: number, endpoint: string): Promise<HashesReply> {
    return (await this.request({ op: 'hashes', from, to }, decodeHashesReply, { endpoint, attempts: 1 })).reply;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const watch of [...this.watches]) await watch.return();
    const connections = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(connections.map((pending) => pending.then((connection) => connection.close()).catch(() => undefined)));
  }

  // ---------------------------------------------------------------------------------------------

  private async writeVerified(write: WriteCommand & { key: string }, trust: InitialTrust, genesis: boolean | undefined): Promise<VerifiedWriteResult> {
    let answered: { reply: WriteReply; endpoint: string } | undefined;
    const result = await this.write(write, verifyField(trust, genesis), (reply, endpoint) => (answered = { reply, endpoint }));
    const { reply, endpoint } = answered!;
    const applied = { result: result.result, height: result.height, duplicate: result.duplicate, endpoint };
    if (!reply.verified) {
      const why = reply.unprovable ?? 'the node sent no proofs with a verified write';
      throw new PaxchainError(ErrorCode.VERIFICATION_FAILED, `${endpoint}: the write was applied (${result.result} at height ${result.height}) but not proven: ${why}`, { reason: 'UNPROVABLE', height: result.height, endpoint, write: applied });
    }
    const { state, pinnedOnFirstUse } = this.trustFor(trust, reply.verified, endpoint);
    const effect = writeEffect({ ...write, session: null, seq: 0 } as Command, reply.code);
    if (!effect) {
      throw new PaxchainError(ErrorCode.VERIFICATION_FAILED, `${endpoint}: the result ${reply.result} of this ${write.op} has no provable effect, yet came with proofs`, { reason: 'VALUE_MISMATCH', height: result.height, endpoint, write: applied });
    }
    const claim = { effect, height: reply.height, duplicate: reply.duplicate };
    const verdict = checked(verifyWrite(fastSha256, state, utf8(write.key), reply.verified, claim, this.verifier, this.certifiedHeads), endpoint, applied);
    return { ...result, value: verdict.value, certified: verdict.certified, trust: verdict.trust, pinnedOnFirstUse, answer: reply.verified };
  }

  /** The trust state to check `answer` with (pinning the cluster on first use), and the head cache for it. */
  private trustFor(trust: InitialTrust, answer: VerifiedAnswer, endpoint: string): { state: TrustState; pinnedOnFirstUse: boolean } {
    let state: TrustState;
    let pinnedOnFirstUse = false;
    if (trust.genesisHash === undefined) {
      if (!answer.genesis) throw new PaxchainError(ErrorCode.VERIFICATION_FAILED, `${endpoint} sent no genesis record to pin`, { reason: 'GENESIS_MISMATCH', endpoint });
      state = { genesisHash: hashRecord(nobleSha256, answer.genesis), members: undefined, head: undefined };
      pinnedOnFirstUse = true;
    } else {
      state = trust;
    }
    if (!this.certifiedHeads || !bytesEqual(this.certifiedHeads.genesisHash, state.genesisHash)) this.certifiedHeads = new CertifiedHeads(state.genesisHash);
    return { state, pinnedOnFirstUse };
  }

  private async write(write: WriteCommand, verify?: VerifyRequestField, onReply?: (reply: WriteReply, endpoint: string) => void): Promise<WriteResult> {
    const session = this.takeSession();
    session.seq++;
    try {
      // On the wire the session field carries the secret; the node derives the id (sealWireCommand).
      const command = encodeCommand({ ...write, session: session.secret, seq: session.seq } as Command);
      const { reply, endpoint } = await this.request({ op: 'write', command, ...(verify ? { verify } : {}) }, decodeWriteReply, {});
      if (reply.result === 'STALE' || reply.result === 'INVALID') {
        throw new PaxchainError(reply.result === 'INVALID' ? ErrorCode.INVALID_ARGUMENT : ErrorCode.STALE_REQUEST, `write answered ${reply.result}`);
      }
      if (reply.result === 'STATE_FULL') {
        throw new PaxchainError(ErrorCode.STATE_FULL, `the write would take the state past a limit of its genesis (entries or bytes); it changed nothing (height ${reply.height})`, { height: reply.height, outcome: 'not applied' });
      }
      onReply?.(reply, endpoint);
      return { result: reply.result, duplicate: reply.duplicate, height: reply.height, session: session.id, seq: session.seq };
    } catch (error) {
      // Once a write has been sent, only a definite answer says whether it was applied: a leader
      // that stepped down, or ran out of time, may still have had it chosen.
      if (isPaxchainError(error) && OUTCOME_UNKNOWN.has(error.code)) {
        const note = error.message.includes('may or may not') ? error.message : `${error.message}; the write may or may not have been applied`;
        throw new PaxchainError(error.code, note, { ...error.details, outcome: 'unknown', session: session.id, seq: session.seq });
      }
      throw error;
    } finally {
      session.busy = false;
    }
  }

  private takeSession(): Session {
    const free = this.sessions.find((session) => !session.busy);
    if (free) {
      free.busy = true;
      return free;
    }
    if (this.sessions.length >= SESSIONS_MAX) throw new PaxchainError(ErrorCode.OVERLOADED, `more than ${SESSIONS_MAX} writes in flight from one client`);
    const secret = new Uint8Array(randomBytes(SESSION_SECRET_BYTES));
    const session = { secret, id: toHex(deriveSessionId(nobleSha256, secret)), seq: 0, busy: true };
    this.sessions.push(session);
    return session;
  }

  /**
   * Sends a request, retrying at other nodes until it is answered or the deadline passes.
   * `anyNode`: no need for the leader (stale reads, block reads).
   */
  private async request<T>(
    body: Record<string, unknown>,
    decode: (frame: unknown) => Decoded<T>,
    options: { anyNode?: boolean; endpoint?: string; attempts?: number },
  ): Promise<{ reply: T; endpoint: string }> {
    if (this.closed) throw new TypeError('client is closed');
    const deadline = performance.now() + this.timeoutMs;
    let lastError: PaxchainError | undefined;
    let sawLeaderBusy = false;
    // Some node said, or showed by refusing the connection, that it could not serve this: the
    // cluster then has no usable leader, even if the last attempt only ran out of time (a node
    // that still believed it led until its check-quorum ran out holds the request unanswered).
    let sawNoLeader = false;
    let redirects = 0;
    const prunedBy = new Set<string>();
    for (let attempt = 0; attempt < (options.attempts ?? 1_000); attempt++) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      const endpoint = options.endpoint ?? (options.anyNode ? this.pick() : (this.leaderEndpoint ?? this.pick()));
      try {
        const connection = await this.connection(endpoint, Math.min(remaining, this.attemptTimeoutMs));
        const reply = decode(await connection.request(body, Math.min(remaining, this.attemptTimeoutMs)));
        if (typeof reply === 'string') throw new PaxchainError(ErrorCode.BAD_FRAME, `${endpoint}: ${reply}`, { endpoint });
        if (!isErrorReply(reply)) {
          if (!options.anyNode && !options.endpoint) this.leaderEndpoint = endpoint;
          return { reply, endpoint };
        }
        const error = reply;
        lastError = new PaxchainError(error.error as ErrorCode, `${endpoint}: ${error.message}`, { endpoint, leader: error.leader });
        if (error.error === 'INVALID_ARGUMENT' || error.error === 'NOT_FOUND') throw lastError;
        // A pruned body: another node may keep it; once every node asked said PRUNED, so do we.
        if (error.error === 'PRUNED' && (options.endpoint !== undefined || prunedBy.add(endpoint).size >= this.endpoints.length)) throw lastError;
        sawNoLeader ||= error.error === 'NOT_LEADER' || error.error === 'UNAVAILABLE';
        if (error.error === 'NOT_LEADER') {
          this.leaderEndpoint = error.leaderEndpoint && error.leaderEndpoint !== endpoint ? error.leaderEndpoint : undefined;
          // Follow a hint at once, but not round and round: stale hints can point at each other.
          if (this.leaderEndpoint && redirects < REDIRECTS_WITHOUT_PAUSE) redirects++;
          else {
            redirects = 0;
            await pause(Math.min(50, remaining));
          }
        } else {
          sawLeaderBusy ||= error.error === 'OVERLOADED';
          this.leaderEndpoint = undefined;
          await pause(Math.min(20 * (attempt + 1), 200, remaining));
        }
      } catch (error) {
        if (isPaxchainError(error, ErrorCode.INVALID_ARGUMENT) || isPaxchainError(error, ErrorCode.NOT_FOUND) || isPaxchainError(error, ErrorCode.PRUNED)) throw error;
        lastError = isPaxchainError(error) ? error : new PaxchainError(ErrorCode.UNAVAILABLE, `${endpoint}: ${String(error)}`, { endpoint });
        sawNoLeader ||= lastError.code === ErrorCode.UNAVAILABLE;
        this.forget(endpoint);
        if (this.leaderEndpoint === endpoint) this.leaderEndpoint = undefined;
        if (lastError.code !== ErrorCode.TIMEOUT) await pause(Math.min(20, Math.max(0, deadline - performance.now())));
      }
    }
    // (write() adds that a write's outcome is then unknown; reads and status need no such note.)
    if (lastError?.code === ErrorCode.TIMEOUT && !(sawNoLeader && options.endpoint === undefined)) {
      throw new PaxchainError(ErrorCode.TIMEOUT, `no answer within ${this.timeoutMs} ms`, { cause: lastError.message });
    }
    if (sawLeaderBusy) throw new PaxchainError(ErrorCode.OVERLOADED, `the leader stayed overloaded for ${this.timeoutMs} ms`);
    const why = lastError?.message ?? 'no node answered';
    const what =
      options.endpoint !== undefined ? (lastError?.message ?? `${options.endpoint} did not answer within ${this.timeoutMs} ms`)
      : options.anyNode ? `no node answered within ${this.timeoutMs} ms (${why})`
      : `no leader with a majority reachable within ${this.timeoutMs} ms (${why})`;
    throw new PaxchainError(ErrorCode.UNAVAILABLE, what, { cause: lastError?.message });
  }

  private pick(): string {
    const endpoint = this.endpoints[this.next % this.endpoints.length]!;
    this.next++;
    return endpoint;
  }

  private connection(endpoint: string, timeoutMs: number): Promise<ClientConnection> {
    let pending = this.connections.get(endpoint);
    if (pending) {
      return pending.then((connection) => {
        if (!connection.closed) return connection;
        this.connections.delete(endpoint);
        return this.connection(endpoint, timeoutMs);
      });
    }
    const { host, port } = parseEndpoint(endpoint);
    const started = performance.now();
    // Resolve within the attempt's time (getaddrinfo could outlast the whole deadline), then
    // connect with what is left of it.
    pending = resolveHost(host, timeoutMs).then((address) =>
      ClientConnection.connect(address, port, { connectTimeoutMs: Math.max(1, timeoutMs - (performance.now() - started)), requestTimeoutMs: this.attemptTimeoutMs }),
    );
    this.connections.set(endpoint, pending);
    pending.catch(() => this.connections.delete(endpoint));
    return pending;
  }

  private forget(endpoint: string): void {
    const pending = this.connections.get(endpoint);
    this.connections.delete(endpoint);
    pending?.then((connection) => connection.close()).catch(() => undefined);
  }
}

function checkInput(key: string, value?: Value): void {
  const problem = checkKey(key);
  if (problem) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, problem);
  if (value !== undefined) {
    const length = typeof value === 'string' ? utf8Length(value) : value.length;
    if (length > limits.valueBytesMax) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `value longer than ${limits.valueBytesMax} bytes`);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** The verify field of a verified request (what the node needs to build the proofs). */
interface VerifyRequestField {
  readonly trusted?: number;
  readonly genesis: boolean;
}

function verifyField(trust: InitialTrust, genesis: boolean | undefined): VerifyRequestField {
  const needGenesis = genesis === true || trust.genesisHash === undefined || trust.members === undefined;
  return { ...(trust.genesisHash !== undefined && trust.head ? { trusted: trust.head.height } : {}), genesis: needGenesis };
}

/** The verdict if it holds, else VERIFICATION_FAILED naming the check and height (plus `details`). */
function checked(verdict: Verdict, endpoint: string, write?: Record<string, unknown>): Verdict & { ok: true } {
  if (verdict.ok) return verdict;
  throw new PaxchainError(ErrorCode.VERIFICATION_FAILED, `${endpoint}: ${verdict.reason}${verdict.height === undefined ? '' : ` at height ${verdict.height}`}: ${verdict.message}`, {
    reason: verdict.reason,
    height: verdict.height ?? null,
    endpoint,
    // A verified write was applied all the same: its result and block, apart from the failed check's height.
    ...(write ? { write } : {}),
  });
}

/**
 * Parses a comma-separated endpoint list (the --endpoints flag and PAXCHAIN_ENDPOINTS): absent
 * means the local cluster, empty is refused (src/lib/endpoint.ts).
 */
export function parseEndpoints(text: string | undefined): string[] {
  return parseEndpointList(text, DEFAULT_ENDPOINTS);
}
