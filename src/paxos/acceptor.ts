/**
 * The acceptor: the only Paxos role with durable state. Rules (Lamport, "Paxos Made Simple" §2.2,
 * with the Multi-Paxos extension of one promise for all slots from `fromSlot` on):
 *
 * - P1: promise ballot b (and report what was accepted) only if b >= promised; raise promised.
 * - P2: accept (b, slot, value) only if b >= promised; an accept raises promised to b.
 * - A non-voting acceptor (a wiped node rejoining, or one without genesis) promises and accepts
 *   nothing (ARCHITECTURE §4).
 * - Persistence before reply: every change here is recorded in `changes`; the replica hands them
 *   to the driver in the same Ready as the reply, and the driver writes them (synced) before it
 *   sends anything.
 *
 * `accepted` holds entries only for slots above the chain head: a slot at or below the head is a
 * block, which is a stronger record (chosen), so its entry is dropped when the block is appended.
 */
import { assert } from '../lib/assert.js';
import { limits } from '../lib/limits.js';
import { type Ballot, NO_BALLOT, type NodeId } from './ballot.js';
import type {
  AcceptedEntry,
  AcceptMessage,
  AcceptedMessage,
  AcceptRejectMessage,
  PrepareMessage,
  PrepareRejectMessage,
  PromiseMessage,
} from './messages.js';

export interface AcceptorDurableState {
  readonly promised: Ballot;
  readonly voting: boolean;
}

/** Durable changes not yet handed to the driver. */
export interface AcceptorChanges {
  state?: AcceptorDurableState;
  accepted: AcceptedEntry[];
}

export class Acceptor {
  private promisedBallot: Ballot;
  private votingRight: boolean;
  /** Not durable: set when this node's chain diverged; it then refuses every vote until restarted. */
  private suspended = false;
  private readonly entries = new Map<number, AcceptedEntry>();
  private changes: AcceptorChanges = { accepted: [] };

  /**
   * @param id this node
   * @param acceptAheadMax most slots above the chain head this acceptor will hold entries for;
   *   beyond that it refuses (too-far-ahead) until it has caught up: flow control for laggards
   */
  constructor(
    readonly id: NodeId,
    durable: AcceptorDurableState,
    accepted: readonly AcceptedEntry[],
    private readonly acceptAheadMax: number,
  ) {
    this.promisedBallot = durable.promised;
    this.votingRight = durable.voting;
    for (const entry of accepted) this.entries.set(entry.slot, entry);
  }

  get promised(): Ballot {
    return this.promisedBallot;
  }

  get voting(): boolean {
    return this.votingRight;
  }

  entry(slot: number): AcceptedEntry | undefined {
    return this.entries.get(slot);
  }

  /** Changes since the last call, for the driver to persist (synced) before sending replies. */
  takeChanges(): AcceptorChanges {
    const changes = this.changes;
    this.changes = { accepted: [] };
    return changes;
  }

  /**
   * Phase 1b. `chosenThrough` is this node's chain head height. `veto` is set by the replica when
   * leader stickiness applies (a live leader other than the candidate was heard recently).
   */
  onPrepare(message: PrepareMessage, chosenThrough: number, veto: { leader: NodeId } | undefined): PromiseMessage | PrepareRejectMessage {
    const reject = (reason: PrepareRejectMessage['reason'], leader: NodeId): PrepareRejectMessage => ({
      type: 'prepare-reject',
      from: this.id,
      to: message.from,
      ballot: message.ballot,
      promised: this.promisedBallot,
      reason,
      leader,
    });
    if (!this.votingRight || this.suspended) return reject('not-voting', 0);
    if (message.ballot < this.promisedBallot) return reject('promised-higher', 0);
    if (veto && message.ballot > this.promisedBallot) return reject('leader-alive', veto.leader);
    this.raisePromise(message.ballot);
    return this.promise(message, chosenThrough);
  }

  private promise(message: PrepareMessage, chosenThrough: number): PromiseMessage {
    const first = Math.max(message.fromSlot, chosenThrough + 1);
    const slots = [...this.entries.keys()].filter((slot) => slot >= first).sort((a, b) => a - b);
    const accepted: AcceptedEntry[] = [];
    let bytes = 0;
    let nextSlot = 0;
    for (const slot of slots) {
      const entry = this.entries.get(slot)!;
      if (accepted.length > 0 && (accepted.length === limits.promiseEntriesMax || bytes + entry.value.length > limits.promiseBytesMax)) {
        nextSlot = slot;
        break;
      }
      accepted.push(entry);
      bytes += entry.value.length;
    }
    return {
      type: 'promise',
      from: this.id,
      to: message.from,
      ballot: message.ballot,
      chosenThrough,
      accepted,
      complete: nextSlot === 0,
      nextSlot,
    };
  }

  /** Phase 2b. `chosenThrough` is this node's chain head height. */
  onAccept(message: AcceptMessage, chosenThrough: number): AcceptedMessage | AcceptRejectMessage {
    const reject = (reason: AcceptRejectMessage['reason']): AcceptRejectMessage => ({
      type: 'accept-reject',
      from: this.id,
      to: message.from,
      ballot: message.ballot,
      slot: message.slot,
      promised: this.promisedBallot,
      reason,
    });
    if (!this.votingRight || this.suspended) return reject('not-voting');
    if (message.ballot < this.promisedBallot) return reject('promised-higher');
    if (message.slot > chosenThrough + this.acceptAheadMax) return reject('too-far-ahead');
    this.raisePromise(message.ballot);
    // A slot at or below the head is already a block: chosen, so this value is that block's
    // body (Paxos guarantees it); the block is the durable record, nothing more to store.
    if (message.slot > chosenThrough) {
      const entry: AcceptedEntry = { slot: message.slot, ballot: message.ballot, value: message.value };
      this.entries.set(message.slot, entry);
      this.changes.accepted.push(entry);
    }
    return { type: 'accepted', from: this.id, to: message.from, ballot: message.ballot, slot: message.slot };
  }

  /**
   * Drops entries of slots that became blocks (chain head now `height`); returns the dropped
   * slots, whose stored entries the driver deletes in the batch that writes the blocks.
   */
  dropThrough(height: number): number[] {
    if (this.entries.size === 0) return [];
    const dropped: number[] = [];
    for (const slot of this.entries.keys()) {
      if (slot > height) continue;
      this.entries.delete(slot);
      dropped.push(slot);
    }
    return dropped;
  }

  /**
   * A node whose chain diverged cannot be trusted to report what is chosen: it refuses prepares
   * and accepts as 'not-voting' from now on (until the process restarts and repairs or refuses).
   */
  suspend(): void {
    this.suspended = true;
  }

  /** A wiped node regains its vote (src/replica: rejoin), promising at least `ballot`. */
  grantVote(ballot: Ballot): void {
    assert(!this.votingRight, 'grantVote on a voting acceptor');
    this.votingRight = true;
    this.promisedBallot = Math.max(this.promisedBallot, ballot);
    this.changes.state = { promised: this.promisedBallot, voting: true };
  }

  private raisePromise(ballot: Ballot): void {
    assert(ballot !== NO_BALLOT, 'promise of ballot 0');
    if (ballot > this.promisedBallot) {
      this.promisedBallot = ballot;
      this.changes.state = { promised: ballot, voting: this.votingRight };
    }
  }
}
