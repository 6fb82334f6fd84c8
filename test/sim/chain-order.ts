/**
 * The chain-order check: a second model for the operations the per-key linearizability checker
 * (src/check/linearizability.ts) cannot take apart by key, transactions over several keys and
 * range reads. It uses what a replicated log gives for free: one total order of every write.
 *
 * Model. The chain is the order: each command takes effect at its position (height, index in its
 * block); a range read answered at height H saw the state after block H, position (H, +inf). An
 * independent model (a Map, the documented semantics of put / delete / cas / txn and of the dedup
 * table's "a (session, seq) applies once", src/kv/command.ts) replays the chain's commands in that
 * order. A history of txns and ranges is accepted iff
 *   - every answered txn is in the chain (first at the height its answer names) and the model's
 *     outcome there (which branch ran, what its gets read) is the answer;
 *   - every answered range equals the model's state after its height, restricted to its range and
 *     limit (keys, values, revisions and whether more keys remain);
 *   - real time is respected: an operation that returned before another was called has a position
 *     no greater than the other's (for two txns: smaller).
 * This is linearizability with the chain's order as the witness, checked in O(n log n + blocks):
 * no search, because the order is known. Timed-out txns are whatever the chain says they were.
 *
 * The model is independent of the state machine (src/kv/state.ts) on purpose; it keeps only the
 * keys the checked operations touch (`keyspace`), and assumes no session is evicted from the dedup
 * table while a checked txn is retried (the caller's dedup capacity exceeds its clients).
 */
import { assert } from '../../src/lib/assert.js';
import { utf8 } from '../../src/lib/bytes.js';
import { decodeCommand, type TxnCompare, type TxnOp } from '../../src/kv/command.js';
import { compareBytes } from '../../src/kv/range.js';

function byteOrder(a: Uint8Array, b: Uint8Array): number {
  return compareBytes(a, 0, a.length, b);
}

function hasPrefix(key: string, prefix: string): boolean {
  const bytes = utf8(key);
  const start = utf8(prefix);
  return start.length <= bytes.length && byteOrder(bytes.subarray(0, start.length), start) === 0;
}

export interface ModelRevisions {
  readonly createHeight: number;
  readonly modHeight: number;
  readonly version: number;
}

interface ModelEntry extends ModelRevisions {
  readonly value: string;
}

export type OrderedOp =
  | {
      readonly kind: 'txn';
      readonly id: number;
      readonly call: number;
      readonly return?: number;
      /** The session id (hex) and seq the chain records for it. */
      readonly session: string;
      readonly seq: number;
      readonly result?: { readonly height: number; readonly succeeded: boolean; readonly gets: ReadonlyArray<string | null> | null };
    }
  | {
      readonly kind: 'range';
      readonly id: number;
      readonly call: number;
      readonly return?: number;
      readonly prefix: string;
      readonly limit: number;
      readonly result?: { readonly height: number; readonly entries: ReadonlyArray<{ readonly key: string; readonly value: string; readonly revisions: ModelRevisions }>; readonly more: boolean };
    };

export type ChainOrderVerdict = { readonly ok: true; readonly txns: number; readonly ranges: number } | { readonly ok: false; readonly message: string };

/** One chain command as the check sees it: the decoded tuple and its session id (hex, null for none). */
export interface ChainCommand {
  readonly tuple: unknown;
  readonly session: string | null;
}

/** Most positions in one block (bodyCommandsMax is 10,000): positions are height * POSITION_SPAN + index. */
const POSITION_SPAN = 1 << 16;

const decoder = new TextDecoder();

class Model {
  readonly entries = new Map<string, ModelEntry>();
  private readonly lastSeq = new Map<string, number>();

  constructor(private readonly keyspace: (key: string) => boolean) {}

  /** Applies one command; returns the txn outcome if it is a txn that applied. */
  apply(command: ChainCommand, height: number): { succeeded: boolean; gets: Array<string | null> } | undefined {
    const decoded = decodeCommand(command.tuple);
    if (typeof decoded === 'string' || decoded.op === 'noop') return undefined;
    if (command.session !== null) {
      if (decoded.seq <= (this.lastSeq.get(command.session) ?? 0)) return undefined;
      this.lastSeq.set(command.session, decoded.seq);
    }
    if (decoded.op === 'txn') {
      const succeeded = decoded.compares.every((compare) => this.holds(compare));
      const gets: Array<string | null> = [];
      for (const op of succeeded ? decoded.success : decoded.failure) this.run(op, height, gets);
      return { succeeded, gets };
    }
    // Plain writes only matter here if they touch the checked keys.
    if (!this.keyspace(decoded.key)) return undefined;
    if (decoded.op === 'put') this.put(decoded.key, decoder.decode(decoded.value), height);
    else if (decoded.op === 'delete') this.entries.delete(decoded.key);
    else {
      const entry = this.entries.get(decoded.key);
      const matches = decoded.expect === null ? entry === undefined : entry !== undefined && entry.value === decoder.decode(decoded.expect);
      if (matches && decoded.value === null) this.entries.delete(decoded.key);
      else if (matches) this.put(decoded.key, decoder.decode(decoded.value!), height);
    }
    return undefined;
  }

  private put(key: string, value: string, height: number): void {
    const old = this.entries.get(key);
    this.entries.set(key, old ? { value, createHeight: old.createHeight, modHeight: height, version: old.version + 1 } : { value, createHeight: height, modHeight: height, version: 1 });
  }

  private holds(compare: TxnCompare): boolean {
    const entry = this.entries.get(compare.key);
    let order: number;
    if (compare.target === 'value') {
      if (!entry) return compare.relation === '!=';
      order = byteOrder(utf8(entry.value), compare.operand as Uint8Array);
    } else {
      order = Math.sign((entry ? entry[compare.target] : 0) - (compare.operand as number));
    }
    return compare.relation === '=' ? order === 0 : compare.relation === '!=' ? order !== 0 : compare.relation === '<' ? order < 0 : order > 0;
  }

  private run(op: TxnOp, height: number, gets: Array<string | null>): void {
    if (op.kind === 'get') gets.push(this.entries.get(op.key)?.value ?? null);
    else if (op.kind === 'put') this.put(op.key, decoder.decode(op.value), height);
    else if (op.kind === 'delete') this.entries.delete(op.key);
    else for (const key of [...this.entries.keys()]) if (hasPrefix(key, op.prefix)) this.entries.delete(key);
  }

  /** The first `limit` keys with `prefix` in byte order, and whether more remain. */
  range(prefix: string, limit: number): { entries: Array<{ key: string; value: string; revisions: ModelRevisions }>; more: boolean } {
    const keys = [...this.entries.keys()].filter((key) => hasPrefix(key, prefix)).sort((a, b) => byteOrder(utf8(a), utf8(b)));
    const entries = keys.slice(0, limit).map((key) => {
      const { value, createHeight, modHeight, version } = this.entries.get(key)!;
      return { key, value, revisions: { createHeight, modHeight, version } };
    });
    return { entries, more: keys.length > limit };
  }
}

/**
 * Checks `ops` against the chain `blocks` (heights 1..blocks.length, each its commands in order)
 * with the model restricted to `keyspace`.
 */
export function checkChainOrder(blocks: ReadonlyArray<readonly ChainCommand[]>, ops: readonly OrderedOp[], keyspace: (key: string) => boolean): ChainOrderVerdict {
  const model = new Model(keyspace);
  const txnAt = new Map<string, { position: number; height: number; outcome: { succeeded: boolean; gets: Array<string | null> } }>();
  const rangesAt = new Map<number, Array<Extract<OrderedOp, { kind: 'range' }>>>();
  for (const op of ops) if (op.kind === 'range' && op.result) rangesAt.set(op.result.height, [...(rangesAt.get(op.result.height) ?? []), op]);
  for (let height = 1; height <= blocks.length; height++) {
    const commands = blocks[height - 1]!;
    assert(commands.length < POSITION_SPAN, 'checkChainOrder: a block with too many commands');
    commands.forEach((command, index) => {
      const outcome = model.apply(command, height);
      const decoded = outcome ? decodeCommand(command.tuple) : undefined;
      if (outcome && decoded && typeof decoded !== 'string') txnAt.set(`${command.session}:${decoded.seq}`, { position: height * POSITION_SPAN + index, height, outcome });
    });
    for (const range of rangesAt.get(height) ?? []) {
      const expected = model.range(range.prefix, range.limit);
      const got = range.result!;
      if (JSON.stringify(expected) !== JSON.stringify({ entries: got.entries, more: got.more })) {
        return { ok: false, message: `range ${JSON.stringify(range.prefix)} (op ${range.id}) at height ${height} answered ${JSON.stringify(got.entries.map((e) => e.key))}${got.more ? ' +more' : ''}, the chain's state there holds ${JSON.stringify(expected.entries.map((e) => e.key))}${expected.more ? ' +more' : ''} (or other values or revisions)` };
      }
    }
  }
  const positions = new Map<number, number>();
  for (const op of ops) {
    if (op.kind === 'range') {
      if (!op.result) continue;
      if (op.result.height > blocks.length) return { ok: false, message: `range op ${op.id} answered at height ${op.result.height}, past the chain's ${blocks.length}` };
      positions.set(op.id, op.result.height * POSITION_SPAN + POSITION_SPAN - 1);
      continue;
    }
    const applied = txnAt.get(`${op.session}:${op.seq}`);
    if (applied) positions.set(op.id, applied.position);
    if (!op.result) continue;
    if (!applied) return { ok: false, message: `txn op ${op.id} (session ${op.session.slice(0, 8)} seq ${op.seq}) was answered at height ${op.result.height} but is not in the chain` };
    if (applied.height !== op.result.height) return { ok: false, message: `txn op ${op.id} was answered at height ${op.result.height}, the chain applied it at ${applied.height}` };
    if (applied.outcome.succeeded !== op.result.succeeded) return { ok: false, message: `txn op ${op.id} answered succeeded=${op.result.succeeded}, the chain's state at ${applied.height} says ${applied.outcome.succeeded}` };
    if (op.result.gets !== null && JSON.stringify(op.result.gets) !== JSON.stringify(applied.outcome.gets)) {
      return { ok: false, message: `txn op ${op.id} at height ${applied.height} read ${JSON.stringify(op.result.gets)}, the chain's state there gives ${JSON.stringify(applied.outcome.gets)}` };
    }
  }
  return checkRealTime(ops, positions);
}

/** An op that returned before another was called must not come after it in the chain's order. */
function checkRealTime(ops: readonly OrderedOp[], positions: ReadonlyMap<number, number>): ChainOrderVerdict {
  const returned = ops.filter((op) => op.return !== undefined && positions.has(op.id)).sort((a, b) => a.return! - b.return!);
  const called = ops.filter((op) => positions.has(op.id)).sort((a, b) => a.call - b.call);
  let next = 0;
  let latest: { position: number; op: OrderedOp } | undefined;
  for (const op of called) {
    // Everything that returned strictly before this call precedes it in real time.
    while (next < returned.length && returned[next]!.return! < op.call) {
      const position = positions.get(returned[next]!.id)!;
      if (!latest || position > latest.position) latest = { position, op: returned[next]! };
      next++;
    }
    const position = positions.get(op.id)!;
    const bothRanges = latest?.op.kind === 'range' && op.kind === 'range';
    if (latest && (bothRanges ? latest.position > position : latest.position >= position)) {
      return { ok: false, message: `real time: ${latest.op.kind} op ${latest.op.id} returned before ${op.kind} op ${op.id} was called, but the chain orders it later (height ${Math.floor(latest.position / POSITION_SPAN)} after ${Math.floor(position / POSITION_SPAN)})` };
    }
  }
  return { ok: true, txns: ops.filter((op) => op.kind === 'txn' && op.result).length, ranges: ops.filter((op) => op.kind === 'range' && op.result).length };
}
