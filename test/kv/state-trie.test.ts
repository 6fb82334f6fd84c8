// The Merkle crit-bit trie (src/kv/state-trie.ts): its bit reading, and its incremental root
// against the from-scratch definition (test/helpers.ts referenceTrieRoot) under random inserts,
// removals, rewrites and moves, including keys that are prefixes of each other.
import { describe, expect, it } from 'vitest';
import { nobleSha256 } from '../../src/lib/sha256.js';
import { Prng } from '../../src/lib/prng.js';
import { critBit, keyBit, type LeafSource, StateTrie } from '../../src/kv/state-trie.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { hex, referenceTrieRoot } from '../helpers.js';

/** Leaves in plain arrays: ref r has key keys[r] and hash at words [8r, 8r + 8). */
class ArrayLeaves implements LeafSource {
  keys: Uint8Array[] = [];
  words = new Uint32Array(8 * 4096);
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
  hashWord(ref: number): number {
    return 8 * ref;
  }
  setHash(ref: number, hash: Uint8Array): void {
    new Uint8Array(this.words.buffer, 32 * ref, 32).set(hash);
  }
  hash(ref: number): Uint8Array {
    return new Uint8Array(this.words.buffer, 32 * ref, 32).slice();
  }
}

function randomKey(prng: Prng, alphabet: number): Uint8Array {
  const key = new Uint8Array(1 + prng.nextInt(4));
  for (let i = 0; i < key.length; i++) key[i] = prng.nextInt(alphabet);
  return key;
}

function randomHash(prng: Prng): Uint8Array {
  const hash = new Uint8Array(32);
  for (let i = 0; i < 32; i++) hash[i] = prng.nextInt(256);
  return hash;
}

describe('key bits', () => {
  it('read 9 bits per byte: a continue bit, then the byte most significant first, then zeros past the end', () => {
    const key = Uint8Array.of(0b1010_0001);
    const bits = Array.from({ length: 18 }, (_, i) => keyBit(key, 0, 1, i)).join('');
    expect(bits).toBe('110100001' + '000000000');
  });

  it('critBit finds the first differing bit, a prefix differs at its end bit, equal keys give -1', () => {
    expect(critBit(Uint8Array.of(1), 0, 1, Uint8Array.of(1), 0, 1)).toBe(-1);
    expect(critBit(Uint8Array.of(0x80), 0, 1, Uint8Array.of(0x00), 0, 1)).toBe(1);
    expect(critBit(Uint8Array.of(5, 1), 0, 2, Uint8Array.of(5, 3), 0, 2)).toBe(9 + 1 + 6);
    expect(critBit(Uint8Array.of(5), 0, 1, Uint8Array.of(5, 0), 0, 2)).toBe(9);
    const prng = new Prng(4);
    for (let i = 0; i < 2000; i++) {
      const a = randomKey(prng, 3);
      const b = randomKey(prng, 3);
      const crit = critBit(a, 0, a.length, b, 0, b.length);
      if (hex(a) === hex(b)) {
        expect(crit).toBe(-1);
        continue;
      }
      for (let bit = 0; bit < crit; bit++) expect(keyBit(a, 0, a.length, bit)).toBe(keyBit(b, 0, b.length, bit));
      expect(keyBit(a, 0, a.length, crit)).not.toBe(keyBit(b, 0, b.length, crit));
      // The side with a 0 at the crit bit is the smaller key in byte order (Buffer.compare).
      const smaller = keyBit(a, 0, a.length, crit) === 0 ? a : b;
      expect(Buffer.compare(Buffer.from(smaller), Buffer.from(smaller === a ? b : a))).toBe(-1);
    }
  });
});

describe('StateTrie', () => {
  it('an empty trie has the zero root, one leaf has its own hash as root', () => {
    const leaves = new ArrayLeaves();
    const trie = new StateTrie(fastSha256, leaves);
    expect(hex(trie.rootHash())).toBe('00'.repeat(32));
    leaves.keys[0] = Uint8Array.of(7);
    leaves.setHash(0, nobleSha256.hash(Uint8Array.of(1)));
    const leaf = trie.insert(0);
    expect(hex(trie.rootHash())).toBe(hex(leaves.hash(0)));
    trie.remove(leaf);
    expect(hex(trie.rootHash())).toBe('00'.repeat(32));
  });

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`matches the from-scratch root after every round of random inserts, removals, rewrites and moves (seed ${seed})`, () => {
      const prng = new Prng(seed);
      const leaves = new ArrayLeaves();
      const trie = new StateTrie(seed % 2 === 0 ? nobleSha256 : fastSha256, leaves);
      const live = new Map<string, { ref: number; leaf: number }>();
      let nextRef = 0;
      for (let round = 0; round < 60; round++) {
        for (let op = 0; op < 1 + prng.nextInt(40); op++) {
          const key = randomKey(prng, 4);
          const name = hex(key);
          const entry = live.get(name);
          if (!entry) {
            const ref = nextRef++;
            leaves.keys[ref] = key;
            leaves.setHash(ref, randomHash(prng));
            live.set(name, { ref, leaf: trie.insert(ref) });
          } else if (prng.chance(0.4)) {
            trie.remove(entry.leaf);
            live.delete(name);
          } else if (prng.chance(0.5)) {
            leaves.setHash(entry.ref, randomHash(prng));
            trie.touch(entry.leaf);
          } else {
            // The owner moves the leaf's bytes to a new reference (as the KV table relocates records).
            const ref = nextRef++;
            leaves.keys[ref] = key;
            leaves.setHash(ref, prng.chance(0.5) ? leaves.hash(entry.ref) : randomHash(prng));
            trie.move(entry.leaf, ref);
            trie.touch(entry.leaf);
            entry.ref = ref;
          }
        }
        const expected = referenceTrieRoot([...live.values()].map(({ ref }) => ({ key: leaves.keys[ref]!, hash: leaves.hash(ref) })));
        expect(hex(trie.rootHash())).toBe(hex(expected));
        expect(trie.size).toBe(live.size);
      }
    });
  }

  it('matches the from-scratch root across array growth (thousands of leaves, then most removed)', () => {
    const prng = new Prng(77);
    const leaves = new ArrayLeaves();
    leaves.words = new Uint32Array(8 * 6000);
    const trie = new StateTrie(fastSha256, leaves);
    const live: Array<{ ref: number; leaf: number }> = [];
    const names = new Set<string>();
    while (live.length < 5000) {
      const key = new Uint8Array(2 + prng.nextInt(3)).map(() => prng.nextInt(256));
      if (names.has(hex(key))) continue;
      names.add(hex(key));
      const ref = leaves.keys.length;
      leaves.keys.push(key);
      leaves.setHash(ref, randomHash(prng));
      live.push({ ref, leaf: trie.insert(ref) });
      if (live.length % 1700 === 0) trie.rootHash();
    }
    const reference = () => hex(referenceTrieRoot(live.map(({ ref }) => ({ key: leaves.keys[ref]!, hash: leaves.hash(ref) }))));
    expect(hex(trie.rootHash())).toBe(reference());
    while (live.length > 300) trie.remove(live.splice(prng.nextInt(live.length), 1)[0]!.leaf);
    expect(hex(trie.rootHash())).toBe(reference());
  });

  it('the root depends only on the final set, not on the order it was reached in', () => {
    for (let seed = 0; seed < 20; seed++) {
      const prng = new Prng(100 + seed);
      const leaves = new ArrayLeaves();
      const count = 1 + prng.nextInt(200);
      const names = new Set<string>();
      for (let ref = 0; names.size < count; ref++) {
        const key = randomKey(prng, 256);
        if (names.has(hex(key))) continue;
        names.add(hex(key));
        leaves.keys.push(key);
        leaves.setHash(leaves.keys.length - 1, randomHash(prng));
      }
      const build = (order: number[], extra: number) => {
        const trie = new StateTrie(fastSha256, leaves);
        // Detours: insert and remove some leaves, settling in between, before the final set.
        const detour = order.slice(0, extra).map((ref) => trie.insert(ref));
        trie.rootHash();
        for (const leaf of detour) trie.remove(leaf);
        for (const ref of order) trie.insert(ref);
        return hex(trie.rootHash());
      };
      const refs = [...leaves.keys.keys()];
      const shuffled = [...refs].sort(() => prng.nextFloat() - 0.5);
      expect(build(shuffled, prng.nextInt(refs.length))).toBe(build(refs, 0));
    }
  });
});
