// The AdHash accumulator against BigInt arithmetic: lazy float lanes must give exactly
// (Σ adds − Σ subtracts) mod 2^256 whatever the order and however many operations.
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/lib/prng.js';
import { Accumulator256 } from '../../src/kv/digest.js';

function toBig(words: Uint32Array, at: number): bigint {
  let value = 0n;
  for (let i = 7; i >= 0; i--) value = (value << 32n) | BigInt(words[at + i]!);
  return value;
}

function fromBytes(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}

describe('Accumulator256', () => {
  it('equals a BigInt sum mod 2^256 over random adds and subtracts, across lazy normalizations', () => {
    const prng = new Prng(99);
    const words = new Uint32Array(8 * 64);
    for (let i = 0; i < words.length; i++) words[i] = prng.nextU32();
    // Words near the top make carries and borrows ripple through all lanes.
    words.fill(0xffff_ffff, 0, 8);
    const accumulator = new Accumulator256();
    let expected = 0n;
    const operations = (1 << 20) + 5000; // crosses the forced normalization point
    for (let i = 0; i < operations; i++) {
      const at = prng.nextInt(64) * 8;
      if (prng.chance(0.5)) {
        accumulator.add(words, at);
        expected += toBig(words, at);
      } else {
        accumulator.subtract(words, at);
        expected -= toBig(words, at);
      }
      if (i % 100_000 === 0) {
        const modulus = 1n << 256n;
        expect(fromBytes(accumulator.toBytes())).toBe(((expected % modulus) + modulus) % modulus);
      }
    }
    const modulus = 1n << 256n;
    const bytes = accumulator.toBytes();
    expect(fromBytes(bytes)).toBe(((expected % modulus) + modulus) % modulus);
    expect(accumulator.equals(bytes, 0)).toBe(true);
    bytes[31] ^= 1;
    expect(accumulator.equals(bytes, 0)).toBe(false);
  });

  it('is order-independent: the same multiset of operations in any order gives the same bytes', () => {
    const prng = new Prng(5);
    const words = new Uint32Array(8 * 10).map(() => prng.nextU32());
    const ops = Array.from({ length: 1000 }, () => ({ at: prng.nextInt(10) * 8, add: prng.chance(0.6) }));
    const run = (list: typeof ops): string => {
      const accumulator = new Accumulator256();
      for (const op of list) (op.add ? accumulator.add : accumulator.subtract).call(accumulator, words, op.at);
      return Buffer.from(accumulator.toBytes()).toString('hex');
    };
    const shuffled = [...ops].sort(() => prng.nextFloat() - 0.5);
    expect(run(shuffled)).toBe(run(ops));
  });
});
