/**
 * Replay: read a store's chain from genesis, check every block (src/ledger/ledger.ts) and
 * rebuild the KV state. Records are read `limits.replayChunkBlocks` at a time and their header
 * and body hashes computed in batches, which is what makes verify fast.
 */
import { bytesEqual, toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import type { Sha256 } from '../lib/sha256.js';
import type { BlockRef } from '../chain/block.js';
import { hashRecords } from '../chain/hash-batch.js';
import { type ChainProblem, Ledger } from '../ledger/ledger.js';
import type { RecordChunk } from './chain-store.js';
import { record, records, runPlan, type StorePlan } from './plan.js';

/**
 * Where replay reads blocks from: a node's store (ChainStore), or a running node over the client
 * protocol (src/cli/remote-chain.ts), so that online and offline tools verify the same way.
 */
export interface BlockSource {
  /** The head the source claims (its head pointer). */
  readonly head: BlockRef | undefined;
  /** Records with heights in [from, to], in order, `chunk` at a time; gaps show as missing heights. */
  records(from: number, to: number, chunk: number): AsyncIterable<RecordChunk>;
  getRecord(height: number): Promise<Uint8Array | undefined>;
  /** Bodies of blocks 1..prunedBelow-1 are absent by design (retention); 0 or undefined: none. */
  readonly prunedBelow?: number;
}

export interface ReplayOptions {
  /** Stop after applying this height (inclusive). */
  readonly upTo?: number;
  /** Called after each chunk with the verified height so far. */
  readonly onProgress?: (verifiedHeight: number, targetHeight: number) => void;
  /**
   * The store's pruned-below mark (ChainStore.prunedBelow): a replay from genesis of a store
   * without bodies 1..P-1 stops at once with problem PRUNED (not MISSING_BLOCK: nothing is damaged).
   */
  readonly prunedBelow?: number;
  /** Called for every applied block with its command results and its (verified) block hash. */
  readonly onBlock?: (height: number, record: Uint8Array, results: readonly number[], hash: Uint8Array) => void;
  /** A head taken from elsewhere (another node, an audit) that this chain must contain. */
  readonly expectHead?: BlockRef;
  /** Seed of the state's in-memory hash indexes (KvStateOptions.hashSeed); a node passes a random one. */
  readonly hashSeed?: number;
  /**
   * A ledger to continue from (resumed from a checkpoint, src/host/restore.ts): replay starts at
   * its next height instead of genesis.
   */
  readonly from?: Ledger;
}

export interface ReplayReport {
  readonly ledger: Ledger;
  /** Blocks applied (genesis included; after `from`'s head only, when given). */
  readonly blocks: number;
  /** Client commands applied. */
  readonly commands: number;
  /** Bytes of block records read. */
  readonly bytes: number;
  /** The store's head pointer (may differ from ledger.head when there is a problem). */
  readonly storedHead: BlockRef | undefined;
  /** The first problem found, or undefined if the chain checked out. */
  readonly problem: ChainProblem | undefined;
}

export async function replayStore(store: BlockSource, sha256: Sha256, options: ReplayOptions = {}): Promise<ReplayReport> {
  return runPlan(replayPlan(store.head, sha256, { prunedBelow: store.prunedBelow, ...options }), store);
}

/**
 * Replay as a store plan (src/storage/plan.ts): the node's restore runs it on LevelDB, the
 * simulator's on memory, the tools on any BlockSource. `storedHead`: the store's head pointer.
 */
export function* replayPlan(storedHead: BlockRef | undefined, sha256: Sha256, options: ReplayOptions = {}): StorePlan<ReplayReport> {
  const ledger = options.from ?? new Ledger(sha256, { hashSeed: options.hashSeed });
  // No head pointer: an empty store, or blocks whose pointer was lost (they are replayed and
  // verified all the same, so that the report says how much of the chain is intact).
  const headless = !storedHead && (yield* record(0)) !== undefined;
  const upTo = Math.min(options.upTo ?? Number.MAX_SAFE_INTEGER, storedHead ? storedHead.height : headless ? Number.MAX_SAFE_INTEGER : -1);
  const counts = { blocks: 0, commands: 0, bytes: 0, expectedSeen: false };
  let problem: ChainProblem | undefined;
  if (!storedHead && !headless) {
    problem = { height: 0, reason: 'NO_GENESIS', message: 'the store has no blocks (no head pointer)' };
  }
  const prunedBelow = options.prunedBelow ?? 0;
  if (!problem && !options.from && prunedBelow > 1 && upTo >= 1) {
    problem = {
      height: 1,
      reason: 'PRUNED',
      message: `the bodies of blocks 1..${prunedBelow - 1} were pruned (retention; their headers are kept): a replay from genesis needs them. \`chain audit\` checks every header; a node restarts from its checkpoint`,
    };
  }
  for (let from = ledger.nextHeight; !problem && from <= upTo; ) {
    const chunk = yield* records(from, upTo, limits.replayChunkBlocks);
    if (chunk.records.length === 0) break;
    problem = replayChunk(ledger, sha256, chunk, upTo, options, counts);
    options.onProgress?.(ledger.head ? ledger.head.height : -1, upTo);
    from = chunk.heights[chunk.heights.length - 1]! + 1;
  }
  if (!problem && headless) problem = headPointerMissing(ledger);
  if (!problem && storedHead) problem = checkEnd(ledger, storedHead, upTo);
  if (!problem && storedHead && upTo === storedHead.height) {
    const extra = yield* record(storedHead.height + 1);
    if (extra !== undefined) {
      problem = {
        height: storedHead.height + 1,
        reason: 'BLOCK_AFTER_HEAD',
        message: `a block is stored at ${storedHead.height + 1}, above the head pointer ${storedHead.height}`,
      };
    }
  }
  if (!problem && options.expectHead && !counts.expectedSeen) problem = checkExpected(ledger, options.expectHead);
  return { ledger, blocks: counts.blocks, commands: counts.commands, bytes: counts.bytes, storedHead, problem };
}

/** Applies one chunk of records; returns the first problem, if any. */
function replayChunk(
  ledger: Ledger,
  sha256: Sha256,
  chunk: RecordChunk,
  upTo: number,
  options: ReplayOptions,
  counts: { blocks: number; commands: number; bytes: number; expectedSeen: boolean },
): ChainProblem | undefined {
  const hashes = hashRecords(sha256, chunk.records);
  const precomputed = { blockHashes: hashes.blockHashes, bodyHashes: hashes.bodyHashes, index: 0 };
  for (let i = 0; i < chunk.records.length; i++) {
    const height = chunk.heights[i]!;
    if (height > upTo) return undefined;
    const record = chunk.records[i]!;
    precomputed.index = i;
    const outcome = ledger.replay(height, record, precomputed);
    if ('problem' in outcome) return outcome.problem;
    if (options.expectHead && height === options.expectHead.height) {
      counts.expectedSeen = true;
      if (!bytesEqual(ledger.head!.hash, options.expectHead.hash)) {
        return {
          height,
          reason: 'EXPECTED_HEAD_MISMATCH',
          message: `block ${height} hashes to ${toHex(ledger.head!.hash).slice(0, 16)}, expected ${toHex(options.expectHead.hash).slice(0, 16)}`,
        };
      }
    }
    counts.blocks++;
    counts.bytes += record.length;
    counts.commands += outcome.results.length;
    options.onBlock?.(height, record, outcome.results, ledger.head!.hash);
  }
  return undefined;
}

/** The problem of a store whose blocks 0..head verified but whose head pointer is gone. */
function headPointerMissing(ledger: Ledger): ChainProblem {
  const top = ledger.head!.height;
  return {
    height: top + 1,
    reason: 'NO_HEAD_POINTER',
    message: `the head pointer is missing, but blocks 0..${top} are stored and verify (a node started on this store rebuilds the pointer from them)`,
  };
}

function checkEnd(ledger: Ledger, storedHead: BlockRef, upTo: number): ChainProblem | undefined {
  const head = ledger.head;
  const reached = head ? head.height : -1;
  if (reached < upTo) {
    return { height: reached + 1, reason: 'MISSING_BLOCK', message: `block ${reached + 1} is missing (head pointer says ${storedHead.height})` };
  }
  if (upTo === storedHead.height && head && !bytesEqual(head.hash, storedHead.hash)) {
    return {
      height: storedHead.height,
      reason: 'HEAD_MISMATCH',
      message: `head pointer hash ${toHex(storedHead.hash).slice(0, 16)} differs from block ${head.height} hash ${toHex(head.hash).slice(0, 16)}`,
    };
  }
  return undefined;
}

function checkExpected(ledger: Ledger, expected: BlockRef): ChainProblem | undefined {
  const head = ledger.head;
  if (!head || head.height < expected.height) {
    return {
      height: expected.height,
      reason: 'EXPECTED_HEAD_MISMATCH',
      message: `chain ends at ${head ? head.height : 'nothing'}, below the expected head ${expected.height}`,
    };
  }
  return undefined;
}
