/**
 * The per-node bound on bytes of partial frames held for unauthenticated connections (pending and
 * client). Each connection reports what its decoder holds; when the total goes over the bound the
 * budget names the connections to close: the one holding the most first (ties: the one whose
 * partial frame is the oldest), until the total would be back under the bound. An honest client's
 * frame completes in milliseconds, so what piles up is a stalled sender's.
 *
 * Pure bookkeeping: the server closes the connections it is given, and their close reports 0.
 */

/** What the budget needs to know about a connection. */
export interface BufferedSource {
  /** performance.now() when the incomplete frame it holds started arriving, or -1. */
  readonly partialFrameSinceMs: number;
}

export class BufferBudget<Source extends BufferedSource> {
  readonly bytesMax: number;
  /** Connections holding more than 0 bytes, and how many. Invariant: #totalBytes = sum of values. */
  readonly #bytes = new Map<Source, number>();
  #totalBytes = 0;

  constructor(bytesMax: number) {
    if (!Number.isSafeInteger(bytesMax) || bytesMax < 1) throw new TypeError(`bytesMax must be a positive integer, got ${bytesMax}`);
    this.bytesMax = bytesMax;
  }

  /** Bytes held by all connections now. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Connections holding bytes now. */
  get holders(): number {
    return this.#bytes.size;
  }

  /**
   * Records that `source` holds `bytes` now (0 = nothing, forgets it). Returns the connections to
   * close to get back under `bytesMax` (empty if the total is within it); `source` may be one.
   */
  update(source: Source, bytes: number): Source[] {
    this.#totalBytes += bytes - (this.#bytes.get(source) ?? 0);
    if (bytes > 0) this.#bytes.set(source, bytes);
    else this.#bytes.delete(source);
    return this.#totalBytes > this.bytesMax ? this.#victims() : [];
  }

  #victims(): Source[] {
    const ranked = [...this.#bytes].sort(([a, aBytes], [b, bBytes]) => bBytes - aBytes || a.partialFrameSinceMs - b.partialFrameSinceMs);
    const victims: Source[] = [];
    let total = this.#totalBytes;
    for (const [source, bytes] of ranked) {
      if (total <= this.bytesMax) break;
      victims.push(source);
      total -= bytes;
    }
    return victims;
  }
}
