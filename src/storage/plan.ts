/**
 * Store plans: storage logic written once, run against either backend. A plan is a synchronous
 * generator that yields the store operations it needs (a read, a write) and receives each
 * result; it does no I/O itself. runPlan() executes one on an async Backend (LevelDB: the node
 * and the tools), runPlanSync() on a SyncBackend (memory: the simulator, the test harness,
 * bench-core). So restore, repair, replay and block serving are the same code in production and
 * under the simulator; only who performs the reads and writes differs.
 *
 * The helpers below (get, entries, records, record, write) type the round trip:
 * `const value = yield* get(key)`.
 */
import { limits } from '../lib/limits.js';
import type { Backend, BatchOp, Range, SyncBackend } from './backend.js';
import type { RecordChunk } from './chain-store.js';
import { blockHeightOfKey, blockKey, blockKeyEnd } from './keys.js';

/** Most entries or records one read may return (the Backend's chunk bound). */
export const PLAN_READ_MAX = 65_536;

export type StoreOp =
  | { readonly kind: 'get'; readonly key: Uint8Array }
  /** The first `limit` entries of `range`, in key order. */
  | { readonly kind: 'entries'; readonly range: Range; readonly limit: number }
  /** The first `limit` stored records with heights in [from, to] (gaps show in `heights`). */
  | { readonly kind: 'records'; readonly from: number; readonly to: number; readonly limit: number }
  | { readonly kind: 'record'; readonly height: number }
  | { readonly kind: 'write'; readonly ops: readonly BatchOp[]; readonly sync: boolean }
  /** Reclaim the space of deleted keys in `range` (Backend.compact). */
  | { readonly kind: 'compact'; readonly range: Range };

export type StorePlan<T> = Generator<StoreOp, T, unknown>;

export function* get(key: Uint8Array): StorePlan<Uint8Array | undefined> {
  return (yield { kind: 'get', key }) as Uint8Array | undefined;
}

export function* entries(range: Range, limit: number): StorePlan<Array<[Uint8Array, Uint8Array]>> {
  return (yield { kind: 'entries', range, limit }) as Array<[Uint8Array, Uint8Array]>;
}

export function* records(from: number, to: number, limit: number = limits.replayChunkBlocks): StorePlan<RecordChunk> {
  return (yield { kind: 'records', from, to, limit }) as RecordChunk;
}

export function* record(height: number): StorePlan<Uint8Array | undefined> {
  return (yield { kind: 'record', height }) as Uint8Array | undefined;
}

export function* write(ops: readonly BatchOp[], sync: boolean): StorePlan<void> {
  yield { kind: 'write', ops, sync };
}

export function* compact(range: Range): StorePlan<void> {
  yield { kind: 'compact', range };
}

/** Where an async plan runs: a backend for keys, and a block source for records. */
export interface PlanTarget {
  readonly backend?: Backend;
  /** Records in [from, to], `chunk` at a time (ChainStore, or a remote node for the tools). */
  records?(from: number, to: number, chunk: number): AsyncIterable<RecordChunk>;
  getRecord?(height: number): Promise<Uint8Array | undefined>;
}

/**
 * Consecutive `records` reads that continue where the previous one stopped share one open
 * iterator, so LevelDB keeps reading ahead while the plan works on the chunk it has (replay
 * overlaps disk and CPU this way). Any other operation closes it.
 */
class RecordCursor {
  private iterator: AsyncIterator<RecordChunk> | undefined;
  private next = { from: -1, to: -1, limit: 0 };

  async read(target: PlanTarget, from: number, to: number, limit: number): Promise<RecordChunk> {
    if (!this.iterator || from !== this.next.from || to !== this.next.to || limit !== this.next.limit) {
      await this.close();
      this.iterator = target.records!(from, to, limit)[Symbol.asyncIterator]();
    }
    const step = await this.iterator.next();
    if (step.done) {
      await this.close();
      return { heights: [], records: [] };
    }
    const heights = step.value.heights;
    this.next = { from: heights.length > 0 ? heights[heights.length - 1]! + 1 : from, to, limit };
    return step.value;
  }

  async close(): Promise<void> {
    const iterator = this.iterator;
    this.iterator = undefined;
    await iterator?.return?.();
  }
}

/** Runs `plan` on an async backend and block source. */
export async function runPlan<T>(plan: StorePlan<T>, target: PlanTarget): Promise<T> {
  const cursor = new RecordCursor();
  try {
    let step = plan.next();
    while (!step.done) {
      const op = step.value;
      let result: unknown;
      if (op.kind === 'records') {
        result = await cursor.read(target, op.from, op.to, op.limit);
      } else {
        await cursor.close();
        result = await runOne(op, target);
      }
      step = plan.next(result);
    }
    return step.value;
  } finally {
    await cursor.close();
  }
}

async function runOne(op: Exclude<StoreOp, { kind: 'records' }>, target: PlanTarget): Promise<unknown> {
  switch (op.kind) {
    case 'get':
      return target.backend!.get(op.key);
    case 'record':
      return target.getRecord ? target.getRecord(op.height) : target.backend!.get(blockKey(op.height));
    case 'entries':
      for await (const chunk of target.backend!.entries(op.range, op.limit)) return chunk;
      return [];
    case 'write':
      return target.backend!.write(op.ops, { sync: op.sync });
    case 'compact':
      return target.backend!.compact(op.range);
  }
}

/**
 * A plan run on a synchronous backend one operation at a time (the simulator runs a checkpoint or
 * a prune beside the Ready loop this way, so that a crash can land between any two operations).
 */
export class PlanStepper<T> {
  private current: IteratorResult<StoreOp, T>;

  constructor(private readonly plan: StorePlan<T>) {
    this.current = plan.next();
  }

  get done(): boolean {
    return this.current.done === true;
  }

  /** The plan's result, once done. */
  get value(): T | undefined {
    return this.current.done ? this.current.value : undefined;
  }

  /** Performs the next operation on `backend` (nothing once done). */
  step(backend: SyncBackend): void {
    if (!this.current.done) this.current = this.plan.next(runOneSync(this.current.value, backend));
  }
}

/** Runs `plan` on a synchronous backend (memory), to completion, before returning. */
export function runPlanSync<T>(plan: StorePlan<T>, backend: SyncBackend): T {
  let step = plan.next();
  while (!step.done) step = plan.next(runOneSync(step.value, backend));
  return step.value;
}

function runOneSync(op: StoreOp, backend: SyncBackend): unknown {
  switch (op.kind) {
    case 'get':
      return backend.getSync(op.key);
    case 'record':
      return backend.getSync(blockKey(op.height));
    case 'entries':
      for (const chunk of backend.entriesSync(op.range, op.limit)) return chunk;
      return [];
    case 'records': {
      // Heights are keys, so [from, from + limit) holds at most `limit` records.
      const last = Math.min(op.to, op.from + op.limit - 1);
      const heights: number[] = [];
      const found: Uint8Array[] = [];
      if (last < op.from) return { heights, records: found };
      const end = last >= Number.MAX_SAFE_INTEGER - 1 ? blockKeyEnd : blockKey(last + 1);
      for (const chunk of backend.entriesSync({ gte: blockKey(op.from), lt: end }, op.limit)) {
        for (const [key, value] of chunk) {
          heights.push(blockHeightOfKey(key));
          found.push(value);
        }
        break;
      }
      return { heights, records: found };
    }
    case 'write':
      backend.writeSync(op.ops, { sync: op.sync });
      return undefined;
    case 'compact':
      backend.compactSync(op.range);
      return undefined;
  }
}
