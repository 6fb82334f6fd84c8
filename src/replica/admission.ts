/**
 * Client admission and waiters at the leader: the bounded queue of writes not yet proposed, and
 * who waits for each command's result (a client's retries of one (session, seq) share one
 * entry). It decides (queue, wait, refuse, answer from the session) and returns the replies; the
 * replica proposes the batches it cuts.
 */
import type { MsgpackCursor } from '../lib/msgpack-cursor.js';
import { decodeBody, scanBatchBody } from '../chain/body.js';
import { type Command, commandBytes, CommandHead, type CommandTuple, decodeCommand, DUPLICATE_FLAG, readCommandHead, ResultCode } from '../kv/command.js';
import { SessionMap } from '../kv/session-map.js';
import type { Session, TxnOutput } from '../kv/state.js';
import type { NodeId } from '../paxos/ballot.js';
import type { ClientReply, ReplyError } from './ready.js';

/** Request ids waiting for one command (a client's retries of it); beyond this, OVERLOADED. */
const WAITERS_PER_COMMAND_MAX = 64;

interface QueuedWrite {
  readonly requestId: number;
  readonly command: CommandTuple;
  readonly bytes: number;
}

export interface AdmissionLimits {
  readonly pendingWritesMax: number;
  readonly pendingWriteBytesMax: number;
}

/** What admitting a write decided. `queued` and `waiting` are answered later, when applied. */
export type AdmissionDecision =
  | { readonly kind: 'queued' | 'waiting' }
  | { readonly kind: 'refused'; readonly error: ReplyError; readonly message: string }
  | { readonly kind: 'answered'; readonly result: number; readonly height: number };

type SessionLookup = (session: Uint8Array) => Readonly<Session> | undefined;

export class Admission {
  /** Writes not yet proposed, oldest first: length <= pendingWritesMax (requeued ones aside). */
  private pending: QueuedWrite[] = [];
  /** Sum of `pending[i].bytes`; <= pendingWriteBytesMax unless one write alone exceeds it. */
  private pendingBytes = 0;
  /** (session, seq) -> request ids waiting for that command (1..WAITERS_PER_COMMAND_MAX). */
  private readonly waiters: SessionMap<number[]>;
  /** Scratch for reading the session and seq of chosen commands (answer). */
  private readonly commandHead = new CommandHead();

  /** @param hashSeed seeds the waiters' index (a random one resists hash flooding). */
  constructor(
    private readonly limits: AdmissionLimits,
    hashSeed?: number,
  ) {
    this.waiters = new SessionMap(hashSeed);
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  get waiterCount(): number {
    return this.waiters.size;
  }

  /** Decides what to do with a decoded write (with a session) given that session's state. */
  admit(requestId: number, tuple: CommandTuple, command: Command, session: Readonly<Session> | undefined): AdmissionDecision {
    if (session !== undefined && command.seq <= session.seq) {
      if (command.seq === session.seq) return { kind: 'answered', result: session.result | DUPLICATE_FLAG, height: session.height };
      return { kind: 'answered', result: ResultCode.STALE, height: 0 };
    }
    const id = command.session!;
    const waiting = this.waiters.get(id, 0, command.seq);
    if (waiting) {
      // The same command is already queued or in flight (a client retry): wait for it. The same
      // request delivered twice waits once (one reply per request id; a verified write's waits
      // for its proof, and a second, plain one must not overtake it).
      if (waiting.includes(requestId)) return { kind: 'waiting' };
      if (waiting.length >= WAITERS_PER_COMMAND_MAX) {
        return { kind: 'refused', error: 'OVERLOADED', message: `more than ${WAITERS_PER_COMMAND_MAX} retries of one command waiting` };
      }
      waiting.push(requestId);
      return { kind: 'waiting' };
    }
    const bytes = commandBytes(command);
    if (this.pending.length >= this.limits.pendingWritesMax) {
      return { kind: 'refused', error: 'OVERLOADED', message: `more than ${this.limits.pendingWritesMax} writes queued` };
    }
    if (this.pendingBytes + bytes > this.limits.pendingWriteBytesMax && this.pending.length > 0) {
      return { kind: 'refused', error: 'OVERLOADED', message: `more than ${this.limits.pendingWriteBytesMax} bytes of writes queued` };
    }
    this.waiters.set(id, 0, command.seq, [requestId]);
    this.pending.push({ requestId, command: tuple, bytes });
    this.pendingBytes += bytes;
    return { kind: 'queued' };
  }

  /**
   * Cuts up to `batchesMax` batches from the front of the queue, each at most `commandsMax`
   * commands and `bytesMax` bytes (a single larger command makes a batch of its own).
   */
  takeBatches(batchesMax: number, commandsMax: number, bytesMax: number): CommandTuple[][] {
    const queue = this.pending;
    const batches: CommandTuple[][] = [];
    // Batches are cut from the front of the queue; it is shortened once, after the loop.
    let taken = 0;
    while (taken < queue.length && batches.length < batchesMax) {
      const batch: CommandTuple[] = [];
      let bytes = 0;
      while (taken < queue.length && batch.length < commandsMax) {
        const write = queue[taken]!;
        if (batch.length > 0 && bytes + write.bytes > bytesMax) break;
        batch.push(write.command);
        bytes += write.bytes;
        taken++;
      }
      this.pendingBytes -= bytes;
      batches.push(batch);
    }
    if (taken > 0) queue.splice(0, taken);
    return batches;
  }

  /**
   * Replies to the waiters of the commands of an appended block at `height`. `commandsOffset`:
   * where the body's commands start, if the caller knows (else the body is scanned for it).
   */
  answer(body: Uint8Array, results: readonly number[], height: number, sessions: SessionLookup, cursor: MsgpackCursor, commandsOffset?: number, txnOutputs: readonly TxnOutput[] = []): ClientReply[] {
    const replies: ClientReply[] = [];
    if (this.waiters.size === 0 || results.length === 0) return replies;
    let from = commandsOffset;
    if (from === undefined) {
      const scan = scanBatchBody(body, cursor);
      if (typeof scan === 'string') return replies;
      from = scan.commandsOffset;
    }
    // The ledger applied this body: one result per command.
    cursor.reset(body, from);
    const head = this.commandHead;
    for (let i = 0; i < results.length; i++) {
      const start = cursor.position;
      const hasSession = readCommandHead(cursor, head) && head.sessionStart >= 0;
      cursor.position = start;
      cursor.skipValue();
      if (!hasSession) continue;
      const waiting = this.waiters.delete(body, head.sessionStart, head.seq);
      if (!waiting) continue;
      const result = results[i]!;
      const session = (result & DUPLICATE_FLAG) !== 0 ? sessions(head.sessionId(body)) : undefined;
      const firstHeight = session ? session.height : height;
      // A txn's gets go with its first answer only (a duplicate's were not kept: only its result is).
      const txn = txnOutputs.length > 0 ? txnOutputs.find((output) => output.index === i) : undefined;
      for (const requestId of waiting) replies.push({ requestId, ok: true, kind: 'write', result, height: firstHeight, ...(txn ? { txn } : {}) });
    }
    return replies;
  }

  /** Fails every waiter and empties the queue (this node stopped leading; `leader` is the hint). */
  failAll(leader: NodeId): ClientReply[] {
    const replies: ClientReply[] = [];
    for (const waiting of this.waiters.values()) {
      for (const requestId of waiting) replies.push({ requestId, ok: false, error: 'NOT_LEADER', message: 'leader stepped down', leader });
    }
    this.waiters.clear();
    this.pending = [];
    this.pendingBytes = 0;
    return replies;
  }

  /** Queues again, at the front, the commands of a batch body that clients still wait for. */
  requeueWaiting(body: Uint8Array): void {
    const decoded = decodeBody(body);
    if (typeof decoded === 'string' || decoded.kind !== 'batch') return;
    // These commands were admitted once (the queue bounds held then, and a batch is bounded), so
    // they go back at the front whatever the queue holds now.
    const again: QueuedWrite[] = [];
    for (const tuple of decoded.commands) {
      const command = decodeCommand(tuple);
      if (typeof command === 'string' || command.session === null || !this.waiters.has(command.session, 0, command.seq)) continue;
      const bytes = commandBytes(command);
      again.push({ requestId: 0, command: tuple as CommandTuple, bytes });
      this.pendingBytes += bytes;
    }
    if (again.length > 0) this.pending = [...again, ...this.pending];
  }
}
