/**
 * Rate-limited log lines about connections a server refused or closed to protect itself (floods,
 * slowloris, memory). The first event after a quiet interval is logged at once; later ones are
 * summed and logged once per interval, with counts by reason and the busiest source addresses, so
 * a flood of a million sockets costs a few lines, not a million.
 */

export type RefusalReason =
  /** A ClientHello while CLIENT_CONNECTIONS_MAX clients were open. */
  | 'clients-full'
  /** A ClientHello from an address already at CLIENT_CONNECTIONS_PER_ADDRESS_MAX. */
  | 'address-full'
  /** The oldest pending connection closed to admit a new one. */
  | 'pending-evicted'
  /** A frame not complete FRAME_DEADLINE_MS after its first byte (slowloris). */
  | 'frame-deadline'
  /** No complete frame for IDLE_TIMEOUT_MS. */
  | 'idle'
  /** Closed to bring the node's partial-frame bytes back under CLIENT_BUFFERED_BYTES_MAX. */
  | 'buffer-budget'
  /** Accepted while the server was closing. */
  | 'closing';

/** Source addresses counted per interval; the rest are summed as "other". */
const ADDRESSES_TRACKED_MAX = 64;
/** Source addresses named in one log line. */
const ADDRESSES_LOGGED_MAX = 3;

export type RefusalWriter = (message: string, fields: Record<string, unknown>) => void;

export class RefusalLog {
  readonly #intervalMs: number;
  readonly #write: RefusalWriter;
  readonly #counts = new Map<RefusalReason, number>();
  readonly #addresses = new Map<string, number>();
  #otherAddresses = 0;
  #total = 0;
  #lastLogAtMs = -Infinity;
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number, write: RefusalWriter) {
    this.#intervalMs = intervalMs;
    this.#write = write;
  }

  note(reason: RefusalReason, address: string): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
    if (this.#addresses.has(address) || this.#addresses.size < ADDRESSES_TRACKED_MAX) {
      this.#addresses.set(address, (this.#addresses.get(address) ?? 0) + 1);
    } else {
      this.#otherAddresses++;
    }
    this.#total++;
    const waitMs = this.#lastLogAtMs + this.#intervalMs - performance.now();
    if (waitMs <= 0) this.flush();
    else if (this.#timer === undefined) this.#timer = setTimeout(() => this.flush(), waitMs).unref();
  }

  /** Writes the summed events, if any, now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#total === 0) return;
    const now = performance.now();
    const sinceMs = Number.isFinite(this.#lastLogAtMs) ? now - this.#lastLogAtMs : 0;
    const reasons = Object.fromEntries([...this.#counts].sort(([, a], [, b]) => b - a));
    const busiest = [...this.#addresses].sort(([, a], [, b]) => b - a).slice(0, ADDRESSES_LOGGED_MAX);
    const sources = busiest.map(([address, count]) => `${address} (${count})`).join(', ');
    const span = sinceMs > 0 ? ` in the last ${(sinceMs / 1000).toFixed(1)} s` : '';
    this.#write(`refused or closed ${this.#total} unauthenticated connection(s)${span}: ${describe(reasons)}; busiest sources ${sources}`, {
      refused: this.#total,
      ...reasons,
      ...(this.#otherAddresses > 0 ? { otherSources: this.#otherAddresses } : {}),
    });
    this.#counts.clear();
    this.#addresses.clear();
    this.#otherAddresses = 0;
    this.#total = 0;
    this.#lastLogAtMs = now;
  }

  /** Writes what is summed and stops the timer. */
  close(): void {
    this.flush();
  }
}

function describe(reasons: Record<string, number>): string {
  return Object.entries(reasons)
    .map(([reason, count]) => `${count} ${reason}`)
    .join(', ');
}
