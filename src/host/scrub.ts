/**
 * Scrub: re-verifying the blocks at rest, a bounded number per step, written once as a store
 * plan. A restart from a checkpoint no longer reads the bodies below it, so damage there (a
 * flipped bit, a lost file) would otherwise go unseen until a peer or a tool asked for it.
 *
 * Each stored block is checked against the block hash the node's history accumulator holds for
 * its height (every height's hash is in memory, checked at restore by the header chain and on
 * every append): the header must hash to it and the body to the header's body hash. The header
 * index entry (0x07) must equal the block's header; a damaged one is rewritten from the verified
 * block at once. A damaged or missing body is reported: the caller fetches that one block from a
 * peer, checks it against the same hash (repairRecord) and rewrites it. Nothing else changes:
 * no vote depends on an old body (its block was chosen and applied long ago), so unlike a bad
 * block met at restore (src/host/restore.ts) the node keeps its chain above it, its checkpoints
 * and its vote.
 */
import { bytesEqual, equalAt, toHex } from '../lib/bytes.js';
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';
import { BODY_HASH_OFFSET, HEADER_BYTES, hashRecord } from '../chain/block.js';
import { hashRecords } from '../chain/hash-batch.js';
import { blockKey, headerHeightOfKey, headerKey } from '../storage/keys.js';
import { entries, records, type StorePlan, write } from '../storage/plan.js';
import type { NodeId } from '../paxos/ballot.js';
import type { BlocksMessage, FetchMessage } from '../replica/messages.js';

/** Blocks checked per scrub step (one read of records, one of headers). */
const SCRUB_STEP_BLOCKS_MAX = 256;

export interface ScrubFinding {
  readonly height: number;
  readonly reason: 'BODY_HASH_MISMATCH' | 'HEADER_MISMATCH' | 'MISSING_BODY';
  readonly message: string;
}

export interface ScrubStep {
  /** The next height to check (to + 1 after a whole range). */
  readonly next: number;
  readonly checked: number;
  /** Blocks whose body must be fetched again. */
  readonly damaged: readonly ScrubFinding[];
  /** Header index entries that were wrong and have been rewritten from their verified blocks. */
  readonly headersRewritten: number;
}

/**
 * Checks the stored blocks from..min(to, from + count - 1) against `blockHash(height)` (the
 * history accumulator's leaf). Rewrites wrong header index entries of blocks that verify.
 */
export function* scrubPlan(sha256: Sha256, from: number, to: number, count: number, blockHash: (height: number) => Uint8Array): StorePlan<ScrubStep> {
  const last = Math.min(to, from + Math.min(count, SCRUB_STEP_BLOCKS_MAX) - 1);
  if (last < from) return { next: from, checked: 0, damaged: [], headersRewritten: 0 };
  const chunk = yield* records(from, last, SCRUB_STEP_BLOCKS_MAX);
  const headers = yield* entries({ gte: headerKey(from), lt: headerKey(last + 1) }, SCRUB_STEP_BLOCKS_MAX);
  const indexed = new Map(headers.map(([key, value]) => [headerHeightOfKey(key), value]));
  const hashes = hashRecords(sha256, chunk.records);
  const byHeight = new Map(chunk.heights.map((height, i) => [height, i]));
  const damaged: ScrubFinding[] = [];
  const rewrites: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array }> = [];
  for (let height = from; height <= last; height++) {
    const expected = blockHash(height);
    const i = byHeight.get(height);
    if (i === undefined) {
      damaged.push({ height, reason: 'MISSING_BODY', message: `block ${height} is not stored (its header is known: ${toHex(expected).slice(0, 16)})` });
      continue;
    }
    const record = chunk.records[i]!;
    if (!equalAt(hashes.blockHashes, i * SHA256_BYTES, expected, 0, SHA256_BYTES)) {
      damaged.push({ height, reason: 'HEADER_MISMATCH', message: `block ${height}'s stored header does not hash to the chain's block hash ${toHex(expected).slice(0, 16)}` });
      continue;
    }
    if (!equalAt(hashes.bodyHashes, i * SHA256_BYTES, record, BODY_HASH_OFFSET, SHA256_BYTES)) {
      damaged.push({ height, reason: 'BODY_HASH_MISMATCH', message: `block ${height}'s stored body does not hash to its header's body hash` });
      continue;
    }
    const header = indexed.get(height);
    if (!header || header.length !== HEADER_BYTES || !equalAt(header, 0, record, 0, HEADER_BYTES)) {
      rewrites.push({ type: 'put', key: headerKey(height), value: record.slice(0, HEADER_BYTES) });
    }
  }
  if (rewrites.length > 0) yield* write(rewrites, true);
  return { next: last + 1, checked: last - from + 1, damaged, headersRewritten: rewrites.length };
}

/**
 * A block fetched from a peer to replace a damaged one: checked against the chain's hash for
 * its height (header) and its header's body hash (body); the writes that store it and its header
 * index entry, or why not.
 */
export function repairRecord(sha256: Sha256, height: number, record: Uint8Array, blockHash: Uint8Array): Array<{ type: 'put'; key: Uint8Array; value: Uint8Array }> | string {
  if (record.length < HEADER_BYTES) return `block ${height} from the peer is too short`;
  if (!bytesEqual(hashRecord(sha256, record), blockHash)) return `block ${height} from the peer is not the chain's block at that height`;
  const hashes = hashRecords(sha256, [record]);
  if (!equalAt(hashes.bodyHashes, 0, record, BODY_HASH_OFFSET, SHA256_BYTES)) return `block ${height} from the peer has a body that does not match its header`;
  // The block and its header index entry (either may have been the damaged one).
  return [
    { type: 'put', key: blockKey(height), value: record.slice() },
    { type: 'put', key: headerKey(height), value: record.slice(0, HEADER_BYTES) },
  ];
}

/** Damaged blocks being refetched at once; more wait for the scrub's next pass. */
const REPAIRS_MAX = 16;

interface Repair {
  /** Peers asked so far (the next one is peers[asked % peers.length]). */
  asked: number;
  askedAt: number;
  readonly reason: string;
}

/** What a repair answer came to: the writes that store the block again, or why it was refused. */
export type RepairOutcome =
  | { readonly kind: 'repaired'; readonly height: number; readonly reason: string; readonly ops: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array }> }
  | { readonly kind: 'refused'; readonly height: number; readonly why: string };

/**
 * The damaged blocks of one node being fetched again, one peer at a time, at a bounded rate; the
 * node driver and the simulator both run it (time is whatever unit they pass as `now`). A block
 * found damaged (by the scrub, or while serving it) is asked of the next peer with a one-block
 * `fetch`; the answer is stored only if it is the chain's own block at that height.
 */
export class BodyRepair {
  private readonly repairs = new Map<number, Repair>();

  constructor(
    private readonly self: NodeId,
    private readonly peers: readonly NodeId[],
    /** How long a repair fetch waits for its answer before the next peer is asked (in `now` units). */
    private readonly retryAfter: number,
  ) {}

  get size(): number {
    return this.repairs.size;
  }

  /** Whether a `blocks` message with this first height answers a repair fetch. */
  awaits(height: number): boolean {
    return this.repairs.has(height);
  }

  /** Queues `height` (unless queued already or REPAIRS_MAX are): the fetch to send, or undefined. */
  queue(height: number, reason: string, now: number): FetchMessage | undefined {
    if (this.repairs.has(height) || this.repairs.size >= REPAIRS_MAX) return undefined;
    const repair: Repair = { asked: 0, askedAt: now, reason };
    this.repairs.set(height, repair);
    return this.ask(height, repair, now);
  }

  /** Fetches whose answer is overdue go to the next peer; repairs of heights now pruned are dropped. */
  retry(now: number, pruned: (height: number) => boolean): FetchMessage[] {
    const out: FetchMessage[] = [];
    for (const [height, repair] of this.repairs) {
      if (pruned(height)) this.repairs.delete(height);
      else if (now - repair.askedAt >= this.retryAfter) {
        const request = this.ask(height, repair, now);
        if (request) out.push(request);
      }
    }
    return out;
  }

  /** A peer's answer to a repair fetch (message.fromHeight awaited): store it, or refuse it. */
  onBlocks(sha256: Sha256, message: BlocksMessage, blockHash: Uint8Array): RepairOutcome | undefined {
    const height = message.fromHeight;
    const repair = this.repairs.get(height);
    if (!repair) return undefined;
    const record = message.records[0];
    const ops = record ? repairRecord(sha256, height, record, blockHash) : `node ${message.from} has no body at ${height}`;
    // Refused: the next peer is asked when this fetch's retry time is up (a bounded rate).
    if (typeof ops === 'string') return { kind: 'refused', height, why: ops };
    this.repairs.delete(height);
    return { kind: 'repaired', height, reason: repair.reason, ops };
  }

  private ask(height: number, repair: Repair, now: number): FetchMessage | undefined {
    const peers = this.peers.filter((peer) => peer !== this.self);
    if (peers.length === 0) return undefined;
    const peer = peers[repair.asked % peers.length]!;
    repair.asked++;
    repair.askedAt = now;
    return { type: 'fetch', from: this.self, to: peer, fromHeight: height, maxBlocks: 1 };
  }
}
