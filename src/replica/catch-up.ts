/**
 * Catch-up: fetching missing blocks in bounded chunks from peers that are ahead (ARCHITECTURE
 * §4). Owns the fetches in flight, the replies that arrived before the range below them, the
 * token bucket that throttles catch-up and the peers to avoid for a while. It decides (ask this
 * peer from this height, apply this reply now, keep that one); the replica verifies and appends.
 */
import { assert } from '../lib/assert.js';
import { bytesEqual, toHex } from '../lib/bytes.js';
import type { Prng } from '../lib/prng.js';
import { HEADER_BYTES } from '../chain/block.js';
import { decodeBody } from '../chain/body.js';
import type { NodeId } from '../paxos/ballot.js';
import type { BlocksMessage } from './messages.js';

export interface CatchUpLimits {
  /** Blocks asked for in one fetch. */
  readonly fetchBlocks: number;
  /** Fetches in flight at once. */
  readonly fetchPipelineMax: number;
  /** Token bucket refill, blocks per tick (Infinity = no limit). */
  readonly catchupBlocksPerTick: number;
  readonly fetchTimeoutTicks: number;
}

interface FetchInFlight {
  readonly peer: NodeId;
  readonly count: number;
  readonly sentTick: number;
}

/** What to do with a `blocks` reply. */
export type BlocksVerdict = 'apply' | 'kept-ahead' | 'dropped';

export class CatchUp {
  /** Fetches in flight by first height: size <= fetchPipelineMax. */
  private readonly inFlight = new Map<number, FetchInFlight>();
  /** Replies that arrived before the range below them, by first height: size <= fetchPipelineMax. */
  private readonly ahead = new Map<number, BlocksMessage>();
  /** Blocks that may be asked for now: 0 <= tokens <= fetchBlocks × fetchPipelineMax. */
  private tokens: number;
  /** Peers not to ask until the tick given (a timed-out fetch, a bad reply). */
  private readonly avoidUntil = new Map<NodeId, number>();

  constructor(private readonly limits: CatchUpLimits) {
    this.tokens = this.burst;
  }

  private get burst(): number {
    return this.limits.fetchBlocks * this.limits.fetchPipelineMax;
  }

  get aheadCount(): number {
    return this.ahead.size;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Refills the bucket; gives up on fetches unanswered for fetchTimeoutTicks (and their peers for a while). */
  tick(tick: number): void {
    this.tokens = Math.min(this.burst, this.tokens + this.limits.catchupBlocksPerTick);
    for (const [fromHeight, flight] of this.inFlight) {
      if (tick - flight.sentTick < this.limits.fetchTimeoutTicks) continue;
      this.avoid(flight.peer, tick);
      this.inFlight.delete(fromHeight);
    }
  }

  /** Stops asking `peer` for fetchTimeoutTicks from `tick`. */
  avoid(peer: NodeId, tick: number): void {
    this.avoidUntil.set(peer, tick + this.limits.fetchTimeoutTicks);
  }

  isAvoided(peer: NodeId, tick: number): boolean {
    return (this.avoidUntil.get(peer) ?? -1) > tick;
  }

  /** Whether another range may be requested now (pipeline and bucket both allow it). */
  get canRequest(): boolean {
    return this.inFlight.size < this.limits.fetchPipelineMax && this.tokens >= this.limits.fetchBlocks;
  }

  /** The first height at or after `nextHeight` neither buffered nor asked for. */
  nextUnrequestedHeight(nextHeight: number): number {
    let cursor = nextHeight;
    for (let step = 0; step <= 2 * this.limits.fetchPipelineMax; step++) {
      const flight = this.inFlight.get(cursor);
      const ahead = this.ahead.get(cursor);
      if (flight) cursor += flight.count;
      else if (ahead && ahead.records.length > 0) cursor += ahead.records.length;
      else break;
    }
    return cursor;
  }

  /** Records a fetch of fetchBlocks blocks from `fromHeight` sent to `peer`; returns the count. */
  recordRequest(peer: NodeId, fromHeight: number, tick: number): number {
    const count = this.limits.fetchBlocks;
    assert(this.inFlight.size < this.limits.fetchPipelineMax, 'catch-up pipeline full');
    this.tokens -= count;
    this.inFlight.set(fromHeight, { peer, count, sentTick: tick });
    return count;
  }

  /**
   * Picks who to fetch from among `candidates` (peers ahead, agreeing, not avoided): a follower
   * when one can serve, sparing the leader, whose throughput is the cluster's.
   */
  pickPeer(candidates: readonly NodeId[], leader: NodeId, prng: Prng): NodeId | undefined {
    if (candidates.length === 0) return undefined;
    const followers = candidates.filter((node) => node !== leader);
    return prng.pick(followers.length > 0 ? followers : candidates);
  }

  /** Books a `blocks` reply in: apply it now, keep it for when the range below is applied, or drop it. */
  onBlocks(message: BlocksMessage, nextHeight: number): BlocksVerdict {
    const flight = this.inFlight.get(message.fromHeight);
    if (flight?.peer === message.from) this.inFlight.delete(message.fromHeight);
    if (message.fromHeight <= nextHeight) return 'apply';
    // Ahead of a range still in flight: keep it until the range below is applied.
    if (this.ahead.size < this.limits.fetchPipelineMax && message.records.length > 0) {
      this.ahead.set(message.fromHeight, message);
      return 'kept-ahead';
    }
    return 'dropped';
  }

  /** A kept reply that starts at or below `nextHeight`, removed; undefined if none. */
  takeAhead(nextHeight: number): BlocksMessage | undefined {
    for (const [from, message] of this.ahead) {
      if (from > nextHeight) continue;
      this.ahead.delete(from);
      return message;
    }
    return undefined;
  }
}

/**
 * Why a learner without genesis must refuse `record` as its block 0, or undefined to adopt it.
 * Trust is pinned to the genesis hash a majority of members report (or the pinned one: `agreed`,
 * with `hash` the record's block hash), never to whichever peer answers a fetch.
 */
export function genesisRefusal(record: Uint8Array, trust: { agreed: Uint8Array; hash: Uint8Array } | undefined, clusterId: string | undefined, self: NodeId): string | undefined {
  if (trust === undefined) return 'no majority of members agrees on a genesis yet';
  if (!bytesEqual(trust.hash, trust.agreed)) return `its hash is not the genesis a majority of members (or the pinned hash) has: ${toHex(trust.agreed).slice(0, 16)}`;
  const body = decodeBody(record.subarray(HEADER_BYTES));
  if (typeof body === 'string' || body.kind !== 'genesis') return 'not a genesis block';
  if (clusterId !== undefined && body.clusterId !== clusterId) return `cluster id ${body.clusterId}, expected ${clusterId}`;
  if (!body.members.includes(self)) return `members ${body.members.join(',')} do not include node ${self}`;
  return undefined;
}
