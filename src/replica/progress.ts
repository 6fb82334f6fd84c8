/**
 * Phase 2 progress of one leadership (etcd's tracker/progress.go and tracker/inflights.go): the
 * slots it proposed that no majority has accepted yet, who accepted each and when each was last
 * sent, and when each peer last acknowledged this leadership. It decides (a slot is chosen, these
 * accepts are due again, this many peers were heard from); the replica sends.
 */
import { assert } from '../lib/assert.js';
import type { NodeId } from '../paxos/ballot.js';
import { majority, NodeSet } from '../paxos/quorum.js';

interface InFlightSlot {
  readonly value: Uint8Array;
  /** Members that accepted this slot in this leadership's ballot; always below a majority. */
  readonly acceptedBy: NodeSet;
  /** Tick of the last (re)send to the members not in acceptedBy. */
  sentTick: number;
}

/** Accepts to send again: `value` for `slot` to each member of `to`. */
export interface Retransmit {
  readonly slot: number;
  readonly value: Uint8Array;
  readonly to: readonly NodeId[];
}

export class Progress {
  /**
   * Slots proposed without a majority yet. Bounded: new batches only while size < pipelineMax,
   * plus the slots phase 1 re-proposed (at most the slots between the chosen prefix and the
   * horizon, each one an accepted entry a promise reported).
   */
  private readonly inFlight = new Map<number, InFlightSlot>();
  /** Last tick each peer answered this leadership's ballot (accepted or heartbeat-ack). */
  private readonly lastAckTick = new Map<NodeId, number>();

  constructor(
    private readonly members: readonly NodeId[],
    private readonly self: NodeId,
  ) {}

  get size(): number {
    return this.inFlight.size;
  }

  /** The value proposed for `slot`, while it waits for a majority. */
  proposed(slot: number): Uint8Array | undefined {
    return this.inFlight.get(slot)?.value;
  }

  /** Every slot still waiting with its value (to keep them when the leadership ends). */
  waiting(): IterableIterator<[number, InFlightSlot]> {
    return this.inFlight.entries();
  }

  /** Starts tracking a proposal sent at `tick`. */
  track(slot: number, value: Uint8Array, tick: number): void {
    assert(!this.inFlight.has(slot), () => `slot ${slot} proposed twice in one leadership`);
    this.inFlight.set(slot, { value, acceptedBy: new NodeSet(), sentTick: tick });
  }

  noteAck(from: NodeId, tick: number): void {
    this.lastAckTick.set(from, tick);
  }

  /**
   * Counts `from`'s acceptance of `slot`. Returns the slot's value when this acceptance made a
   * majority (the slot is chosen and no longer tracked), else undefined.
   */
  maybeChoose(from: NodeId, slot: number, tick: number): Uint8Array | undefined {
    this.lastAckTick.set(from, tick);
    const flight = this.inFlight.get(slot);
    if (!flight || !flight.acceptedBy.add(from)) return undefined;
    if (flight.acceptedBy.size < majority(this.members.length)) return undefined;
    this.inFlight.delete(slot);
    return flight.value;
  }

  /** The lowest slot without a majority: the lowest in flight, or `nextSlot` (proposed next). */
  lowestOpen(nextSlot: number): number {
    let lowest = nextSlot;
    for (const slot of this.inFlight.keys()) if (slot < lowest) lowest = slot;
    return lowest;
  }

  /** The lowest open slot among the leadership's new ones (>= firstNewSlot), or `nextSlot`. */
  lowestFresh(firstNewSlot: number, nextSlot: number): number {
    let fresh = nextSlot;
    for (const slot of this.inFlight.keys()) if (slot >= firstNewSlot && slot < fresh) fresh = slot;
    return fresh;
  }

  /** Members heard from within `windowTicks` before `tick`, counting this node. */
  heardCount(tick: number, windowTicks: number): number {
    let heard = 1;
    for (const member of this.members) {
      if (member !== this.self && tick - (this.lastAckTick.get(member) ?? -Infinity) < windowTicks) heard++;
    }
    return heard;
  }

  /** Accepts unacknowledged for `retransmitTicks`, to send again now (marked as sent at `tick`). */
  takeRetransmits(tick: number, retransmitTicks: number): Retransmit[] {
    const due: Retransmit[] = [];
    for (const [slot, flight] of this.inFlight) {
      if (tick - flight.sentTick < retransmitTicks) continue;
      flight.sentTick = tick;
      due.push({ slot, value: flight.value, to: this.members.filter((member) => !flight.acceptedBy.has(member)) });
    }
    return due;
  }
}
