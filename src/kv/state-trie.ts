/**
 * StateTrie: a Merkle crit-bit trie (a binary Patricia trie) over a set of keyed leaves, the
 * authenticated structure behind the state root (src/kv/state.ts; the proof format and its
 * verifier are in src/kv/state-proof.ts).
 *
 * Why this shape: it is ordered by key (an in-order walk gives the keys in byte order, so range
 * reads, prefix watches and snapshot chunks can be proved later), its shape depends only on the
 * set of keys (so every replica gets the same root whatever order it reached the state in), a
 * proof of presence or of absence is one root-to-leaf path of O(log n) nodes for keys that are not
 * adversarially chosen (a path is at most one node per bit of the longest key: keyBitsMax), and
 * an update rehashes only its path, in batches per block.
 *
 * Keys are read as bit strings of 9 bits per byte position p (keyBit): bit 9p says whether the
 * key has a byte at p (1) or ended before it (0); bits 9p+1 .. 9p+8 are that byte, most
 * significant first. This makes the encoding prefix-free (no key's bits are a prefix of
 * another's) and order-preserving (a shorter key that is a prefix of a longer one sorts first).
 *
 * Nodes. A leaf's hash is its owner's element hash (a KV entry or a session, src/kv/state.ts);
 * every element starts with a tag byte of 0x01 or 0x02. An internal node has a crit bit c (the
 * first bit in which the keys below it differ) and two children: keys with bit c = 0 on the left.
 *
 *   nodeHash = SHA-256(0x03 || u32 c (big-endian) || hash(left) || hash(right))
 *
 * The 0x03 tag keeps an internal node from ever hashing like a leaf. The trie's root hash is 32
 * zero bytes for an empty set, the leaf's hash for a single leaf, else the top node's hash.
 *
 * Storage: no object per node. Node n is a 96-byte record of one typed array, laid out so that its
 * hashed message lies in it, ready for hashMany with no copying:
 *
 *   words 0-1    bytes 3..7 are the message head: 0x03, then the crit bit big-endian
 *   words 2-9    hash of child 0      } a child's hash lives in its parent, written there when the
 *   words 10-17  hash of child 1      } child is (re)hashed: reading a sibling costs no cache miss
 *   word 18, 19  child references (>= 0 a node, < 0 the leaf ~ref)
 *   word 20      parent node (-1 for the root); word 23: which side of the parent this node is
 *   word 21      flags: DIRTY (this node's hash is stale), and which children are dirty nodes
 *   word 22      crit bit (as a number, for walking)
 *
 * Leaves are 4-word records of another array: the owner's reference, the parent, the side. Freed
 * nodes and leaves are reused through free lists. Memory: ~112 bytes per key.
 *
 * Updates only list what changed: the leaves whose hash changed and the nodes that lost a child.
 * settle() first copies the changed leaves' hashes into their parents, then marks the paths from
 * those parents and nodes up to the root dirty (stopping at a node already dirty, so: a node is
 * dirty only if its parent is, and then the parent's flag for that side is set), then collects
 * the dirty nodes breadth first (by the parents' flags, never touching a clean sibling) and hashes
 * them children first in one Sha256.hashPlaced call (per HASH_BATCH_NODES), which writes each
 * digest into the parent's slot before the parent's message is read. The marking walks all the
 * paths one level per round, in lockstep: each step up is a likely cache miss (the records of a
 * path lie anywhere in the array), and the steps of different paths within a round do not depend
 * on each other, so the processor overlaps their misses instead of waiting for one at a time.
 * Between settles no node is dirty (every flag is 0).
 */
import { assert } from '../lib/assert.js';
import { limits } from '../lib/limits.js';
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';

export const NODE_TAG = 0x03;
/** Bits of the longest key (keyBit's 9 bits per byte, plus the end bit): the deepest possible path. */
export const KEY_BITS_MAX = 9 * (limits.keyBytesMax + 1);
const WORDS = SHA256_BYTES / 4;
/**
 * Most nodes (and most leaves) a trie holds: 2^25 (33M keys), where the node array (96 bytes a
 * node, grown by doubling) reaches 3 GiB, under the 4 GiB of Node 20's largest typed array.
 */
const NODES_MAX = 1 << 25;
const NONE = 0x7fff_ffff;
/** Words per node record and the fields' word offsets (see the layout above). */
const NODE_WORDS = 24;
const MESSAGE_START = 3;
const MESSAGE_END = 72;
const HASHES = 2;
const CHILD = 18;
const PARENT = 20;
const FLAGS = 21;
const CRIT = 22;
const SIDE = 23;
const DIRTY = 1;
/** FLAGS bit of a dirty child node on side s: CHILD_DIRTY << s. */
const CHILD_DIRTY = 2;
/** The node record whose child-0 hash slot holds the root node's hash (never a real node). */
const ROOT_HOLDER = 0;
const LEAF_WORDS = 4;
const LEAF_PARENT = 1;
const LEAF_SIDE = 2;
/** Parent word of a freed leaf or node (so a stale entry in the changed lists is skipped). */
const FREED = -2;
/** Most node messages hashed by one hashMany call. */
const HASH_BATCH_NODES = 4096;

/** Where the trie reads a leaf's key bits and its hash; the owner keeps both (src/kv/state.ts). */
export interface LeafSource {
  /** Bytes holding the key of leaf reference `ref` (may be a shared arena). */
  keyBytes(ref: number): Uint8Array;
  keyStart(ref: number): number;
  keyLength(ref: number): number;
  /** Words holding the hash of `ref` at [hashWord(ref), hashWord(ref) + 8). */
  hashWords(ref: number): Uint32Array;
  hashWord(ref: number): number;
}

/** Bit `index` of key bytes[start, start + length) in the trie's 9-bits-per-byte reading. */
export function keyBit(bytes: Uint8Array, start: number, length: number, index: number): number {
  const position = (index / 9) | 0;
  if (position >= length) return 0;
  const within = index - 9 * position;
  if (within === 0) return 1;
  return (bytes[start + position]! >> (8 - within)) & 1;
}

/** The first bit in which two keys differ, or -1 if they are equal. */
export function critBit(a: Uint8Array, aStart: number, aLength: number, b: Uint8Array, bStart: number, bLength: number): number {
  const common = Math.min(aLength, bLength);
  for (let i = 0; i < common; i++) {
    const difference = a[aStart + i]! ^ b[bStart + i]!;
    if (difference !== 0) return 9 * i + 1 + (Math.clz32(difference) - 24);
  }
  return aLength === bLength ? -1 : 9 * common;
}

/** One step of a path from the root: the node's crit bit and the hash of the child not taken. */
export interface PathStep {
  readonly crit: number;
  readonly sibling: Uint8Array;
}

/** A whole subtree of the trie: its path from the root, and its leaves' references in key order. */
export interface Subtree {
  readonly steps: PathStep[];
  readonly refs: number[];
}

export class StateTrie {
  private nodes = new Int32Array(1024 * NODE_WORDS);
  /** The same memory, unsigned and as bytes (hash words; hashMany's input). */
  private nodeWords = new Uint32Array(this.nodes.buffer);
  private nodeBytes = new Uint8Array(this.nodes.buffer);
  /** Node 0 is the root holder: its child-0 slot holds the root node's hash. */
  private nodeCount = ROOT_HOLDER + 1;
  private readonly freeNodes: number[] = [];

  private leaves = new Int32Array(1024 * LEAF_WORDS);
  private leafCount = 0;
  private readonly freeLeaves: number[] = [];
  private liveLeaves = 0;
  /** Leaves whose hash changed since the last settle (bounded by the updates between settles). */
  private changedLeaves: number[] = [];
  /** Nodes that lost a child since the last settle (as bounded); settle marks their paths dirty. */
  private changedNodes: number[] = [];

  /** The root child reference (a node, a leaf ~l) or NONE when empty. */
  private root = NONE;

  // Scratch of settle(): dirty nodes breadth-first, their message ranges and digest targets.
  private order = new Int32Array(1024);
  /** Scratch of markDirty(): the paths' current nodes, one per path still climbing. */
  private frontier = new Int32Array(1024);
  private frontierCount = 0;
  private starts = new Uint32Array(1024);
  private ends = new Uint32Array(1024);
  private targets = new Uint32Array(1024);

  constructor(
    private readonly sha256: Sha256,
    private readonly source: LeafSource,
  ) {}

  get size(): number {
    return this.liveLeaves;
  }

  /**
   * Adds a leaf for reference `ref`, whose key must not be in the trie yet; returns the leaf number
   * the owner keeps (for touch / move / remove).
   */
  insert(ref: number): number {
    const leaf = this.allocLeaf(ref);
    this.changedLeaves.push(leaf);
    if (this.root === NONE) {
      this.root = ~leaf;
      this.leaves[LEAF_WORDS * leaf + LEAF_PARENT] = -1;
      return leaf;
    }
    const source = this.source;
    const bytes = source.keyBytes(ref);
    const start = source.keyStart(ref);
    const length = source.keyLength(ref);
    const nearest = this.leaves[LEAF_WORDS * ~this.descend(bytes, start, length)]!;
    const crit = critBit(bytes, start, length, source.keyBytes(nearest), source.keyStart(nearest), source.keyLength(nearest));
    assert(crit >= 0, 'StateTrie.insert: the key is already in the trie');
    const direction = keyBit(bytes, start, length, crit);
    // Allocated first: it may grow (replace) the node array.
    const node = this.allocNode(crit);
    const nodes = this.nodes;
    // Walk down to where the new node goes: above the first node whose crit bit is past `crit`.
    let parent = -1;
    let side = 0;
    let child = this.root;
    while (child >= 0 && nodes[NODE_WORDS * child + CRIT]! < crit) {
      parent = child;
      side = keyBit(bytes, start, length, nodes[NODE_WORDS * child + CRIT]!);
      child = nodes[NODE_WORDS * child + CHILD + side]!;
    }
    const base = NODE_WORDS * node;
    nodes[base + CHILD + direction] = ~leaf;
    nodes[base + CHILD + 1 - direction] = child;
    this.attach(node, parent, side);
    this.setParent(~leaf, node, direction);
    // The subtree moved under the new node: its hash (current or about to be recomputed) goes along.
    this.copyChildHash(child, parent, side, node, 1 - direction);
    this.setParent(child, node, 1 - direction);
    // The new leaf's path (through `node`) is marked dirty at settle: the leaf is listed as changed.
    return leaf;
  }

  /** Leaf `leaf`'s hash changed (its owner rewrote the element): its path must be rehashed. */
  touch(leaf: number): void {
    this.changedLeaves.push(leaf);
  }

  /** The owner moved leaf `leaf`'s key and hash to reference `ref` (same key; hash may differ). */
  move(leaf: number, ref: number): void {
    this.leaves[LEAF_WORDS * leaf] = ref;
  }

  remove(leaf: number): void {
    const parent = this.leaves[LEAF_WORDS * leaf + LEAF_PARENT]!;
    const leafSide = this.leaves[LEAF_WORDS * leaf + LEAF_SIDE]!;
    this.freeLeaf(leaf);
    if (parent < 0) {
      this.root = NONE;
      return;
    }
    const nodes = this.nodes;
    const sibling = nodes[NODE_WORDS * parent + CHILD + 1 - leafSide]!;
    const grandparent = nodes[NODE_WORDS * parent + PARENT]!;
    const side = nodes[NODE_WORDS * parent + SIDE]!;
    // The sibling takes the parent's place; its hash moves up a level with it.
    this.copyChildHash(sibling, parent, 1 - leafSide, grandparent, side);
    this.setParent(sibling, grandparent, side);
    if (grandparent < 0) {
      this.root = sibling;
    } else {
      nodes[NODE_WORDS * grandparent + CHILD + side] = sibling;
      this.changedNodes.push(grandparent);
    }
    this.freeNode(parent);
  }

  /** The root hash (settles first). */
  rootHash(): Uint8Array {
    const out = new Uint8Array(SHA256_BYTES);
    this.rootInto(out, 0);
    return out;
  }

  /** Writes the root hash (settled first) to target[at, at + 32). */
  rootInto(target: Uint8Array, at: number): void {
    this.settle();
    if (this.root === NONE) {
      target.fill(0, at, at + SHA256_BYTES);
      return;
    }
    let words: Uint32Array = this.nodeWords;
    let word = NODE_WORDS * ROOT_HOLDER + HASHES;
    if (this.root < 0) {
      const ref = this.leaves[LEAF_WORDS * ~this.root]!;
      words = this.source.hashWords(ref);
      word = this.source.hashWord(ref);
    }
    target.set(new Uint8Array(words.buffer, words.byteOffset + 4 * word, SHA256_BYTES), at);
  }

  /**
   * The path the key bytes[start, start + length) takes from the root (settles first): the steps
   * root first and the reference of the leaf it ends at, or undefined for an empty trie. The key
   * is in the trie iff that leaf's key equals it.
   */
  path(bytes: Uint8Array, start: number, length: number): { steps: PathStep[]; leafRef: number } | undefined {
    this.settle();
    if (this.root === NONE) return undefined;
    const steps: PathStep[] = [];
    let child = this.root;
    while (child >= 0) {
      const base = NODE_WORDS * child;
      const crit = this.nodes[base + CRIT]!;
      const direction = keyBit(bytes, start, length, crit);
      const sibling = 4 * (base + HASHES + WORDS * (1 - direction));
      steps.push({ crit, sibling: this.nodeBytes.slice(sibling, sibling + SHA256_BYTES) });
      child = this.nodes[base + CHILD + direction]!;
    }
    return { steps, leafRef: this.leaves[LEAF_WORDS * ~child]! };
  }

  /**
   * Visits the leaf references of the keys k with lower <= k (lower < k when `exclusive`) in key
   * order, until visit returns false or the keys run out; lower = bytes[start, start + length)
   * (length 0: from the first key). The caller stops at an upper bound by returning false. It
   * reads only structure, so it does not settle; visit must not change the trie.
   *
   * The lower bound costs two descents, not a scan: the first finds the leaf the bound's bits lead
   * to and the first bit d where its key and the bound differ. Every key below the first node on
   * that path whose crit bit is past d agrees with that leaf up to d, so that whole subtree is
   * greater than the bound (the bound's bit d is 0) or smaller (it is 1); the second descent stops
   * there, keeping the right children it passed (the greater keys) on a stack, as the walk's
   * pending work.
   */
  forEachFrom(bytes: Uint8Array, start: number, length: number, exclusive: boolean, visit: (ref: number) => boolean): void {
    if (this.root === NONE) return;
    const source = this.source;
    const nearest = this.leaves[LEAF_WORDS * ~this.descend(bytes, start, length)]!;
    const crit = critBit(bytes, start, length, source.keyBytes(nearest), source.keyStart(nearest), source.keyLength(nearest));
    // An equal key (crit -1) is the leaf itself: descend all the way to it.
    const stop = crit < 0 ? KEY_BITS_MAX + 1 : crit;
    const nodes = this.nodes;
    const pending: number[] = [];
    let child = this.root;
    while (child >= 0 && nodes[NODE_WORDS * child + CRIT]! < stop) {
      const side = keyBit(bytes, start, length, nodes[NODE_WORDS * child + CRIT]!);
      if (side === 0) pending.push(nodes[NODE_WORDS * child + CHILD + 1]!);
      child = nodes[NODE_WORDS * child + CHILD + side]!;
    }
    if (crit < 0 ? !exclusive : keyBit(bytes, start, length, crit) === 0) pending.push(child);
    // In order: the top of the stack is the next subtree; its leftmost leaf is the next key.
    while (pending.length > 0) {
      let next = pending.pop()!;
      while (next >= 0) {
        pending.push(nodes[NODE_WORDS * next + CHILD + 1]!);
        next = nodes[NODE_WORDS * next + CHILD]!;
      }
      if (!visit(this.leaves[LEAF_WORDS * ~next]!)) return;
    }
  }

  /**
   * Cuts the trie (settled first) into whole subtrees, in key order, each of at most `budget`
   * total leaf weight (a single leaf heavier than that is a subtree of its own): what a snapshot
   * chunk holds (src/kv/snapshot.ts). Each comes with its path from the root (the steps a key
   * proof would have above it) and its leaves' references in key order; the subtree's hash folded
   * up that path gives the root, which is how a peer's chunk is checked on its own.
   */
  subtrees(weight: (ref: number) => number, budget: number): Subtree[] {
    this.settle();
    if (this.root === NONE) return [];
    const nodes = this.nodes;
    const leafRef = (child: number): number => this.leaves[LEAF_WORDS * ~child]!;
    // Weights bottom-up: every node after its children in the reversed preorder.
    const weights = new Float64Array(this.nodeCount);
    const order: number[] = [];
    for (const stack = [this.root]; stack.length > 0; ) {
      const child = stack.pop()!;
      if (child < 0) continue;
      order.push(child);
      stack.push(nodes[NODE_WORDS * child + CHILD]!, nodes[NODE_WORDS * child + CHILD + 1]!);
    }
    const weightOf = (child: number): number => (child < 0 ? weight(leafRef(child)) : weights[child]!);
    for (let i = order.length - 1; i >= 0; i--) {
      const base = NODE_WORDS * order[i]!;
      weights[order[i]!] = weightOf(nodes[base + CHILD]!) + weightOf(nodes[base + CHILD + 1]!);
    }
    const out: Subtree[] = [];
    const walk: Array<{ child: number; steps: PathStep[] }> = [{ child: this.root, steps: [] }];
    while (walk.length > 0) {
      const { child, steps } = walk.pop()!;
      if (child < 0 || weights[child]! <= budget) {
        out.push({ steps, refs: this.leafRefsBelow(child) });
        continue;
      }
      const base = NODE_WORDS * child;
      const crit = nodes[base + CRIT]!;
      const hashOf = (side: number): Uint8Array => this.nodeBytes.slice(4 * (base + HASHES + WORDS * side), 4 * (base + HASHES + WORDS * side) + SHA256_BYTES);
      // Right pushed first: the left side (smaller keys) is cut first.
      walk.push({ child: nodes[base + CHILD + 1]!, steps: [...steps, { crit, sibling: hashOf(0) }] });
      walk.push({ child: nodes[base + CHILD]!, steps: [...steps, { crit, sibling: hashOf(1) }] });
    }
    return out;
  }

  /** The leaf references below `child` (a node, or a leaf ~l), in key order. */
  private leafRefsBelow(child: number): number[] {
    const refs: number[] = [];
    for (const stack = [child]; stack.length > 0; ) {
      const next = stack.pop()!;
      if (next < 0) {
        refs.push(this.leaves[LEAF_WORDS * ~next]!);
        continue;
      }
      const base = NODE_WORDS * next;
      stack.push(this.nodes[base + CHILD + 1]!, this.nodes[base + CHILD]!);
    }
    return refs;
  }

  /** Brings every hash up to date: changed leaves into their parents, then dirty nodes deepest first. */
  settle(): void {
    this.copyChangedLeaves();
    if (this.frontierCount > 0) this.markDirty();
    if (this.root === NONE || this.root < 0 || (this.nodes[NODE_WORDS * this.root + FLAGS]! & DIRTY) === 0) return;
    const count = this.collectDirty();
    if (this.starts.length < count) this.growScratch(count);
    // Reversed breadth-first order puts every node after its children; each digest is written
    // into the parent's slot (the root's into the holder's) before the parent is hashed.
    const nodes = this.nodes;
    for (let i = 0; i < count; i++) {
      const node = this.order[count - 1 - i]!;
      const base = NODE_WORDS * node;
      this.starts[i] = 4 * base + MESSAGE_START;
      this.ends[i] = 4 * base + MESSAGE_END;
      const parent = nodes[base + PARENT]!;
      this.targets[i] = parent < 0 ? 4 * (NODE_WORDS * ROOT_HOLDER + HASHES) : 4 * (NODE_WORDS * parent + HASHES + WORDS * nodes[base + SIDE]!);
    }
    for (let from = 0; from < count; from += HASH_BATCH_NODES) {
      const batch = Math.min(HASH_BATCH_NODES, count - from);
      this.sha256.hashPlaced(this.nodeBytes, this.starts.subarray(from), this.ends.subarray(from), this.targets.subarray(from), batch);
    }
    for (let i = 0; i < count; i++) nodes[NODE_WORDS * this.order[i]! + FLAGS] = 0;
  }

  /** Walks from the root by the key's bits to a leaf; returns its child reference (~leaf). */
  private descend(bytes: Uint8Array, start: number, length: number): number {
    const nodes = this.nodes;
    let child = this.root;
    let steps = 0;
    while (child >= 0) {
      assert(++steps <= KEY_BITS_MAX, 'StateTrie: path longer than the longest key');
      child = nodes[NODE_WORDS * child + CHILD + keyBit(bytes, start, length, nodes[NODE_WORDS * child + CRIT]!)]!;
    }
    return child;
  }

  /**
   * Copies each changed leaf's hash into its parent's slot, and lists the parents and the changed
   * nodes as the starts of the paths to mark dirty (frontier[0, frontierCount)).
   */
  private copyChangedLeaves(): void {
    const changed = this.changedLeaves;
    const nodesChanged = this.changedNodes;
    const starts = changed.length + nodesChanged.length;
    if (this.frontier.length < starts) this.frontier = new Int32Array(Math.max(starts, 2 * this.frontier.length));
    const frontier = this.frontier;
    let count = 0;
    const words = this.nodeWords;
    const source = this.source;
    for (let i = 0; i < changed.length; i++) {
      const leaf = changed[i]!;
      const parent = this.leaves[LEAF_WORDS * leaf + LEAF_PARENT]!;
      if (parent < 0) continue; // the root leaf, or freed since
      const ref = this.leaves[LEAF_WORDS * leaf]!;
      const from = source.hashWords(ref);
      const at = source.hashWord(ref);
      const to = NODE_WORDS * parent + HASHES + WORDS * this.leaves[LEAF_WORDS * leaf + LEAF_SIDE]!;
      for (let w = 0; w < WORDS; w++) words[to + w] = from[at + w]!;
      frontier[count++] = parent;
    }
    for (let i = 0; i < nodesChanged.length; i++) {
      const node = nodesChanged[i]!;
      if (this.nodes[NODE_WORDS * node + PARENT] !== FREED) frontier[count++] = node; // else freed since
    }
    changed.length = 0;
    nodesChanged.length = 0;
    this.frontierCount = count;
  }

  /** Fills `order` with the dirty nodes breadth-first (parents before children); returns how many. */
  private collectDirty(): number {
    const nodes = this.nodes;
    let count = 0;
    this.order[count++] = this.root;
    for (let next = 0; next < count; next++) {
      const base = NODE_WORDS * this.order[next]!;
      const flags = nodes[base + FLAGS]!;
      for (let side = 0; side < 2; side++) {
        if ((flags & (CHILD_DIRTY << side)) === 0) continue;
        if (count === this.order.length) this.order = grow(this.order, count * 2);
        this.order[count++] = nodes[base + CHILD + side]!;
      }
    }
    return count;
  }

  /** Copies the hash of `child`, held by `fromParent` on `fromSide`, to `toParent`'s slot `toSide`. */
  private copyChildHash(child: number, fromParent: number, fromSide: number, toParent: number, toSide: number): void {
    // The root node's hash is in the holder's slot; a root leaf's is read from its owner.
    if (toParent < 0 && child < 0) return;
    const words = this.nodeWords;
    const to = hashSlot(toParent, toSide);
    let from: Uint32Array = words;
    let at = hashSlot(fromParent, fromSide);
    if (fromParent < 0 && child < 0) {
      const ref = this.leaves[LEAF_WORDS * ~child]!;
      from = this.source.hashWords(ref);
      at = this.source.hashWord(ref);
    }
    for (let w = 0; w < WORDS; w++) words[to + w] = from[at + w]!;
  }

  /** Hangs node `node` under `parent` on `side` (or at the root when parent is -1). */
  private attach(node: number, parent: number, side: number): void {
    const nodes = this.nodes;
    nodes[NODE_WORDS * node + PARENT] = parent;
    nodes[NODE_WORDS * node + SIDE] = parent < 0 ? -1 : side;
    if (parent < 0) this.root = node;
    else nodes[NODE_WORDS * parent + CHILD + side] = node;
  }

  private setParent(child: number, parent: number, side: number): void {
    if (child >= 0) {
      this.nodes[NODE_WORDS * child + PARENT] = parent;
      this.nodes[NODE_WORDS * child + SIDE] = parent < 0 ? -1 : side;
    } else {
      this.leaves[LEAF_WORDS * ~child + LEAF_PARENT] = parent;
      this.leaves[LEAF_WORDS * ~child + LEAF_SIDE] = side;
    }
  }

  /**
   * Marks the frontier's nodes and their ancestors dirty, each path up to the first node already
   * dirty; all paths one level per round (see the header: their cache misses overlap).
   */
  private markDirty(): void {
    const nodes = this.nodes;
    const frontier = this.frontier;
    let count = this.frontierCount;
    let rounds = 0;
    while (count > 0) {
      assert(++rounds <= KEY_BITS_MAX + 1, 'StateTrie: path longer than the longest key');
      let climbing = 0;
      for (let i = 0; i < count; i++) {
        const base = NODE_WORDS * frontier[i]!;
        const flags = nodes[base + FLAGS]!;
        if ((flags & DIRTY) !== 0) continue;
        nodes[base + FLAGS] = flags | DIRTY;
        const parent = nodes[base + PARENT]!;
        if (parent < 0) continue;
        nodes[NODE_WORDS * parent + FLAGS]! |= CHILD_DIRTY << nodes[base + SIDE]!;
        frontier[climbing++] = parent;
      }
      count = climbing;
    }
    this.frontierCount = 0;
  }

  private allocNode(crit: number): number {
    let node = this.freeNodes.pop();
    if (node === undefined) {
      assert(this.nodeCount < NODES_MAX, 'StateTrie: too many nodes');
      node = this.nodeCount++;
      if (NODE_WORDS * (node + 1) > this.nodes.length) this.growNodes();
    }
    const base = NODE_WORDS * node;
    const bytes = this.nodeBytes;
    const head = 4 * base + MESSAGE_START;
    bytes[head] = NODE_TAG;
    bytes[head + 1] = crit >>> 24;
    bytes[head + 2] = (crit >>> 16) & 0xff;
    bytes[head + 3] = (crit >>> 8) & 0xff;
    bytes[head + 4] = crit & 0xff;
    this.nodes[base + CRIT] = crit;
    this.nodes[base + FLAGS] = 0;
    return node;
  }

  private freeNode(node: number): void {
    this.nodes[NODE_WORDS * node + FLAGS] = 0;
    this.nodes[NODE_WORDS * node + PARENT] = FREED;
    this.freeNodes.push(node);
  }

  private allocLeaf(ref: number): number {
    let leaf = this.freeLeaves.pop();
    if (leaf === undefined) {
      assert(this.leafCount < NODES_MAX, 'StateTrie: too many leaves');
      leaf = this.leafCount++;
      if (LEAF_WORDS * (leaf + 1) > this.leaves.length) this.leaves = grow(this.leaves, this.leaves.length * 2);
    }
    this.leaves[LEAF_WORDS * leaf] = ref;
    this.liveLeaves++;
    return leaf;
  }

  private freeLeaf(leaf: number): void {
    this.leaves[LEAF_WORDS * leaf + LEAF_PARENT] = FREED;
    this.liveLeaves--;
    this.freeLeaves.push(leaf);
  }

  private growScratch(count: number): void {
    const size = Math.max(count, this.starts.length * 2);
    this.starts = new Uint32Array(size);
    this.ends = new Uint32Array(size);
    this.targets = new Uint32Array(size);
  }

  private growNodes(): void {
    this.nodes = grow(this.nodes, this.nodes.length * 2);
    this.nodeWords = new Uint32Array(this.nodes.buffer);
    this.nodeBytes = new Uint8Array(this.nodes.buffer);
  }
}

/** Word offset of the hash slot holding `parent`'s child on `side` (the holder's for the root). */
function hashSlot(parent: number, side: number): number {
  return parent < 0 ? NODE_WORDS * ROOT_HOLDER + HASHES : NODE_WORDS * parent + HASHES + WORDS * side;
}

function grow<T extends Int32Array>(from: T, size: number): T {
  const to = new Int32Array(size) as T;
  to.set(from);
  return to;
}
