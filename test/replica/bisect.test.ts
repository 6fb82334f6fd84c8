// Divergence bisection (src/replica/bisect.ts): the first height where two chains differ, found
// by narrowing (low equal, high different) with sampled hash requests, checked against a naive
// scan on random chain pairs.
import { describe, expect, it } from 'vitest';
import { bytesEqual, toHex } from '../../src/lib/bytes.js';
import { Prng } from '../../src/lib/prng.js';
import { BISECT_RETRY_TICKS, BISECT_SAMPLES_MAX, type BisectStep, Bisection } from '../../src/replica/bisect.js';

const SELF = 1;
const PEER = 2;

/** A chain of `length` distinct 32-byte "hashes"; `tag` from `forkAt` on makes a fork. */
function chain(length: number, forkAt: number, tag: number): Uint8Array[] {
  return Array.from({ length }, (_, height) => {
    const hash = new Uint8Array(32);
    new DataView(hash.buffer).setUint32(0, height);
    if (height >= forkAt) hash[31] = tag;
    return hash;
  });
}

const answer = (hashes: Uint8Array[], heights: readonly number[]): Uint8Array[] => heights.map((height) => hashes[height] ?? new Uint8Array(0));

/** Runs a search to its end, answering from both chains; returns the last step and the rounds asked. */
function run(ours: Uint8Array[], theirs: Uint8Array[], high: number): { step: BisectStep; rounds: number } {
  const bisection = new Bisection();
  let step = bisection.maybeStart(PEER, high, 0);
  let rounds = 0;
  while (step?.kind === 'ask') {
    rounds++;
    expect(step.heights.length).toBeLessThanOrEqual(BISECT_SAMPLES_MAX + 1);
    const heights = step.heights;
    expect(bisection.onHashes(PEER, SELF, heights, answer(theirs, heights), rounds)).toBeUndefined();
    step = bisection.onHashes(SELF, SELF, heights, answer(ours, heights), rounds);
  }
  return { step, rounds };
}

describe('divergence bisection', () => {
  it('finds the first differing height a naive scan finds, in log_17 rounds, on random chain pairs', () => {
    const prng = new Prng(7);
    for (let trial = 0; trial < 150; trial++) {
      const length = prng.between(2, 2000);
      const forkAt = prng.between(1, length - 1);
      // The alarm can come from any height both hold at or above the fork.
      const high = prng.between(forkAt, length - 1);
      const ours = chain(length, forkAt, 1);
      const theirs = chain(length, forkAt, 2);
      const naive = ours.findIndex((hash, height) => !bytesEqual(hash, theirs[height]!));
      const { step, rounds } = run(ours, theirs, high);
      expect(step, `trial ${trial}`).toEqual({ kind: 'found', first: { height: naive, peer: PEER, ours: toHex(ours[naive]!), theirs: toHex(theirs[naive]!) } });
      expect(rounds).toBeLessThanOrEqual(Math.ceil(Math.log(high + 2) / Math.log(BISECT_SAMPLES_MAX + 1)) + 1);
    }
  });

  it('reports "?" for a side without a block at the top (a frozen node that never appended it)', () => {
    const theirs = chain(20, 12, 2);
    const ours = chain(12, 12, 1); // heights 0..11, equal to theirs
    expect(run(ours, theirs, 12).step).toEqual({ kind: 'found', first: { height: 12, peer: PEER, ours: '?', theirs: toHex(theirs[12]!) } });
  });

  it('gives up when a block below the difference is missing, and tries again only after the retry delay', () => {
    const bisection = new Bisection();
    const step = bisection.maybeStart(PEER, 100, 0);
    expect(step?.kind).toBe('ask');
    const heights = step!.kind === 'ask' ? step!.heights : [];
    const theirs = chain(101, 50, 2);
    bisection.onHashes(PEER, SELF, heights, answer(theirs, heights), 1);
    expect(bisection.onHashes(SELF, SELF, heights, answer([], heights), 1)).toMatchObject({ kind: 'gave-up' });
    expect(bisection.maybeStart(PEER, 100, BISECT_RETRY_TICKS)).toBeUndefined();
    expect(bisection.maybeStart(PEER, 100, BISECT_RETRY_TICKS + 1)?.kind).toBe('ask');
  });

  it('asks again when a round goes unanswered, and ignores answers to other heights or from others', () => {
    const bisection = new Bisection();
    const first = bisection.maybeStart(PEER, 40, 0);
    const heights = first?.kind === 'ask' ? first.heights : [];
    expect(bisection.tick(99, 100)).toBeUndefined();
    expect(bisection.tick(100, 100)).toEqual({ kind: 'ask', peer: PEER, heights });
    const hashes = answer(chain(41, 10, 2), heights);
    expect(bisection.onHashes(3, SELF, heights, hashes, 101)).toBeUndefined();
    expect(bisection.onHashes(PEER, SELF, heights.slice(1), hashes.slice(1), 101)).toBeUndefined();
    expect(bisection.searching).toBe(true);
  });
});
