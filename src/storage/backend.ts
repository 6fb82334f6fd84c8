/**
 * The ordered key-value interface the chain store runs on. Two implementations pass one
 * compliance suite (test/storage/compliance.test.ts): LevelDB (src/storage/level-backend.ts) for
 * nodes and tools, and memory (src/storage/memory-backend.ts) for the simulator and tests.
 *
 * Keys and values are byte arrays; order is unsigned lexicographic byte order.
 */
export type BatchOp =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: Uint8Array };

export interface WriteOptions {
  /** Durable before the promise resolves (fsync). An acceptor's replies wait for this. */
  readonly sync: boolean;
}

export interface Range {
  /** Inclusive lower bound. */
  readonly gte: Uint8Array;
  /** Exclusive upper bound. */
  readonly lt: Uint8Array;
}

export interface Backend {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Applies all ops atomically, in order. */
  write(ops: readonly BatchOp[], options: WriteOptions): Promise<void>;
  /** Entries in [gte, lt) in key order, `chunk` at a time (chunk in [1, 65536]). */
  entries(range: Range, chunk: number): AsyncIterable<Array<[Uint8Array, Uint8Array]>>;
  /**
   * Asks the store to reclaim the space of deleted keys in [gte, lt) now (LevelDB: compact that
   * range) rather than whenever its own compactions get there. Changes no key.
   */
  compact(range: Range): Promise<void>;
  close(): Promise<void>;
}

/**
 * The same operations, synchronous: what the memory backend offers so that store plans
 * (src/storage/plan.ts) run to completion inside one simulator step.
 */
export interface SyncBackend {
  getSync(key: Uint8Array): Uint8Array | undefined;
  writeSync(ops: readonly BatchOp[], options: WriteOptions): void;
  entriesSync(range: Range, chunk: number): Iterable<Array<[Uint8Array, Uint8Array]>>;
  compactSync(range: Range): void;
}
