/**
 * The replica: Multi-Paxos (src/paxos) driving the ledger (chain + KV state). Pure and
 * deterministic: time arrives as tick(), randomness from the injected PRNG, input as step(),
 * propose() and read(), and everything to do comes out of takeReady() (see src/replica/ready.ts
 * for the order the driver must keep). The node driver (src/node) and the simulator (test/sim)
 * run this same class; only the edges differ.
 *
 * This file keeps dispatch, role changes, phase 1 and P2c, phase 2 and the commit index. Each
 * other mechanism owns its state in a file of its own and returns decisions that this file acts
 * on: progress.ts (phase 2 in flight, retransmits), read-index.ts (ReadIndex), catch-up.ts
 * (fetching blocks), heads.ts (peer heads, divergence verdict), bisect.ts (first divergent
 * height), rejoin.ts (wiped node back to voter), admission.ts (client writes and waiters).
 *
 * Roles
 * - learner: no vote (no genesis yet, or a wiped node rejoining); follows, fetches blocks.
 * - follower: votes; follows the leader it hears from.
 * - candidate: runs phase 1 for a ballot.
 * - leader: phase 1 done; proposes batches of client commands, pipelined (pipelineMax slots).
 *
 * Three indexes, one meaning each (TigerBeetle's commit_min / commit_max):
 * - appliedThrough: the head height; blocks up to it are appended and applied.
 * - commitThrough: the commit index this node announces (a leader, in accepts and heartbeats): a
 *   prefix of slots all chosen (held, or known chosen), never raised over a leader's open slot.
 * - commitMax: the highest slot this node knows to be chosen (commit indexes, peers' heads),
 *   whether or not it holds the slots below it; catch-up fetches up to it.
 *
 * Learning: a follower treats a slot as chosen when the leader's commitThrough (carried by
 * accepts and heartbeats of ballot b, as `chosenThrough`) covers it and it holds that slot's
 * value from ballot b; otherwise it fetches the block from a peer whose head is ahead.
 */
import { assert } from '../lib/assert.js';
import { bytesEqual, toHex, utf8 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { MsgpackCursor } from '../lib/msgpack-cursor.js';
import type { Prng } from '../lib/prng.js';
import { type Ballot, formatBallot, NO_BALLOT, nextBallot, type NodeId } from '../paxos/ballot.js';
import { Acceptor, type AcceptorDurableState } from '../paxos/acceptor.js';
import type {
  AcceptedEntry,
  AcceptedMessage,
  AcceptMessage,
  AcceptRejectMessage,
  PrepareMessage,
  PrepareRejectMessage,
  PromiseMessage,
} from '../paxos/messages.js';
import { Phase1 } from '../paxos/phase1.js';
import { majority, NodeSet } from '../paxos/quorum.js';
import { BODY_HASH_OFFSET, HEADER_BYTES, PREV_HASH_OFFSET, STATE_ROOT_OFFSET } from '../chain/block.js';
import { hashRecords } from '../chain/hash-batch.js';
import { encodeBatchBody } from '../chain/body.js';
import { type Command, type CommandTuple, decodeCommand } from '../kv/command.js';
import type { RangeQuery } from '../kv/range.js';
import type { TxnOutput } from '../kv/state.js';
import { Admission } from './admission.js';
import { type BisectStep, Bisection, type FirstDivergence } from './bisect.js';
import { CatchUp, genesisRefusal } from './catch-up.js';
import { StateSync, type SyncContext, type SyncResult } from './state-sync.js';
import type { ReplicaConfig } from './config.js';
import { type Comparison, type Divergence, Heads, type PeerDisagreement } from './heads.js';
import { type ChainProblem, Ledger } from '../ledger/ledger.js';
import type {
  BlocksMessage,
  ChunkMessage,
  FetchMessage,
  HashesMessage,
  HashesRequestMessage,
  HeadRef,
  HeadSignatureMessage,
  HeartbeatAckMessage,
  HeartbeatMessage,
  Message,
  ProbeMessage,
  ProbeReplyMessage,
  RejoinGrantMessage,
  RejoinRequestMessage,
  SignRequestMessage,
  StatusMessage,
} from './messages.js';
import type { HeadSigning } from './certify.js';
import { Progress } from './progress.js';
import { type Decisions, VerifiedReads } from './verified-reads.js';
import type { VerifyRequest } from '../ledger/verified.js';
import { type ClientReply, emptyReady, type EventLevel, type Ready, type ReplyError } from './ready.js';
import { ReadIndex } from './read-index.js';
import { Rejoin } from './rejoin.js';

export type Role = 'learner' | 'follower' | 'candidate' | 'leader';
export type { PeerDisagreement } from './heads.js';

export interface WriteRequest {
  /** Chosen by the driver; comes back in the reply. */
  readonly requestId: number;
  /** A command tuple (src/kv/command.ts) with a session id (derived by the node from the client's secret). */
  readonly command: CommandTuple;
  /** The same command decoded, when the caller already checked it (sealWireCommand); else decoded here. */
  readonly decoded?: Command;
  /** A verified write: answered with the written key proven at the block that applied it. */
  readonly verify?: VerifyRequest;
}

export interface ReadRequest {
  readonly requestId: number;
  readonly key: string;
  /** Answer from local state at once (labelled with its height and hash) instead of ReadIndex. */
  readonly stale: boolean;
  /** A verified read (never stale): answered with proofs at a majority-signed head. */
  readonly verify?: VerifyRequest;
  /** A range read (src/kv/range.ts): answered with one page instead of `key`'s value. */
  readonly range?: RangeQuery;
}

export interface RestoredState {
  /** The chain as replayed from disk (may have no genesis). */
  readonly ledger: Ledger;
  readonly acceptor: AcceptorDurableState;
  /** Accepted entries for slots above the head. */
  readonly accepted: readonly AcceptedEntry[];
  /** Hashes of the last blocks (up to recentHashesMax), to compare peers' heads with. */
  readonly recentHashes?: ReadonlyArray<{ readonly height: number; readonly hash: Uint8Array }>;
}

/** Leader-only state, for one ballot. Exists exactly while the role is 'leader'. */
interface Leadership {
  readonly ballot: Ballot;
  /** The next slot for a new batch; every slot in [firstNewSlot, nextSlot) was proposed. */
  nextSlot: number;
  /** The first slot this leadership used for new commands (everything below was re-proposed). */
  readonly firstNewSlot: number;
  /** Slots up to here were re-proposed from phase 1; reads wait until they are chosen. */
  readonly horizon: number;
  readonly progress: Progress;
  readonly reads: ReadIndex;
}

export class Replica {
  readonly id: NodeId;
  /** Genesis's member list once known, else the configured one. */
  private members: readonly NodeId[];
  /** Replaced once, wholesale, when a state sync installs a checkpoint (installSnapshot). */
  private ledger: Ledger;
  private readonly acceptor: Acceptor;
  private readonly cursor = new MsgpackCursor();
  private ready: Ready = emptyReady();

  private tickCount = 0;
  /** Wall clock for proposed bodies only (informational; nothing depends on it). */
  private clockMs = 0;

  /** Invariants (checkRoles): 'leader' iff leadership, 'candidate' iff phase1, 'learner' iff not voting. */
  private currentRole: Role;
  /** The leader this node follows (its own id while leading; 0 = none known). */
  private leaderId: NodeId = 0;
  private leaderBallot: Ballot = NO_BALLOT;
  private ticksSinceLeader = 0;
  /** The tick this node last heard from the leader it follows (for `leaderHeard`; inspection only). */
  private leaderHeardTick = 0;
  private electionTimeout: number;
  /** Election timeout multiplier after being preempted: 1, 2 or 4. */
  private backoff = 1;
  /** Only raised: the highest ballot seen in any message, so the next one of ours is above it. */
  private highestBallotSeen: Ballot = NO_BALLOT;
  private leaderSinceTick = 0;

  private phase1: Phase1 | undefined;
  /** A pre-vote in progress (followers only): the ballot we would run with and who would promise it. */
  private preVote: { ballot: Ballot; granted: NodeSet; startedTick: number } | undefined;
  private leadership: Leadership | undefined;
  /** Values from our previous ballot that phase 1 may need to re-propose. */
  private orphanedValues = new Map<number, Uint8Array>();

  /** Chosen values above the head (keys > appliedThrough), waiting for the slots below them. */
  private readonly chosen = new Map<number, Uint8Array>();
  /**
   * Only raised. The commit index this node announces (a leader, in accepts and heartbeats):
   * every slot up to it is chosen. A follower's is its head; a leader's walks over slots it holds
   * as chosen and slots known chosen (<= commitMax), and is never raised over an open slot of its own.
   */
  private commitThrough = 0;
  /** Only raised. The highest slot known to be chosen; >= commitThrough after advanceCommitThrough. */
  private commitMax = 0;

  private readonly heads: Heads;
  private readonly bisection = new Bisection();
  private readonly catchUp: CatchUp;
  private readonly stateSync: StateSync;
  private readonly rejoin: Rejoin;
  private readonly admission: Admission;
  private readonly verifiedReads: VerifiedReads;

  /** @param signing this member's head signing key (none: it cannot sign heads or serve verified reads) */
  constructor(
    readonly config: ReplicaConfig,
    private readonly prng: Prng,
    restored: RestoredState,
    signing?: HeadSigning,
  ) {
    this.id = config.nodeId;
    this.ledger = restored.ledger;
    this.members = this.ledger.genesis ? this.ledger.genesis.members : config.members;
    const voting = restored.acceptor.voting && this.ledger.hasGenesis;
    this.acceptor = new Acceptor(this.id, { ...restored.acceptor, voting }, restored.accepted, config.acceptAheadMax);
    this.highestBallotSeen = restored.acceptor.promised;
    this.currentRole = voting ? 'follower' : 'learner';
    this.electionTimeout = this.randomElectionTimeout();
    this.rejoin = new Rejoin(prng.nextU32() + 1, config.timing);
    this.catchUp = new CatchUp({ ...config, fetchTimeoutTicks: config.timing.fetchTimeoutTicks });
    this.stateSync = new StateSync({ chunksInFlight: config.snapshotChunksInFlight, snapshotBytesPerTick: config.snapshotBytesPerTick, requestTimeoutTicks: config.timing.fetchTimeoutTicks });
    this.admission = new Admission(config, prng.nextU32());
    this.verifiedReads = new VerifiedReads(this.id, signing, { waitingMax: config.pendingReadsMax, roundTimeoutTicks: config.timing.certifyRoundTicks });
    this.heads = new Heads(this.members, this.id, config.recentHashesMax);
    const head = this.ledger.head;
    if (head) {
      this.commitMax = head.height;
      this.commitThrough = head.height;
      for (const recent of restored.recentHashes ?? []) this.heads.recordOurs(recent.height, recent.hash);
      this.heads.recordOurs(head.height, head.hash);
    }
    this.event('info', `replica started as ${this.currentRole}`, { members: this.members, accepted: restored.accepted.length });
  }

  // ---------------------------------------------------------------------------------------------
  // Inspection

  get role(): Role {
    return this.currentRole;
  }

  get leader(): NodeId {
    return this.leaderId;
  }

  get ballot(): Ballot {
    return this.ownBallot ?? this.leaderBallot;
  }

  /** The ballot this node leads or runs phase 1 with, if it does either. */
  private get ownBallot(): Ballot | undefined {
    return this.leadership?.ballot ?? this.phase1?.ballot;
  }

  get promised(): Ballot {
    return this.acceptor.promised;
  }

  get voting(): boolean {
    return this.acceptor.voting;
  }

  /** Where a state sync is (null: none running), and how many finished and chunks were refused. */
  get syncStatus(): { phase: string; height: number | null; chunks: number | null; loaded: number; syncs: number; chunksRefused: number; chunksLoaded: number } {
    return { ...this.stateSync.progress, ...this.stateSync.stats };
  }

  get head(): HeadRef | undefined {
    return this.ledger.head;
  }

  get ticks(): number {
    return this.tickCount;
  }

  /** The highest slot this node knows to be chosen (for status). */
  get commitIndex(): number {
    return Math.max(this.commitThrough, this.commitMax);
  }

  /**
   * The leader, if this node leads or heard from it within two maximal election timeouts; else 0.
   * (`leader` keeps naming the last leader followed until another takes over.)
   */
  get leaderHeard(): NodeId {
    if (this.currentRole === 'leader') return this.id;
    return this.tickCount - this.leaderHeardTick <= 2 * this.config.timing.electionTicksMax ? this.leaderId : 0;
  }

  /** Slots this leadership proposed that have no majority yet (0 unless this node leads). */
  get proposalsInFlight(): number {
    return this.leadership?.progress.size ?? 0;
  }

  /** Client writes queued here and not yet proposed (the bounded admission queue). */
  get writesQueued(): number {
    return this.admission.pendingCount;
  }

  /** Stopped applying after a state root mismatch (see heads.ts). */
  get frozen(): boolean {
    return this.heads.frozen;
  }

  get diverged(): Divergence | undefined {
    return this.heads.divergence;
  }

  /** Where this chain first differs from the peer's named in `diverged`, once bisection found it. */
  get firstDivergence(): FirstDivergence | undefined {
    return this.bisection.found;
  }

  /** Peers whose chain differs from ours at a height both hold (each peer's last comparison). */
  get disagreeingPeers(): Array<{ peer: NodeId } & PeerDisagreement> {
    return this.heads.disagreeing;
  }

  get state(): Ledger['state'] {
    return this.ledger.state;
  }

  get memberIds(): readonly NodeId[] {
    return this.members;
  }

  /** The chain/state holder, for drivers that serve reads of old blocks or dump state. */
  get chain(): Ledger {
    return this.ledger;
  }

  peerHead(node: NodeId): HeadRef | null {
    return this.heads.peerHead(node);
  }

  /** The head height: every block up to it is appended and applied (-1 without genesis). */
  private get appliedThrough(): number {
    return this.ledger.head?.height ?? -1;
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /** Advances time by one tick. `nowMs` is the wall clock for proposed bodies (informational). */
  tick(nowMs = this.clockMs): void {
    this.tickCount++;
    this.clockMs = nowMs;
    if (this.tickCount % this.config.timing.statusTicks === 0) this.broadcastStatus();
    switch (this.currentRole) {
      case 'learner':
        this.ticksSinceLeader++;
        this.tickLearner();
        break;
      case 'follower':
        this.ticksSinceLeader++;
        this.tickFollower();
        break;
      case 'candidate':
        if (this.tickCount - this.phase1!.startedTick >= this.config.timing.prepareTimeoutTicks) {
          this.becomeFollower(`phase 1 timed out with ${this.phase1!.promisedBy} promises`, true);
        }
        break;
      case 'leader':
        this.tickLeader();
        break;
    }
    for (const reply of this.verifiedReads.tick(this.tickCount)) this.reply(reply);
    this.catchUp.tick(this.tickCount);
    if (this.stateSync.active) this.stateSync.tick(this.syncContext(), this.ledger);
    this.maybeFetch();
    this.tickBisection();
    this.checkRoles();
  }

  /** Handles a message from a peer (or from this node to itself). */
  step(message: Message): void {
    if (message.to !== this.id) return this.ignore(message, `addressed to node ${message.to}`);
    this.dispatch(message);
    this.checkRoles();
  }

  private dispatch(message: Message): void {
    assert(message.to === this.id, 'dispatch of a message addressed elsewhere');
    switch (message.type) {
      case 'prepare':
        return this.onPrepare(message);
      case 'promise':
        return this.onPromise(message);
      case 'prepare-reject':
        return this.onPrepareReject(message);
      case 'accept':
        return this.onAccept(message);
      case 'accepted':
        return this.onAccepted(message);
      case 'accept-reject':
        return this.onAcceptReject(message);
      case 'probe':
        return this.onProbe(message);
      case 'probe-reply':
        return this.onProbeReply(message);
      case 'heartbeat':
        return this.onHeartbeat(message);
      case 'heartbeat-ack':
        return this.onHeartbeatAck(message);
      case 'status':
        return this.onStatus(message);
      case 'fetch':
        return this.onFetch(message);
      case 'blocks':
        return this.onBlocks(message);
      case 'snapshot-request':
        return void this.ready.snapshotServes.push({ to: message.from, kind: 'offer' });
      case 'headers-request':
        return void this.ready.snapshotServes.push({ to: message.from, kind: 'headers', fromHeight: message.fromHeight, count: message.count });
      case 'chunk-request':
        return void this.ready.snapshotServes.push({ to: message.from, kind: 'chunk', height: message.height, index: message.index });
      case 'snapshot-offer':
        return this.ledger.hasGenesis ? this.stateSync.onOffer(this.syncContext(), this.ledger, message) : undefined;
      case 'headers':
        return this.ledger.hasGenesis ? this.stateSync.onHeaders(this.syncContext(), message) : undefined;
      case 'chunk':
        return this.onChunk(message);
      case 'rejoin-request':
        return this.onRejoinRequest(message);
      case 'rejoin-grant':
        return this.onRejoinGrant(message);
      case 'hashes-request':
        return this.onHashesRequest(message);
      case 'hashes':
        return this.onHashes(message);
      case 'sign-request':
        return this.onSignRequest(message);
      case 'head-signature':
        return this.onHeadSignature(message);
    }
  }

  /** A client write. Answered at once unless this node leads and the command is new. */
  propose(request: WriteRequest): void {
    const refusal = this.refuseClient();
    if (refusal) return this.replyError(request.requestId, refusal.error, refusal.message);
    const command = request.decoded ?? decodeCommand(request.command);
    if (typeof command === 'string' || command.session === null) {
      return this.replyError(request.requestId, 'INVALID_ARGUMENT', typeof command === 'string' ? command : 'a client write needs a session');
    }
    if (request.verify && !this.verifiedReads.trackWrite(request.requestId, command, request.verify)) {
      return this.replyError(request.requestId, 'OVERLOADED', 'too many verified writes in flight');
    }
    const decision = this.admission.admit(request.requestId, request.command, command, this.ledger.state.session(command.session));
    if (decision.kind === 'refused') {
      this.verifiedReads.untrackWrite(request.requestId);
      return this.replyError(request.requestId, decision.error, decision.message);
    }
    if (decision.kind === 'answered') this.replyWrite({ requestId: request.requestId, ok: true, kind: 'write', result: decision.result, height: decision.height });
  }

  /** A write's reply; a verified one goes out with its proof (verified-reads.ts) once a head is signed. */
  private replyWrite(reply: ClientReply): void {
    this.act(this.verifiedReads.onWriteReply(this.ledger, reply, this.tickCount));
  }

  /** A client read: linearizable (ReadIndex at the leader) or stale (local, labelled). */
  read(request: ReadRequest): void {
    // A frozen node's state ran past its head: not even a stale read may come from it.
    if (this.heads.frozen) return this.replyError(request.requestId, 'DIVERGED', 'this node is frozen after a state root mismatch; restart it');
    if (request.stale) return this.answerRead(request, true);
    const refusal = this.refuseClient();
    if (refusal) return this.replyError(request.requestId, refusal.error, refusal.message);
    const reads = this.leadership!.reads;
    if (reads.waitingCount >= this.config.pendingReadsMax) return this.replyError(request.requestId, 'OVERLOADED', 'too many reads queued');
    reads.enqueue({ requestId: request.requestId, key: request.key, verify: request.verify, range: request.range });
  }

  /** Everything to persist, send and report since the last call (see ready.ts for the order). */
  takeReady(): Ready {
    this.maybeProposeBatches();
    this.maybeStartReadRound();
    const changes = this.acceptor.takeChanges();
    const ready = this.ready;
    if (changes.state) ready.acceptor = changes.state;
    ready.accepted.push(...changes.accepted);
    ready.syncWrites = this.stateSync.takeWrites();
    this.ready = emptyReady();
    return ready;
  }

  /** The role invariants, checked at the exit of every input. */
  private checkRoles(): void {
    const role = this.currentRole;
    assert((role === 'leader') === (this.leadership !== undefined), () => `role ${role} with${this.leadership ? '' : 'out'} a leadership`);
    assert((role === 'candidate') === (this.phase1 !== undefined), () => `role ${role} with${this.phase1 ? '' : 'out'} a phase 1`);
    assert((role === 'learner') === !this.acceptor.voting, () => `role ${role} with voting=${this.acceptor.voting}`);
    assert(this.preVote === undefined || role === 'follower', () => `a pre-vote in role ${role}`);
  }

  // ---------------------------------------------------------------------------------------------
  // Roles

  private randomElectionTimeout(): number {
    const { electionTicksMin, electionTicksMax } = this.config.timing;
    return Math.round(this.prng.between(electionTicksMin, electionTicksMax) * this.backoff);
  }

  private becomeCandidate(reason: string): void {
    assert(this.acceptor.voting, 'a non-voting replica may not run for leader');
    assert(this.ledger.hasGenesis, 'a replica without genesis may not run for leader');
    const ballot = nextBallot(Math.max(this.highestBallotSeen, this.acceptor.promised, this.ballot), this.id);
    this.highestBallotSeen = ballot;
    this.endLeadership('leadership ended for a new phase 1');
    const fromSlot = this.ledger.nextHeight;
    this.phase1 = new Phase1(ballot, fromSlot, this.tickCount, this.members, this.id);
    this.preVote = undefined;
    this.currentRole = 'candidate';
    this.event('info', `starting phase 1 (${reason})`, { ballot: formatBallot(ballot), fromSlot });
    for (const member of this.members) this.send({ type: 'prepare', from: this.id, to: member, ballot, fromSlot });
    assert(this.ownBallot === ballot && ballot > this.acceptor.promised, 'a candidate runs a ballot above its own promise');
  }

  /**
   * Ends this node's leadership, if any: values still in flight are kept to be proposed again by a
   * later leadership of ours, and reads waiting on it fail.
   */
  private endLeadership(why: string): void {
    const leadership = this.leadership;
    if (!leadership) return;
    for (const [slot, flight] of leadership.progress.waiting()) this.orphanedValues.set(slot, flight.value);
    for (const read of leadership.reads.takeAll()) this.reply({ requestId: read.requestId, ok: false, error: 'NOT_LEADER', message: why, leader: 0 });
    for (const reply of this.verifiedReads.failAll(why)) this.reply(reply);
    this.leadership = undefined;
  }

  private becomeFollower(reason: string, backOff: boolean): void {
    const wasLeading = this.currentRole === 'leader' || this.currentRole === 'candidate';
    this.preVote = undefined;
    this.endLeadership(`leader stepped down: ${reason}`);
    this.phase1 = undefined;
    this.currentRole = this.acceptor.voting ? 'follower' : 'learner';
    this.backoff = backOff ? Math.min(this.backoff * 2, 4) : 1;
    this.ticksSinceLeader = 0;
    this.electionTimeout = this.randomElectionTimeout();
    if (wasLeading) {
      this.event('info', `stepped down: ${reason}`);
      const leader = this.leaderId === this.id ? 0 : this.leaderId;
      for (const reply of this.admission.failAll(leader)) this.replyWrite(reply);
    }
    assert(this.leadership === undefined && this.phase1 === undefined, 'a follower neither leads nor runs phase 1');
  }

  /** A leader or candidate whose chain cannot be trusted steps down; returns whether it did. */
  private maybeBecomeFollower(reason: string): boolean {
    if (this.currentRole !== 'leader' && this.currentRole !== 'candidate') return false;
    this.becomeFollower(reason, false);
    return true;
  }

  private becomeLeader(): void {
    const phase1 = this.phase1;
    assert(this.currentRole === 'candidate' && phase1 !== undefined && phase1.done, 'becomeLeader without a completed phase 1');
    const outcome = phase1.outcome();
    this.phase1 = undefined;
    this.currentRole = 'leader';
    this.leaderSinceTick = this.tickCount;
    this.leaderId = this.id;
    this.leaderBallot = phase1.ballot;
    this.backoff = 1;
    this.raiseCommitMax(outcome.chosenThrough);
    this.commitThrough = Math.max(this.commitThrough, outcome.chosenThrough, this.appliedThrough);
    let horizon = outcome.highestSlot;
    for (const slot of this.orphanedValues.keys()) if (slot > horizon) horizon = slot;
    // New commands go above every slot known to be chosen: such a slot may have been chosen at a
    // higher ballot this phase 1 never saw.
    const firstNewSlot = Math.max(horizon, this.commitMax, this.appliedThrough) + 1;
    this.leadership = {
      ballot: phase1.ballot,
      nextSlot: firstNewSlot,
      firstNewSlot,
      horizon,
      progress: new Progress(this.members, this.id),
      reads: new ReadIndex(this.id, this.members.length),
    };
    const reproposed = this.reproposeFromPhase1(outcome.chosenThrough, firstNewSlot, outcome.adopted);
    this.event('info', 'became leader', { ballot: formatBallot(phase1.ballot), promises: phase1.promisedBy, chosenThrough: outcome.chosenThrough, reproposed });
    this.broadcastHeartbeat(0);
    for (const { node, grant } of this.rejoin.takeGrants(phase1.ballot, horizon)) {
      this.send({ type: 'rejoin-grant', from: this.id, to: node, ...grant });
      this.event('info', 'granted rejoin', { node, ballot: formatBallot(phase1.ballot), horizon });
    }
    this.advanceCommitThrough();
    assert(this.currentRole !== 'leader' || this.leaderBallot === this.leadership?.ballot, 'a leader follows its own ballot');
  }

  /**
   * P2c: re-propose the highest-ballot value phase 1 reported for each open slot; our own
   * unconfirmed values where nobody reported one; no-ops for the holes, up to every slot known
   * to be chosen. A slot a peer's head says is chosen gets the reported value if there is one
   * (its block may be gone with a wiped node, and P2c makes that value the chosen one), else a
   * no-op: if a higher ballot chose it, the majority that promised that ballot refuses ours and
   * we fetch the block; if the peer's claim was false (a forked chain), the no-op fills it. Our
   * own values go only into slots nobody claims. Whatever is proposed, the commit index we send
   * never covers it before a majority accepted it (advanceCommitThrough). Returns the count.
   */
  private reproposeFromPhase1(chosenThrough: number, firstNewSlot: number, adopted: ReadonlyMap<number, Uint8Array>): number {
    const progress = this.leadership!.progress;
    const known = this.commitMax;
    for (let slot = chosenThrough + 1; slot < firstNewSlot; slot++) {
      if (slot <= this.appliedThrough || this.chosen.has(slot)) continue;
      const orphan = slot > known ? this.orphanedValues.get(slot) : undefined;
      this.proposeSlot(slot, adopted.get(slot) ?? orphan ?? encodeBatchBody(this.clockMs, []));
    }
    // Our own earlier proposals that lost their slot (another value adopted there, or the slot
    // turned out to be chosen already): their commands go back in the queue, so the clients
    // waiting for them get an answer. Sessions make a command that did get chosen a duplicate.
    for (const [slot, value] of this.orphanedValues) {
      const proposed = progress.proposed(slot);
      if (!proposed || !bytesEqual(proposed, value)) this.admission.requeueWaiting(value);
    }
    this.orphanedValues.clear();
    return progress.size;
  }

  private followLeader(leader: NodeId, ballot: Ballot): void {
    if (ballot > this.highestBallotSeen) this.highestBallotSeen = ballot;
    const mine = this.ownBallot;
    if (mine !== undefined && ballot > mine) this.becomeFollower(`node ${leader} leads with higher ballot ${formatBallot(ballot)}`, false);
    if (this.currentRole === 'leader' || this.currentRole === 'candidate') return;
    const changed = leader !== this.leaderId || ballot !== this.leaderBallot;
    this.leaderId = leader;
    this.leaderBallot = ballot;
    if (changed) this.event('info', 'following leader', { leader, ballot: formatBallot(ballot) });
    this.ticksSinceLeader = 0;
    this.leaderHeardTick = this.tickCount;
    this.preVote = undefined;
    // Back-off is for duelling candidates; with a leader established, the next election after
    // its failure should start at the normal timeout.
    if (this.backoff !== 1) {
      this.backoff = 1;
      this.electionTimeout = this.randomElectionTimeout();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Pre-vote

  private tickFollower(): void {
    const preVote = this.preVote;
    if (preVote) {
      if (this.tickCount - preVote.startedTick < this.config.timing.electionTicksMax) return;
      // Not enough yeses in time: wait a fresh timeout before asking again.
      this.preVote = undefined;
      this.ticksSinceLeader = 0;
      this.electionTimeout = this.randomElectionTimeout();
      return;
    }
    if (this.ticksSinceLeader < this.electionTimeout || !this.ledger.hasGenesis || this.heads.divergence || this.heads.chainOutvoted) return;
    const ballot = nextBallot(Math.max(this.highestBallotSeen, this.acceptor.promised), this.id);
    this.preVote = { ballot, granted: new NodeSet(), startedTick: this.tickCount };
    this.preVote.granted.add(this.id);
    if (this.preVote.granted.size >= majority(this.members.length)) return this.becomeCandidate('election timeout, pre-vote won');
    for (const member of this.members) if (member !== this.id) this.send({ type: 'probe', from: this.id, to: member, ballot });
  }

  /** Would we promise this ballot now? Answers without changing any state. */
  private onProbe(message: ProbeMessage): void {
    const liveLeader = this.currentRole === 'leader' || (this.leaderId !== 0 && this.leaderId !== message.from && this.ticksSinceLeader < this.config.timing.electionTicksMin);
    const granted = this.acceptor.voting && this.ledger.hasGenesis && message.ballot > this.acceptor.promised && !liveLeader;
    this.send({ type: 'probe-reply', from: this.id, to: message.from, ballot: message.ballot, granted, leader: this.currentRole === 'leader' ? this.id : this.leaderId });
  }

  private onProbeReply(message: ProbeReplyMessage): void {
    const preVote = this.preVote;
    if (!preVote || message.ballot !== preVote.ballot || this.currentRole !== 'follower') return this.ignore(message, 'no pre-vote for that ballot');
    if (message.granted && preVote.granted.add(message.from) && preVote.granted.size >= majority(this.members.length)) this.becomeCandidate('election timeout, pre-vote won');
  }

  // ---------------------------------------------------------------------------------------------
  // Phase 1

  private onPrepare(message: PrepareMessage): void {
    if (message.ballot > this.highestBallotSeen) this.highestBallotSeen = message.ballot;
    const reply = this.acceptor.onPrepare(message, this.appliedThrough, this.stickinessVeto(message.from));
    this.send(reply);
    if (reply.type === 'promise' && message.from !== this.id) {
      const mine = this.ownBallot;
      if (mine !== undefined && message.ballot > mine) this.becomeFollower(`promised ${formatBallot(message.ballot)} to node ${message.from}`, true);
      this.leaderId = 0;
    }
  }

  /** Leader stickiness: refuse a rival while a live leader was heard from recently. */
  private stickinessVeto(candidate: NodeId): { leader: NodeId } | undefined {
    if (candidate === this.id) return undefined;
    if (this.currentRole === 'leader') return { leader: this.id };
    const liveLeader = this.leaderId !== 0 && this.leaderId !== candidate && this.ticksSinceLeader < this.config.timing.electionTicksMin;
    return liveLeader ? { leader: this.leaderId } : undefined;
  }

  private onPromise(message: PromiseMessage): void {
    const phase1 = this.phase1;
    if (this.currentRole !== 'candidate' || !phase1) return this.ignore(message, `not a candidate (${this.currentRole})`);
    // A peer whose chain differs from ours does not count towards our quorum: its head would
    // claim its own blocks as chosen.
    if (this.heads.disagrees(message.from)) return this.ignore(message, 'the sender\'s chain differs from ours');
    this.heads.noteHeight(message.from, message.chosenThrough);
    const outcome = phase1.onPromise(message);
    if (outcome === 'more') {
      this.send({ type: 'prepare', from: this.id, to: message.from, ballot: phase1.ballot, fromSlot: message.nextSlot });
    } else if (outcome === 'counted' && phase1.done) {
      this.becomeLeader();
    }
  }

  private onPrepareReject(message: PrepareRejectMessage): void {
    if (message.promised > this.highestBallotSeen) this.highestBallotSeen = message.promised;
    if (this.currentRole !== 'candidate' || this.phase1?.ballot !== message.ballot) return this.ignore(message, 'not running phase 1 with that ballot');
    if (message.reason === 'promised-higher') {
      this.becomeFollower(`node ${message.from} promised ${formatBallot(message.promised)}`, true);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Phase 2 and the commit index

  private proposeSlot(slot: number, value: Uint8Array): void {
    this.leadership!.progress.track(slot, value, this.tickCount);
    for (const member of this.members) this.sendAccept(member, slot, value);
  }

  private sendAccept(to: NodeId, slot: number, value: Uint8Array): void {
    const leadership = this.leadership!;
    this.send({ type: 'accept', from: this.id, to, ballot: leadership.ballot, slot, value, chosenThrough: this.commitThrough });
  }

  private onAccept(message: AcceptMessage): void {
    if (this.heads.divergence) {
      // A diverged node neither follows nor learns from anyone; its acceptor refuses the accept.
      this.send(this.acceptor.onAccept(message, this.appliedThrough));
      return;
    }
    const current = this.acceptor.voting ? message.ballot >= this.acceptor.promised : message.ballot >= this.leaderBallot;
    if (current) this.followLeader(message.from, message.ballot);
    const reply = this.acceptor.onAccept(message, this.appliedThrough);
    this.send(reply);
    if (current) this.learnCommit(message.ballot, message.chosenThrough);
  }

  private onAccepted(message: AcceptedMessage): void {
    const leadership = this.leadership;
    if (!leadership || message.ballot !== leadership.ballot) return this.ignore(message, 'not leading with that ballot');
    assert(this.currentRole === 'leader' && this.leaderBallot === leadership.ballot, 'a leadership outside the leader role');
    const value = leadership.progress.maybeChoose(message.from, message.slot, this.tickCount);
    if (value === undefined) return;
    if (message.slot > this.appliedThrough) this.chosen.set(message.slot, value);
    this.advanceCommitThrough();
  }

  private onAcceptReject(message: AcceptRejectMessage): void {
    if (message.promised > this.highestBallotSeen) this.highestBallotSeen = message.promised;
    const leadership = this.leadership;
    if (!leadership || message.ballot !== leadership.ballot) return this.ignore(message, 'not leading with that ballot');
    if (message.reason === 'promised-higher' && message.promised > leadership.ballot) {
      this.becomeFollower(`node ${message.from} promised ${formatBallot(message.promised)}`, true);
    }
  }

  /**
   * Moves commitThrough over every contiguously chosen slot, then appends. A leader's is what
   * followers take as "your entry of my ballot here is the chosen value", so it never covers a
   * slot this leadership proposed and has not seen a majority accept.
   */
  private advanceCommitThrough(): void {
    const before = this.commitThrough;
    let through = Math.max(this.commitThrough, this.appliedThrough);
    while (this.chosen.has(through + 1) || through + 1 <= this.commitMax) through++;
    const leadership = this.leadership;
    const open = leadership?.progress.lowestOpen(leadership.nextSlot);
    if (open !== undefined && through >= open) through = open - 1;
    if (through > this.commitThrough) this.commitThrough = through;
    if (through > this.commitMax) this.commitMax = through;
    assert(this.commitThrough >= before && this.commitThrough <= this.commitMax, () => `commitThrough ${before} -> ${this.commitThrough}, commitMax ${this.commitMax}`);
    // Never raised over a slot of this leadership without a majority. (It may already cover a slot
    // a new leadership re-proposes below an index it inherited: that slot was known chosen before
    // phase 1, so P2c made the re-proposed value the chosen one.)
    if (open !== undefined && this.commitThrough > before) assert(this.commitThrough < open, () => `commitThrough raised from ${before} to ${this.commitThrough}, over open slot ${open}`);
    this.appendChosen();
  }

  /** Follower: the leader of `ballot` says every slot up to `through` is chosen. */
  private learnCommit(ballot: Ballot, through: number): void {
    assert(ballot <= this.highestBallotSeen, 'learning a commit index of a ballot never seen');
    this.raiseCommitMax(through);
    // Only a value accepted in the same ballot is known to be the chosen one. Contiguous from the
    // head: anything after a gap is looked at again once a fetch has filled the gap.
    for (let slot = this.appliedThrough + 1; slot <= through; slot++) {
      if (this.chosen.has(slot)) continue;
      const entry = this.acceptor.entry(slot);
      if (!entry || entry.ballot !== ballot) break;
      this.chosen.set(slot, entry.value);
    }
    this.appendChosen();
  }

  /** Raises commitMax to `through`; a leader that learns a slot of its own was chosen elsewhere steps down. */
  private raiseCommitMax(through: number): void {
    if (through <= this.commitMax) return;
    this.commitMax = through;
    // A leader tells followers a slot of its own is chosen only once it is, so a peer holding a
    // new slot of this leadership (or one it has yet to use) got it from another, higher ballot.
    const leadership = this.currentRole === 'leader' ? this.leadership : undefined;
    if (!leadership) return;
    const fresh = leadership.progress.lowestFresh(leadership.firstNewSlot, leadership.nextSlot);
    if (through >= fresh) this.becomeFollower(`slot ${fresh} was chosen without this leadership: a higher ballot leads`, true);
  }

  /** Appends every chosen value that extends the head, in order. */
  private appendChosen(): void {
    if (!this.ledger.hasGenesis || this.heads.frozen) return;
    for (;;) {
      const slot = this.appliedThrough + 1;
      const value = this.chosen.get(slot);
      if (value === undefined) break;
      this.chosen.delete(slot);
      if (this.config.changeEvents) this.ledger.state.enableChangeLog();
      const block = this.ledger.append(value);
      this.afterAppend(block.ref.height, block.ref.hash, block.record, value, block.results, block.commandsOffset, block.txnOutputs);
    }
    this.serveConfirmedReads();
  }

  /** `commandsOffset`: where the body's commands start, if the caller knows (else it is scanned for). */
  private afterAppend(height: number, hash: Uint8Array, record: Uint8Array, body: Uint8Array, results: readonly number[], commandsOffset?: number, txnOutputs?: readonly TxnOutput[]): void {
    assert(height === this.appliedThrough, () => `appended block ${height} is not the head ${this.appliedThrough}`);
    this.ready.blocks.push(record);
    this.ready.blockHashes.push(hash);
    if (this.config.changeEvents && height > 0) this.ready.changes.push({ height, changes: this.ledger.state.takeChanges() });
    const dropped = this.acceptor.dropThrough(height);
    if (dropped.length > 0) this.ready.droppedAccepted.push(...dropped);
    this.heads.recordOurs(height, hash);
    if (height > this.commitThrough && this.currentRole !== 'leader') this.commitThrough = height;
    // A leader that appends (fetched) another value than the one it proposed for that slot has
    // met a higher ballot's choice: P2c would have made ours equal to any lower ballot's.
    const proposed = this.leadership?.progress.proposed(height);
    if (proposed && !bytesEqual(proposed, body)) {
      this.becomeFollower(`block ${height} holds another value than this leadership proposed: a higher ballot chose it`, true);
    }
    if (this.admission.waiterCount > 0 && results.length > 0) {
      const sessions = (session: Uint8Array) => this.ledger.state.session(session);
      for (const reply of this.admission.answer(body, results, height, sessions, this.cursor, commandsOffset, txnOutputs)) this.replyWrite(reply);
    }
    for (const message of this.verifiedReads.afterAppend(this.ledger)) this.send(message);
  }

  // ---------------------------------------------------------------------------------------------
  // Leader duties

  private tickLeader(): void {
    const leadership = this.leadership;
    assert(leadership !== undefined && this.leaderId === this.id, 'tickLeader without a leadership');
    const { heartbeatTicks, checkQuorumTicks, retransmitTicks } = this.config.timing;
    // Heartbeats repeat the open read round, so a round whose first heartbeats were lost still
    // completes once a majority hears one.
    if (this.tickCount % heartbeatTicks === 0) this.broadcastHeartbeat(leadership.reads.openRound);
    const heard = leadership.progress.heardCount(this.tickCount, checkQuorumTicks);
    if (heard < majority(this.members.length) && this.tickCount - this.leaderSinceTick > checkQuorumTicks) {
      this.becomeFollower(`no majority heard for ${checkQuorumTicks} ticks`, false);
      return;
    }
    for (const due of leadership.progress.takeRetransmits(this.tickCount, retransmitTicks)) {
      for (const member of due.to) this.sendAccept(member, due.slot, due.value);
    }
  }

  private broadcastHeartbeat(round: number): void {
    const leadership = this.leadership!;
    const head = this.headRef();
    for (const member of this.members) {
      if (member === this.id) continue;
      this.send({ type: 'heartbeat', from: this.id, to: member, ballot: leadership.ballot, chosenThrough: this.commitThrough, head, round });
    }
  }

  private headRef(): HeadRef {
    const head = this.ledger.head;
    return head ? { height: head.height, hash: head.hash } : { height: 0, hash: new Uint8Array(32) };
  }

  /** Proposes batches cut from the admission queue while the pipeline has room; returns whether it did. */
  private maybeProposeBatches(): boolean {
    const leadership = this.leadership;
    if (!leadership || this.currentRole !== 'leader' || this.admission.pendingCount === 0) return false;
    const room = this.config.pipelineMax - leadership.progress.size;
    const batches = this.admission.takeBatches(room, this.config.batchCommandsMax, this.config.batchBytesMax);
    for (const batch of batches) this.proposeSlot(leadership.nextSlot++, encodeBatchBody(this.clockMs, batch));
    return batches.length > 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Heartbeats, status, heads

  private onHeartbeat(message: HeartbeatMessage): void {
    if (message.ballot < this.acceptor.promised && this.acceptor.voting) {
      // A deposed leader: tell it what we promised so it steps down.
      this.send(this.statusFor(message.from));
      return;
    }
    this.followLeader(message.from, message.ballot);
    this.notePeerHead(message.from, message.head);
    this.learnCommit(message.ballot, message.chosenThrough);
    const head = this.ledger.head;
    this.send({
      type: 'heartbeat-ack',
      from: this.id,
      to: message.from,
      ballot: message.ballot,
      round: message.round,
      head: head ? { height: head.height, hash: head.hash } : null,
      voting: this.acceptor.voting,
    });
    this.maybeFetch();
  }

  private onHeartbeatAck(message: HeartbeatAckMessage): void {
    if (message.head) this.notePeerHead(message.from, message.head);
    const leadership = this.leadership;
    if (!leadership || message.ballot !== leadership.ballot) return this.ignore(message, 'not leading with that ballot');
    // A learner acks any ballot whatever it promised before it lost its disk: its acks confirm nothing.
    if (!message.voting) return;
    leadership.progress.noteAck(message.from, this.tickCount);
    if (leadership.reads.maybeConfirm(message.from, message.round)) this.serveConfirmedReads();
  }

  private onStatus(message: StatusMessage): void {
    this.heads.noteStatus(message.from, message.voting, message.genesis);
    if (message.head) this.notePeerHead(message.from, message.head);
    if (message.promised > this.highestBallotSeen) this.highestBallotSeen = message.promised;
    // Deposed (as leader) or outbid (as candidate): a voter promised a higher ballot than ours
    // and follows another leader. (A mere candidate's own promise is not enough: that is what
    // pre-vote and stickiness keep from disrupting us.)
    const own = this.ownBallot;
    if (own !== undefined && message.promised > own && message.voting && message.leader !== 0 && message.leader !== this.id) {
      this.becomeFollower(`node ${message.from} promised ${formatBallot(message.promised)} and follows node ${message.leader}`, true);
    } else if (this.currentRole === 'leader' && own !== undefined && message.promised > own && message.voting) {
      // A voter that follows us (or nobody) but promised above our ballot: its own candidacy that
      // lost the race to ours. It refuses our accepts and heartbeats for good, and with no other
      // leader to outbid us nothing else would ever lift it: run phase 1 again above its promise.
      this.event('info', 'new phase 1 above a follower\'s higher promise', { node: message.from, promised: formatBallot(message.promised) });
      this.becomeCandidate(`node ${message.from} promised ${formatBallot(message.promised)}, above our ballot`);
    }
    if (this.leaderId === 0 && message.leader !== 0 && message.leader !== this.id) this.leaderId = message.leader;
    this.maybeFetch();
  }

  private statusFor(to: NodeId): StatusMessage {
    const head = this.ledger.head;
    return {
      type: 'status',
      from: this.id,
      to,
      promised: this.acceptor.promised,
      leader: this.leaderId,
      voting: this.acceptor.voting,
      head: head ? { height: head.height, hash: head.hash } : null,
      genesis: this.ledger.genesisHash ?? null,
    };
  }

  private broadcastStatus(): void {
    for (const member of this.members) if (member !== this.id) this.send(this.statusFor(member));
  }

  /** Records a peer's head (heads.ts compares it with ours); an agreeing peer's head is chosen. */
  private notePeerHead(node: NodeId, head: HeadRef): void {
    const noted = this.heads.notePeerHead(node, head, this.members.length);
    this.actOnComparison(node, noted);
    if (noted.evidence) this.raiseCommitMax(head.height);
  }

  /** Raises the alarm for a new disagreement; on a verdict, stops voting and stands down. */
  private actOnComparison(node: NodeId, comparison: Comparison): void {
    if (comparison.alarm) this.event('error', `node ${node} holds another block at height ${comparison.alarm.height}`, { peer: node, ...comparison.alarm });
    const verdict = comparison.verdict;
    if (!verdict) return;
    this.acceptor.suspend();
    this.event('error', 'DIVERGENCE: a majority holds other blocks than ours; refusing writes and votes', { ...verdict });
    this.maybeBecomeFollower('this chain diverged from the majority');
  }

  // ---------------------------------------------------------------------------------------------
  // Divergence bisection (bisect.ts decides; peers' hosts and our own answer from disk)

  private tickBisection(): void {
    const divergence = this.heads.divergence;
    if (!divergence) return;
    this.actOnBisection(this.bisection.maybeStart(divergence.peer, divergence.height, this.tickCount));
    this.actOnBisection(this.bisection.tick(this.tickCount, this.config.timing.fetchTimeoutTicks));
  }

  private actOnBisection(step: BisectStep): void {
    if (!step) return;
    switch (step.kind) {
      case 'ask':
        // The same heights from our own store and the peer's; answers come back as `hashes`.
        this.ready.hashServes.push({ to: this.id, heights: step.heights });
        this.send({ type: 'hashes-request', from: this.id, to: step.peer, heights: step.heights });
        return;
      case 'found':
        this.event('error', `DIVERGENCE: first divergent height ${step.first.height} with node ${step.first.peer}`, { ...step.first });
        return;
      case 'gave-up':
        this.event('warn', `bisecting the divergence with node ${this.heads.divergence?.peer} failed: ${step.reason}`);
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Signed heads (src/replica/verified-reads.ts)

  private onSignRequest(message: SignRequestMessage): void {
    const outcome = this.verifiedReads.onSignRequest(this.ledger, message);
    if (outcome.ignored) return this.ignore(message, outcome.ignored);
    for (const sent of outcome.messages) this.send(sent);
  }

  private onHeadSignature(message: HeadSignatureMessage): void {
    const outcome = this.verifiedReads.onSignature(this.ledger, message, this.tickCount);
    if (outcome.ignored) return this.ignore(message, outcome.ignored);
    this.act(outcome);
  }

  private act(decisions: Decisions): void {
    if (decisions.certificate) this.ready.certificate = decisions.certificate;
    for (const message of decisions.messages) this.send(message);
    for (const reply of decisions.replies) this.reply(reply);
  }

  private onHashesRequest(message: HashesRequestMessage): void {
    this.ready.hashServes.push({ to: message.from, heights: message.heights });
  }

  private onHashes(message: HashesMessage): void {
    if (!this.bisection.searching) return this.ignore(message, 'no bisection in progress');
    this.actOnBisection(this.bisection.onHashes(message.from, this.id, message.heights, message.hashes, this.tickCount));
  }

  // ---------------------------------------------------------------------------------------------
  // Catch-up (catch-up.ts decides which ranges, from whom; here they are verified and appended)

  /** Asks peers ahead for missing blocks, applying kept replies first; returns whether it asked. */
  private maybeFetch(): boolean {
    // While a state sync runs the blocks it will skip are not fetched (their bodies are pruned).
    if (this.heads.frozen || this.stateSync.active) return false;
    if (this.catchUp.aheadCount > 0 && this.ledger.hasGenesis) {
      this.drainFetchedAhead();
      this.appendChosen();
    }
    if (!this.ledger.hasGenesis) {
      if (this.catchUp.inFlightCount > 0 || this.agreedGenesis() === undefined) return false;
      const peer = this.pickFetchPeer(0);
      if (peer === undefined) return false;
      this.requestBlocks(peer, 0);
      return true;
    }
    let asked = false;
    while (this.catchUp.canRequest) {
      const next = this.catchUp.nextUnrequestedHeight(this.ledger.nextHeight);
      if (next > this.commitMax) break;
      const peer = this.pickFetchPeer(next);
      if (peer === undefined) break;
      this.requestBlocks(peer, next);
      asked = true;
    }
    return asked;
  }

  private requestBlocks(peer: NodeId, fromHeight: number): void {
    const count = this.catchUp.recordRequest(peer, fromHeight, this.tickCount);
    this.send({ type: 'fetch', from: this.id, to: peer, fromHeight, maxBlocks: count });
  }

  private pickFetchPeer(next: number): NodeId | undefined {
    const candidates = this.heads.holdersOf(next, (node) => this.catchUp.isAvoided(node, this.tickCount));
    if (candidates.length === 0) {
      if (this.ledger.hasGenesis) return undefined;
      // A fresh learner: ask a peer that has the agreed genesis.
      const agreed = this.agreedGenesis();
      const holders = agreed ? this.heads.genesisHolders(agreed) : [];
      return holders.length > 0 ? this.prng.pick(holders) : undefined;
    }
    return this.catchUp.pickPeer(candidates, this.leaderId, this.prng);
  }

  private onFetch(message: FetchMessage): void {
    this.ready.serves.push({ to: message.from, fromHeight: message.fromHeight, maxBlocks: Math.min(message.maxBlocks, limits.fetchBlocksMax) });
  }

  private onBlocks(message: BlocksMessage): void {
    if (message.head) this.notePeerHead(message.from, message.head);
    if (this.heads.frozen) return this.ignore(message, 'frozen after a state root mismatch');
    if (message.records.length === 0 && message.oldestBody !== undefined && message.oldestBody > this.ledger.nextHeight && this.ledger.hasGenesis) {
      // The peer pruned the bodies we need next: load a checkpoint instead (state-sync.ts).
      this.catchUp.onBlocks(message, this.ledger.nextHeight);
      this.stateSync.begin(this.syncContext(), this.members, `node ${message.from} keeps bodies only from ${message.oldestBody}, we need ${this.ledger.nextHeight}`);
      return;
    }
    const verdict = this.catchUp.onBlocks(message, this.ledger.nextHeight);
    if (verdict === 'dropped') this.ignore(message, 'ahead of the chain and no room to keep it');
    if (verdict === 'apply') {
      this.applyFetched(message);
      this.appendChosen();
    }
    this.maybeFetch();
  }

  /**
   * Applies replies kept from ahead once the chain has reached them, whichever way it got there
   * (an earlier range, or chosen slots learned from the leader).
   */
  private drainFetchedAhead(): void {
    for (let step = 0; step < this.config.fetchPipelineMax && this.catchUp.aheadCount > 0; step++) {
      const ahead = this.catchUp.takeAhead(this.ledger.nextHeight);
      if (!ahead) break;
      this.applyFetched(ahead);
    }
  }

  /** Verifies and appends the blocks of a reply that starts at or below the next height. */
  private applyFetched(message: BlocksMessage): void {
    const skip = this.ledger.nextHeight - message.fromHeight;
    assert(skip >= 0, () => `applying blocks from ${message.fromHeight} above the next height ${this.ledger.nextHeight}`);
    if (skip >= message.records.length) return;
    const records = skip === 0 ? message.records : message.records.slice(skip);
    let height = this.ledger.nextHeight;
    // Every fetched block is checked like a stored one (link, body hash, state root) before it
    // is appended; header and body hashes of the whole reply are computed in two batch calls.
    const hashes = hashRecords(this.ledger.sha256, records);
    const precomputed = { blockHashes: hashes.blockHashes, bodyHashes: hashes.bodyHashes, index: 0 };
    for (const [index, record] of records.entries()) {
      if (height === 0 && !this.acceptableGenesis(record, message.from)) break;
      precomputed.index = index;
      if (this.config.changeEvents && this.ledger.hasGenesis) this.ledger.state.enableChangeLog();
      const outcome = this.ledger.replay(height, record, precomputed);
      if ('problem' in outcome) {
        this.ledger.state.takeChanges();
        this.rejectFetched(message.from, height, record, outcome.problem);
        break;
      }
      if (height === 0) {
        this.members = this.ledger.genesis!.members;
        this.event('info', 'learned genesis', { cluster: this.ledger.genesis!.clusterId, from: message.from });
      }
      const head = this.ledger.head!;
      this.chosen.delete(height);
      this.afterAppend(height, head.hash, record, record.subarray(HEADER_BYTES), outcome.results);
      height++;
    }
  }

  /**
   * A fetched block failed verification. A broken link at our next height means the peer's
   * chain forks from ours below it; a state root mismatch means our execution of the peer's
   * block disagrees with its header: both are divergence. Anything else is a bad reply.
   */
  private rejectFetched(from: NodeId, height: number, record: Uint8Array, problem: ChainProblem): void {
    this.catchUp.avoid(from, this.tickCount);
    this.event('warn', `block ${height} from node ${from} failed verification: ${problem.reason}`, { ...problem });
    const head = this.ledger.head;
    if (problem.reason === 'PREV_HASH_MISMATCH' && head) {
      // The peer's block at head+1 names another block at our head height as its parent.
      this.actOnComparison(from, this.heads.compare(from, head.height, head.hash, record.subarray(PREV_HASH_OFFSET, BODY_HASH_OFFSET), this.members.length));
    }
    if (problem.reason === 'STATE_ROOT_MISMATCH') {
      const divergence = this.heads.freeze(height, from, toHex(record.subarray(STATE_ROOT_OFFSET, HEADER_BYTES)));
      this.acceptor.suspend();
      this.event('error', 'DIVERGENCE: executing a peer\'s block gives another state root; no more appends until restarted', { ...divergence });
      this.maybeBecomeFollower('frozen after a state root mismatch');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // State sync (state-sync.ts fetches and checks; here the result is installed)

  private syncContext(): SyncContext {
    return {
      self: this.id,
      tick: this.tickCount,
      leader: this.leaderId,
      genesisRecord: this.ledger.genesisRecord!,
      stateOptions: this.ledger.stateOptions,
      send: (message) => this.send(message),
      event: (level, message, fields) => this.event(level, message, fields),
    };
  }

  private onChunk(message: ChunkMessage): void {
    if (!this.ledger.hasGenesis || this.heads.frozen) return;
    const result = this.stateSync.onChunk(this.syncContext(), this.ledger, message);
    if (result) this.installSnapshot(result);
  }

  /**
   * The chain goes on from the checkpoint a state sync loaded: as if blocks head+1 .. H had been
   * appended (their accepted entries dropped, the commit index past them), without their bodies.
   */
  private installSnapshot(result: SyncResult): void {
    const height = result.install.height;
    // The chain got there by blocks meanwhile (a peer that still had them): nothing to install.
    if (height <= this.appliedThrough) return this.event('info', `state sync: the chain reached ${this.appliedThrough} by blocks meanwhile; the checkpoint at ${height} is not needed`);
    // The offer is a member's word that block H is chosen, trusted as Paxos trusts a member's
    // promise (authenticated members, crash faults); everything it sent was checked: the header
    // links up to H, every chunk's proof, the state root. So, like appending blocks up to H, the
    // install drops the accepted entries up to H and keeps the vote (giving it up here would let
    // two lagging nodes of three leave the cluster without a voting majority).
    this.ledger = result.ledger;
    if (this.config.changeEvents) this.ready.changesReset = height;
    // Blocks this Ready appended before it are written first, those after it on top of it.
    this.ready.install = { ...result.install, blocksBefore: this.ready.blocks.length };
    const dropped = this.acceptor.dropThrough(height);
    if (dropped.length > 0) this.ready.droppedAccepted.push(...dropped);
    for (const slot of [...this.chosen.keys()]) if (slot <= height) this.chosen.delete(slot);
    this.heads.recordOurs(height, result.install.blockHash);
    if (height > this.commitThrough && this.currentRole !== 'leader') this.commitThrough = height;
    if (height > this.commitMax) this.commitMax = height;
    this.event('info', `state sync: the chain goes on from the checkpoint at height ${height}; fetching the blocks after it`, { height });
    for (const message of this.verifiedReads.afterAppend(this.ledger)) this.send(message);
    this.appendChosen();
    this.maybeFetch();
  }

  private agreedGenesis(): Uint8Array | undefined {
    return this.heads.agreedGenesis(this.config.genesisHash, this.members.length);
  }

  /** A learner without genesis adopts the cluster's genesis only if it is the one it expects. */
  private acceptableGenesis(record: Uint8Array, from: NodeId): boolean {
    const agreed = this.agreedGenesis();
    const problem = genesisRefusal(record, agreed && { agreed, hash: this.ledger.blockHash(record) }, this.config.clusterId, this.id);
    if (problem === undefined) return true;
    this.catchUp.avoid(from, this.tickCount);
    this.event('error', `refusing genesis from node ${from}: ${problem}`);
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Wiped node: learner -> voter (rejoin.ts decides)

  private tickLearner(): void {
    if (!this.ledger.hasGenesis || this.acceptor.voting) return;
    const step = this.rejoin.tickLearner(this.tickCount, this.appliedThrough, this.leaderId);
    if (step?.kind === 'request') {
      this.send({ type: 'rejoin-request', from: this.id, to: this.leaderId, nonce: step.nonce });
    } else if (step?.kind === 'vote') {
      this.acceptor.grantVote(step.grant.ballot);
      this.event('info', 'rejoined as a voter', { ballot: formatBallot(step.grant.ballot), horizon: step.grant.horizon });
      this.currentRole = 'follower';
      this.ticksSinceLeader = 0;
    }
  }

  private onRejoinRequest(message: RejoinRequestMessage): void {
    if (this.currentRole !== 'leader' && this.currentRole !== 'candidate') return this.ignore(message, `not leading (${this.currentRole})`);
    const step = this.rejoin.onRequest(message.from, message.nonce, this.currentRole === 'leader');
    if (step?.kind === 'resend') {
      this.send({ type: 'rejoin-grant', from: this.id, to: message.from, ...step.grant });
    } else if (step?.kind === 'new-phase1') {
      this.event('info', 'new phase 1 so that a wiped node can rejoin', { node: message.from });
      this.becomeCandidate(`rejoin of node ${message.from}`);
    }
  }

  private onRejoinGrant(message: RejoinGrantMessage): void {
    if (this.acceptor.voting) return this.ignore(message, 'already voting');
    if (!this.rejoin.onGrant(message.nonce, { ballot: message.ballot, horizon: message.horizon })) return this.ignore(message, 'for another incarnation');
    this.followLeader(message.from, message.ballot);
  }

  // ---------------------------------------------------------------------------------------------
  // Clients (admission.ts holds the queue and the waiters)

  private refuseClient(): { error: ReplyError; message: string } | undefined {
    const divergence = this.heads.divergence;
    if (divergence) return { error: 'DIVERGED', message: `this node's chain diverged at height ${divergence.height}` };
    if (this.currentRole !== 'leader') {
      return { error: 'NOT_LEADER', message: this.leaderId ? `node ${this.leaderId} leads` : 'no leader known' };
    }
    return undefined;
  }

  private reply(reply: ClientReply): void {
    this.ready.replies.push(reply);
  }

  private replyError(requestId: number, error: ReplyError, message: string): void {
    this.reply({ requestId, ok: false, error, message, leader: this.currentRole === 'leader' ? this.id : this.leaderId });
  }

  // ---------------------------------------------------------------------------------------------
  // Reads (read-index.ts decides)

  /** Opens a read round once phase 1's re-proposals are chosen; returns whether it opened one. */
  private maybeStartReadRound(): boolean {
    const leadership = this.leadership;
    // A new leader serves reads only once everything phase 1 found is chosen (Raft §6.4's
    // "commit an entry of its own term first").
    if (!leadership || this.commitThrough < leadership.horizon) return false;
    const start = leadership.reads.maybeStartRound(this.commitThrough);
    if (start.kind === 'broadcast') this.broadcastHeartbeat(start.round);
    else if (start.kind === 'confirmed') this.serveConfirmedReads();
    return start.kind !== 'none';
  }

  private serveConfirmedReads(): void {
    const leadership = this.leadership;
    if (!leadership) return;
    for (const read of leadership.reads.takeServable(this.appliedThrough)) this.answerRead({ requestId: read.requestId, key: read.key, stale: false, verify: read.verify, range: read.range }, false);
  }

  private answerRead(request: ReadRequest, stale: boolean): void {
    const head = this.ledger.head;
    if (!head || !this.ledger.hasGenesis) return this.replyError(request.requestId, 'NOT_READY', 'this node has no chain yet');
    if (request.verify && !stale) return this.act(this.verifiedReads.answer(this.ledger, request.requestId, request.key, request.verify, this.tickCount));
    if (request.range) return this.reply({ requestId: request.requestId, ok: true, kind: 'range', page: this.ledger.state.range(request.range), height: head.height, hash: head.hash, stale });
    const entry = this.ledger.state.entry(utf8(request.key));
    this.reply({ requestId: request.requestId, ok: true, kind: 'read', value: entry?.value ?? null, revisions: entry?.revisions, height: head.height, hash: head.hash, stale });
  }

  // ---------------------------------------------------------------------------------------------
  // Output

  private send(message: Message): void {
    this.ready.messages.push(message);
  }

  /** An ignored message, logged at debug level with the reason (TigerBeetle's "ignoring (…)"). */
  private ignore(message: Message, reason: string): void {
    this.event('debug', `${message.type} from node ${message.from} ignored: ${reason}`);
  }

  private event(level: EventLevel, message: string, fields?: Record<string, unknown>): void {
    this.ready.events.push({ level, message, ballot: this.ballot, height: this.appliedThrough, fields });
  }
}
