/**
 * The history tree: an RFC 6962 (Certificate Transparency) Merkle tree over the chain's block
 * hashes, whose root every block header carries (src/chain/block.ts: the header at height h
 * carries the root over heights 0 .. h - 1). With it, "block i is in the chain whose head is H"
 * and "head H extends the head m a client already trusts" are O(log n) proofs (inclusion of the
 * block hash at index i, resp. m, in the tree of size H) instead of a walk over every header.
 *
 *   leafHash(b)        = SHA-256(0x04 || b)                  b: a 32-byte block hash
 *   nodeHash(l, r)     = SHA-256(0x05 || l || r)
 *   MTH([])            = SHA-256("")                          (RFC 6962 §2.1)
 *   MTH([b])           = leafHash(b)
 *   MTH(D[0:n])        = nodeHash(MTH(D[0:k]), MTH(D[k:n]))   k = the largest power of 2 < n
 *
 * The tags differ from RFC 6962's 0x00 / 0x01 only so that no hash of this tree can be read as a
 * node or leaf of the state tries (0x01-0x03, src/kv/state-trie.ts). Proofs are RFC 6962's: an
 * inclusion proof is the audit path PATH(i, D[0:n]) (§2.1.1), a consistency proof is
 * PROOF(m, D[0:n]) (§2.1.2), both lists of 32-byte hashes; the verifiers follow RFC 9162 §2.1.3.2
 * and §2.1.4.2, check the proof's length exactly, and recompute both roots of a consistency proof
 * (the check whose absence was immudb's CVE-2022-36111).
 *
 * Storage: level 0 holds the block hashes themselves, level k >= 1 the hash of every complete
 * subtree of 2^k leaves, each level one growable Uint8Array, so roots and proofs never rehash
 * leaves: ~64 bytes per block (HISTORY_LEAVES_MAX, 2^27 blocks, bounds the tree). append() completes on
 * average one node; root() folds the complete subtrees of the size's binary decomposition, one
 * Sha256.hashPlaced call (popcount(size) - 1 node hashes).
 */
import { assert } from '../lib/assert.js';
import { bytesEqual, concatBytes, toHex } from '../lib/bytes.js';
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';

const HISTORY_LEAF_TAG = 0x04;
const HISTORY_NODE_TAG = 0x05;
/**
 * Most blocks the tree holds in memory: 2^27 (134M), where level 0 (32 bytes per block) fills the
 * largest typed array Node 20 allocates (4 GiB; the whole tree then takes ~8 GiB). A chain that
 * lives longer needs the levels on disk or checkpoints (issue 13); the verifiers take any size.
 */
const HISTORY_LEAVES_MAX = 2 ** 27;
/** Levels of the tallest tree a verifier accepts (2^40 blocks), so every proof has at most this many hashes. */
const LEVELS_MAX = 40;
const NODE_MESSAGE_BYTES = 1 + 2 * SHA256_BYTES;

export class HistoryTree {
  /** levels[k] holds the complete subtrees of 2^k leaves, 32 bytes each (level 0: block hashes). */
  private readonly levels: Uint8Array[] = [new Uint8Array(1024 * SHA256_BYTES)];
  private readonly counts: number[] = [0];
  private readonly message = new Uint8Array(NODE_MESSAGE_BYTES);
  // Scratch of root(): one node message per complete subtree but the last.
  private readonly foldMessages = new Uint8Array((LEVELS_MAX + 1) * (NODE_MESSAGE_BYTES + 31) + SHA256_BYTES);
  private readonly foldStarts = new Uint32Array(LEVELS_MAX + 1);
  private readonly foldEnds = new Uint32Array(LEVELS_MAX + 1);
  private readonly foldTargets = new Uint32Array(LEVELS_MAX + 1);

  constructor(private readonly sha256: Sha256) {}

  get size(): number {
    return this.counts[0]!;
  }

  /** Appends the next block hash (32 bytes). */
  append(blockHash: Uint8Array): void {
    assert(blockHash.length === SHA256_BYTES, 'HistoryTree.append: a block hash is 32 bytes');
    assert(this.size < HISTORY_LEAVES_MAX, 'HistoryTree: HISTORY_LEAVES_MAX reached');
    this.put(0, blockHash);
    // Complete every subtree this leaf closes: while the new node is a right child.
    for (let level = 0; this.counts[level]! % 2 === 0; level++) {
      const right = this.counts[level]! - 1;
      this.put(level + 1, this.hashNode(this.subtreeHash([level, right - 1]), this.subtreeHash([level, right])));
    }
  }

  /** The block hash at `index` (a copy). */
  leaf(index: number): Uint8Array {
    assert(Number.isInteger(index) && index >= 0 && index < this.size, () => `HistoryTree.leaf: ${index} outside [0, ${this.size})`);
    return this.levels[0]!.slice(index * SHA256_BYTES, (index + 1) * SHA256_BYTES);
  }

  /** The root over [0, size). */
  root(): Uint8Array {
    return this.rootAt(this.size);
  }

  /** The root over [0, size) for any size <= this.size: a fold of its complete subtrees, right to left. */
  rootAt(size: number): Uint8Array {
    this.checkSize(size);
    if (size === 0) return this.sha256.hash(new Uint8Array(0));
    // The complete subtrees are the set bits of size, largest (leftmost) first: k of them.
    let k = 0;
    for (let level = this.levels.length - 1; level >= 0; level--) if (Math.floor(size / 2 ** level) % 2 === 1) k++;
    // Message i (i < k - 1) = tag || subtree i || fold of the subtrees after i; the last subtree is
    // the second half of message k - 2. hashPlaced folds them right to left in one call.
    const messages = this.foldMessages;
    const stride = 96; // 31 bytes of pad, the tag, two 32-byte halves on 32-byte boundaries
    const out = (k - 1) * stride;
    let i = 0;
    let at = 0;
    for (let level = this.levels.length - 1; level >= 0; level--) {
      const width = 2 ** level;
      if (Math.floor(size / width) % 2 === 0) continue;
      const target = k === 1 ? out : i < k - 1 ? i * stride + 32 : (k - 2) * stride + 64;
      this.writeSubtree(level, at / width, messages, target);
      if (i < k - 1) messages[i * stride + 31] = HISTORY_NODE_TAG;
      at += width;
      i++;
    }
    if (k > 1) {
      for (let j = 0; j < k - 1; j++) {
        const m = k - 2 - j;
        this.foldStarts[j] = m * stride + 31;
        this.foldEnds[j] = m * stride + 31 + NODE_MESSAGE_BYTES;
        this.foldTargets[j] = m === 0 ? out : (m - 1) * stride + 64;
      }
      this.sha256.hashPlaced(messages, this.foldStarts, this.foldEnds, this.foldTargets, k - 1);
    }
    return messages.slice(out, out + SHA256_BYTES);
  }

  /** Writes subtree (level, index)'s hash (a leaf hash at level 0) to target[at, at + 32). */
  private writeSubtree(level: number, index: number, target: Uint8Array, at: number): void {
    const stored = this.levels[level]!.subarray(index * SHA256_BYTES, (index + 1) * SHA256_BYTES);
    target.set(level === 0 ? leafHash(this.sha256, stored) : stored, at);
  }

  /** Keeps leaves [0, size) (the ledger truncates a diverged suffix). */
  truncate(size: number): void {
    this.checkSize(size);
    for (let level = 0; level < this.counts.length; level++) this.counts[level] = Math.floor(size / 2 ** level);
  }

  /** RFC 6962 §2.1.1 PATH(index, D[0:size]): the audit path of leaf `index` in the tree of `size`. */
  inclusionProof(index: number, size: number): Uint8Array[] {
    this.checkSize(size);
    assert(Number.isInteger(index) && index >= 0 && index < size, () => `inclusionProof: index ${index} outside [0, ${size})`);
    const proof: Uint8Array[] = [];
    let start = 0;
    let count = size;
    let at = index;
    const pending: Uint8Array[] = [];
    while (count > 1) {
      const split = largestPowerOfTwoBelow(count);
      if (at < split) {
        pending.push(this.rangeHash(start + split, count - split));
        count = split;
      } else {
        pending.push(this.rangeHash(start, split));
        start += split;
        at -= split;
        count -= split;
      }
    }
    // Found top-down; the audit path lists the siblings bottom-up.
    for (let i = pending.length - 1; i >= 0; i--) proof.push(pending[i]!);
    return proof;
  }

  /** RFC 6962 §2.1.2 PROOF(oldSize, D[0:newSize]), for 0 < oldSize <= newSize <= size. */
  consistencyProof(oldSize: number, newSize: number): Uint8Array[] {
    this.checkSize(newSize);
    assert(Number.isInteger(oldSize) && oldSize > 0 && oldSize <= newSize, () => `consistencyProof: need 0 < ${oldSize} <= ${newSize}`);
    const pending: Uint8Array[] = [];
    let start = 0;
    let count = newSize;
    let old = oldSize;
    let complete = true;
    while (old !== count) {
      const split = largestPowerOfTwoBelow(count);
      if (old <= split) {
        pending.push(this.rangeHash(start + split, count - split));
        count = split;
      } else {
        pending.push(this.rangeHash(start, split));
        start += split;
        old -= split;
        count -= split;
        complete = false;
      }
    }
    if (!complete) pending.push(this.rangeHash(start, count));
    return pending.reverse();
  }

  // -----------------------------------------------------------------------------------------

  private checkSize(size: number): void {
    assert(Number.isInteger(size) && size >= 0 && size <= this.size, () => `HistoryTree: size ${size} outside [0, ${this.size}]`);
  }

  /** The complete subtrees [level, index] that make up leaves [start, start + count), left to right (start aligned to the first). */
  private decompose(start: number, count: number): Array<[number, number]> {
    const subtrees: Array<[number, number]> = [];
    let at = start;
    for (let level = LEVELS_MAX; level >= 0; level--) {
      const width = 2 ** level;
      if (count >= width && Math.floor(count / width) % 2 === 1) {
        subtrees.push([level, at / width]);
        at += width;
      }
    }
    return subtrees;
  }

  /** MTH of leaves [start, start + count), start aligned as the RFC's recursion leaves it. */
  private rangeHash(start: number, count: number): Uint8Array {
    const subtrees = this.decompose(start, count);
    let hash = this.subtreeHash(subtrees[subtrees.length - 1]!);
    for (let i = subtrees.length - 2; i >= 0; i--) hash = this.hashNode(this.subtreeHash(subtrees[i]!), hash);
    return hash;
  }

  private subtreeHash([level, index]: [number, number]): Uint8Array {
    const stored = this.levels[level]!.subarray(index * SHA256_BYTES, (index + 1) * SHA256_BYTES);
    return level === 0 ? leafHash(this.sha256, stored) : stored.slice();
  }

  private hashNode(left: Uint8Array, right: Uint8Array): Uint8Array {
    const message = this.message;
    message[0] = HISTORY_NODE_TAG;
    message.set(left, 1);
    message.set(right, 1 + SHA256_BYTES);
    return this.sha256.hash(message);
  }

  private put(level: number, hash: Uint8Array): void {
    if (this.levels.length === level) {
      this.levels.push(new Uint8Array(1024 * SHA256_BYTES));
      this.counts.push(0);
    }
    let bytes = this.levels[level]!;
    const index = this.counts[level]!;
    if ((index + 1) * SHA256_BYTES > bytes.length) {
      const grown = new Uint8Array(bytes.length * 2);
      grown.set(bytes);
      this.levels[level] = bytes = grown;
    }
    bytes.set(hash, index * SHA256_BYTES);
    this.counts[level] = index + 1;
  }
}

function leafHash(sha256: Sha256, blockHash: Uint8Array): Uint8Array {
  return sha256.hash(concatBytes(Uint8Array.of(HISTORY_LEAF_TAG), blockHash));
}

function nodeHash(sha256: Sha256, left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256.hash(concatBytes(Uint8Array.of(HISTORY_NODE_TAG), left, right));
}

function largestPowerOfTwoBelow(count: number): number {
  let split = 1;
  while (split * 2 < count) split *= 2;
  return split;
}

/** RFC 9162 §2.1.3.2: whether `proof` shows `blockHash` at `index` in the tree of `size` with `root`. */
export function verifyInclusion(sha256: Sha256, blockHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): true | string {
  if (!Number.isInteger(size) || size < 1 || size > 2 ** LEVELS_MAX) return `tree size ${size} out of range`;
  if (!Number.isInteger(index) || index < 0 || index >= size) return `index ${index} outside [0, ${size})`;
  if (proof.length > LEVELS_MAX || proof.some((hash) => !(hash instanceof Uint8Array) || hash.length !== SHA256_BYTES)) return 'malformed proof';
  const at = { fn: index, sn: size - 1 };
  let hash = leafHash(sha256, blockHash);
  for (const sibling of proof) {
    if (at.sn === 0) return 'proof is longer than the path';
    hash = climb(at) ? nodeHash(sha256, sibling, hash) : nodeHash(sha256, hash, sibling);
  }
  if (at.sn !== 0) return 'proof is shorter than the path';
  return bytesEqual(hash, root) ? true : `the path gives root ${toHex(hash.subarray(0, 8))}, expected ${toHex(root.subarray(0, 8))}`;
}

/** RFC 9162 §2.1.4.2: whether `proof` shows the tree of `newSize` / `newRoot` extends `oldSize` / `oldRoot`. */
export function verifyConsistency(sha256: Sha256, oldSize: number, oldRoot: Uint8Array, newSize: number, newRoot: Uint8Array, proof: readonly Uint8Array[]): true | string {
  if (!Number.isInteger(oldSize) || !Number.isInteger(newSize) || oldSize < 1 || oldSize > newSize || newSize > 2 ** LEVELS_MAX) return `sizes ${oldSize} -> ${newSize} out of order or range`;
  if (proof.length > LEVELS_MAX + 1 || proof.some((hash) => !(hash instanceof Uint8Array) || hash.length !== SHA256_BYTES)) return 'malformed proof';
  if (oldSize === newSize) {
    if (proof.length !== 0) return 'equal sizes take an empty proof';
    return bytesEqual(oldRoot, newRoot) ? true : 'equal sizes with different roots';
  }
  // RFC 9162: when the old tree is complete, its root is the path's first node.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  if (path.length === 0) return 'empty proof';
  const at = { fn: oldSize - 1, sn: newSize - 1 };
  while (at.fn % 2 === 1) halve(at);
  let oldHash = path[0]!;
  let newHash = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (at.sn === 0) return 'proof is longer than the path';
    if (climb(at)) {
      oldHash = nodeHash(sha256, c, oldHash);
      newHash = nodeHash(sha256, c, newHash);
    } else {
      newHash = nodeHash(sha256, newHash, c);
    }
  }
  if (at.sn !== 0) return 'proof is shorter than the path';
  if (!bytesEqual(oldHash, oldRoot)) return 'the proof does not give the old root';
  if (!bytesEqual(newHash, newRoot)) return 'the proof does not give the new root';
  return true;
}

/** RFC 9162's node positions on the way up: fn (the path's node), sn (the last node), halved per level. */
interface PathPosition {
  fn: number;
  sn: number;
}

function halve(at: PathPosition): void {
  at.fn = Math.floor(at.fn / 2);
  at.sn = Math.floor(at.sn / 2);
}

/** One step up (RFC 9162 §2.1.3.2 / §2.1.4.2): whether the next proof node is on the left. */
function climb(at: PathPosition): boolean {
  const left = at.fn % 2 === 1 || at.fn === at.sn;
  if (left) while (at.fn % 2 === 0 && at.fn !== 0) halve(at);
  halve(at);
  return left;
}

function isPowerOfTwo(value: number): boolean {
  let v = value;
  while (v > 1 && v % 2 === 0) v /= 2;
  return v === 1;
}
