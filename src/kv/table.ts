/**
 * KeyValueTable: the KV entries of the state machine, without one JS object per entry.
 *
 * Why: replay applies millions of writes. With a Map<string, Uint8Array> every write needs a
 * fresh key string and value array, and garbage collection plus cache misses cost more than all
 * the rest (measured ~0.7 us per write). Here a write touches three places: one index slot, one
 * record and (for a new hash) the same record again, ~3 cache misses.
 *
 * Arena records (4-byte aligned; `at` = record offset):
 *   [at,      at + 32)   element hash (SHA-256 of the element), valid when not pending
 *   [at + 32, at + 36)   capacity: element bytes this record can hold
 *   [at + 36, at + 40)   element length (0 = dead record: deleted or moved)
 *   [at + 40, at + 44)   pending: 1 + index of the element's staged hash job, or 0
 *   [at + 44, at + 48)   index hash of the key (murmur3, for re-indexing)
 *   [at + 48, at + 52)   the entry's leaf number in the state trie (src/kv/state-trie.ts)
 *   [at + 52, ...)       element: 0x01 || u16 keyLength || key || revisions || value
 *                        revisions = u64 createHeight || u64 modHeight || u64 version
 * The element is exactly what the state trie's leaf hash covers for this entry (src/kv/state.ts),
 * so it is hashed in place and its hash stored beside it, and a key's revisions are proven with
 * its value.
 *
 * Index: open addressing, linear probing, at most half full, backward-shift deletion (no
 * tombstones). Slot i is two Uint32s: [key hash, record offset / 4 + 1] (0 = empty).
 *
 * A value that fits the record's capacity is overwritten in place; otherwise the record moves to
 * the arena's end. compact() drops dead records; the caller runs it only when no element range
 * is waiting to be hashed.
 *
 * Bounds: ARENA_BYTES_MAX (Uint32 offsets), index slots up to 2^29.
 */
import { assert } from '../lib/assert.js';
import { readU64, writeU64 } from '../lib/bytes.js';

export const ELEMENT_TAG = 0x01;
/** Record header bytes before the element. */
export const RECORD_HEADER_BYTES = 52;
/** Element header: tag + u16 key length. */
const ELEMENT_HEADER_BYTES = 3;
/**
 * A key's revisions, between its key and its value in the element (etcd's create_revision,
 * mod_revision and version): the height of the block that created the key (since it was last
 * absent), of the block that last wrote it, and how many writes it had since it was created
 * (1 at creation).
 */
export const REVISION_BYTES = 24;

export interface Revisions {
  readonly createHeight: number;
  readonly modHeight: number;
  readonly version: number;
}
const ARENA_BYTES_MAX = 0xffff_fffc;
const INDEX_SLOTS_MAX = 1 << 29;

const CAPACITY = 8;
const LENGTH = 9;
const PENDING = 10;
const KEY_HASH = 11;
const LEAF = 12;

export class KeyValueTable {
  arena = new Uint8Array(1 << 16);
  /** Word view of `arena` (record headers and hashes). Replaced whenever `arena` is. */
  words = new Uint32Array(this.arena.buffer);
  private used = 0;
  /** Arena bytes not in a live record's header or element: dead records and capacity slack. */
  private garbageBytes = 0;
  private live = 0;

  private index = new Uint32Array(2 * 1024);
  private mask = 1023;

  /** Probe state of the last find(): insert() and relocation reuse it. */
  private lastHash = 0;
  private lastSlot = 0;

  /** @param seed seeds the key hash; any value works, a random one resists hash flooding. */
  constructor(private readonly seed = 0x9747b28c) {}

  get size(): number {
    return this.live;
  }

  /** Bytes of the arena in use by live records. */
  get liveBytes(): number {
    return this.used - this.garbageBytes;
  }

  /** Finds the key source[start, start + length); returns its record offset or -1. */
  find(source: Uint8Array, start: number, length: number): number {
    const hash = hashKey(source, start, length, this.seed);
    this.lastHash = hash;
    const index = this.index;
    const mask = this.mask;
    let slot = hash & mask;
    for (;;) {
      const stored = index[2 * slot + 1]!;
      if (stored === 0) {
        this.lastSlot = slot;
        return -1;
      }
      if (index[2 * slot] === hash) {
        const at = (stored - 1) * 4;
        if (this.keyEquals(at, source, start, length)) {
          this.lastSlot = slot;
          return at;
        }
      }
      slot = (slot + 1) & mask;
    }
  }

  private keyEquals(at: number, source: Uint8Array, start: number, length: number): boolean {
    const arena = this.arena;
    const element = at + RECORD_HEADER_BYTES;
    if (this.keyLength(at) !== length) return false;
    const key = element + ELEMENT_HEADER_BYTES;
    for (let i = 0; i < length; i++) if (arena[key + i] !== source[start + i]) return false;
    return true;
  }

  /** Inserts the key find() just reported absent (no writes in between); returns the record. */
  insert(key: Uint8Array, keyStart: number, keyLength: number, value: Uint8Array, valueStart: number, valueLength: number): number {
    assert(keyLength > 0 && keyLength <= 0xffff, 'insert: key length');
    const elementLength = ELEMENT_HEADER_BYTES + keyLength + REVISION_BYTES + valueLength;
    const at = this.reserve(elementLength);
    const arena = this.arena;
    const element = at + RECORD_HEADER_BYTES;
    arena[element] = ELEMENT_TAG;
    arena[element + 1] = keyLength >>> 8;
    arena[element + 2] = keyLength & 0xff;
    copy(arena, element + ELEMENT_HEADER_BYTES, key, keyStart, keyLength);
    copy(arena, element + ELEMENT_HEADER_BYTES + keyLength + REVISION_BYTES, value, valueStart, valueLength);
    const base = at >>> 2;
    this.words[base + LENGTH] = elementLength;
    this.words[base + PENDING] = 0;
    this.words[base + KEY_HASH] = this.lastHash;
    this.garbageBytes += this.words[base + CAPACITY]! - elementLength;
    this.live++;
    if (this.live * 2 > this.mask + 1) {
      this.growIndex();
    } else {
      this.index[2 * this.lastSlot] = this.lastHash;
      this.index[2 * this.lastSlot + 1] = base + 1;
    }
    return at;
  }

  /**
   * Replaces the value of the record find() just returned (no writes in between), keeping its
   * revisions (the caller sets them). In place when it fits; otherwise the record moves and the
   * old one dies. Returns the record's offset. The old element's hash and pending job must be
   * dealt with by the caller before this call.
   */
  overwrite(at: number, value: Uint8Array, valueStart: number, valueLength: number): number {
    const words = this.words;
    const base = at >>> 2;
    const element = at + RECORD_HEADER_BYTES;
    const keyLength = this.keyLength(at);
    const prefixLength = ELEMENT_HEADER_BYTES + keyLength + REVISION_BYTES;
    const elementLength = prefixLength + valueLength;
    if (elementLength <= words[base + CAPACITY]!) {
      this.garbageBytes += words[base + LENGTH]! - elementLength;
      copy(this.arena, element + prefixLength, value, valueStart, valueLength);
      words[base + LENGTH] = elementLength;
      return at;
    }
    const moved = this.reserve(elementLength);
    const arena = this.arena;
    const movedBase = moved >>> 2;
    arena.copyWithin(moved + RECORD_HEADER_BYTES, element, element + prefixLength);
    copy(arena, moved + RECORD_HEADER_BYTES + prefixLength, value, valueStart, valueLength);
    this.words[movedBase + LENGTH] = elementLength;
    this.words[movedBase + PENDING] = 0;
    this.words[movedBase + KEY_HASH] = this.words[base + KEY_HASH]!;
    this.words[movedBase + LEAF] = this.words[base + LEAF]!;
    this.garbageBytes += this.words[movedBase + CAPACITY]! - elementLength;
    this.kill(at);
    this.index[2 * this.lastSlot + 1] = movedBase + 1;
    return moved;
  }

  /** Deletes the record find() just returned (backward-shift deletion keeps probes intact). */
  remove(at: number): void {
    const index = this.index;
    const mask = this.mask;
    let hole = this.lastSlot;
    assert(index[2 * hole + 1] === (at >>> 2) + 1, 'remove: record is not the last one found');
    index[2 * hole] = 0;
    index[2 * hole + 1] = 0;
    let next = (hole + 1) & mask;
    while (index[2 * next + 1] !== 0) {
      const home = index[2 * next]! & mask;
      // The entry at `next` stays unless its home lies cyclically outside (hole, next].
      const stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!stays) {
        index[2 * hole] = index[2 * next]!;
        index[2 * hole + 1] = index[2 * next + 1]!;
        index[2 * next] = 0;
        index[2 * next + 1] = 0;
        hole = next;
      }
      next = (next + 1) & mask;
    }
    this.kill(at);
    this.live--;
  }

  private kill(at: number): void {
    const base = at >>> 2;
    // The capacity slack was counted as garbage already; the header and element join it now.
    this.garbageBytes += RECORD_HEADER_BYTES + this.words[base + LENGTH]!;
    this.words[base + LENGTH] = 0;
    this.words[base + PENDING] = 0;
  }

  /** Element byte range of record `at`: [elementStart(at), elementStart(at) + elementLength(at)). */
  elementStart(at: number): number {
    return at + RECORD_HEADER_BYTES;
  }

  elementLength(at: number): number {
    return this.words[(at >>> 2) + LENGTH]!;
  }

  /** 1 + the index of the record's staged hash job, or 0. */
  pending(at: number): number {
    return this.words[(at >>> 2) + PENDING]!;
  }

  setPending(at: number, job: number): void {
    this.words[(at >>> 2) + PENDING] = job;
  }

  /** Word index of the record's stored element hash (8 words) in `words`. */
  hashWord(at: number): number {
    return at >>> 2;
  }

  /** The state trie's leaf number of record `at` (kept across moves and compaction). */
  leaf(at: number): number {
    return this.words[(at >>> 2) + LEAF]!;
  }

  setLeaf(at: number, leaf: number): void {
    this.words[(at >>> 2) + LEAF] = leaf;
  }

  /** Offset in `arena` of record `at`'s key bytes. */
  keyStart(at: number): number {
    return at + RECORD_HEADER_BYTES + ELEMENT_HEADER_BYTES;
  }

  /** Key length of record `at` (the element's u16 after its tag). */
  keyLength(at: number): number {
    const element = at + RECORD_HEADER_BYTES;
    return (this.arena[element + 1]! << 8) | this.arena[element + 2]!;
  }

  /** Value length of record `at`. */
  valueLength(at: number): number {
    return this.elementLength(at) - ELEMENT_HEADER_BYTES - REVISION_BYTES - this.keyLength(at);
  }

  /** Offset in `arena` of record `at`'s revisions (createHeight, modHeight, version). */
  private revisionStart(at: number): number {
    return at + RECORD_HEADER_BYTES + ELEMENT_HEADER_BYTES + this.keyLength(at);
  }

  /** Record `at`'s revisions. */
  revisions(at: number): Revisions {
    const start = this.revisionStart(at);
    return { createHeight: readU64(this.arena, start), modHeight: readU64(this.arena, start + 8), version: readU64(this.arena, start + 16) };
  }

  /** Record `at`'s createHeight. */
  createHeight(at: number): number {
    return readU64(this.arena, this.revisionStart(at));
  }

  /** Record `at`'s version (writes since its creation). */
  version(at: number): number {
    return readU64(this.arena, this.revisionStart(at) + 16);
  }

  /** Sets record `at`'s revisions (its element changes: the caller stages its hash). */
  setRevisions(at: number, createHeight: number, modHeight: number, version: number): void {
    const start = this.revisionStart(at);
    writeU64(this.arena, start, createHeight);
    writeU64(this.arena, start + 8, modHeight);
    writeU64(this.arena, start + 16, version);
  }

  /** A copy of the value of record `at`. */
  value(at: number): Uint8Array {
    const element = at + RECORD_HEADER_BYTES;
    const keyLength = this.keyLength(at);
    return this.arena.slice(element + ELEMENT_HEADER_BYTES + keyLength + REVISION_BYTES, element + this.elementLength(at));
  }

  /** Whether record `at`'s value equals source[start, start + length). */
  valueEquals(at: number, source: Uint8Array, start: number, length: number): boolean {
    const arena = this.arena;
    const element = at + RECORD_HEADER_BYTES;
    const keyLength = this.keyLength(at);
    if (this.elementLength(at) - ELEMENT_HEADER_BYTES - REVISION_BYTES - keyLength !== length) return false;
    const value = element + ELEMENT_HEADER_BYTES + keyLength + REVISION_BYTES;
    for (let i = 0; i < length; i++) if (arena[value + i] !== source[start + i]) return false;
    return true;
  }

  /** A copy of the key bytes of record `at`. */
  key(at: number): Uint8Array {
    const element = at + RECORD_HEADER_BYTES;
    const keyLength = this.keyLength(at);
    return this.arena.slice(element + ELEMENT_HEADER_BYTES, element + ELEMENT_HEADER_BYTES + keyLength);
  }

  /** Offsets of live records, in arena order. */
  *records(): IterableIterator<number> {
    for (let at = 0; at < this.used; at += RECORD_HEADER_BYTES + this.words[(at >>> 2) + CAPACITY]!) {
      if (this.words[(at >>> 2) + LENGTH]! > 0) yield at;
    }
  }

  /** Whether dead bytes outweigh live ones enough that compact() pays for itself. */
  get wantsCompaction(): boolean {
    return this.garbageBytes > 16 * 1024 * 1024 && this.garbageBytes > this.liveBytes;
  }

  /**
   * Rewrites the arena with live records only and rebuilds the index. No record may have a
   * pending hash job (their ranges would move).
   */
  compact(): void {
    const fresh = new Uint8Array(Math.max(1 << 16, align(Math.ceil(this.liveBytes * 1.25))));
    const freshWords = new Uint32Array(fresh.buffer);
    let used = 0;
    let slack = 0;
    for (const at of this.records()) {
      const base = at >>> 2;
      assert(this.words[base + PENDING] === 0, 'compact with a pending hash job');
      const length = this.words[base + LENGTH]!;
      const size = RECORD_HEADER_BYTES + align(length);
      fresh.set(this.arena.subarray(at, at + size), used);
      freshWords[(used >>> 2) + CAPACITY] = size - RECORD_HEADER_BYTES;
      slack += align(length) - length;
      used += size;
    }
    this.arena = fresh;
    this.words = freshWords;
    this.used = used;
    this.garbageBytes = slack;
    this.rebuildIndex(this.mask + 1);
  }

  private reserve(elementLength: number): number {
    const capacity = align(elementLength);
    const size = RECORD_HEADER_BYTES + capacity;
    if (this.used + size > this.arena.length) {
      const needed = this.used + size;
      assert(needed <= ARENA_BYTES_MAX, 'KV arena is full (4 GiB)');
      const grown = new Uint8Array(Math.min(ARENA_BYTES_MAX, Math.max(needed, this.arena.length * 2)));
      grown.set(this.arena.subarray(0, this.used));
      this.arena = grown;
      this.words = new Uint32Array(grown.buffer);
    }
    const at = this.used;
    this.used += size;
    this.words[(at >>> 2) + CAPACITY] = capacity;
    return at;
  }

  private growIndex(): void {
    const slots = (this.mask + 1) * 2;
    assert(slots <= INDEX_SLOTS_MAX, 'KV index is full');
    this.rebuildIndex(slots);
  }

  private rebuildIndex(slots: number): void {
    const index = new Uint32Array(2 * slots);
    const mask = slots - 1;
    for (const at of this.records()) {
      const base = at >>> 2;
      const hash = this.words[base + KEY_HASH]!;
      let slot = hash & mask;
      while (index[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
      index[2 * slot] = hash;
      index[2 * slot + 1] = base + 1;
    }
    this.index = index;
    this.mask = mask;
  }
}

function align(bytes: number): number {
  return (bytes + 3) & ~3;
}

/** Copies source[start, start + length) to target at `at`; bytewise for short runs. */
function copy(target: Uint8Array, at: number, source: Uint8Array, start: number, length: number): void {
  if (length > 48) target.set(source.subarray(start, start + length), at);
  else for (let i = 0; i < length; i++) target[at + i] = source[start + i]!;
}

/** MurmurHash3 (x86, 32-bit) of source[start, start + length). Not part of any stored format. */
function hashKey(source: Uint8Array, start: number, length: number, seed: number): number {
  let h = seed >>> 0;
  const blocks = length & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    const at = start + i;
    let k = source[at]! | (source[at + 1]! << 8) | (source[at + 2]! << 16) | (source[at + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const rest = length & 3;
  const at = start + i;
  if (rest === 3) k ^= source[at + 2]! << 16;
  if (rest >= 2) k ^= source[at + 1]! << 8;
  if (rest >= 1) {
    k ^= source[at]!;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
