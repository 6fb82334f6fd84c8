/**
 * In-memory backend for the simulator and tests. It models what a crash does to a disk:
 * writes made with `sync: false` sit in a volatile buffer until a later synced write (or sync())
 * makes them durable, and crash() throws the volatile buffer away. Reads see volatile writes.
 *
 * Keys live in a Map keyed by a latin1 string of the key bytes (one char per byte, so string
 * order is byte order) plus a lazily sorted key list for range scans.
 */
import type { Backend, BatchOp, Range, SyncBackend, WriteOptions } from './backend.js';

function keyString(key: Uint8Array): string {
  let out = '';
  for (let i = 0; i < key.length; i++) out += String.fromCharCode(key[i]!);
  return out;
}

function keyBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i);
  return out;
}

class SortedTable {
  readonly map = new Map<string, Uint8Array>();
  private sorted: string[] | undefined = [];

  get(key: string): Uint8Array | undefined {
    return this.map.get(key);
  }

  put(key: string, value: Uint8Array): void {
    if (!this.map.has(key) && this.sorted) {
      // Appending in order (the common case: increasing heights) keeps the list sorted for free.
      const last = this.sorted[this.sorted.length - 1];
      if (last === undefined || last < key) this.sorted.push(key);
      else this.sorted = undefined;
    }
    this.map.set(key, value);
  }

  del(key: string): void {
    if (this.map.delete(key)) this.sorted = undefined;
  }

  keysInRange(gte: string, lt: string): string[] {
    if (!this.sorted) this.sorted = [...this.map.keys()].sort();
    const keys = this.sorted;
    let low = 0;
    let high = keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (keys[middle]! < gte) low = middle + 1;
      else high = middle;
    }
    const out: string[] = [];
    for (let i = low; i < keys.length && keys[i]! < lt; i++) out.push(keys[i]!);
    return out;
  }
}

export class MemoryBackend implements Backend, SyncBackend {
  private durable = new SortedTable();
  /**
   * Unsynced writes in order (value undefined = delete), keys already encoded; applied to the
   * view table as well so reads see them. A put's value is copied once and shared by both.
   */
  private volatile: Array<{ key: string; value: Uint8Array | undefined }> = [];
  private view = new SortedTable();
  private closed = false;
  /** Counts synced writes, for tests that check group commit. */
  syncCount = 0;

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.getSync(key);
  }

  getSync(key: Uint8Array): Uint8Array | undefined {
    this.checkOpen();
    return this.view.get(keyString(key));
  }

  async write(ops: readonly BatchOp[], options: WriteOptions): Promise<void> {
    this.writeSync(ops, options);
  }

  async compact(range: Range): Promise<void> {
    this.compactSync(range);
  }

  /** Nothing to reclaim: a deleted key's memory is freed at once. */
  compactSync(_range: Range): void {
    this.checkOpen();
  }

  writeSync(ops: readonly BatchOp[], options: WriteOptions): void {
    this.checkOpen();
    for (const op of ops) {
      const key = keyString(op.key);
      if (op.type === 'put') {
        const value = op.value.slice();
        this.view.put(key, value);
        this.volatile.push({ key, value });
      } else {
        this.view.del(key);
        this.volatile.push({ key, value: undefined });
      }
    }
    if (options.sync) this.sync();
  }

  /** Makes every write so far durable (what fsync does). */
  sync(): void {
    this.syncThrough(this.volatile.length);
  }

  /** A position in the log of unsynced writes, for syncThrough(). */
  get unsyncedMark(): number {
    return this.volatile.length;
  }

  /**
   * Makes the first `mark` unsynced writes durable: an fsync that started when the log was that
   * long completes, while writes made after it started stay volatile.
   */
  syncThrough(mark: number): void {
    const count = Math.min(mark, this.volatile.length);
    for (let i = 0; i < count; i++) {
      const { key, value } = this.volatile[i]!;
      if (value !== undefined) this.durable.put(key, value);
      else this.durable.del(key);
    }
    this.volatile.splice(0, count);
    this.syncCount++;
  }

  /** Loses every unsynced write, as a power cut would. The backend stays usable. */
  crash(): void {
    this.volatile = [];
    this.view = new SortedTable();
    for (const [key, value] of this.durable.map) this.view.put(key, value);
  }

  /**
   * Corruption at rest (the simulator's fault): flips bit `bit` (modulo the value's size in
   * bits) of the durable value at `key`. The value is replaced, not changed in place, because
   * messages in flight may share the old bytes. Returns whether a value was there.
   */
  flipDurableBit(key: Uint8Array, bit: number): boolean {
    const name = keyString(key);
    const value = this.durable.get(name);
    if (value === undefined || value.length === 0) return false;
    const flipped = value.slice();
    const at = bit % (flipped.length * 8);
    flipped[at >> 3] = flipped[at >> 3]! ^ (1 << (at & 7));
    this.durable.put(name, flipped);
    if (this.view.get(name) === value) this.view.put(name, flipped);
    return true;
  }

  /** Forgets everything, durable or not (a wiped disk). */
  wipe(): void {
    this.durable = new SortedTable();
    this.volatile = [];
    this.view = new SortedTable();
  }

  async *entries(range: Range, chunk: number): AsyncIterable<Array<[Uint8Array, Uint8Array]>> {
    yield* this.entriesSync(range, chunk);
  }

  *entriesSync(range: Range, chunk: number): Iterable<Array<[Uint8Array, Uint8Array]>> {
    if (!Number.isInteger(chunk) || chunk < 1 || chunk > 65_536) throw new TypeError('chunk must be in [1, 65536]');
    this.checkOpen();
    // Snapshot semantics, like LevelDB iterators: later writes are not seen.
    const keys = this.view.keysInRange(keyString(range.gte), keyString(range.lt));
    const values = keys.map((key) => this.view.get(key)!);
    for (let start = 0; start < keys.length; start += chunk) {
      const out: Array<[Uint8Array, Uint8Array]> = [];
      for (let i = start; i < Math.min(keys.length, start + chunk); i++) out.push([keyBytes(keys[i]!), values[i]!]);
      yield out;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new TypeError('backend is closed');
  }
}
