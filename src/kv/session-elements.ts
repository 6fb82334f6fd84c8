/**
 * The dedup sessions' elements and their hashes, as the leaves of the sessions trie
 * (src/kv/state-trie.ts; the element encoding is in src/kv/state.ts).
 *
 * Each version of a session's element gets a slot: its 16-byte session id (the trie key) and the
 * SHA-256 of its element. Elements are staged in a scratch buffer as commands run and hashed in
 * batches (Sha256.hashMany) by flush(), which the state runs before the trie needs the hashes. A
 * replaced or evicted version's slot is released only at the next flush, so a staged hash never
 * lands in a reused slot.
 *
 * Bounds: the staged bytes (limits.hashScratchBytes plus one element) and messages
 * (limits.hashBatchMessages) per batch; slots grow with the sessions (at most dedupCapacity live).
 */
import { assert } from '../lib/assert.js';
import { limits } from '../lib/limits.js';
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';
import { SESSION_ID_BYTES } from './session.js';
import type { LeafSource } from './state-trie.js';

const WORDS = SHA256_BYTES / 4;

export class SessionElements implements LeafSource {
  /** Hash of slot i at words [8i, 8i + 8). */
  private hashes = new Uint32Array(1024 * WORDS);
  /** Session id of slot i at bytes [16i, 16i + 16). */
  private ids = new Uint8Array(1024 * SESSION_ID_BYTES);
  private next = 0;
  private readonly free: number[] = [];
  private readonly released: number[] = [];

  /** Staged bytes, back to back. */
  scratch = new Uint8Array(64 * 1024);
  private used = 0;
  private readonly starts = new Uint32Array(limits.hashBatchMessages);
  private readonly ends = new Uint32Array(limits.hashBatchMessages);
  private readonly slots = new Int32Array(limits.hashBatchMessages);
  private count = 0;
  private readonly out = new Uint8Array(limits.hashBatchMessages * SHA256_BYTES);
  private readonly outWords = new Uint32Array(this.out.buffer);

  constructor(private readonly sha256: Sha256) {}

  /** Makes room for an element of at most `bytesMax` bytes; returns the offset to write it at. */
  begin(bytesMax: number): number {
    if (this.count === this.starts.length || this.used + bytesMax > limits.hashScratchBytes) this.flush();
    if (this.used + bytesMax > this.scratch.length) {
      const grown = new Uint8Array(Math.max(this.scratch.length * 2, this.used + bytesMax));
      grown.set(this.scratch.subarray(0, this.used));
      this.scratch = grown;
    }
    return this.used;
  }

  /**
   * Ends the element that now ends at `end`, whose session id is at `idAt` in the scratch; returns
   * its slot (the trie's leaf reference).
   */
  finish(end: number, idAt: number): number {
    assert(end >= this.used && end <= this.scratch.length, 'SessionElements.finish: end outside scratch');
    const slot = this.alloc();
    // Bytewise: a subarray() view per command costs more than 16 byte copies.
    const ids = this.ids;
    const scratch = this.scratch;
    const to = slot * SESSION_ID_BYTES;
    for (let i = 0; i < SESSION_ID_BYTES; i++) ids[to + i] = scratch[idAt + i]!;
    this.starts[this.count] = this.used;
    this.ends[this.count] = end;
    this.slots[this.count] = slot;
    this.count++;
    this.used = end;
    return slot;
  }

  /** Frees `slot` at the next flush (its version was replaced or evicted). */
  release(slot: number): void {
    this.released.push(slot);
  }

  /** Hashes every staged element into its slot, then frees the released slots. */
  flush(): void {
    if (this.count > 0) {
      this.sha256.hashMany(this.scratch, this.starts, this.ends, this.count, this.out);
      const hashes = this.hashes;
      const out = this.outWords;
      for (let i = 0; i < this.count; i++) {
        const target = this.slots[i]! * WORDS;
        for (let w = 0; w < WORDS; w++) hashes[target + w] = out[i * WORDS + w]!;
      }
      this.count = 0;
      this.used = 0;
    }
    for (const slot of this.released) this.free.push(slot);
    this.released.length = 0;
  }

  keyBytes(): Uint8Array {
    return this.ids;
  }

  keyStart(slot: number): number {
    return slot * SESSION_ID_BYTES;
  }

  keyLength(): number {
    return SESSION_ID_BYTES;
  }

  hashWords(): Uint32Array {
    return this.hashes;
  }

  hashWord(slot: number): number {
    return slot * WORDS;
  }

  /** A copy of slot `slot`'s hash. */
  hash(slot: number): Uint8Array {
    return new Uint8Array(this.hashes.buffer.slice(slot * SHA256_BYTES, (slot + 1) * SHA256_BYTES));
  }

  private alloc(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const slot = this.next++;
    if (slot * WORDS === this.hashes.length) {
      const hashes = new Uint32Array(this.hashes.length * 2);
      hashes.set(this.hashes);
      this.hashes = hashes;
      const ids = new Uint8Array(this.ids.length * 2);
      ids.set(this.ids);
      this.ids = ids;
    }
    return slot;
  }
}
