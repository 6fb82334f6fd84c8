/**
 * Rejoin of a wiped node (ARCHITECTURE §4): a learner that lost its promises with its disk may
 * vote again only after a leader whose phase 1 started after its request (and so could not count
 * it) is established, and it has caught up to that phase 1's horizon; then only for ballots at
 * least that high. Both sides live here: the learner's request and grant, the leader's
 * requesters and grants given. It decides (ask now, vote now, grant these); the replica sends.
 */
import type { Ballot, NodeId } from '../paxos/ballot.js';

/** Permission to vote for ballots >= `ballot` once the chain reaches `horizon`. */
export interface RejoinGrant {
  readonly ballot: Ballot;
  readonly horizon: number;
}

export interface RejoinTiming {
  /** Ticks from start before the first request: > 2 × prepareTimeoutTicks (see config.ts). */
  readonly rejoinDelayTicks: number;
  readonly rejoinRetryTicks: number;
}

/** What a learner's tick decided. */
export type LearnerStep = { readonly kind: 'vote'; readonly grant: RejoinGrant } | { readonly kind: 'request'; readonly nonce: number } | undefined;

/** What a leader or candidate does with a rejoin request. */
export type RequestStep = { readonly kind: 'resend'; readonly grant: RejoinGrant & { readonly nonce: number } } | { readonly kind: 'new-phase1' } | undefined;

export class Rejoin {
  private lastRequestTick = -Infinity;
  /** Learner: the highest-ballot grant received for this incarnation's nonce. */
  private grant: RejoinGrant | undefined;
  /** Leader: learners waiting for a phase 1 that started after their request (node -> nonce). */
  private readonly requesters = new Map<NodeId, number>();
  /** Leader: grants given, by node, so a repeated request of one incarnation is answered again. */
  private readonly granted = new Map<NodeId, RejoinGrant & { nonce: number }>();

  /** @param nonce this learner incarnation's random nonce (never 0) */
  constructor(
    readonly nonce: number,
    private readonly timing: RejoinTiming,
  ) {}

  /** Learner (with genesis, not voting): vote once caught up to a grant, else maybe ask `leader`. */
  tickLearner(tick: number, headHeight: number, leader: NodeId): LearnerStep {
    const grant = this.grant;
    if (grant && headHeight >= grant.horizon) {
      this.grant = undefined;
      return { kind: 'vote', grant };
    }
    // A replica is a learner from its start (its vote is only ever lost with its disk), so the
    // delay counts from tick 0.
    if (grant || tick < this.timing.rejoinDelayTicks) return undefined;
    if (tick - this.lastRequestTick < this.timing.rejoinRetryTicks || leader === 0) return undefined;
    this.lastRequestTick = tick;
    return { kind: 'request', nonce: this.nonce };
  }

  /** Leader or candidate: a learner asks. `leading`: whether this node leads (not only runs phase 1). */
  onRequest(from: NodeId, nonce: number, leading: boolean): RequestStep {
    const granted = this.granted.get(from);
    // The same incarnation asking again: its grant's phase 1 already started after its wait.
    if (granted && granted.nonce === nonce) return { kind: 'resend', grant: granted };
    if (this.requesters.has(from)) return undefined;
    this.requesters.set(from, nonce);
    // A phase 1 that starts after the request and cannot count the requester (it does not vote).
    return leading ? { kind: 'new-phase1' } : undefined;
  }

  /** Learner: a grant arrived; returns whether it is for this incarnation. */
  onGrant(nonce: number, grant: RejoinGrant): boolean {
    if (nonce !== this.nonce) return false;
    if (!this.grant || grant.ballot > this.grant.ballot) this.grant = grant;
    return true;
  }

  /** Leader: phase 1 at `ballot` completed; grants for every waiting requester, recorded. */
  takeGrants(ballot: Ballot, horizon: number): Array<{ node: NodeId; grant: RejoinGrant & { nonce: number } }> {
    const grants: Array<{ node: NodeId; grant: RejoinGrant & { nonce: number } }> = [];
    for (const [node, nonce] of this.requesters) {
      const grant = { nonce, ballot, horizon };
      this.granted.set(node, grant);
      grants.push({ node, grant });
    }
    this.requesters.clear();
    return grants;
  }
}
