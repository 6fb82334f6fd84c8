/**
 * The chain store: blocks and the head pointer on a Backend.
 *
 * Invariants (checked on every append, asserted rather than trusted):
 * - the head pointer names the highest block and its hash, and is written in the same atomic
 *   batch as that block;
 * - an appended block's height is head.height + 1 and its prevHash is head.hash.
 * The store does not verify bodies or state roots: the Ledger did that before the block got
 * here (src/ledger/ledger.ts), and replay does it again on every open.
 */
import { assert } from '../lib/assert.js';
import { equalAt, readU64, toHex, writeU64 } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { limits } from '../lib/limits.js';
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';
import { BLOCK_FORMAT_VERSION, BODY_HASH_OFFSET, type BlockRef, hashRecord, HEADER_BYTES, HEIGHT_OFFSET, PREV_HASH_OFFSET, ZERO_HASH } from '../chain/block.js';
import type { Backend, BatchOp } from './backend.js';
import { blockHeightOfKey, blockKey, blockKeyEnd, checkpointKey, checkpointKeyEnd, chunkKeyEnd, chunkRange, HEAD_KEY, headerHeightOfKey, headerKey, headerKeyEnd, metaKey, STORE_FORMAT_VERSION } from './keys.js';
import { compact, entries, get, runPlan, type StorePlan, write } from './plan.js';

/** Blocks deleted per batch when a suffix is dropped. */
const TRUNCATE_BATCH_BLOCKS = 4096;

export interface RecordChunk {
  /** Heights as stored in the keys (a gap means a missing block). */
  readonly heights: number[];
  readonly records: Uint8Array[];
}

/** Whether record's prevHash field equals `hash`. */
function prevHashIs(record: Uint8Array, hash: Uint8Array): boolean {
  return equalAt(record, PREV_HASH_OFFSET, hash, 0, SHA256_BYTES);
}

function encodeHead(ref: BlockRef): Uint8Array {
  const bytes = new Uint8Array(8 + ref.hash.length);
  writeU64(bytes, 0, ref.height);
  bytes.set(ref.hash, 8);
  return bytes;
}

export function decodeHead(bytes: Uint8Array): BlockRef | undefined {
  if (bytes.length !== 40) return undefined;
  const height = readU64(bytes, 0);
  if (height < 0) return undefined;
  return { height, hash: bytes.slice(8) };
}

export class ChainStore {
  private headRef: BlockRef | undefined;
  /** Bodies of blocks 1..prunedBelow-1 are gone (retention); 0 or 1: none pruned. */
  private prunedBelowHeight = 0;

  private constructor(
    readonly backend: Backend,
    private readonly sha256: Sha256,
  ) {}

  /**
   * Opens a store on `backend`: checks the format version (writing it into a new store) and reads
   * the head pointer. A head pointer that cannot be decoded is CORRUPT_DATA.
   */
  static async open(backend: Backend, sha256: Sha256): Promise<ChainStore> {
    const store = ChainStore.withHead(backend, sha256, await runPlan(ChainStore.openPlan(), { backend }));
    store.prunedBelowHeight = await runPlan(readPrunedBelowPlan(), { backend });
    return store;
  }

  /** open() as a store plan (src/storage/plan.ts): checks the format, returns the head pointer. */
  static *openPlan(): StorePlan<BlockRef | undefined> {
    const format = yield* get(metaKey('format'));
    if (format === undefined) {
      yield* write([{ type: 'put', key: metaKey('format'), value: Uint8Array.of(STORE_FORMAT_VERSION) }], true);
    } else if (format.length !== 1 || format[0] !== STORE_FORMAT_VERSION) {
      throw new PaxchainError(
        ErrorCode.NO_STORE,
        `store format ${String(format[0])} is not this build's format ${STORE_FORMAT_VERSION} (state entries now carry their revisions in the state root); a store of an older build cannot be read: start from a new data directory`,
        { format: format[0] ?? null, expected: STORE_FORMAT_VERSION },
      );
    }
    const head = yield* get(HEAD_KEY);
    if (head === undefined) return undefined;
    const ref = decodeHead(head);
    if (!ref) throw new PaxchainError(ErrorCode.CORRUPT_DATA, 'head pointer is malformed', { height: -1 });
    return ref;
  }

  /**
   * A store whose format and head the caller has already read (with openPlan() run on a memory
   * backend, or a fresh one); nodes use open().
   */
  static withHead(backend: Backend, sha256: Sha256, head: BlockRef | undefined, prunedBelow = 0): ChainStore {
    const store = new ChainStore(backend, sha256);
    store.headRef = head;
    store.prunedBelowHeight = prunedBelow;
    return store;
  }

  /** The stored head pointer (undefined in an empty store). */
  get head(): BlockRef | undefined {
    return this.headRef;
  }

  /**
   * Blocks 1..prunedBelow-1 have no body here (retention dropped them; their headers stay, and
   * genesis is always kept). 0: nothing pruned.
   */
  get prunedBelow(): number {
    return this.prunedBelowHeight;
  }

  /** The lowest height above genesis whose body this store holds (1 when nothing is pruned). */
  get oldestBody(): number {
    return Math.max(1, this.prunedBelowHeight);
  }

  /** Records a prune (prunePlan) that was run on this store's backend. */
  pruned(below: number): void {
    this.prunedBelowHeight = Math.max(this.prunedBelowHeight, below);
  }

  /** Whether block `height`'s body was dropped by retention. */
  isPruned(height: number): boolean {
    return height >= 1 && height < this.prunedBelowHeight;
  }

  /**
   * Appends records in one atomic batch together with the new head pointer. `hashes`: the
   * records' block hashes when the caller has them already (see prepareAppend). Throws
   * CHAIN_MISMATCH, changing nothing, if the records do not extend the head.
   */
  async append(records: readonly Uint8Array[], options: { sync: boolean; hashes?: readonly Uint8Array[] }): Promise<BlockRef> {
    const { ops, head } = this.prepareAppend(records, options.hashes);
    await this.backend.write(ops, { sync: options.sync });
    this.headRef = head;
    return head;
  }

  /**
   * Builds the batch for append() without writing it; throws CHAIN_MISMATCH. `hashes` may give
   * the records' block hashes when the caller computed them already (the ledger did, verifying);
   * the links are checked against them all the same.
   */
  prepareAppend(records: readonly Uint8Array[], hashes?: readonly Uint8Array[]): { ops: BatchOp[]; head: BlockRef } {
    if (hashes && hashes.length !== records.length) throw new TypeError('prepareAppend: one hash per record');
    if (records.length === 0) throw new TypeError('append needs at least one record');
    let head = this.headRef;
    const ops: BatchOp[] = [];
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      if (record.length < HEADER_BYTES || record[0] !== BLOCK_FORMAT_VERSION) throw new TypeError('append: not a block record');
      const height = readU64(record, HEIGHT_OFFSET);
      const expectedHeight = head ? head.height + 1 : 0;
      const expectedPrev = head ? head.hash : ZERO_HASH;
      if (height !== expectedHeight || !prevHashIs(record, expectedPrev)) {
        throw new PaxchainError(
          ErrorCode.CHAIN_MISMATCH,
          `block ${height} (prev ${toHex(record.subarray(PREV_HASH_OFFSET, BODY_HASH_OFFSET)).slice(0, 16)}) does not extend head ${head ? head.height : 'none'}`,
          { height },
        );
      }
      head = { height, hash: hashes ? hashes[index]! : hashRecord(this.sha256, record) };
      ops.push({ type: 'put', key: blockKey(height), value: record });
      ops.push({ type: 'put', key: headerKey(height), value: record.slice(0, HEADER_BYTES) });
    }
    assert(head, 'prepareAppend: no head');
    ops.push({ type: 'put', key: HEAD_KEY, value: encodeHead(head) });
    return { ops, head };
  }

  /**
   * The ops that make the chain go on from block `head` without its body or any below it (a
   * state sync installed a checkpoint there): the pruned-below mark and the head pointer. The
   * caller puts them in one batch with the checkpoint's manifest, after its headers and chunks,
   * and records the head (committed) and the mark (pruned) once planned.
   */
  prepareInstall(head: BlockRef): BatchOp[] {
    assert(!this.headRef || head.height > this.headRef.height, 'prepareInstall: not above the head');
    const mark = new Uint8Array(8);
    writeU64(mark, 0, head.height + 1);
    return [
      { type: 'put', key: metaKey('pruned-below'), value: mark },
      { type: 'put', key: HEAD_KEY, value: encodeHead(head) },
    ];
  }

  /** Records the head after a batch built by prepareAppend() (or a repair) was written. */
  committed(head: BlockRef | undefined): void {
    this.headRef = head;
  }

  /**
   * Whether blocks are stored although there is no head pointer (it was lost: the pointer is
   * written in the same batch as its block, so an intact store never looks like this). Replay
   * reports it as NO_HEAD_POINTER after verifying the blocks; restore rebuilds the pointer.
   */
  async headPointerMissing(): Promise<boolean> {
    return this.headRef === undefined && (await this.getRecord(0)) !== undefined;
  }

  async getRecord(height: number): Promise<Uint8Array | undefined> {
    return this.backend.get(blockKey(height));
  }

  /**
   * Stored headers (the 0x07 index) with heights from `from` up to `to`, consecutive: the walk
   * stops at the first height without one.
   */
  async headers(from: number, to: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    if (to < from) return out;
    for await (const found of this.backend.entries({ gte: headerKey(from), lt: headerKey(to + 1) }, 1024)) {
      for (const [key, value] of found) {
        if (headerHeightOfKey(key) !== from + out.length) return out;
        out.push(value);
      }
    }
    return out;
  }

  /**
   * Stored records with heights in [from, to], in chunks of at most `chunk` records, in height
   * order. Missing heights are simply absent (callers compare `heights`).
   */
  async *records(from: number, to: number, chunk: number = limits.replayChunkBlocks): AsyncIterable<RecordChunk> {
    if (to < from) return;
    const end = to >= Number.MAX_SAFE_INTEGER ? blockKeyEnd : blockKey(to + 1);
    for await (const entries of this.backend.entries({ gte: blockKey(from), lt: end }, chunk)) {
      const heights = new Array<number>(entries.length);
      const records = new Array<Uint8Array>(entries.length);
      for (let i = 0; i < entries.length; i++) {
        heights[i] = blockHeightOfKey(entries[i]![0]);
        records[i] = entries[i]![1];
      }
      yield { heights, records };
    }
  }

  /**
   * Drops every block from `height` up (a corrupt or diverged suffix, before re-fetching it from
   * peers). The head pointer moves first, durably, then the blocks go in bounded batches: a crash
   * in between leaves blocks above the head, which replay reports as BLOCK_AFTER_HEAD and the next
   * truncate removes.
   */
  async truncateFrom(height: number, newHead: BlockRef | undefined): Promise<void> {
    await runPlan(truncatePlan(height, newHead), { backend: this.backend });
    this.headRef = newHead;
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}

/**
 * truncateFrom() as a store plan; the caller records `newHead` as the store's head afterwards.
 * The head pointer moves first, durably, then the blocks go in bounded batches.
 */
export function* truncatePlan(height: number, newHead: BlockRef | undefined): StorePlan<void> {
  assert(newHead === undefined ? height === 0 : newHead.height === height - 1, 'truncateFrom: head must be the block below');
  yield* write([newHead ? { type: 'put', key: HEAD_KEY, value: encodeHead(newHead) } : { type: 'del', key: HEAD_KEY }], true);
  // Checkpoints of the dropped blocks go first (a manifest never outlives its block's truncation),
  // then their chunks, the blocks and their headers.
  yield* deleteRange(checkpointKey(height), checkpointKeyEnd);
  yield* deleteRange(chunkRange(height).gte, chunkKeyEnd);
  yield* deleteRange(blockKey(height), blockKeyEnd);
  yield* deleteRange(headerKey(height), headerKeyEnd);
  yield* write([], true);
}

/** The store's pruned-below mark (0: nothing pruned); CORRUPT_DATA if it is malformed. */
export function* readPrunedBelowPlan(): StorePlan<number> {
  const bytes = yield* get(metaKey('pruned-below'));
  if (bytes === undefined) return 0;
  const below = bytes.length === 8 ? readU64(bytes, 0) : -1;
  if (below < 0) throw new PaxchainError(ErrorCode.CORRUPT_DATA, 'the store\'s pruned-below mark is malformed', { height: -1 });
  return below;
}

/**
 * Retention: drops the bodies of blocks 1..below-1 (genesis stays), keeping their headers, then
 * has the backend reclaim the space. The caller made sure a checkpoint at or
 * above below-1 is durable and checks out (restart needs the state after block below-1). The
 * mark is written, synced, first: a crash during the deletes leaves bodies the mark already
 * disowns, which the next prune deletes (restore never reads below the mark). Returns the number
 * of bodies deleted.
 */
export function* prunePlan(below: number): StorePlan<number> {
  assert(Number.isSafeInteger(below) && below >= 1, 'prune: bodies from 1 up only');
  const mark = new Uint8Array(8);
  writeU64(mark, 0, below);
  yield* write([{ type: 'put', key: metaKey('pruned-below'), value: mark }], true);
  if (below <= 1) return 0;
  // From 1 every time: bodies a crashed prune left below the previous mark go too.
  const deleted = yield* deleteRange(blockKey(1), blockKey(below));
  yield* write([], true);
  yield* compact({ gte: blockKey(1), lt: blockKey(below) });
  return deleted;
}

/**
 * Deletes every key in [gte, lt), TRUNCATE_BATCH_BLOCKS at a time; returns how many. Each pass starts after the last
 * key found (not at `gte` again, which would make LevelDB skip every tombstone of the passes before).
 */
export function* deleteRange(gte: Uint8Array, lt: Uint8Array): StorePlan<number> {
  let deleted = 0;
  for (let from = gte; ; ) {
    const found = yield* entries({ gte: from, lt }, TRUNCATE_BATCH_BLOCKS);
    if (found.length === 0) return deleted;
    deleted += found.length;
    yield* write(found.map(([key]) => ({ type: 'del', key })), false);
    from = keyAfter(found[found.length - 1]![0]);
  }
}

/** The smallest key above `key`. */
function keyAfter(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}
