/**
 * The Ready loop, written once (etcd raft's doc.go loop): turns each Ready the replica hands out
 * into an ordered plan, and tracks the one storage batch in flight. The node driver
 * (src/node/driver.ts), the simulator's node (test/sim/node.ts), the replica test harness and
 * bench-core run it; they only perform the writes and deliver the messages.
 *
 *   plan(ready)     the Ready's durable changes (acceptor state, accepted entries, blocks with
 *                   the head pointer, deletes of replaced accepted entries) join the OPEN batch;
 *                   returns the messages that may leave NOW (they claim nothing durable);
 *   nextBatch()     closes the open batch and hands it out, when no batch is in flight: group
 *                   commit, one fsync for every Ready planned while the previous write ran;
 *   batchWritten()  the batch is written (and synced, if it said so): returns the messages that
 *                   waited for it (votes, and every message to this node itself), in order.
 *
 * Safety: a promise or acceptance (mustPersistBeforeSending) and any message to oneself leave
 * only after the batch holding the vote it reports is durable. A batch needs the fsync only when
 * it holds a vote or messages wait on it; blocks alone may sit in the OS cache (a crash loses the
 * batch whole, and the accepted entries it would have replaced are still there).
 */
import { assert } from '../lib/assert.js';
import type { NodeId } from '../paxos/ballot.js';
import type { Message } from '../replica/messages.js';
import { mustPersistBeforeSending, type Ready } from '../replica/ready.js';
import { persistOps } from '../storage/acceptor-store.js';
import type { BatchOp } from '../storage/backend.js';
import type { ChainStore } from '../storage/chain-store.js';

export interface HostBatch {
  /** Applied atomically, in order (may be empty: then write nothing and call batchWritten()). */
  readonly ops: BatchOp[];
  /** Must be durable (fsync) before batchWritten(): it holds a vote or messages wait on it. */
  readonly sync: boolean;
}

export interface ReadyLoopOptions {
  readonly nodeId: NodeId;
  /**
   * TEST ONLY, the simulator's planted bug `reply-before-persist`: every message leaves at once,
   * votes included, before the batch holding them is synced. Never set in production.
   */
  readonly unsafeSendBeforeSync?: boolean;
}

export class ReadyLoop {
  /** The open batch: ops and messages of the Readys planned since the last nextBatch(). */
  private ops: BatchOp[] = [];
  private waiting: Message[] = [];
  private needsSync = false;
  /** Messages released by the batch in flight (handed out by batchWritten()). */
  private inFlight: Message[] | undefined;
  /** Reused by plan(): valid until the next plan() call (no allocation per Ready). */
  private readonly sendable: Message[] = [];

  constructor(
    private readonly store: ChainStore,
    private readonly options: ReadyLoopOptions,
  ) {}

  /** Whether nothing is open or in flight: everything planned so far has been written. */
  get idle(): boolean {
    return this.inFlight === undefined && this.ops.length === 0 && this.waiting.length === 0;
  }

  /** Whether a batch is being written (between nextBatch() and batchWritten()). */
  get writing(): boolean {
    return this.inFlight !== undefined;
  }

  /**
   * Adds `ready`'s durable changes to the open batch and moves the store's head over its blocks
   * (later Readys' blocks are prepared on top; batches are written in order). Returns the
   * messages that may be sent now; the replies may always be delivered now (a write is answered
   * once chosen, that is once a majority's acceptances were durable).
   */
  plan(ready: Ready): readonly Message[] {
    const { ops, head } = persistOps(this.store, ready);
    if (head) this.store.committed(head);
    for (let i = 0; i < ops.length; i++) this.ops.push(ops[i]!);
    // A vote, or a state sync's install (the head pointer moving past bodies it never had).
    if (ready.acceptor || ready.accepted.length > 0 || ready.install) this.needsSync = true;
    const sendable = this.sendable;
    sendable.length = 0;
    for (const message of ready.messages) {
      if (!this.options.unsafeSendBeforeSync && (mustPersistBeforeSending(message) || message.to === this.options.nodeId)) {
        this.waiting.push(message);
        this.needsSync = true;
      } else {
        sendable.push(message);
      }
    }
    return sendable;
  }

  /** The next batch to write, or undefined when one is in flight or nothing is open. */
  nextBatch(): HostBatch | undefined {
    if (this.inFlight !== undefined || (this.ops.length === 0 && this.waiting.length === 0)) return undefined;
    // No ops: what the waiting messages depend on is in the batches before, written already.
    const batch: HostBatch = { ops: this.ops, sync: this.needsSync && this.ops.length > 0 };
    this.inFlight = this.waiting;
    this.ops = [];
    this.waiting = [];
    this.needsSync = false;
    return batch;
  }

  /** The batch from nextBatch() is written (synced if it said so): the messages it releases. */
  batchWritten(): readonly Message[] {
    const released = this.inFlight;
    assert(released !== undefined, 'batchWritten: no batch in flight');
    this.inFlight = undefined;
    return released;
  }
}
