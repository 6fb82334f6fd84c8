/**
 * SessionMap: values keyed by (session id, number), looked up straight from the bytes that hold
 * the id, without building a key string per lookup.
 *
 * Why: every applied write looks up its session and every answered write its waiters. With a
 * Map<string, ...> each lookup built an 8-character string from the 16 id bytes (and a
 * `${id}:${seq}` one for waiters) and hashed it; that cost about a third of the commands chosen
 * per CPU-second (`paxchain dev bench-core`: 45k with string keys, see README "Performance").
 *
 * Index: a Map from a seeded 30-bit hash of (id, n) (a small integer key, which V8 hashes
 * without allocating) to a chain of entries. An entry holds the id (as four 32-bit words) and n,
 * and a lookup compares all 16 bytes and n: a hash collision costs one comparison, never a wrong answer. Seed
 * it randomly (the node does): the map's order is never replicated state, and a seed an attacker
 * does not know stops them grinding session secrets into one long chain.
 *
 * Bounds: one entry per key set; the owner bounds the count (KvState: dedupCapacity; Admission:
 * pendingWritesMax waiters keys).
 */
import type { Sha256 } from '../lib/sha256.js';
import { deriveSessionId, SESSION_ID_BYTES, SESSION_SECRET_BYTES, type SessionIds } from './session.js';

/** The words read per id: the map is keyed by ids of exactly this many bytes. */
const ID_WORDS = SESSION_ID_BYTES / 4;

interface Entry<V> {
  /** The id as four big-endian 32-bit words (compared instead of bytes: no copy, no loads per byte). */
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly n: number;
  value: V;
  next: Entry<V> | undefined;
}

const HASH_MASK = 0x3fff_ffff;

export class SessionMap<V> {
  private readonly index = new Map<number, Entry<V>>();
  private count = 0;
  /** The words of the id last hashed (read once per operation). */
  private w0 = 0;
  private w1 = 0;
  private w2 = 0;
  private w3 = 0;

  /** @param seed seeds the index hash; any value works, a random one resists hash flooding. */
  constructor(private readonly seed = 0x2545f491) {}

  get size(): number {
    return this.count;
  }

  /** The value for the id at `bytes[offset, offset + SESSION_ID_BYTES)` and `n`. */
  get(bytes: Uint8Array, offset: number, n = 0): V | undefined {
    return this.find(n, this.hash(bytes, offset, n))?.value;
  }

  has(bytes: Uint8Array, offset: number, n = 0): boolean {
    return this.find(n, this.hash(bytes, offset, n)) !== undefined;
  }

  /** Sets the value (the map keeps the id's words, never the caller's buffer). */
  set(bytes: Uint8Array, offset: number, n: number, value: V): void {
    const hash = this.hash(bytes, offset, n);
    const found = this.find(n, hash);
    if (found) {
      found.value = value;
      return;
    }
    this.index.set(hash, { w0: this.w0, w1: this.w1, w2: this.w2, w3: this.w3, n, value, next: this.index.get(hash) });
    this.count++;
  }

  /** Removes the key; returns its value, or undefined if it was not there. */
  delete(bytes: Uint8Array, offset: number, n = 0): V | undefined {
    const hash = this.hash(bytes, offset, n);
    let previous: Entry<V> | undefined;
    for (let entry = this.index.get(hash); entry !== undefined; previous = entry, entry = entry.next) {
      if (!this.matches(entry, n)) continue;
      if (previous) previous.next = entry.next;
      else if (entry.next) this.index.set(hash, entry.next);
      else this.index.delete(hash);
      this.count--;
      return entry.value;
    }
    return undefined;
  }

  *values(): IterableIterator<V> {
    for (const head of this.index.values()) {
      for (let entry: Entry<V> | undefined = head; entry !== undefined; entry = entry.next) yield entry.value;
    }
  }

  clear(): void {
    this.index.clear();
    this.count = 0;
  }

  /** The entry for the id last hashed and `n` in the chain of `hash`. */
  private find(n: number, hash: number): Entry<V> | undefined {
    for (let entry = this.index.get(hash); entry !== undefined; entry = entry.next) {
      if (this.matches(entry, n)) return entry;
    }
    return undefined;
  }

  private matches(entry: Entry<V>, n: number): boolean {
    return entry.n === n && entry.w0 === this.w0 && entry.w1 === this.w1 && entry.w2 === this.w2 && entry.w3 === this.w3;
  }

  /**
   * MurmurHash3-style mix of the four id words and n (up to 2^53) into 30 bits; leaves the words
   * in w0..w3 for find() and set().
   */
  private hash(bytes: Uint8Array, offset: number, n: number): number {
    this.w0 = word(bytes, offset);
    this.w1 = word(bytes, offset + 4);
    this.w2 = word(bytes, offset + 8);
    this.w3 = word(bytes, offset + 4 * (ID_WORDS - 1));
    let h = mix(this.seed | 0, this.w0);
    h = mix(h, this.w1);
    h = mix(h, this.w2);
    h = mix(h, this.w3);
    h = mix(h, n | 0);
    h = mix(h, (n / 0x1_0000_0000) | 0);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h & HASH_MASK;
  }
}

function word(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
}

function mix(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Most secrets SessionIdCache remembers; when full it starts over (a bounded memo, not state). */
export const SESSION_ID_CACHE_MAX = 8192;

interface CachedId {
  /** Bytes SESSION_ID_BYTES.. of the secret (the map's key holds the first SESSION_ID_BYTES). */
  readonly rest: Uint8Array;
  readonly id: Uint8Array;
}

/**
 * SessionIds that remember the ids of recently seen secrets, so a client's writes after its first
 * cost no hash (a SHA-256 per write was ~4% of the leader's CPU at 128 clients). Keyed by the
 * secret's first 16 bytes in a seeded SessionMap and checked against all 32; a secret that shares
 * its first half with a cached one is hashed, not cached.
 */
export class SessionIdCache implements SessionIds {
  private readonly ids: SessionMap<CachedId>;

  constructor(
    private readonly sha256: Sha256,
    seed?: number,
  ) {
    this.ids = new SessionMap(seed);
  }

  get size(): number {
    return this.ids.size;
  }

  derive(secret: Uint8Array): Uint8Array {
    if (secret.length !== SESSION_SECRET_BYTES) return deriveSessionId(this.sha256, secret); // throws
    const cached = this.ids.get(secret, 0);
    if (cached) return sameRest(cached.rest, secret) ? cached.id : deriveSessionId(this.sha256, secret);
    const id = deriveSessionId(this.sha256, secret);
    if (this.ids.size >= SESSION_ID_CACHE_MAX) this.ids.clear();
    this.ids.set(secret, 0, 0, { rest: new Uint8Array(secret.subarray(SESSION_ID_BYTES)), id });
    return id;
  }
}

function sameRest(rest: Uint8Array, secret: Uint8Array): boolean {
  for (let i = 0; i < rest.length; i++) if (rest[i] !== secret[SESSION_ID_BYTES + i]) return false;
  return true;
}
