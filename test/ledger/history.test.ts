// The history tree (src/ledger/history.ts) against RFC 6962's definitions written naively here:
// roots of every size, inclusion and consistency proofs that verify, and that fail after any
// single-bit change, a wrong index or size, or a dropped or added hash.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sha256 as nobleDigest } from '@noble/hashes/sha2.js';
import { nobleSha256 } from '../../src/lib/sha256.js';
import { Prng } from '../../src/lib/prng.js';
import { HistoryTree, verifyConsistency, verifyInclusion } from '../../src/ledger/history.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { hex } from '../helpers.js';

const leafOf = (b: Uint8Array) => nobleDigest(new Uint8Array([0x04, ...b]));
const nodeOf = (l: Uint8Array, r: Uint8Array) => nobleDigest(new Uint8Array([0x05, ...l, ...r]));

/** RFC 6962 §2.1 MTH, recursively. */
function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return nobleDigest(new Uint8Array(0));
  if (leaves.length === 1) return leafOf(leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeOf(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function randomHashes(prng: Prng, count: number): Uint8Array[] {
  return Array.from({ length: count }, () => new Uint8Array(32).map(() => prng.nextInt(256)));
}

function flipped(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = bytes.slice();
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

describe('HistoryTree', () => {
  it('roots of every size 0..300 and every prefix equal the naive MTH', () => {
    const leaves = randomHashes(new Prng(1), 300);
    const tree = new HistoryTree(fastSha256);
    expect(hex(tree.root())).toBe(hex(mth([])));
    for (let n = 1; n <= 300; n++) {
      tree.append(leaves[n - 1]!);
      expect(hex(tree.root())).toBe(hex(mth(leaves.slice(0, n))));
    }
    for (let k = 0; k <= 300; k += 7) expect(hex(tree.rootAt(k))).toBe(hex(mth(leaves.slice(0, k))));
    expect(hex(tree.leaf(123))).toBe(hex(leaves[123]!));
  });

  it('inclusion proofs verify for every index of many sizes, and fail when anything changes', () => {
    const prng = new Prng(2);
    const leaves = randomHashes(prng, 130);
    const tree = new HistoryTree(nobleSha256);
    for (const leaf of leaves) tree.append(leaf);
    let refused = 0;
    for (const size of [1, 2, 3, 7, 8, 9, 64, 65, 100, 130]) {
      const root = tree.rootAt(size);
      for (let index = 0; index < size; index++) {
        const proof = tree.inclusionProof(index, size);
        expect(verifyInclusion(fastSha256, leaves[index]!, index, size, proof, root)).toBe(true);
        if (prng.chance(0.1)) {
          for (let i = 0; i < proof.length; i++) {
            const forged = proof.map((hash, j) => (j === i ? flipped(hash, prng.nextInt(256)) : hash));
            expect(verifyInclusion(fastSha256, leaves[index]!, index, size, forged, root)).not.toBe(true);
            refused++;
          }
          expect(verifyInclusion(fastSha256, flipped(leaves[index]!, prng.nextInt(256)), index, size, proof, root)).not.toBe(true);
          expect(verifyInclusion(fastSha256, leaves[index]!, index, size, proof, flipped(root, prng.nextInt(256)))).not.toBe(true);
          if (size > 1) expect(verifyInclusion(fastSha256, leaves[index]!, (index + 1) % size, size, proof, root)).not.toBe(true);
          // (The size itself is not hashed: a path can fit two sizes, e.g. index 0 of 3 and of 4. The
          // verifier takes it from the certified header, never from the proof.)
          expect(verifyInclusion(fastSha256, leaves[index]!, index, 2 * size + 2, proof, root)).not.toBe(true);
          expect(verifyInclusion(fastSha256, leaves[index]!, index, size, [...proof, proof[0] ?? root], root)).not.toBe(true);
          if (proof.length > 0) expect(verifyInclusion(fastSha256, leaves[index]!, index, size, proof.slice(1), root)).not.toBe(true);
          refused += 6;
        }
      }
    }
    expect(refused).toBeGreaterThan(200);
  });

  it('consistency proofs verify for old <= new, and fail when a middle node or an end changes (CVE-2022-36111)', () => {
    const prng = new Prng(3);
    const leaves = randomHashes(prng, 100);
    const tree = new HistoryTree(fastSha256);
    for (const leaf of leaves) tree.append(leaf);
    for (let trial = 0; trial < 300; trial++) {
      const newSize = 1 + prng.nextInt(100);
      const oldSize = 1 + prng.nextInt(newSize);
      const proof = tree.consistencyProof(oldSize, newSize);
      const oldRoot = mth(leaves.slice(0, oldSize));
      const newRoot = mth(leaves.slice(0, newSize));
      expect(verifyConsistency(nobleSha256, oldSize, oldRoot, newSize, newRoot, proof)).toBe(true);
      for (let i = 0; i < proof.length; i++) {
        const forged = proof.map((hash, j) => (j === i ? flipped(hash, prng.nextInt(256)) : hash));
        expect(verifyConsistency(nobleSha256, oldSize, oldRoot, newSize, newRoot, forged)).not.toBe(true);
      }
      expect(verifyConsistency(nobleSha256, oldSize, flipped(oldRoot, 3), newSize, newRoot, proof)).not.toBe(true);
      expect(verifyConsistency(nobleSha256, oldSize, oldRoot, newSize, flipped(newRoot, 5), proof)).not.toBe(true);
      if (oldSize < newSize) expect(verifyConsistency(nobleSha256, oldSize, oldRoot, newSize, newRoot, proof.slice(0, -1))).not.toBe(true);
    }
  });

  it('truncate then re-append gives the roots of a fresh tree', () => {
    const leaves = randomHashes(new Prng(4), 200);
    const tree = new HistoryTree(fastSha256);
    for (const leaf of leaves) tree.append(leaf);
    tree.truncate(77);
    const other = randomHashes(new Prng(5), 50);
    for (const leaf of other) tree.append(leaf);
    const expected = [...leaves.slice(0, 77), ...other];
    expect(hex(tree.root())).toBe(hex(mth(expected)));
    expect(verifyInclusion(fastSha256, expected[100]!, 100, 127, tree.inclusionProof(100, 127), tree.root())).toBe(true);
  });

  it('golden vectors: the leaves SHA-256("0") .. SHA-256("9")', () => {
    const golden = JSON.parse(readFileSync(new URL('./history-golden.json', import.meta.url), 'utf8'));
    const tree = new HistoryTree(nobleSha256);
    const leaves = Array.from({ length: 10 }, (_, i) => nobleDigest(new TextEncoder().encode(String(i))));
    expect(hex(tree.root())).toBe(golden.roots[0]);
    for (let n = 1; n <= 10; n++) {
      tree.append(leaves[n - 1]!);
      expect(hex(tree.root())).toBe(golden.roots[n]);
    }
    expect(tree.inclusionProof(6, 10).map(hex)).toEqual(golden.inclusion_6_of_10);
    expect(tree.consistencyProof(3, 10).map(hex)).toEqual(golden.consistency_3_to_10);
  });
});
