/**
 * Reading stored blocks for others, written once: a peer's fetch (catch-up) and a client's chain
 * reads (`blocks`, `hashes`, `headers`). Store plans (src/storage/plan.ts): the node driver runs
 * them on LevelDB, the simulator and the harness on memory.
 */
import { limits } from '../lib/limits.js';
import type { Sha256 } from '../lib/sha256.js';
import { type BlockRef, HEADER_BYTES, hashRecord } from '../chain/block.js';
import { hashHeaders } from '../chain/hash-batch.js';
import type { NodeId } from '../paxos/ballot.js';
import type { Message } from '../replica/messages.js';
import type { FetchServe, HashServe } from '../replica/ready.js';
import { record, records, type StorePlan } from '../storage/plan.js';

/** Records read per store operation while serving. */
const SERVE_CHUNK_BLOCKS = 256;

/**
 * The `blocks` message answering `serve`: consecutive stored records from serve.fromHeight, at
 * most serve.maxBlocks of them and limits.fetchBytesMax bytes (but always one, if there is one),
 * none above `head` (the store's head now), with that head.
 */
export function* fetchReplyPlan(self: NodeId, head: BlockRef | undefined, serve: FetchServe): StorePlan<Message> {
  const found: Uint8Array[] = [];
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
  return { type: 'blocks', from: self, to: serve.to, fromHeight: serve.fromHeight, records: found, head: head ? { height: head.height, hash: head.hash } : null };
}

/**
 * The `hashes` message answering a divergence bisection's request (src/replica/bisect.ts): the
 * hash of the stored block at each of serve.heights (at most HASH_HEIGHTS_MAX, checked when the
 * request was parsed), an empty array where this store has no block.
 */
export function* hashesReplyPlan(self: NodeId, sha256: Sha256, serve: HashServe): StorePlan<Message> {
  const hashes: Uint8Array[] = [];
  for (const height of serve.heights) {
    const stored = yield* record(height);
    hashes.push(stored ? hashRecord(sha256, stored) : new Uint8Array(0));
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
 * `head`; as whole records, bare headers, or block hashes.
 */
export function* chainReadPlan(sha256: Sha256, head: BlockRef | undefined, op: ChainRead, from: number, to: number, countMax: number): StorePlan<ChainReadReply> {
  const last = Math.min(to, head?.height ?? -1, from + countMax - 1);
  const found: Uint8Array[] = [];
  for (let next = from; next <= last; ) {
    const chunk = yield* records(next, last, SERVE_CHUNK_BLOCKS);
    if (chunk.records.length === 0) break;
    for (const record of chunk.records) found.push(record);
    next = chunk.heights[chunk.heights.length - 1]! + 1;
  }
  if (op === 'blocks') return { ok: true, from, records: found, head: head ? { height: head.height, hash: head.hash } : null };
  if (op === 'headers') {
    const headers = new Uint8Array(found.length * HEADER_BYTES);
    found.forEach((record, i) => headers.set(record.subarray(0, HEADER_BYTES), i * HEADER_BYTES));
    return { ok: true, from, headers };
  }
  return { ok: true, from, hashes: hashHeaders(sha256, found) };
}
