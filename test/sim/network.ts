/**
 * The simulated network: every message is an envelope with a delivery tick. Faults are data
 * (TigerBeetle's packet simulator): loss and duplication probabilities, a delay range (random
 * delays reorder messages), and partitions as a set of blocked node pairs that the fault
 * schedule changes over time. All randomness comes from the simulation's seeded PRNG.
 */
import type { Prng } from '../../src/lib/prng.js';

export type Address = { readonly kind: 'node'; readonly id: number } | { readonly kind: 'client'; readonly id: number };

export interface NetworkFaults {
  /** Probability that a message is dropped. */
  loss: number;
  /** Probability that a message is delivered twice. */
  duplicate: number;
  /** Delivery delay in ticks, uniform in [delayMin, delayMax]. */
  delayMin: number;
  delayMax: number;
}

export interface Envelope {
  readonly deliverAt: number;
  readonly sequence: number;
  readonly from: Address;
  readonly to: Address;
  readonly payload: unknown;
}

/** Messages in flight at most; beyond this the network drops (a bounded queue, like a real NIC). */
const IN_FLIGHT_MAX = 200_000;

export class SimNetwork {
  private heap: Envelope[] = [];
  private sequence = 0;
  private readonly blocked = new Set<string>();
  sent = 0;
  dropped = 0;

  constructor(
    private readonly prng: Prng,
    public faults: NetworkFaults,
  ) {}

  /** Blocks traffic between the two groups (both directions) until heal(). */
  partition(groupA: readonly number[], groupB: readonly number[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.blocked.add(`${a}>${b}`);
        this.blocked.add(`${b}>${a}`);
      }
    }
  }

  heal(): void {
    this.blocked.clear();
  }

  get partitioned(): boolean {
    return this.blocked.size > 0;
  }

  /**
   * Sends a message. `reliable` skips loss and duplication (a node's messages to itself, which
   * never touch the network).
   */
  send(now: number, from: Address, to: Address, payload: unknown, reliable = false): void {
    this.sent++;
    if (from.kind === 'node' && to.kind === 'node' && this.blocked.has(`${from.id}>${to.id}`)) {
      this.dropped++;
      return;
    }
    if (!reliable && this.prng.chance(this.faults.loss)) {
      this.dropped++;
      return;
    }
    const copies = !reliable && this.prng.chance(this.faults.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      if (this.heap.length >= IN_FLIGHT_MAX) {
        this.dropped++;
        return;
      }
      const delay = reliable ? 1 : this.prng.between(this.faults.delayMin, this.faults.delayMax);
      this.push({ deliverAt: now + delay, sequence: this.sequence++, from, to, payload });
    }
  }

  /** Removes and returns the envelopes due at or before `now`, in delivery order. */
  due(now: number): Envelope[] {
    const out: Envelope[] = [];
    while (this.heap.length > 0 && this.heap[0]!.deliverAt <= now) out.push(this.pop());
    return out;
  }

  get inFlight(): number {
    return this.heap.length;
  }

  private before(a: Envelope, b: Envelope): boolean {
    return a.deliverAt < b.deliverAt || (a.deliverAt === b.deliverAt && a.sequence < b.sequence);
  }

  private push(envelope: Envelope): void {
    const heap = this.heap;
    heap.push(envelope);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Envelope {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && this.before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && this.before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}
