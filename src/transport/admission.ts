/**
 * Connection classes on a node's port and how many of each it holds (src/transport/limits.ts has
 * the table). A connection is `pending` from accept until its Hello (or peer proof) classifies it:
 *
 * - pending: at most `pendingMax`, and `pendingPerAddressMax` per source address. A new socket is
 *   always admitted; when a bound is full the OLDEST pending connection (of that address, or of
 *   all) is closed instead. Pending connections live at most a handshake timeout, so a flood of
 *   silent sockets costs a reconnecting peer a retry, never its slot.
 * - client: a ClientHello is admitted while fewer than `clientsMax` clients are open and fewer than
 *   `clientsPerAddressMax` from that address; otherwise the connection is refused.
 * - peer: never counted against clients (one slot per configured peer, kept by the server).
 *
 * Pure bookkeeping over opaque connection handles; the server closes what it is told to close.
 */

export interface AdmissionLimits {
  readonly pendingMax: number;
  readonly pendingPerAddressMax: number;
  readonly clientsMax: number;
  readonly clientsPerAddressMax: number;
}

export type ClientAdmission = 'admitted' | 'clients-full' | 'address-full';

/** Counts of one class: open handles in admission order, and per source address. */
class ClassCount<Handle> {
  /** Insertion order = admission order (oldest first). */
  readonly open = new Set<Handle>();
  readonly #byAddress = new Map<string, Set<Handle>>();

  add(handle: Handle, address: string): void {
    this.open.add(handle);
    let handles = this.#byAddress.get(address);
    if (handles === undefined) this.#byAddress.set(address, (handles = new Set()));
    handles.add(handle);
  }

  /** Returns whether `handle` was in this class. */
  delete(handle: Handle, address: string): boolean {
    if (!this.open.delete(handle)) return false;
    const handles = this.#byAddress.get(address)!;
    handles.delete(handle);
    if (handles.size === 0) this.#byAddress.delete(address);
    return true;
  }

  has(handle: Handle): boolean {
    return this.open.has(handle);
  }

  countFrom(address: string): number {
    return this.#byAddress.get(address)?.size ?? 0;
  }

  oldestFrom(address: string): Handle | undefined {
    return this.#byAddress.get(address)?.values().next().value;
  }

  oldest(): Handle | undefined {
    return this.open.values().next().value;
  }
}

export class Admission<Handle> {
  readonly limits: AdmissionLimits;
  readonly #pending = new ClassCount<Handle>();
  readonly #clients = new ClassCount<Handle>();
  readonly #addressOf = new Map<Handle, string>();

  constructor(limits: AdmissionLimits) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer, got ${value}`);
    }
    this.limits = limits;
  }

  get pendingOpen(): number {
    return this.#pending.open.size;
  }

  get clientsOpen(): number {
    return this.#clients.open.size;
  }

  /** Pending and client handles (everything not yet a peer), oldest first per class. */
  unauthenticated(): Handle[] {
    return [...this.#pending.open, ...this.#clients.open];
  }

  isClient(handle: Handle): boolean {
    return this.#clients.open.has(handle);
  }

  /**
   * Admits a freshly accepted connection as pending. Returns the pending connections to close to
   * make room (oldest of its address first, else oldest of all); never `handle` itself.
   */
  admitPending(handle: Handle, address: string): Handle[] {
    const evicted: Handle[] = [];
    const evict = (victim: Handle | undefined): void => {
      if (victim === undefined) return;
      this.forget(victim);
      evicted.push(victim);
    };
    if (this.#pending.countFrom(address) >= this.limits.pendingPerAddressMax) evict(this.#pending.oldestFrom(address));
    if (this.#pending.open.size >= this.limits.pendingMax) evict(this.#pending.oldest());
    this.#pending.add(handle, address);
    this.#addressOf.set(handle, address);
    return evicted;
  }

  /** A pending connection sent ClientHello: moves it to the client class if there is room. */
  admitClient(handle: Handle): ClientAdmission {
    const address = this.#addressOf.get(handle);
    if (address === undefined || !this.#pending.has(handle)) throw new TypeError('only a pending connection can become a client');
    if (this.#clients.open.size >= this.limits.clientsMax) return 'clients-full';
    if (this.#clients.countFrom(address) >= this.limits.clientsPerAddressMax) return 'address-full';
    this.#pending.delete(handle, address);
    this.#clients.add(handle, address);
    return 'admitted';
  }

  /** A pending connection proved it is a peer: it leaves the unauthenticated classes. */
  admitPeer(handle: Handle): void {
    this.forget(handle);
  }

  /** The connection closed (or became a peer); idempotent. */
  forget(handle: Handle): void {
    const address = this.#addressOf.get(handle);
    if (address === undefined) return;
    this.#addressOf.delete(handle);
    if (!this.#pending.delete(handle, address)) this.#clients.delete(handle, address);
  }
}
