// StateTrie.forEachFrom (src/kv/state-trie.ts): ordered iteration from a lower bound, against a
// sorted model (Buffer.compare) under random inserts and removals, with keys that are prefixes of
// each other, bytes 0x00 and 0xff, the empty key, and bounds present, absent, prefixes, longer
// than every key and empty; early stop; and that it never hashes (it must not settle).
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/lib/prng.js';
import type { Sha256 } from '../../src/lib/sha256.js';
import { type LeafSource, StateTrie } from '../../src/kv/state-trie.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { hex } from '../helpers.js';

/** Leaves in plain arrays: ref r has key keys[r]; every hash is zero (only structure is read). */
class ArrayLeaves implements LeafSource {
  keys: Uint8Array[] = [];
  words = new Uint32Array(8);
  keyBytes(ref: number): Uint8Array {
    return this.keys[ref]!;
  }
  keyStart(): number {
    return 0;
  }
  keyLength(ref: number): number {
    return this.keys[ref]!.length;
  }
  hashWords(): Uint32Array {
    return this.words;
  }
  hashWord(): number {
    return 0;
  }
}

/** fastSha256 that counts its calls, to see that forEachFrom does not settle. */
function countingSha256(): { sha256: Sha256; calls: () => number } {
  let calls = 0;
  const sha256 = new Proxy(fastSha256, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { sha256, calls: () => calls };
}

/** Bytes from a small alphabet with 0x00 and 0xff, so prefixes and shared runs are common. */
const ALPHABET = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

function randomKey(prng: Prng, maxLength: number): Uint8Array {
  const key = new Uint8Array(prng.between(1, maxLength));
  for (let i = 0; i < key.length; i++) key[i] = prng.pick(ALPHABET);
  return key;
}

/** A bound to try against the live keys: present, a prefix or extension of one, absent, long, empty. */
function randomBound(prng: Prng, live: Uint8Array[]): Uint8Array {
  const kind = prng.nextInt(6);
  const some = live.length > 0 ? prng.pick(live) : randomKey(prng, 12);
  if (kind === 0) return some;
  if (kind === 1) return some.slice(0, prng.nextInt(some.length + 1));
  if (kind === 2) return Uint8Array.of(...some, prng.pick(ALPHABET));
  if (kind === 3) return randomKey(prng, 14);
  if (kind === 4) return new Uint8Array(14).fill(0xff);
  return new Uint8Array(0);
}

/** forEachFrom's refs as keys (hex), the bound placed at an offset inside a larger buffer. */
function walk(trie: StateTrie, leaves: ArrayLeaves, bound: Uint8Array, exclusive: boolean, limit = Infinity): string[] {
  const buffer = Uint8Array.of(0xaa, 0x55, ...bound, 0x00, 0xff);
  const out: string[] = [];
  trie.forEachFrom(buffer, 2, bound.length, exclusive, (ref) => {
    out.push(hex(leaves.keys[ref]!));
    return out.length < limit;
  });
  return out;
}

function expectedFrom(live: Uint8Array[], bound: Uint8Array, exclusive: boolean): string[] {
  const b = Buffer.from(bound);
  return live
    .filter((key) => Buffer.compare(Buffer.from(key), b) >= (exclusive ? 1 : 0))
    .sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    .map(hex);
}

let cases = 0;

describe('StateTrie.forEachFrom', () => {
  it('an empty trie visits nothing; a one-key trie visits its key from bounds at or below it', () => {
    const leaves = new ArrayLeaves();
    const trie = new StateTrie(fastSha256, leaves);
    for (const bound of [new Uint8Array(0), Uint8Array.of(5)]) expect(walk(trie, leaves, bound, false)).toEqual([]);
    leaves.keys[0] = Uint8Array.of(5, 0);
    const leaf = trie.insert(0);
    const one = ['0500'];
    expect(walk(trie, leaves, new Uint8Array(0), false)).toEqual(one);
    expect(walk(trie, leaves, new Uint8Array(0), true)).toEqual(one);
    expect(walk(trie, leaves, Uint8Array.of(5), true)).toEqual(one);
    expect(walk(trie, leaves, Uint8Array.of(4, 0xff, 0xff), false)).toEqual(one);
    expect(walk(trie, leaves, Uint8Array.of(5, 0), false)).toEqual(one);
    expect(walk(trie, leaves, Uint8Array.of(5, 0), true)).toEqual([]);
    expect(walk(trie, leaves, Uint8Array.of(5, 0, 0), false)).toEqual([]);
    expect(walk(trie, leaves, Uint8Array.of(6), false)).toEqual([]);
    expect(walk(trie, leaves, Uint8Array.of(5, 0), false, 0)).toEqual(one);
    trie.remove(leaf);
    expect(walk(trie, leaves, new Uint8Array(0), false)).toEqual([]);
    // The empty key: the first of all; an empty exclusive bound skips only it.
    leaves.keys[1] = new Uint8Array(0);
    leaves.keys[2] = Uint8Array.of(0);
    trie.insert(1);
    trie.insert(2);
    expect(walk(trie, leaves, new Uint8Array(0), false)).toEqual(['', '00']);
    expect(walk(trie, leaves, new Uint8Array(0), true)).toEqual(['00']);
  });

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`yields exactly the sorted keys from random bounds under random inserts and removals (seed ${seed})`, () => {
      const prng = new Prng(seed);
      const leaves = new ArrayLeaves();
      const { sha256, calls } = countingSha256();
      const trie = new StateTrie(sha256, leaves);
      const live = new Map<string, { ref: number; leaf: number }>();
      const maxLength = seed <= 4 ? 3 : 12;
      for (let round = 0; round < 40; round++) {
        for (let op = 0; op < 1 + prng.nextInt(30); op++) {
          const key = prng.chance(0.02) ? new Uint8Array(0) : randomKey(prng, maxLength);
          const entry = live.get(hex(key));
          if (entry) {
            if (prng.chance(0.5)) {
              trie.remove(entry.leaf);
              live.delete(hex(key));
            }
            continue;
          }
          leaves.keys.push(key);
          live.set(hex(key), { ref: leaves.keys.length - 1, leaf: trie.insert(leaves.keys.length - 1) });
        }
        if (prng.chance(0.3)) trie.rootHash();
        const hashed = calls();
        const keys = [...live.values()].map(({ ref }) => leaves.keys[ref]!);
        for (let i = 0; i < 40; i++) {
          const bound = randomBound(prng, keys);
          const exclusive = prng.chance(0.5);
          const expected = expectedFrom(keys, bound, exclusive);
          expect(walk(trie, leaves, bound, exclusive)).toEqual(expected);
          const limit = prng.between(1, 5);
          expect(walk(trie, leaves, bound, exclusive, limit)).toEqual(expected.slice(0, limit));
          cases += 2;
        }
        expect(calls()).toBe(hashed);
      }
    });
  }

  it('ran the model cases', () => {
    expect(cases).toBeGreaterThan(0);
    console.log(`forEachFrom model cases: ${cases}`);
  });
});
