/**
 * A candidate's phase 1 for one ballot: collects promises, keeps the highest-ballot accepted
 * value per slot (P2c: a leader must propose the value of the highest ballot reported), and
 * decides when a majority has fully reported.
 */
import type { Ballot, NodeId } from './ballot.js';
import type { AcceptedEntry, PromiseMessage } from './messages.js';
import { majority, NodeSet } from './quorum.js';

export interface Phase1Outcome {
  /** Every slot up to this is chosen (some acceptor holds it as a block). */
  readonly chosenThrough: number;
  /** A node that reported `chosenThrough` (to fetch those blocks from). */
  readonly chosenThroughFrom: NodeId;
  /** Slots in (chosenThrough, highestSlot] with the value to re-propose (highest ballot). */
  readonly adopted: ReadonlyMap<number, Uint8Array>;
  /** The highest slot any promise mentioned (>= chosenThrough). */
  readonly highestSlot: number;
}

export class Phase1 {
  private readonly complete = new NodeSet();
  private readonly best = new Map<number, AcceptedEntry>();
  private chosenThrough = 0;
  private chosenThroughFrom: NodeId;

  constructor(
    readonly ballot: Ballot,
    readonly fromSlot: number,
    readonly startedTick: number,
    private readonly members: readonly NodeId[],
    self: NodeId,
  ) {
    this.chosenThroughFrom = self;
    this.chosenThrough = fromSlot - 1;
  }

  /**
   * Records a promise (or a continuation page of one). Returns 'more' when the acceptor has
   * more entries to send (ask again from message.nextSlot).
   */
  onPromise(message: PromiseMessage): 'more' | 'counted' | 'ignored' {
    if (message.ballot !== this.ballot || this.complete.has(message.from) || !this.members.includes(message.from)) return 'ignored';
    if (message.chosenThrough > this.chosenThrough) {
      this.chosenThrough = message.chosenThrough;
      this.chosenThroughFrom = message.from;
    }
    for (const entry of message.accepted) {
      const current = this.best.get(entry.slot);
      if (current === undefined || entry.ballot > current.ballot) this.best.set(entry.slot, entry);
    }
    if (!message.complete) return 'more';
    this.complete.add(message.from);
    return 'counted';
  }

  get done(): boolean {
    return this.complete.size >= majority(this.members.length);
  }

  get promisedBy(): number {
    return this.complete.size;
  }

  outcome(): Phase1Outcome {
    const adopted = new Map<number, Uint8Array>();
    let highestSlot = this.chosenThrough;
    for (const [slot, entry] of this.best) {
      if (slot <= this.chosenThrough) continue;
      adopted.set(slot, entry.value);
      if (slot > highestSlot) highestSlot = slot;
    }
    return { chosenThrough: this.chosenThrough, chosenThroughFrom: this.chosenThroughFrom, adopted, highestSlot };
  }
}
