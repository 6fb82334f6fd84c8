// Quorum arithmetic (src/paxos/quorum.ts), checked against a naive version on random inputs.
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/lib/prng.js';
import { majority, NodeSet } from '../../src/paxos/quorum.js';

describe('quorum arithmetic (checked against a naive version)', () => {
  it('majority is the smallest count above half, on random sizes', () => {
    const prng = new Prng(21);
    for (let trial = 0; trial < 2000; trial++) {
      const size = prng.between(1, 9);
      let naiveMajority = 1;
      while (2 * naiveMajority <= size) naiveMajority++; // smallest k with k > size - k
      expect(majority(size)).toBe(naiveMajority);
    }
  });

  it('NodeSet counts each node once', () => {
    const set = new NodeSet();
    expect(set.add(3)).toBe(true);
    expect(set.add(3)).toBe(false);
    expect(set.add(255)).toBe(true);
    expect(set.has(255) && set.has(3) && !set.has(4)).toBe(true);
    expect(set.size).toBe(2);
  });
});
