/**
 * A simulated client session: one operation at a time (put, get, delete, cas on a few keys),
 * sent to the node it believes leads; follows NOT_LEADER hints, retries on timeout with the
 * same (session secret, seq) so a retried write applies once, and records every operation's call and
 * return ticks for the linearizability checker. During faults it may give up on an operation
 * (recorded without a return: maybe applied); once faults stop it retries until answered.
 */
import type { Prng } from '../../src/lib/prng.js';
import { decodeCommand, DUPLICATE_FLAG, encodeCommand, ResultCode, writeEffect } from '../../src/kv/command.js';
import { SESSION_SECRET_BYTES } from '../../src/kv/session.js';
import type { HistoryOp } from '../../src/check/linearizability.js';
import type { OrderedOp } from './chain-order.js';
import { prefixEnd } from '../../src/kv/range.js';
import { deriveSessionId } from '../../src/kv/session.js';
import { toHex } from '../../src/lib/bytes.js';
import type { TxnCompare, TxnOp } from '../../src/kv/command.js';
import type { ClientReply } from '../../src/replica/ready.js';
import type { SimNetwork } from './network.js';
import { type TrustState, verifyAnswer, type VerifyRequest, verifyWrite } from '../../src/ledger/verified.js';
import { fastEd25519Verifier } from '../../src/native/ed25519.js';
import { fastSha256 } from '../../src/native/sha256.js';
import type { ClientRequestPayload } from './node.js';

export interface ClientOptions {
  readonly id: number;
  readonly members: readonly number[];
  readonly keys: number;
  readonly prng: Prng;
  readonly network: SimNetwork;
  /** Ticks before a request is retried. */
  readonly timeoutTicks: number;
  /** Attempts before giving up on an operation (only while `mayGiveUp`). */
  readonly attemptsMax: number;
  /** Mean idle ticks between operations. */
  readonly thinkTicks: number;
  /** A third of reads are verified against the cluster pinned by this genesis hash. */
  readonly verifiedReads?: { readonly genesisHash: Uint8Array };
  /**
   * Also issue txns and range reads (one operation in eight) on keys of their own (API_KEYS
   * keys "t0".., apart from the per-key checker's "k" keys); they go to `ordered`, checked
   * against the chain's order (test/sim/chain-order.ts).
   */
  readonly apiOps?: boolean;
}

/** Keys of the txns and ranges (prefix "t"). */
export const API_PREFIX = 't';
const API_KEYS = 4;

interface Operation {
  /** The per-key history's record, or (txn, range) the chain-order check's. */
  readonly op: HistoryOp | OrderedOp;
  readonly payload: Omit<ClientRequestPayload, 'requestId'>;
  requestId: number;
  attempts: number;
  deadline: number;
  target: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class SimClient {
  readonly history: HistoryOp[] = [];
  /** Txns and range reads, for the chain-order check. */
  readonly ordered: OrderedOp[] = [];
  /** Versions of the API keys as this client last saw them (its txns compare against them). */
  private readonly seenVersions = new Map<string, number>();
  private readonly seenValues = new Map<string, string>();
  private seq = 0;
  private requests = 0;
  private current: Operation | undefined;
  private nextIssueTick = 0;
  private leaderHint = 0;
  private valueCounter = 0;
  /** Operations finished with a response. */
  completed = 0;
  /** Operations given up on (no response). */
  abandoned = 0;
  mayGiveUp = true;
  issuing = true;
  /** The trusted state of verified reads (src/ledger/verified.ts). */
  private trust: TrustState | undefined;
  /** Verified answers checked (each one a chance to refuse an honest answer). */
  verified = 0;
  /** Verified writes proven, and those the node answered unprovable (with its reason). */
  verifiedWrites = 0;
  unprovable = 0;

  constructor(
    private readonly options: ClientOptions,
    private readonly nextOpId: () => number,
  ) {}

  get id(): number {
    return this.options.id;
  }

  /** The session secret sent with every write, as a real client does (the node derives the id). */
  private get secret(): Uint8Array {
    return new Uint8Array(SESSION_SECRET_BYTES).fill(this.options.id);
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  tick(now: number): void {
    const current = this.current;
    if (current) {
      if (now < current.deadline) return;
      if (this.mayGiveUp && current.attempts >= this.options.attemptsMax) {
        this.finish(now, undefined);
        return;
      }
      this.leaderHint = 0;
      this.send(now, current, this.randomMember());
      return;
    }
    if (!this.issuing || now < this.nextIssueTick) return;
    this.issue(now);
  }

  onReply(now: number, reply: ClientReply): void {
    const current = this.current;
    if (!current || reply.requestId !== current.requestId) return;
    if (reply.ok) {
      this.finish(now, this.resultOf(current.op, reply));
      return;
    }
    if (reply.error === 'INVALID_ARGUMENT') throw new Error(`client ${this.id}: request refused as invalid: ${reply.message}`);
    // NOT_LEADER / OVERLOADED / NOT_READY / DIVERGED: go where the hint says, or elsewhere.
    this.leaderHint = reply.error === 'NOT_LEADER' ? reply.leader : 0;
    const target = this.leaderHint !== 0 ? this.leaderHint : this.randomMember();
    current.deadline = now + 2;
    current.target = target;
    if (this.leaderHint !== 0) this.send(now, current, target);
  }

  private issue(now: number): void {
    const prng = this.options.prng;
    if (this.options.apiOps && prng.chance(0.125)) return this.issueApi(now);
    const key = `k${prng.nextInt(this.options.keys)}`;
    const roll = prng.nextInt(100);
    const id = this.nextOpId();
    let op: HistoryOp;
    let payload: Omit<ClientRequestPayload, 'requestId'>;
    if (roll < 30) {
      op = { id, process: this.id, kind: 'get', key, call: now };
      payload = { kind: 'read', key, ...(roll < 10 ? this.verifyRequest() : {}) };
    } else {
      const seq = ++this.seq;
      // A third of the writes are verified writes when verified reads are on (roll 30..64 is a put: 30..41).
      const verify = (roll - 30) % 3 === 0 ? this.verifyRequest() : {};
      if (roll < 65) {
        const value = this.freshValue();
        op = { id, process: this.id, kind: 'put', key, value, call: now };
        payload = { kind: 'write', command: encodeCommand({ op: 'put', session: this.secret, seq, key, value: encoder.encode(value) }), ...verify };
      } else if (roll < 75) {
        op = { id, process: this.id, kind: 'delete', key, call: now };
        payload = { kind: 'write', command: encodeCommand({ op: 'delete', session: this.secret, seq, key }), ...verify };
      } else {
        const expect = prng.chance(0.3) ? null : this.recentValue(key);
        const value = prng.chance(0.1) ? null : this.freshValue();
        op = { id, process: this.id, kind: 'cas', key, expect, value, call: now };
        payload = {
          kind: 'write',
          command: encodeCommand({ op: 'cas', session: this.secret, seq, key, expect: expect === null ? null : encoder.encode(expect), value: value === null ? null : encoder.encode(value) }),
          ...verify,
        };
      }
    }
    this.current = { op, payload, requestId: 0, attempts: 0, deadline: 0, target: 0 };
    this.send(now, this.current, this.leaderHint !== 0 ? this.leaderHint : this.randomMember());
  }

  /** A range read of the API keys, or a txn on them (compares on versions and values; puts, deletes, gets). */
  private issueApi(now: number): void {
    const prng = this.options.prng;
    const id = this.nextOpId();
    let op: OrderedOp;
    let payload: Omit<ClientRequestPayload, 'requestId'>;
    if (prng.chance(0.4)) {
      const limit = 1 + prng.nextInt(API_KEYS + 1);
      const start = encoder.encode(API_PREFIX);
      op = { kind: 'range', id, call: now, prefix: API_PREFIX, limit };
      payload = { kind: 'range', range: { start, after: false, end: prefixEnd(start), limit, keysOnly: false, countOnly: false } };
    } else {
      const seq = ++this.seq;
      const key = (i: number): string => `${API_PREFIX}${i}`;
      const compares: TxnCompare[] = [];
      for (let n = prng.nextInt(3); n > 0; n--) {
        const k = key(prng.nextInt(API_KEYS));
        compares.push(prng.chance(0.7) ? { target: 'version', key: k, relation: prng.chance(0.8) ? '=' : '>', operand: this.seenVersions.get(k) ?? 0 } : { target: 'value', key: k, relation: '=', operand: encoder.encode(this.seenValues.get(k) ?? this.freshValue()) });
      }
      const success: TxnOp[] = prng.chance(0.1) ? [{ kind: 'delete-prefix', prefix: API_PREFIX }] : this.txnWrites(prng.nextInt(API_KEYS), 1 + prng.nextInt(2));
      const failure: TxnOp[] = [{ kind: 'get', key: key(prng.nextInt(API_KEYS)) }];
      if (prng.chance(0.5)) success.push({ kind: 'get', key: key(prng.nextInt(API_KEYS)) });
      const session = toHex(deriveSessionId(fastSha256, this.secret));
      op = { kind: 'txn', id, call: now, session, seq };
      payload = { kind: 'write', command: encodeCommand({ op: 'txn', session: this.secret, seq, compares, success, failure }) };
    }
    this.current = { op, payload, requestId: 0, attempts: 0, deadline: 0, target: 0 };
    this.send(now, this.current, this.leaderHint !== 0 ? this.leaderHint : this.randomMember());
  }

  /** `count` writes on distinct API keys from `first` on: a put of a fresh value, or a delete. */
  private txnWrites(first: number, count: number): TxnOp[] {
    const ops: TxnOp[] = [];
    for (let i = 0; i < count; i++) {
      const key = `${API_PREFIX}${(first + i) % API_KEYS}`;
      ops.push(this.options.prng.chance(0.8) ? { kind: 'put', key, value: encoder.encode(this.freshValue()) } : { kind: 'delete', key });
    }
    return ops;
  }

  private send(now: number, operation: Operation, target: number): void {
    operation.requestId = this.id * 1_000_000 + ++this.requests;
    operation.attempts++;
    operation.deadline = now + this.options.timeoutTicks;
    operation.target = target;
    const payload: ClientRequestPayload = { ...operation.payload, requestId: operation.requestId };
    this.options.network.send(now, { kind: 'client', id: this.id }, { kind: 'node', id: target }, payload);
  }

  private finish(now: number, result: HistoryOp['result'] | OrderedOp['result'] | undefined): void {
    const op = this.current!.op;
    if ('prefix' in op || 'session' in op) this.ordered.push(result === undefined ? op : ({ ...op, return: now, result } as OrderedOp));
    else this.history.push(result === undefined ? op : { ...op, return: now, result: result as HistoryOp['result'] });
    if (result === undefined) this.abandoned++;
    else this.completed++;
    this.current = undefined;
    this.nextIssueTick = now + this.options.prng.between(0, this.options.thinkTicks * 2);
  }

  private verifyRequest(): { verify?: VerifyRequest } {
    const pinned = this.options.verifiedReads;
    if (!pinned) return {};
    this.trust ??= { genesisHash: pinned.genesisHash, members: undefined, head: undefined };
    return { verify: { ...(this.trust.head ? { trustedHeight: this.trust.head.height } : {}), genesis: this.trust.members === undefined } };
  }

  /** Checks a verified answer as a real client would; an honest answer refused is a safety bug. */
  private checkVerified(key: string, reply: Extract<ClientReply, { ok: true; kind: 'read' }>): void {
    if (!reply.verified) throw new Error(`client ${this.id}: a verified read was answered without proofs`);
    const verdict = verifyAnswer(fastSha256, this.trust!, encoder.encode(key), reply.verified, reply.value, fastEd25519Verifier);
    if (!verdict.ok) throw new Error(`client ${this.id}: an honest verified answer was refused: ${verdict.reason} at ${verdict.height}: ${verdict.message}`);
    this.trust = verdict.trust;
    this.verified++;
  }

  /**
   * Checks a verified write's answer as a real client would: proven at its block, or (an honest
   * outcome, counted) unprovable with the node's reason. An honest proof refused is a safety bug.
   */
  private checkVerifiedWrite(reply: Extract<ClientReply, { ok: true; kind: 'write' }>): void {
    if (!reply.verified) {
      if (reply.unprovable === undefined) throw new Error(`client ${this.id}: a verified write was answered without proofs or a reason: ${JSON.stringify({ result: reply.result, height: reply.height })}`);
      this.unprovable++;
      return;
    }
    // The wire tuple carries the session secret; the effect needs only the op and its arguments.
    const wire = this.current!.payload.command!;
    const command = decodeCommand([wire[0], null, ...wire.slice(2)]);
    if (typeof command === 'string' || command.op === 'noop' || command.op === 'txn') throw new Error(`client ${this.id}: bad own command: ${String(command)}`);
    const effect = writeEffect(command, reply.result);
    if (!effect) throw new Error(`client ${this.id}: a verified write with result ${reply.result} carried proofs`);
    const claim = { effect, height: reply.height, duplicate: (reply.result & DUPLICATE_FLAG) !== 0 };
    const verdict = verifyWrite(fastSha256, this.trust!, encoder.encode(command.key), reply.verified, claim, fastEd25519Verifier);
    if (!verdict.ok) throw new Error(`client ${this.id}: an honest verified write was refused: ${verdict.reason} at ${verdict.height}: ${verdict.message}`);
    this.trust = verdict.trust;
    this.verifiedWrites++;
  }

  private resultOf(op: HistoryOp | OrderedOp, reply: Extract<ClientReply, { ok: true }>): HistoryOp['result'] | OrderedOp['result'] {
    if (op.kind === 'range' || op.kind === 'txn') return this.orderedResultOf(op, reply);
    if (reply.kind === 'range') throw new Error(`client ${this.id}: a range reply to a ${op.kind}`);
    if (reply.kind === 'read') {
      if (this.current?.payload.verify) this.checkVerified(op.key, reply);
      return { value: reply.value === null ? null : decoder.decode(reply.value) };
    }
    if (this.current?.payload.verify) this.checkVerifiedWrite(reply);
    const code = reply.result & ~DUPLICATE_FLAG;
    if (code === ResultCode.INVALID || code === ResultCode.STALE) throw new Error(`client ${this.id}: unexpected result ${code} for ${op.kind}`);
    switch (op.kind) {
      case 'put':
        return { ok: true };
      case 'delete':
        return { deleted: code === ResultCode.DELETED };
      default:
        return { ok: code !== ResultCode.CAS_MISMATCH };
    }
  }

  private orderedResultOf(op: OrderedOp, reply: Extract<ClientReply, { ok: true }>): OrderedOp['result'] {
    if (op.kind === 'range') {
      if (reply.kind !== 'range') throw new Error(`client ${this.id}: a ${reply.kind} reply to a range`);
      const entries = reply.page.entries.map((entry) => ({ key: decoder.decode(entry.key), value: decoder.decode(entry.value!), revisions: entry.revisions }));
      for (const entry of entries) {
        this.seenVersions.set(entry.key, entry.revisions.version);
        this.seenValues.set(entry.key, entry.value);
      }
      return { height: reply.height, entries, more: reply.page.more };
    }
    if (reply.kind !== 'write') throw new Error(`client ${this.id}: a ${reply.kind} reply to a txn`);
    const code = reply.result & ~DUPLICATE_FLAG;
    if (code !== ResultCode.OK && code !== ResultCode.COMPARE_FAILED) throw new Error(`client ${this.id}: unexpected txn result ${reply.result}`);
    // A duplicate's gets were not kept (only its result), nor were those of an answer built from fetched blocks.
    const gets = reply.txn ? reply.txn.gets.map((get) => (get.value === null ? null : decoder.decode(get.value))) : null;
    return { height: reply.height, succeeded: code === ResultCode.OK, gets: (reply.result & DUPLICATE_FLAG) !== 0 ? null : gets };
  }

  private freshValue(): string {
    return `c${this.id}.${++this.valueCounter}`;
  }

  /** A value this client wrote to `key` lately, so that cas sometimes matches. */
  private recentValue(key: string): string {
    for (let i = this.history.length - 1; i >= Math.max(0, this.history.length - 20); i--) {
      const op = this.history[i]!;
      if (op.key === key && op.kind === 'get' && op.result?.value) return op.result.value;
      if (op.key === key && op.kind === 'put' && op.value) return op.value;
    }
    return this.freshValue();
  }

  private randomMember(): number {
    return this.options.prng.pick(this.options.members);
  }
}
