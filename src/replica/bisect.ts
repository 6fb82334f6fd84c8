/**
 * Locating the first divergent height after a divergence verdict. Equal block hashes at height h
 * mean equal chains up to h (each header names its parent's hash), so the first differing height
 * is found by narrowing an interval (low known equal, high known different): each round asks this
 * node's store and the peer's for the hashes at up to BISECT_SAMPLES_MAX evenly spaced heights in
 * between (plus high), so log_(samples + 1) rounds suffice. It decides which heights to ask for
 * and when the search is over; the replica sends the requests (src/replica/messages.ts
 * `hashes-request`) and the host answers them from disk (`hashes`).
 */
import { bytesEqual, toHex } from '../lib/bytes.js';
import type { NodeId } from '../paxos/ballot.js';

/** Heights sampled per round between the bounds (the request also holds the upper bound). */
export const BISECT_SAMPLES_MAX = 16;
/** Requests per search (answered rounds and resends after a timeout) before giving up. */
const BISECT_REQUESTS_MAX = 64;
/** Ticks to wait before searching again after giving up. */
export const BISECT_RETRY_TICKS = 500;

export interface FirstDivergence {
  readonly height: number;
  readonly peer: NodeId;
  /** Hex block hashes at `height`, '?' where that side holds no block there. */
  readonly ours: string;
  readonly theirs: string;
}

interface Search {
  readonly peer: NodeId;
  /** Highest height known equal on both sides (-1: none yet). Invariant: low < high. */
  low: number;
  /** A height known to differ. */
  high: number;
  /** Hashes at `high` (empty: that side holds no block there). */
  highOurs: Uint8Array;
  highTheirs: Uint8Array;
  /** The heights asked for in this round, ascending, ending with `high`. */
  heights: number[];
  ours: readonly Uint8Array[] | undefined;
  theirs: readonly Uint8Array[] | undefined;
  sentTick: number;
  requests: number;
}

/** What a bisection step decided. */
export type BisectStep =
  | { readonly kind: 'ask'; readonly peer: NodeId; readonly heights: readonly number[] }
  | { readonly kind: 'found'; readonly first: FirstDivergence }
  | { readonly kind: 'gave-up'; readonly reason: string }
  | undefined;

export class Bisection {
  private search: Search | undefined;
  private result: FirstDivergence | undefined;
  private notBeforeTick = 0;

  get found(): FirstDivergence | undefined {
    return this.result;
  }

  get searching(): boolean {
    return this.search !== undefined;
  }

  /** Starts a search against `peer`, whose block at `height` differs from ours, unless one ran or runs. */
  maybeStart(peer: NodeId, height: number, tick: number): BisectStep {
    if (this.result || this.search || tick < this.notBeforeTick) return undefined;
    const empty = new Uint8Array(0);
    this.search = { peer, low: -1, high: height, highOurs: empty, highTheirs: empty, heights: [], ours: undefined, theirs: undefined, sentTick: tick, requests: 0 };
    return this.nextRound(tick);
  }

  /** Asks again when a round went unanswered for `timeoutTicks`. */
  tick(tick: number, timeoutTicks: number): BisectStep {
    const search = this.search;
    if (!search || tick - search.sentTick < timeoutTicks) return undefined;
    if (search.requests >= BISECT_REQUESTS_MAX) return this.giveUp(tick, `no answer after ${search.requests} requests`);
    search.ours = undefined;
    search.theirs = undefined;
    return this.ask(search, tick);
  }

  /** An answer (`hashes` message) from this node's own store (`from === self`) or from the peer. */
  onHashes(from: NodeId, self: NodeId, heights: readonly number[], hashes: readonly Uint8Array[], tick: number): BisectStep {
    const search = this.search;
    if (!search || heights.length !== search.heights.length || !heights.every((height, i) => height === search.heights[i])) return undefined;
    if (from === self) search.ours = hashes;
    else if (from === search.peer) search.theirs = hashes;
    else return undefined;
    if (!search.ours || !search.theirs) return undefined;
    return this.narrow(search, search.ours, search.theirs, tick);
  }

  private narrow(search: Search, ours: readonly Uint8Array[], theirs: readonly Uint8Array[], tick: number): BisectStep {
    const last = search.heights.length - 1;
    for (let i = 0; i <= last; i++) {
      const a = ours[i]!;
      const b = theirs[i]!;
      if (i === last) {
        search.highOurs = a;
        search.highTheirs = b;
        break;
      }
      // Below the known difference both sides must hold every block; one missing proves nothing.
      if (a.length === 0 || b.length === 0) return this.giveUp(tick, `no block at height ${search.heights[i]} on ${a.length === 0 ? 'this node' : `node ${search.peer}`}`);
      if (bytesEqual(a, b)) {
        search.low = search.heights[i]!;
        continue;
      }
      search.high = search.heights[i]!;
      search.highOurs = a;
      search.highTheirs = b;
      break;
    }
    return this.nextRound(tick);
  }

  private nextRound(tick: number): BisectStep {
    const search = this.search!;
    const gap = search.high - search.low - 1;
    if (gap <= 0) {
      const hex = (hash: Uint8Array): string => (hash.length > 0 ? toHex(hash) : '?');
      this.result = { height: search.high, peer: search.peer, ours: hex(search.highOurs), theirs: hex(search.highTheirs) };
      this.search = undefined;
      return { kind: 'found', first: this.result };
    }
    if (search.requests >= BISECT_REQUESTS_MAX) return this.giveUp(tick, `not narrowed down in ${search.requests} requests`);
    const samples = Math.min(BISECT_SAMPLES_MAX, gap);
    const span = search.high - search.low;
    // Spacing span / (samples + 1) >= 1, so the floored heights are distinct and inside (low, high).
    search.heights = [];
    for (let i = 1; i <= samples; i++) search.heights.push(search.low + Math.floor((i * span) / (samples + 1)));
    search.heights.push(search.high);
    search.ours = undefined;
    search.theirs = undefined;
    return this.ask(search, tick);
  }

  private ask(search: Search, tick: number): BisectStep {
    search.sentTick = tick;
    search.requests++;
    return { kind: 'ask', peer: search.peer, heights: search.heights };
  }

  private giveUp(tick: number, reason: string): BisectStep {
    this.search = undefined;
    this.notBeforeTick = tick + BISECT_RETRY_TICKS;
    return { kind: 'gave-up', reason };
  }
}
