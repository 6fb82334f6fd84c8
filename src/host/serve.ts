/**
 * Reading stored blocks for others, written once: a peer's fetch (catch-up) and a client's chain
 * reads (`blocks`, `hashes`, `headers`). Store plans (src/storage/plan.ts): the node driver runs
 * them on LevelDB, the simulator and the harness on memory.
 */
import { limits } from '../lib/limits.js';
import type { Sha256 } from '../lib/sha256.js';
import { BODY_HASH_OFFSET, type BlockRef, HEADER_BYTES, hashRecord } from '../chain/block.js';
import { equalAt } from '../lib/bytes.js';
import { SHA256_BYTES } from '../lib/sha256.js';
import { hashHeaders, hashRecords } from '../chain/hash-batch.js';
import type { NodeId } from '../paxos/ballot.js';
import type { Message } from '../replica/messages.js';
import type { FetchServe, HashServe, SnapshotServe } from '../replica/ready.js';
import { HEADERS_PER_MESSAGE_MAX } from '../replica/messages.js';
import { chunkCount, decodeManifest, listCheckpointsPlan } from '../storage/checkpoint-store.js';
import { chunkHash } from '../kv/snapshot.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { checkpointKey, chunkKey, headerHeightOfKey, headerKey } from '../storage/keys.js';
import { entries, get, record, records, type StorePlan } from '../storage/plan.js';

/** Records read per store operation while serving. */
const SERVE_CHUNK_BLOCKS = 256;

/**
 * The `blocks` message answering `serve`: consecutive stored records from serve.fromHeight, at
 * most serve.maxBlocks of them and limits.fetchBytesMax bytes (but always one, if there is one),
 * none above `head` (the store's head now), with that head.
 */
export function* fetchReplyPlan(self: NodeId, head: BlockRef | undefined, serve: FetchServe, options: ServeOptions = {}): StorePlan<Message> {
  const found: Uint8Array[] = [];
  const prunedBelow = options.prunedBelow ?? 0;
  if (serve.fromHeight >= 1 && serve.fromHeight < prunedBelow) {
    // Pruned here: say from where bodies are kept, so the asker syncs state from a checkpoint.
    return { type: 'blocks', from: self, to: serve.to, fromHeight: serve.fromHeight, records: [], head: head ? { height: head.height, hash: head.hash } : null, oldestBody: prunedBelow };
  }
  if (head && serve.fromHeight <= head.height) {
    const last = Math.min(head.height, serve.fromHeight + serve.maxBlocks - 1);
    let bytes = 0;
    for (let from = serve.fromHeight; from <= last; ) {
      const chunk = yield* records(from, last, SERVE_CHUNK_BLOCKS);
      let i = 0;
      for (; i < chunk.records.length; i++) {
        const record = chunk.records[i]!;
        if (chunk.heights[i] !== serve.fromHeight + found.length) break;
        if (found.length > 0 && bytes + record.length > limits.fetchBytesMax) break;
        found.push(record);
        bytes += record.length;
      }
      if (i === 0 || i < chunk.records.length) break;
      from = chunk.heights[i - 1]! + 1;
    }
  }
  if (options.check) found.length = checkedPrefix(options.check, serve.fromHeight, found);
  return { type: 'blocks', from: self, to: serve.to, fromHeight: serve.fromHeight, records: found, head: head ? { height: head.height, hash: head.hash } : null };
}

/** What serving needs besides the store: the pruned-below mark, and the check of what is read. */
export interface ServeOptions {
  readonly prunedBelow?: number;
  readonly check?: ServeCheck;
}

/**
 * The serving node's own knowledge of its chain, so that it never hands out a block or header
 * damaged at rest (a restart from a checkpoint does not read the bodies below it): every record
 * and header read is checked against the block hash the node holds for its height first.
 */
export interface ServeCheck {
  readonly sha256: Sha256;
  /** The block hash of `height` in this node's verified chain (undefined above its head). */
  blockHash(height: number): Uint8Array | undefined;
  /** A stored block or header that does not match: the node repairs it (scrub), and serves up to it. */
  onDamaged(height: number, what: 'block' | 'header'): void;
}

/** How many of `records` (heights from, from + 1, ...) are the chain's own blocks, header and body. */
function checkedPrefix(check: ServeCheck, from: number, records: readonly Uint8Array[]): number {
  if (records.length === 0) return 0;
  const hashes = hashRecords(check.sha256, records);
  for (let i = 0; i < records.length; i++) {
    const expected = check.blockHash(from + i);
    const ok = expected !== undefined && equalAt(hashes.blockHashes, i * SHA256_BYTES, expected, 0, SHA256_BYTES) && equalAt(hashes.bodyHashes, i * SHA256_BYTES, records[i]!, BODY_HASH_OFFSET, SHA256_BYTES);
    if (!ok) {
      if (expected !== undefined) check.onDamaged(from + i, 'block');
      return i;
    }
  }
  return records.length;
}

/**
 * The answer to a peer's state sync request (src/replica/state-sync.ts), from the store: the
 * newest checkpoint whose manifest reads (an offer; the asker checks it against the chain), a run
 * of stored headers, or one chunk as stored (null once that checkpoint is gone).
 */
export function* snapshotServePlan(self: NodeId, serve: SnapshotServe, check?: ServeCheck): StorePlan<Message> {
  if (serve.kind === 'offer') {
    for (const { height, manifest } of yield* listCheckpointsPlan()) {
      if (typeof manifest === 'string') continue;
      const { blockHash, kvRoot, sessionsRoot, keys, bytes, sessions } = manifest;
      return { type: 'snapshot-offer', from: self, to: serve.to, offer: { height, blockHash, kvRoot, sessionsRoot, keys, bytes, sessions, chunks: chunkCount(manifest) } };
    }
    return { type: 'snapshot-offer', from: self, to: serve.to, offer: null };
  }
  if (serve.kind === 'headers') {
    const headers = yield* headersPlan(serve.fromHeight, serve.fromHeight + Math.min(serve.count, HEADERS_PER_MESSAGE_MAX) - 1);
    if (check) {
      const hashes = hashHeaders(check.sha256, headers);
      for (let i = 0; i < headers.length; i++) {
        const expected = check.blockHash(serve.fromHeight + i);
        if (expected === undefined || !equalAt(hashes, i * SHA256_BYTES, expected, 0, SHA256_BYTES)) {
          if (expected !== undefined) check.onDamaged(serve.fromHeight + i, 'header');
          headers.length = i;
          break;
        }
      }
    }
    const joined = new Uint8Array(headers.length * HEADER_BYTES);
    headers.forEach((header, i) => joined.set(header, i * HEADER_BYTES));
    return { type: 'headers', from: self, to: serve.to, fromHeight: serve.fromHeight, headers: joined };
  }
  // A chunk damaged at rest is not sent (its hash is in the manifest): the asker takes another source.
  const manifestBytes = yield* get(checkpointKey(serve.height));
  const manifest = manifestBytes ? decodeManifest(serve.height, manifestBytes) : undefined;
  let bytes = (yield* get(chunkKey(serve.height, serve.index))) ?? null;
  if (typeof manifest !== 'object' || serve.index >= chunkCount(manifest)) bytes = null;
  else if (bytes && check && !equalAt(chunkHash(check.sha256, bytes), 0, manifest.chunkHashes, serve.index * SHA256_BYTES, SHA256_BYTES)) bytes = null;
  return { type: 'chunk', from: self, to: serve.to, height: serve.height, index: serve.index, bytes };
}

/**
 * The `hashes` message answering a divergence bisection's request (src/replica/bisect.ts): the
 * hash of the stored block at each of serve.heights (at most HASH_HEIGHTS_MAX, checked when the
 * request was parsed), an empty array where this store has no block.
 */
export function* hashesReplyPlan(self: NodeId, sha256: Sha256, serve: HashServe): StorePlan<Message> {
  const hashes: Uint8Array[] = [];
  for (const height of serve.heights) {
    // The header index holds every height, pruned bodies' too; a block's hash is its header's.
    const header = (yield* get(headerKey(height))) ?? (yield* record(height))?.subarray(0, HEADER_BYTES);
    hashes.push(header ? hashRecord(sha256, header) : new Uint8Array(0));
  }
  return { type: 'hashes', from: self, to: serve.to, heights: serve.heights, hashes };
}

export type ChainRead = 'blocks' | 'hashes' | 'headers';

/** A chain read's answer (the client protocol's reply fields, without the request id). */
export type ChainReadReply =
  | { readonly ok: true; readonly from: number; readonly records: Uint8Array[]; readonly head: { height: number; hash: Uint8Array } | null }
  | { readonly ok: true; readonly from: number; readonly headers: Uint8Array }
  | { readonly ok: true; readonly from: number; readonly hashes: Uint8Array };

/**
 * Answers a client's chain read of heights [from, to]: at most `countMax` records, none above
 * `head`; as whole records, bare headers, or block hashes. Headers and hashes come from the
 * header index (every height has one, a pruned body's too); whole records of heights below
 * `prunedBelow` are PRUNED.
 */
export function* chainReadPlan(
  sha256: Sha256,
  head: BlockRef | undefined,
  op: ChainRead,
  from: number,
  to: number,
  countMax: number,
  prunedBelow = 0,
): StorePlan<ChainReadReply> {
  const last = Math.min(to, head?.height ?? -1, from + countMax - 1);
  if (op !== 'blocks') {
    const headers = yield* headersPlan(from, last);
    if (op === 'headers') {
      const joined = new Uint8Array(headers.length * HEADER_BYTES);
      headers.forEach((header, i) => joined.set(header, i * HEADER_BYTES));
      return { ok: true, from, headers: joined };
    }
    return { ok: true, from, hashes: hashHeaders(sha256, headers) };
  }
  if (from <= last && from >= 1 && from < prunedBelow) {
    throw new PaxchainError(ErrorCode.PRUNED, `the body of block ${from} was pruned here (this node keeps bodies from ${prunedBelow} up; every header is kept)`, { height: from, oldestBody: prunedBelow });
  }
  const found: Uint8Array[] = [];
  for (let next = from; next <= last; ) {
    const chunk = yield* records(next, last, SERVE_CHUNK_BLOCKS);
    if (chunk.records.length === 0) break;
    for (const record of chunk.records) found.push(record);
    next = chunk.heights[chunk.heights.length - 1]! + 1;
  }
  return { ok: true, from, records: found, head: head ? { height: head.height, hash: head.hash } : null };
}

/**
 * Headers from..to from the header index, consecutive (stops at the first height without one),
 * falling back to the block records for a store whose index has a gap there.
 */
function* headersPlan(from: number, to: number): StorePlan<Uint8Array[]> {
  const out: Uint8Array[] = [];
  while (from + out.length <= to) {
    const next = from + out.length;
    const found = yield* entries({ gte: headerKey(next), lt: headerKey(to + 1) }, SERVE_CHUNK_BLOCKS);
    let i = 0;
    for (; i < found.length && headerHeightOfKey(found[i]![0]) === next + i; i++) out.push(found[i]![1]);
    if (i > 0) continue;
    const stored = yield* record(next);
    if (!stored) break;
    out.push(stored.subarray(0, HEADER_BYTES));
  }
  return out;
}
