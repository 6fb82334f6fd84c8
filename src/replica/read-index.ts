/**
 * ReadIndex (Raft §6.4; etcd's read_only.go) for one leadership: reads queue until a heartbeat
 * round that started after them is acknowledged by a majority (so this node still led when they
 * arrived), then wait until the state has applied the commit index seen when the round started.
 * It decides which reads may be answered; the replica sends heartbeats and replies.
 */
import type { NodeId } from '../paxos/ballot.js';
import { majority, NodeSet } from '../paxos/quorum.js';
import type { VerifyRequest } from '../ledger/verified.js';
import type { RangeQuery } from '../kv/range.js';

export interface PendingRead {
  readonly requestId: number;
  readonly key: string;
  /** Set for a verified read (src/replica/verified-reads.ts). */
  readonly verify?: VerifyRequest;
  /** Set for a range read (src/kv/range.ts). */
  readonly range?: RangeQuery;
}

interface ReadRound {
  /** The heartbeat round number; acks carry it back. */
  readonly round: number;
  /** The commit index when the round started: its reads are answered once applied through it. */
  readonly readIndex: number;
  readonly reads: PendingRead[];
  /** Voting members that acknowledged the round, this node included; below a majority while open. */
  readonly acks: NodeSet;
}

/** What starting a round decided: nothing, a round to broadcast, or a round a majority already holds. */
export type RoundStart = { readonly kind: 'none' } | { readonly kind: 'broadcast'; readonly round: number } | { readonly kind: 'confirmed' };

export class ReadIndex {
  /** Numbers read rounds; 0 is never a read round (plain heartbeats carry 0). */
  private heartbeatRound = 0;
  /** Reads that arrived after the open round's heartbeat was sent. */
  private queued: PendingRead[] = [];
  /** Confirmed rounds, in readIndex order, waiting for the state to reach their read index. */
  private confirmed: ReadRound[] = [];
  /** At most one round open at a time. */
  private open: ReadRound | undefined;

  constructor(
    private readonly self: NodeId,
    private readonly memberCount: number,
  ) {}

  /** The open round's number, 0 if none: heartbeats repeat it so a round survives lost ones. */
  get openRound(): number {
    return this.open?.round ?? 0;
  }

  /** Reads queued or confirmed (the bound pendingReadsMax counts these). */
  get waitingCount(): number {
    return this.queued.length + this.confirmed.reduce((sum, round) => sum + round.reads.length, 0);
  }

  enqueue(read: PendingRead): void {
    this.queued.push(read);
  }

  /** Opens a round for the queued reads at `readIndex`, if reads are queued and no round is open. */
  maybeStartRound(readIndex: number): RoundStart {
    if (this.open || this.queued.length === 0) return { kind: 'none' };
    const round: ReadRound = { round: ++this.heartbeatRound, readIndex, reads: this.queued, acks: new NodeSet() };
    this.queued = [];
    this.open = round;
    round.acks.add(this.self);
    if (round.acks.size < majority(this.memberCount)) return { kind: 'broadcast', round: round.round };
    this.confirmOpen();
    return { kind: 'confirmed' };
  }

  /** Counts a voting member's ack of `round`; returns whether it confirmed the open round. */
  maybeConfirm(from: NodeId, round: number): boolean {
    const open = this.open;
    if (!open || round !== open.round || !open.acks.add(from) || open.acks.size < majority(this.memberCount)) return false;
    this.confirmOpen();
    return true;
  }

  /** Confirmed reads whose read index the state has reached (`appliedThrough`), removed. */
  takeServable(appliedThrough: number): PendingRead[] {
    const servable: PendingRead[] = [];
    while (this.confirmed.length > 0 && this.confirmed[0]!.readIndex <= appliedThrough) servable.push(...this.confirmed.shift()!.reads);
    return servable;
  }

  /** Every read held (the leadership ends and can no longer confirm them), removed. */
  takeAll(): PendingRead[] {
    const rounds = [...this.confirmed, ...(this.open ? [this.open] : [])];
    const reads = [...rounds.flatMap((round) => round.reads), ...this.queued];
    this.confirmed = [];
    this.open = undefined;
    this.queued = [];
    return reads;
  }

  private confirmOpen(): void {
    this.confirmed.push(this.open!);
    this.open = undefined;
  }
}
