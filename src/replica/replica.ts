/**
 * The replica: Multi-Paxos (src/paxos) driving the ledger (chain + KV state). Pure and
 * deterministic: time arrives as tick(), randomness from the injected PRNG, input as step(),
 * propose() and read(), and everything to do comes out of takeReady() (see src/replica/ready.ts
 * for the order the driver must keep). The node driver (src/node) and the simulator (test/sim)
 * run this same class; only the edges differ.
 *
 * Roles
 * - learner: no vote (no genesis yet, or a wiped node rejoining); follows, fetches blocks.
 * - follower: votes; follows the leader it hears from.
 * - candidate: runs phase 1 for a ballot.
 * - leader: phase 1 done; proposes batches of client commands, pipelined (pipelineMax slots).
 *
 * Learning: a follower treats a slot as chosen when the leader's commit index (chosenThrough,
 * carried by accepts and heartbeats of ballot b) covers it and it holds that slot's value from
 * ballot b; otherwise it fetches the block from a peer whose head is ahead.
 */
import { assert } from '../lib/assert.js';
import { bytesEqual, toHex } from '../lib/bytes.js';
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
import { BODY_HASH_OFFSET, HEADER_BYTES, PREV_HASH_OFFSET, STATE_DIGEST_OFFSET } from '../chain/block.js';
import { hashRecords } from '../chain/hash-batch.js';
import { decodeBody, encodeBatchBody, scanBatchBody } from '../chain/body.js';
import { commandBytes, CommandHead, decodeCommand, DUPLICATE_FLAG, type CommandTuple, readCommandHead, requestKey, ResultCode } from '../kv/command.js';
import type { ReplicaConfig } from './config.js';
import { type ChainProblem, Ledger } from './ledger.js';
import type {
  BlocksMessage,
  FetchMessage,
  HeadRef,
  HeartbeatAckMessage,
  HeartbeatMessage,
  Message,
  ProbeMessage,
  ProbeReplyMessage,
  RejoinGrantMessage,
  RejoinRequestMessage,
  StatusMessage,
} from './messages.js';
import { type ClientReply, emptyReady, type EventLevel, type Ready, type ReplyError } from './ready.js';

export type Role = 'learner' | 'follower' | 'candidate' | 'leader';

export interface WriteRequest {
  /** Chosen by the driver; comes back in the reply. */
  readonly requestId: number;
  /** A command tuple (src/kv/command.ts) with a session id (derived by the node from the client's secret). */
  readonly command: CommandTuple;
}

export interface ReadRequest {
  readonly requestId: number;
  readonly key: string;
  /** Answer from local state at once (labelled with its height and hash) instead of ReadIndex. */
  readonly stale: boolean;
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

interface InFlightSlot {
  readonly value: Uint8Array;
  readonly acceptedBy: NodeSet;
  sentTick: number;
}

/** Whether a peer's last chain comparison found a different block at a height both hold. */
function disagrees(view: PeerView): boolean {
  return view.agreement !== undefined && view.agreement !== 'same';
}

interface PeerView {
  head: HeadRef | null;
  /** The peer's genesis hash, from its status messages. */
  genesis: Uint8Array | null;
  /** Highest height this peer is known to hold (heads, promises). */
  height: number;
  voting: boolean;
  /**
   * The last comparison of this peer's chain with ours at a height both hold: undefined until
   * one was possible, 'same', or the differing hashes.
   */
  agreement: 'same' | PeerDisagreement | undefined;
}

/** A peer whose block at some height has another hash than ours. */
export interface PeerDisagreement {
  readonly height: number;
  readonly ours: string;
  readonly theirs: string;
}

interface PendingRead {
  readonly requestId: number;
  readonly key: string;
}

interface ReadRound {
  readonly round: number;
  readonly readIndex: number;
  readonly reads: PendingRead[];
  readonly acks: NodeSet;
}

/** Leader-only state, for one ballot. */
interface Leadership {
  readonly ballot: Ballot;
  nextSlot: number;
  /** The first slot this leadership used for new commands (everything below was re-proposed). */
  readonly firstNewSlot: number;
  readonly inFlight: Map<number, InFlightSlot>;
  /** Slots up to here were re-proposed from phase 1; reads wait until they are chosen. */
  readonly horizon: number;
  readonly lastAckTick: Map<NodeId, number>;
  heartbeatRound: number;
  /** Reads that arrived after the current round's heartbeat was sent. */
  queuedReads: PendingRead[];
  /** Confirmed rounds waiting for the state to reach their read index. */
  confirmed: ReadRound[];
  round: ReadRound | undefined;
}

interface QueuedWrite {
  readonly requestId: number;
  readonly command: CommandTuple;
  readonly bytes: number;
}

/** Request ids waiting for one command (a client's retries of it); beyond this, OVERLOADED. */
const WAITERS_PER_COMMAND_MAX = 64;


export class Replica {
  readonly id: NodeId;
  private members: readonly NodeId[];
  private readonly ledger: Ledger;
  private readonly acceptor: Acceptor;
  private readonly cursor = new MsgpackCursor();
  /** Scratch for reading the session and seq of chosen commands (answerWaiters). */
  private readonly commandHead = new CommandHead();
  private ready: Ready = emptyReady();

  private tickCount = 0;
  /** Wall clock for proposed bodies only (informational; nothing depends on it). */
  private clockMs = 0;

  private currentRole: Role;
  private leaderId: NodeId = 0;
  private leaderBallot: Ballot = NO_BALLOT;
  private ticksSinceLeader = 0;
  private electionTimeout: number;
  private backoff = 1;
  private highestBallotSeen: Ballot = NO_BALLOT;

  private phase1: Phase1 | undefined;
  /** A pre-vote in progress: the ballot we would run with and who would promise it. */
  private preVote: { ballot: Ballot; granted: NodeSet; startedTick: number } | undefined;
  private leadership: Leadership | undefined;
  /** Values from our previous ballot that phase 1 may need to re-propose. */
  private orphanedValues = new Map<number, Uint8Array>();

  /** Chosen values above the head, waiting for the slots below them. */
  private readonly chosen = new Map<number, Uint8Array>();
  /** Highest slot known to be chosen (commit indexes, peers' heads). */
  private knownChosenThrough = 0;
  /** Leader's contiguous commit index. */
  private chosenThrough = 0;

  private readonly peers = new Map<NodeId, PeerView>();
  /** Catch-up requests in flight, by first height (at most fetchPipelineMax). */
  private readonly fetchesInFlight = new Map<number, { peer: NodeId; count: number; sentTick: number }>();
  /** Replies that arrived before the range below them (at most fetchPipelineMax). */
  private readonly fetchedAhead = new Map<number, BlocksMessage>();
  /** Catch-up token bucket (blocks), refilled by catchupBlocksPerTick every tick. */
  private catchupTokens = 0;
  private readonly fetchAvoid = new Map<NodeId, number>();
  /** Recent block hashes by height, for comparing heads with peers. */
  private readonly recentHashes = new Map<number, Uint8Array>();
  private divergence: { height: number; peer: NodeId; ours: string; theirs: string } | undefined;
  /**
   * Set when a fetched block's state digest disagreed with this replica's own execution of it:
   * the in-memory state ran past the head, so nothing may be appended any more (a wrong block is
   * worse than a stopped node). The node reports DIVERGED; a restart replays from disk.
   */
  private frozen = false;

  private leaderSinceTick = 0;
  private lastRejoinRequestTick = -Infinity;
  private rejoinGrant: { ballot: Ballot; horizon: number } | undefined;
  /** This learner incarnation's rejoin nonce. */
  private readonly rejoinNonce: number;
  /** Leader: learners waiting for a phase 1 that started after their request (node -> nonce). */
  private readonly rejoinRequesters = new Map<NodeId, number>();
  /** Leader: grants given, by node, so a repeated request of one incarnation is answered again. */
  private readonly rejoinGranted = new Map<NodeId, { nonce: number; ballot: Ballot; horizon: number }>();

  private pendingWrites: QueuedWrite[] = [];
  private pendingWriteBytes = 0;
  /** requestKey(session, seq) -> request ids waiting for that command's result. */
  private readonly waiters = new Map<string, number[]>();

  constructor(
    readonly config: ReplicaConfig,
    private readonly prng: Prng,
    restored: RestoredState,
  ) {
    this.id = config.nodeId;
    this.ledger = restored.ledger;
    this.members = this.ledger.genesis ? this.ledger.genesis.members : config.members;
    const voting = restored.acceptor.voting && this.ledger.hasGenesis;
    this.acceptor = new Acceptor(this.id, { ...restored.acceptor, voting }, restored.accepted, config.acceptAheadMax);
    this.highestBallotSeen = restored.acceptor.promised;
    this.currentRole = voting ? 'follower' : 'learner';
    this.electionTimeout = this.randomElectionTimeout();
    this.rejoinNonce = prng.nextU32() + 1;
    this.catchupTokens = config.fetchBlocks * config.fetchPipelineMax;
    const head = this.ledger.head;
    if (head) {
      this.knownChosenThrough = head.height;
      this.chosenThrough = head.height;
      for (const recent of restored.recentHashes ?? []) this.recentHashes.set(recent.height, recent.hash);
      this.recentHashes.set(head.height, head.hash);
    }
    for (const member of this.members) if (member !== this.id) this.peers.set(member, { head: null, genesis: null, height: -1, voting: true, agreement: undefined });
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

  get head(): HeadRef | undefined {
    return this.ledger.head;
  }

  get ticks(): number {
    return this.tickCount;
  }

  get commitIndex(): number {
    return Math.max(this.chosenThrough, this.knownChosenThrough);
  }

  get diverged(): { height: number; peer: NodeId; ours: string; theirs: string } | undefined {
    return this.divergence;
  }

  /** Peers whose chain differs from ours at a height both hold (each peer's last comparison). */
  get disagreeingPeers(): Array<{ peer: NodeId } & PeerDisagreement> {
    const found: Array<{ peer: NodeId } & PeerDisagreement> = [];
    for (const [peer, view] of this.peers) if (disagrees(view)) found.push({ peer, ...(view.agreement as PeerDisagreement) });
    return found;
  }

  private disagreeingPeerCount(): number {
    let count = 0;
    for (const view of this.peers.values()) if (disagrees(view)) count++;
    return count;
  }

  /**
   * True while more peers disagree with our chain than agree with it, counting ourselves as
   * agreeing: on a tie nobody can tell which chain is right, so this node must not stand for
   * election (it still votes and follows until a majority is known to disagree).
   */
  private get chainOutvoted(): boolean {
    const differ = this.disagreeingPeerCount();
    let same = 1;
    for (const view of this.peers.values()) if (view.agreement === 'same') same++;
    return differ > 0 && differ >= same;
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
    return this.peers.get(node)?.head ?? null;
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
    this.tickFetch();
  }

  /** Handles a message from a peer (or from this node to itself). */
  step(message: Message): void {
    if (message.to !== this.id) return;
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
      case 'rejoin-request':
        return this.onRejoinRequest(message);
      case 'rejoin-grant':
        return this.onRejoinGrant(message);
    }
  }

  /** A client write. Answered at once unless this node leads and the command is new. */
  propose(request: WriteRequest): void {
    const refusal = this.refuseClient();
    if (refusal) return this.replyError(request.requestId, refusal.error, refusal.message);
    const command = decodeCommand(request.command);
    if (typeof command === 'string' || command.session === null) {
      return this.replyError(request.requestId, 'INVALID_ARGUMENT', typeof command === 'string' ? command : 'a client write needs a session');
    }
    const session = this.ledger.state.session(command.session);
    if (session !== undefined && command.seq <= session.seq) {
      const result = command.seq === session.seq ? session.result | DUPLICATE_FLAG : ResultCode.STALE;
      return this.reply({ requestId: request.requestId, ok: true, kind: 'write', result, height: command.seq === session.seq ? session.height : 0 });
    }
    const key = requestKey(command.session, command.seq);
    const waiting = this.waiters.get(key);
    if (waiting) {
      // The same command is already queued or in flight (a client retry): wait for it.
      if (waiting.length >= WAITERS_PER_COMMAND_MAX) {
        return this.replyError(request.requestId, 'OVERLOADED', `more than ${WAITERS_PER_COMMAND_MAX} retries of one command waiting`);
      }
      waiting.push(request.requestId);
      return;
    }
    const bytes = commandBytes(command);
    if (this.pendingWrites.length >= this.config.pendingWritesMax) {
      return this.replyError(request.requestId, 'OVERLOADED', `more than ${this.config.pendingWritesMax} writes queued`);
    }
    if (this.pendingWriteBytes + bytes > this.config.pendingWriteBytesMax && this.pendingWrites.length > 0) {
      return this.replyError(request.requestId, 'OVERLOADED', `more than ${this.config.pendingWriteBytesMax} bytes of writes queued`);
    }
    this.waiters.set(key, [request.requestId]);
    this.pendingWrites.push({ requestId: request.requestId, command: request.command, bytes });
    this.pendingWriteBytes += bytes;
  }

  /** A client read: linearizable (ReadIndex at the leader) or stale (local, labelled). */
  read(request: ReadRequest): void {
    // A frozen node's state ran past its head: not even a stale read may come from it.
    if (this.frozen) return this.replyError(request.requestId, 'DIVERGED', 'this node is frozen after a state digest mismatch; restart it');
    if (request.stale) return this.answerRead(request, true);
    const refusal = this.refuseClient();
    if (refusal) return this.replyError(request.requestId, refusal.error, refusal.message);
    const leadership = this.leadership!;
    const queued = leadership.queuedReads.length + leadership.confirmed.reduce((sum, round) => sum + round.reads.length, 0);
    if (queued >= this.config.pendingReadsMax) return this.replyError(request.requestId, 'OVERLOADED', 'too many reads queued');
    leadership.queuedReads.push({ requestId: request.requestId, key: request.key });
  }

  /** Everything to persist, send and report since the last call (see ready.ts for the order). */
  takeReady(): Ready {
    this.maybeProposeBatches();
    this.maybeStartReadRound();
    const changes = this.acceptor.takeChanges();
    const ready = this.ready;
    if (changes.state) ready.acceptor = changes.state;
    ready.accepted.push(...changes.accepted);
    this.ready = emptyReady();
    return ready;
  }

  // ---------------------------------------------------------------------------------------------
  // Roles

  private randomElectionTimeout(): number {
    const { electionTicksMin, electionTicksMax } = this.config.timing;
    return Math.round(this.prng.between(electionTicksMin, electionTicksMax) * this.backoff);
  }

  private startCandidacy(reason: string): void {
    assert(this.acceptor.voting, 'a non-voting replica may not run for leader');
    const ballot = nextBallot(Math.max(this.highestBallotSeen, this.acceptor.promised, this.ballot), this.id);
    this.highestBallotSeen = ballot;
    this.endLeadership('leadership ended for a new phase 1');
    const fromSlot = this.ledger.nextHeight;
    this.phase1 = new Phase1(ballot, fromSlot, this.tickCount, this.members, this.id);
    this.currentRole = 'candidate';
    this.event('info', `starting phase 1 (${reason})`, { ballot: formatBallot(ballot), fromSlot });
    for (const member of this.members) this.send({ type: 'prepare', from: this.id, to: member, ballot, fromSlot });
  }

  /**
   * Ends this node's leadership, if any: values still in flight are kept to be proposed again by a
   * later leadership of ours, and reads waiting on it fail.
   */
  private endLeadership(why: string): void {
    const leadership = this.leadership;
    if (!leadership) return;
    for (const [slot, flight] of leadership.inFlight) this.orphanedValues.set(slot, flight.value);
    this.failReads(leadership, why);
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
      this.failClientsOnStepDown();
    }
  }

  private becomeLeader(): void {
    const phase1 = this.phase1!;
    const outcome = phase1.outcome();
    this.phase1 = undefined;
    this.currentRole = 'leader';
    this.leaderSinceTick = this.tickCount;
    this.leaderId = this.id;
    this.leaderBallot = phase1.ballot;
    this.backoff = 1;
    this.noteChosenThrough(outcome.chosenThrough);
    this.chosenThrough = Math.max(this.chosenThrough, outcome.chosenThrough, this.ledger.head?.height ?? 0);
    let horizon = outcome.highestSlot;
    for (const slot of this.orphanedValues.keys()) if (slot > horizon) horizon = slot;
    // New commands go above every slot known to be chosen: such a slot may have been chosen at a
    // higher ballot this phase 1 never saw.
    const known = this.knownChosenThrough;
    const firstNewSlot = Math.max(horizon, known, this.headHeight) + 1;
    const leadership: Leadership = {
      ballot: phase1.ballot,
      nextSlot: firstNewSlot,
      firstNewSlot,
      inFlight: new Map(),
      horizon,
      lastAckTick: new Map(),
      heartbeatRound: 0,
      queuedReads: [],
      confirmed: [],
      round: undefined,
    };
    this.leadership = leadership;
    // P2c: re-propose the highest-ballot value phase 1 reported for each open slot; our own
    // unconfirmed values where nobody reported one; no-ops for the holes, up to every slot known
    // to be chosen. A slot a peer's head says is chosen gets the reported value if there is one
    // (its block may be gone with a wiped node, and P2c makes that value the chosen one), else a
    // no-op: if a higher ballot chose it, the majority that promised that ballot refuses ours and
    // we fetch the block; if the peer's claim was false (a forked chain), the no-op fills it. Our
    // own values go only into slots nobody claims. Whatever is proposed, the commit index we send
    // never covers it before a majority accepted it (advanceChosenThrough).
    for (let slot = outcome.chosenThrough + 1; slot < firstNewSlot; slot++) {
      if (slot <= this.headHeight || this.chosen.has(slot)) continue;
      const orphan = slot > known ? this.orphanedValues.get(slot) : undefined;
      this.proposeSlot(slot, outcome.adopted.get(slot) ?? orphan ?? encodeBatchBody(this.clockMs, []));
    }
    // Our own earlier proposals that lost their slot (another value adopted there, or the slot
    // turned out to be chosen already): their commands go back in the queue, so the clients
    // waiting for them get an answer. Sessions make a command that did get chosen a duplicate.
    for (const [slot, value] of this.orphanedValues) {
      const proposed = leadership.inFlight.get(slot)?.value;
      if (!proposed || !bytesEqual(proposed, value)) this.requeueWaitingCommands(value);
    }
    this.orphanedValues.clear();
    this.event('info', 'became leader', {
      ballot: formatBallot(phase1.ballot),
      promises: phase1.promisedBy,
      chosenThrough: outcome.chosenThrough,
      reproposed: leadership.inFlight.size,
    });
    this.broadcastHeartbeat(0);
    for (const [requester, nonce] of this.rejoinRequesters) {
      const grant = { nonce, ballot: phase1.ballot, horizon };
      this.rejoinGranted.set(requester, grant);
      this.send({ type: 'rejoin-grant', from: this.id, to: requester, ...grant });
      this.event('info', 'granted rejoin', { node: requester, ballot: formatBallot(phase1.ballot), horizon });
    }
    this.rejoinRequesters.clear();
    this.advanceChosenThrough();
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
    if (this.ticksSinceLeader < this.electionTimeout || !this.ledger.hasGenesis || this.divergence || this.chainOutvoted) return;
    const ballot = nextBallot(Math.max(this.highestBallotSeen, this.acceptor.promised), this.id);
    this.preVote = { ballot, granted: new NodeSet(), startedTick: this.tickCount };
    this.preVote.granted.add(this.id);
    if (this.preVote.granted.size >= majority(this.members.length)) return this.winPreVote();
    for (const member of this.members) if (member !== this.id) this.send({ type: 'probe', from: this.id, to: member, ballot });
  }

  private winPreVote(): void {
    this.preVote = undefined;
    this.startCandidacy('election timeout, pre-vote won');
  }

  /** Would we promise this ballot now? Answers without changing any state. */
  private onProbe(message: ProbeMessage): void {
    const liveLeader = this.currentRole === 'leader' || (this.leaderId !== 0 && this.leaderId !== message.from && this.ticksSinceLeader < this.config.timing.electionTicksMin);
    const granted = this.acceptor.voting && this.ledger.hasGenesis && message.ballot > this.acceptor.promised && !liveLeader;
    this.send({ type: 'probe-reply', from: this.id, to: message.from, ballot: message.ballot, granted, leader: this.currentRole === 'leader' ? this.id : this.leaderId });
  }

  private onProbeReply(message: ProbeReplyMessage): void {
    const preVote = this.preVote;
    if (!preVote || message.ballot !== preVote.ballot || this.currentRole !== 'follower') return;
    if (message.granted && preVote.granted.add(message.from) && preVote.granted.size >= majority(this.members.length)) this.winPreVote();
  }

  // ---------------------------------------------------------------------------------------------
  // Phase 1

  private onPrepare(message: PrepareMessage): void {
    if (message.ballot > this.highestBallotSeen) this.highestBallotSeen = message.ballot;
    const reply = this.acceptor.onPrepare(message, this.headHeight, this.stickinessVeto(message.from));
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
    if (this.currentRole !== 'candidate' || !phase1) return;
    const peer = this.peers.get(message.from);
    // A peer whose chain differs from ours does not count towards our quorum: its head would
    // claim its own blocks as chosen.
    if (peer && disagrees(peer)) return;
    if (peer && message.chosenThrough > peer.height) peer.height = message.chosenThrough;
    const outcome = phase1.onPromise(message);
    if (outcome === 'more') {
      this.send({ type: 'prepare', from: this.id, to: message.from, ballot: phase1.ballot, fromSlot: message.nextSlot });
    } else if (outcome === 'counted' && phase1.done) {
      this.becomeLeader();
    }
  }

  private onPrepareReject(message: PrepareRejectMessage): void {
    if (message.promised > this.highestBallotSeen) this.highestBallotSeen = message.promised;
    if (this.currentRole !== 'candidate' || this.phase1?.ballot !== message.ballot) return;
    if (message.reason === 'promised-higher') {
      this.becomeFollower(`node ${message.from} promised ${formatBallot(message.promised)}`, true);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Phase 2

  private proposeSlot(slot: number, value: Uint8Array): void {
    const leadership = this.leadership!;
    leadership.inFlight.set(slot, { value, acceptedBy: new NodeSet(), sentTick: this.tickCount });
    for (const member of this.members) this.sendAccept(member, slot, value);
  }

  private sendAccept(to: NodeId, slot: number, value: Uint8Array): void {
    const leadership = this.leadership!;
    this.send({ type: 'accept', from: this.id, to, ballot: leadership.ballot, slot, value, chosenThrough: this.chosenThrough });
  }

  private onAccept(message: AcceptMessage): void {
    if (this.divergence) {
      // A diverged node neither follows nor learns from anyone; its acceptor refuses the accept.
      this.send(this.acceptor.onAccept(message, this.headHeight));
      return;
    }
    const current = this.acceptor.voting ? message.ballot >= this.acceptor.promised : message.ballot >= this.leaderBallot;
    if (current) this.followLeader(message.from, message.ballot);
    const reply = this.acceptor.onAccept(message, this.headHeight);
    this.send(reply);
    if (current) this.learnCommit(message.ballot, message.chosenThrough);
  }

  private onAccepted(message: AcceptedMessage): void {
    const leadership = this.leadership;
    if (!leadership || message.ballot !== leadership.ballot) return;
    leadership.lastAckTick.set(message.from, this.tickCount);
    const flight = leadership.inFlight.get(message.slot);
    if (!flight || !flight.acceptedBy.add(message.from)) return;
    if (flight.acceptedBy.size < majority(this.members.length)) return;
    leadership.inFlight.delete(message.slot);
    if (message.slot > this.headHeight) this.chosen.set(message.slot, flight.value);
    this.advanceChosenThrough();
  }

  private onAcceptReject(message: AcceptRejectMessage): void {
    if (message.promised > this.highestBallotSeen) this.highestBallotSeen = message.promised;
    const leadership = this.leadership;
    if (!leadership || message.ballot !== leadership.ballot) return;
    if (message.reason === 'promised-higher' && message.promised > leadership.ballot) {
      this.becomeFollower(`node ${message.from} promised ${formatBallot(message.promised)}`, true);
    }
  }

  /**
   * Leader: moves the commit index over every contiguously chosen slot, then appends. The index
   * it sends is what followers take as "your entry of my ballot here is the chosen value", so it
   * never covers a slot this leadership proposed and has not seen a majority accept.
   */
  private advanceChosenThrough(): void {
    let through = Math.max(this.chosenThrough, this.headHeight);
    while (this.chosen.has(through + 1) || through + 1 <= this.knownChosenThrough) through++;
    const open = this.lowestOpenSlot();
    if (open !== undefined && through >= open) through = open - 1;
    if (through > this.chosenThrough) this.chosenThrough = through;
    if (through > this.knownChosenThrough) this.knownChosenThrough = through;
    this.appendChosen();
  }

  /** Leader: the lowest slot it proposed (or will propose next) without a majority yet. */
  private lowestOpenSlot(): number | undefined {
    const leadership = this.leadership;
    if (!leadership) return undefined;
    let lowest = leadership.nextSlot;
    for (const slot of leadership.inFlight.keys()) if (slot < lowest) lowest = slot;
    return lowest;
  }

  /** Follower: the leader of `ballot` says every slot up to `through` is chosen. */
  private learnCommit(ballot: Ballot, through: number): void {
    this.noteChosenThrough(through);
    // Only a value accepted in the same ballot is known to be the chosen one. Contiguous from the
    // head: anything after a gap is looked at again once a fetch has filled the gap.
    for (let slot = this.headHeight + 1; slot <= through; slot++) {
      if (this.chosen.has(slot)) continue;
      const entry = this.acceptor.entry(slot);
      if (!entry || entry.ballot !== ballot) break;
      this.chosen.set(slot, entry.value);
    }
    this.appendChosen();
  }

  private noteChosenThrough(through: number): void {
    if (through <= this.knownChosenThrough) return;
    this.knownChosenThrough = through;
    // A leader tells followers a slot of its own is chosen only once it is, so a peer holding a
    // new slot of this leadership (or one it has yet to use) got it from another, higher ballot.
    const leadership = this.currentRole === 'leader' ? this.leadership : undefined;
    if (!leadership) return;
    let fresh = leadership.nextSlot;
    for (const slot of leadership.inFlight.keys()) if (slot >= leadership.firstNewSlot && slot < fresh) fresh = slot;
    if (through >= fresh) this.becomeFollower(`slot ${fresh} was chosen without this leadership: a higher ballot leads`, true);
  }

  private get headHeight(): number {
    return this.ledger.head?.height ?? -1;
  }

  /** Appends every chosen value that extends the head, in order. */
  private appendChosen(): void {
    if (!this.ledger.hasGenesis || this.frozen) return;
    for (;;) {
      const slot = this.headHeight + 1;
      const value = this.chosen.get(slot);
      if (value === undefined) break;
      this.chosen.delete(slot);
      const block = this.ledger.append(value);
      this.afterAppend(block.ref.height, block.ref.hash, block.record, value, block.results, block.commandsOffset);
    }
    this.serveConfirmedReads();
  }

  /** `commandsOffset`: where the body's commands start, if the caller knows (else it is scanned for). */
  private afterAppend(height: number, hash: Uint8Array, record: Uint8Array, body: Uint8Array, results: readonly number[], commandsOffset?: number): void {
    this.ready.blocks.push(record);
    this.ready.blockHashes.push(hash);
    const dropped = this.acceptor.dropThrough(height);
    if (dropped.length > 0) this.ready.droppedAccepted.push(...dropped);
    this.recentHashes.set(height, hash);
    this.recentHashes.delete(height - this.config.recentHashesMax);
    if (height > this.chosenThrough && this.currentRole !== 'leader') this.chosenThrough = height;
    // A leader that appends (fetched) another value than the one it proposed for that slot has
    // met a higher ballot's choice: P2c would have made ours equal to any lower ballot's.
    const proposed = this.leadership?.inFlight.get(height);
    if (proposed && !bytesEqual(proposed.value, body)) {
      this.becomeFollower(`block ${height} holds another value than this leadership proposed: a higher ballot chose it`, true);
    }
    if (this.waiters.size > 0 && results.length > 0) this.answerWaiters(body, results, height, commandsOffset);
  }

  // ---------------------------------------------------------------------------------------------
  // Leader duties

  private tickLeader(): void {
    const leadership = this.leadership!;
    const { heartbeatTicks, checkQuorumTicks, retransmitTicks } = this.config.timing;
    // Heartbeats repeat the open read round, so a round whose first heartbeats were lost still
    // completes once a majority hears one.
    if (this.tickCount % heartbeatTicks === 0) this.broadcastHeartbeat(leadership.round?.round ?? 0);
    let heard = 1;
    for (const member of this.members) {
      if (member !== this.id && this.tickCount - (leadership.lastAckTick.get(member) ?? -Infinity) < checkQuorumTicks) heard++;
    }
    if (heard < majority(this.members.length) && this.tickCount - this.leaderSinceTick > checkQuorumTicks) {
      this.becomeFollower(`no majority heard for ${checkQuorumTicks} ticks`, false);
      return;
    }
    for (const [slot, flight] of leadership.inFlight) {
      if (this.tickCount - flight.sentTick < retransmitTicks) continue;
      flight.sentTick = this.tickCount;
      for (const member of this.members) if (!flight.acceptedBy.has(member)) this.sendAccept(member, slot, flight.value);
    }
  }

  private broadcastHeartbeat(round: number): void {
    const leadership = this.leadership!;
    const head = this.headRef();
    for (const member of this.members) {
      if (member === this.id) continue;
      this.send({ type: 'heartbeat', from: this.id, to: member, ballot: leadership.ballot, chosenThrough: this.chosenThrough, head, round });
    }
  }

  private headRef(): HeadRef {
    const head = this.ledger.head;
    return head ? { height: head.height, hash: head.hash } : { height: 0, hash: new Uint8Array(32) };
  }

  private maybeProposeBatches(): void {
    const leadership = this.leadership;
    if (!leadership || this.currentRole !== 'leader') return;
    const queue = this.pendingWrites;
    // Batches are cut from the front of the queue; it is shortened once, after the loop.
    let taken = 0;
    while (taken < queue.length && leadership.inFlight.size < this.config.pipelineMax) {
      const batch: CommandTuple[] = [];
      let bytes = 0;
      while (taken < queue.length && batch.length < this.config.batchCommandsMax) {
        const write = queue[taken]!;
        if (batch.length > 0 && bytes + write.bytes > this.config.batchBytesMax) break;
        batch.push(write.command);
        bytes += write.bytes;
        taken++;
      }
      this.pendingWriteBytes -= bytes;
      this.proposeSlot(leadership.nextSlot++, encodeBatchBody(this.clockMs, batch));
    }
    if (taken > 0) queue.splice(0, taken);
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
    if (!leadership || message.ballot !== leadership.ballot || !message.voting) return;
    leadership.lastAckTick.set(message.from, this.tickCount);
    const round = leadership.round;
    if (round && message.round === round.round && round.acks.add(message.from) && round.acks.size >= majority(this.members.length)) {
      this.confirmReadRound();
    }
  }

  private onStatus(message: StatusMessage): void {
    const peer = this.peers.get(message.from);
    if (peer) {
      peer.voting = message.voting;
      peer.genesis = message.genesis;
    }
    if (message.head) this.notePeerHead(message.from, message.head);
    if (message.promised > this.highestBallotSeen) this.highestBallotSeen = message.promised;
    // Deposed (as leader) or outbid (as candidate): a voter promised a higher ballot than ours
    // and follows another leader. (A mere candidate's own promise is not enough: that is what
    // pre-vote and stickiness keep from disrupting us.)
    const own = this.ownBallot;
    if (own !== undefined && message.promised > own && message.voting && message.leader !== 0 && message.leader !== this.id) {
      this.becomeFollower(`node ${message.from} promised ${formatBallot(message.promised)} and follows node ${message.leader}`, true);
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

  /**
   * Records a peer's head and compares it with our block at that height. Divergence is symmetric
   * (each side sees the other's hash differ), so a node only condemns its own chain when a
   * majority of the members hold another block there: at most one block per height can be backed
   * by a majority, so that side is right. A single disagreeing peer is an alarm, not a verdict.
   */
  private notePeerHead(node: NodeId, head: HeadRef): void {
    const peer = this.peers.get(node);
    if (!peer) return;
    peer.head = head;
    const ours = this.recentHashes.get(head.height);
    if (ours) this.compareWithPeer(node, head.height, ours, head.hash);
    // A peer whose chain differs from ours is no evidence of what is chosen, nor a source of
    // blocks.
    if (disagrees(peer)) return;
    if (head.height > peer.height) peer.height = head.height;
    this.noteChosenThrough(head.height);
  }

  private compareWithPeer(node: NodeId, height: number, ours: Uint8Array, theirs: Uint8Array): void {
    const peer = this.peers.get(node)!;
    if (bytesEqual(ours, theirs)) {
      peer.agreement = 'same';
      return;
    }
    const disagreement = { height, ours: toHex(ours), theirs: toHex(theirs) };
    if (peer.agreement === undefined || peer.agreement === 'same') {
      this.event('error', `node ${node} holds another block at height ${height}`, { peer: node, ...disagreement });
    }
    peer.agreement = disagreement;
    if (this.divergence) return;
    if (this.disagreeingPeerCount() >= majority(this.members.length)) {
      this.divergence = { peer: node, ...disagreement };
      this.acceptor.suspend();
      this.event('error', 'DIVERGENCE: a majority holds other blocks than ours; refusing writes and votes', { ...this.divergence });
      this.standDown('this chain diverged from the majority');
    }
  }

  /** A leader or candidate whose chain cannot be trusted steps down, so a healthy node takes over. */
  private standDown(reason: string): void {
    if (this.currentRole === 'leader' || this.currentRole === 'candidate') this.becomeFollower(reason, false);
  }

  // ---------------------------------------------------------------------------------------------
  // Catch-up

  private tickFetch(): void {
    const burst = this.config.fetchBlocks * this.config.fetchPipelineMax;
    this.catchupTokens = Math.min(burst, this.catchupTokens + this.config.catchupBlocksPerTick);
    for (const [fromHeight, flight] of this.fetchesInFlight) {
      if (this.tickCount - flight.sentTick < this.config.timing.fetchTimeoutTicks) continue;
      this.fetchAvoid.set(flight.peer, this.tickCount + this.config.timing.fetchTimeoutTicks);
      this.fetchesInFlight.delete(fromHeight);
    }
    this.maybeFetch();
  }

  /**
   * Fetches missing blocks from peers that are ahead: up to fetchPipelineMax consecutive ranges
   * in flight, applied in height order as they arrive.
   */
  private maybeFetch(): void {
    if (this.frozen) return;
    if (this.fetchedAhead.size > 0 && this.ledger.hasGenesis) {
      this.drainFetchedAhead();
      this.appendChosen();
    }
    if (!this.ledger.hasGenesis) {
      if (this.fetchesInFlight.size > 0 || this.agreedGenesis() === undefined) return;
      const peer = this.pickFetchPeer(0);
      if (peer !== undefined) this.requestBlocks(peer, 0);
      return;
    }
    while (this.fetchesInFlight.size < this.config.fetchPipelineMax && this.catchupTokens >= this.config.fetchBlocks) {
      const next = this.nextUnrequestedHeight();
      if (next > this.knownChosenThrough) return;
      const peer = this.pickFetchPeer(next);
      if (peer === undefined) return;
      this.requestBlocks(peer, next);
    }
  }

  /** The first height neither appended, nor buffered, nor asked for. */
  private nextUnrequestedHeight(): number {
    let cursor = this.ledger.nextHeight;
    for (let step = 0; step <= 2 * this.config.fetchPipelineMax; step++) {
      const flight = this.fetchesInFlight.get(cursor);
      const ahead = this.fetchedAhead.get(cursor);
      if (flight) cursor += flight.count;
      else if (ahead && ahead.records.length > 0) cursor += ahead.records.length;
      else break;
    }
    return cursor;
  }

  private requestBlocks(peer: NodeId, fromHeight: number): void {
    const count = this.config.fetchBlocks;
    this.catchupTokens -= count;
    this.fetchesInFlight.set(fromHeight, { peer, count, sentTick: this.tickCount });
    this.send({ type: 'fetch', from: this.id, to: peer, fromHeight, maxBlocks: count });
  }

  private pickFetchPeer(next: number): NodeId | undefined {
    const candidates: NodeId[] = [];
    for (const [node, view] of this.peers) {
      if (view.height < next) continue;
      if (disagrees(view)) continue;
      if ((this.fetchAvoid.get(node) ?? -1) > this.tickCount) continue;
      candidates.push(node);
    }
    if (candidates.length === 0) {
      if (this.ledger.hasGenesis) return undefined;
      // A fresh learner: ask a peer that has the agreed genesis.
      const agreed = this.agreedGenesis();
      const holders = [...this.peers].filter(([, view]) => view.genesis && agreed && bytesEqual(view.genesis, agreed)).map(([node]) => node);
      return holders.length > 0 ? this.prng.pick(holders) : undefined;
    }
    // Spare the leader when a follower can serve: its throughput is the cluster's.
    const followers = candidates.filter((node) => node !== this.leaderId);
    return this.prng.pick(followers.length > 0 ? followers : candidates);
  }

  private onFetch(message: FetchMessage): void {
    this.ready.serves.push({ to: message.from, fromHeight: message.fromHeight, maxBlocks: Math.min(message.maxBlocks, limits.fetchBlocksMax) });
  }

  private onBlocks(message: BlocksMessage): void {
    if (message.head) this.notePeerHead(message.from, message.head);
    if (this.frozen) return;
    const flight = this.fetchesInFlight.get(message.fromHeight);
    if (flight?.peer === message.from) this.fetchesInFlight.delete(message.fromHeight);
    if (message.fromHeight > this.ledger.nextHeight) {
      // Ahead of a range still in flight: keep it until the range below is applied.
      if (this.fetchedAhead.size < this.config.fetchPipelineMax && message.records.length > 0) this.fetchedAhead.set(message.fromHeight, message);
      this.maybeFetch();
      return;
    }
    this.applyFetched(message);
    this.appendChosen();
    this.maybeFetch();
  }

  /**
   * Applies replies kept from ahead once the chain has reached them, whichever way it got there
   * (an earlier range, or chosen slots learned from the leader).
   */
  private drainFetchedAhead(): void {
    for (let step = 0; step < this.config.fetchPipelineMax && this.fetchedAhead.size > 0; step++) {
      const next = [...this.fetchedAhead.keys()].find((from) => from <= this.ledger.nextHeight);
      if (next === undefined) break;
      const ahead = this.fetchedAhead.get(next)!;
      this.fetchedAhead.delete(next);
      this.applyFetched(ahead);
    }
  }

  /** Verifies and appends the blocks of a reply that starts at or below the next height. */
  private applyFetched(message: BlocksMessage): void {
    const skip = this.ledger.nextHeight - message.fromHeight;
    if (skip < 0 || skip >= message.records.length) return;
    const records = skip === 0 ? message.records : message.records.slice(skip);
    let height = this.ledger.nextHeight;
    // Every fetched block is checked like a stored one (link, body hash, state digest) before it
    // is appended; header and body hashes of the whole reply are computed in two batch calls.
    const hashes = hashRecords(this.ledger.sha256, records);
    const precomputed = { blockHashes: hashes.blockHashes, bodyHashes: hashes.bodyHashes, index: 0 };
    for (const [index, record] of records.entries()) {
      if (height === 0 && !this.acceptableGenesis(record, message.from)) break;
      precomputed.index = index;
      const outcome = this.ledger.replay(height, record, precomputed);
      if ('problem' in outcome) {
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
   * chain forks from ours below it; a state digest mismatch means our execution of the peer's
   * block disagrees with its header: both are divergence. Anything else is a bad reply.
   */
  private rejectFetched(from: NodeId, height: number, record: Uint8Array, problem: ChainProblem): void {
    this.fetchAvoid.set(from, this.tickCount + this.config.timing.fetchTimeoutTicks);
    this.event('warn', `block ${height} from node ${from} failed verification: ${problem.reason}`, { ...problem });
    const head = this.ledger.head;
    if (problem.reason === 'PREV_HASH_MISMATCH' && head) {
      // The peer's block at head+1 names another block at our head height as its parent.
      this.compareWithPeer(from, head.height, head.hash, record.subarray(PREV_HASH_OFFSET, BODY_HASH_OFFSET));
    }
    if (problem.reason === 'STATE_DIGEST_MISMATCH') {
      this.frozen = true;
      this.divergence ??= { height, peer: from, ours: 'state digest differs', theirs: toHex(record.subarray(STATE_DIGEST_OFFSET, HEADER_BYTES)) };
      this.acceptor.suspend();
      this.event('error', 'DIVERGENCE: executing a peer\'s block gives another state digest; no more appends until restarted', { ...this.divergence });
      this.standDown('frozen after a state digest mismatch');
    }
  }

  /**
   * The genesis hash a majority of the members report (counting only peers: this node has none
   * yet), or the pinned one once at least one peer has it. Trust is pinned to that hash, never to
   * whichever peer answers a fetch.
   */
  private agreedGenesis(): Uint8Array | undefined {
    const counts = new Map<string, { hash: Uint8Array; count: number }>();
    for (const peer of this.peers.values()) {
      if (!peer.genesis) continue;
      const key = toHex(peer.genesis);
      const entry = counts.get(key) ?? { hash: peer.genesis, count: 0 };
      entry.count++;
      counts.set(key, entry);
    }
    const pinned = this.config.genesisHash;
    if (pinned) return counts.has(toHex(pinned)) ? pinned : undefined;
    for (const entry of counts.values()) if (entry.count >= majority(this.members.length)) return entry.hash;
    return undefined;
  }

  /** A learner without genesis adopts the cluster's genesis only if it is the one it expects. */
  private acceptableGenesis(record: Uint8Array, from: NodeId): boolean {
    const agreed = this.agreedGenesis();
    const body = decodeBody(record.subarray(HEADER_BYTES));
    const problem =
      agreed === undefined
        ? 'no majority of members agrees on a genesis yet'
        : !bytesEqual(this.ledger.blockHash(record), agreed)
          ? `its hash is not the genesis a majority of members (or the pinned hash) has: ${toHex(agreed).slice(0, 16)}`
          : typeof body === 'string' || body.kind !== 'genesis'
            ? 'not a genesis block'
            : this.config.clusterId !== undefined && body.clusterId !== this.config.clusterId
              ? `cluster id ${body.clusterId}, expected ${this.config.clusterId}`
              : !body.members.includes(this.id)
                ? `members ${body.members.join(',')} do not include node ${this.id}`
                : undefined;
    if (problem === undefined) return true;
    this.fetchAvoid.set(from, this.tickCount + this.config.timing.fetchTimeoutTicks);
    this.event('error', `refusing genesis from node ${from}: ${problem}`);
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Wiped node: learner -> voter (ARCHITECTURE §4)

  private tickLearner(): void {
    if (!this.ledger.hasGenesis || this.acceptor.voting) return;
    const { rejoinDelayTicks, rejoinRetryTicks } = this.config.timing;
    if (this.rejoinGrant && this.headHeight >= this.rejoinGrant.horizon) {
      this.acceptor.grantVote(this.rejoinGrant.ballot);
      this.event('info', 'rejoined as a voter', { ballot: formatBallot(this.rejoinGrant.ballot), horizon: this.rejoinGrant.horizon });
      this.rejoinGrant = undefined;
      this.currentRole = 'follower';
      this.ticksSinceLeader = 0;
      return;
    }
    // A replica is a learner from its start (its vote is only ever lost with its disk), so the
    // delay counts from tick 0.
    if (this.rejoinGrant || this.tickCount < rejoinDelayTicks) return;
    if (this.tickCount - this.lastRejoinRequestTick < rejoinRetryTicks || this.leaderId === 0) return;
    this.lastRejoinRequestTick = this.tickCount;
    this.send({ type: 'rejoin-request', from: this.id, to: this.leaderId, nonce: this.rejoinNonce });
  }

  private onRejoinRequest(message: RejoinRequestMessage): void {
    if (this.currentRole !== 'leader' && this.currentRole !== 'candidate') return;
    const granted = this.rejoinGranted.get(message.from);
    if (granted && granted.nonce === message.nonce) {
      // The same incarnation asking again: its grant's phase 1 already started after its wait.
      this.send({ type: 'rejoin-grant', from: this.id, to: message.from, ...granted });
      return;
    }
    if (this.rejoinRequesters.has(message.from)) return;
    this.rejoinRequesters.set(message.from, message.nonce);
    // A phase 1 that starts after the request and cannot count the requester (it does not vote).
    if (this.currentRole === 'leader') this.restartPhase1ForRejoin(message.from);
  }

  private restartPhase1ForRejoin(requester: NodeId): void {
    this.event('info', 'new phase 1 so that a wiped node can rejoin', { node: requester });
    this.startCandidacy(`rejoin of node ${requester}`);
  }

  private onRejoinGrant(message: RejoinGrantMessage): void {
    if (this.acceptor.voting || message.nonce !== this.rejoinNonce) return;
    if (!this.rejoinGrant || message.ballot > this.rejoinGrant.ballot) this.rejoinGrant = { ballot: message.ballot, horizon: message.horizon };
    this.followLeader(message.from, message.ballot);
  }

  // ---------------------------------------------------------------------------------------------
  // Clients

  private refuseClient(): { error: ReplyError; message: string } | undefined {
    if (this.divergence) return { error: 'DIVERGED', message: `this node's chain diverged at height ${this.divergence.height}` };
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

  /** Resolves waiters for the commands of an appended block. */
  private answerWaiters(body: Uint8Array, results: readonly number[], height: number, commandsOffset?: number): void {
    let from = commandsOffset;
    if (from === undefined) {
      const scan = scanBatchBody(body, this.cursor);
      if (typeof scan === 'string') return;
      from = scan.commandsOffset;
    }
    // The ledger applied this body: one result per command.
    const cursor = this.cursor.reset(body, from);
    const head = this.commandHead;
    for (let i = 0; i < results.length; i++) {
      const start = cursor.position;
      const hasSession = readCommandHead(cursor, head) && head.sessionStart >= 0;
      cursor.position = start;
      cursor.skipValue();
      if (!hasSession) continue;
      const key = head.requestKey(body);
      const waiting = this.waiters.get(key);
      if (!waiting) continue;
      this.waiters.delete(key);
      const result = results[i]!;
      const session = this.ledger.state.session(head.sessionId(body));
      const firstHeight = (result & DUPLICATE_FLAG) !== 0 && session ? session.height : height;
      for (const requestId of waiting) this.reply({ requestId, ok: true, kind: 'write', result, height: firstHeight });
    }
  }

  private failClientsOnStepDown(): void {
    const leader = this.leaderId === this.id ? 0 : this.leaderId;
    for (const waiting of this.waiters.values()) {
      for (const requestId of waiting) this.reply({ requestId, ok: false, error: 'NOT_LEADER', message: 'leader stepped down', leader });
    }
    this.waiters.clear();
    this.pendingWrites = [];
    this.pendingWriteBytes = 0;
  }

  /** Queues again the commands of a batch body that clients still wait for. */
  private requeueWaitingCommands(body: Uint8Array): void {
    const decoded = decodeBody(body);
    if (typeof decoded === 'string' || decoded.kind !== 'batch') return;
    // These commands were admitted once (the queue bounds held then, and a batch is bounded), so
    // they go back at the front whatever the queue holds now.
    const again: QueuedWrite[] = [];
    for (const tuple of decoded.commands) {
      const command = decodeCommand(tuple);
      if (typeof command === 'string' || command.session === null || !this.waiters.has(requestKey(command.session, command.seq))) continue;
      const bytes = commandBytes(command);
      again.push({ requestId: 0, command: tuple as CommandTuple, bytes });
      this.pendingWriteBytes += bytes;
    }
    if (again.length > 0) this.pendingWrites = [...again, ...this.pendingWrites];
  }

  /** Answers every read a leadership still holds: it can no longer confirm them. */
  private failReads(leadership: Leadership, message: string): void {
    const rounds = [...leadership.confirmed, ...(leadership.round ? [leadership.round] : [])];
    const reads = [...rounds.flatMap((round) => round.reads), ...leadership.queuedReads];
    leadership.confirmed = [];
    leadership.round = undefined;
    leadership.queuedReads = [];
    for (const read of reads) this.reply({ requestId: read.requestId, ok: false, error: 'NOT_LEADER', message, leader: 0 });
  }

  // ---------------------------------------------------------------------------------------------
  // Reads (ReadIndex)

  private maybeStartReadRound(): void {
    const leadership = this.leadership;
    if (!leadership || leadership.round || leadership.queuedReads.length === 0) return;
    // A new leader serves reads only once everything phase 1 found is chosen (Raft §6.4's
    // "commit an entry of its own term first").
    if (this.chosenThrough < leadership.horizon) return;
    const round: ReadRound = { round: ++leadership.heartbeatRound, readIndex: this.chosenThrough, reads: leadership.queuedReads, acks: new NodeSet() };
    leadership.queuedReads = [];
    leadership.round = round;
    round.acks.add(this.id);
    if (round.acks.size >= majority(this.members.length)) return this.confirmReadRound();
    this.broadcastHeartbeat(round.round);
  }

  private confirmReadRound(): void {
    const leadership = this.leadership!;
    leadership.confirmed.push(leadership.round!);
    leadership.round = undefined;
    this.serveConfirmedReads();
  }

  private serveConfirmedReads(): void {
    const leadership = this.leadership;
    if (!leadership) return;
    while (leadership.confirmed.length > 0 && leadership.confirmed[0]!.readIndex <= this.headHeight) {
      const round = leadership.confirmed.shift()!;
      for (const read of round.reads) this.answerRead({ requestId: read.requestId, key: read.key, stale: false }, false);
    }
  }

  private answerRead(request: ReadRequest, stale: boolean): void {
    const head = this.ledger.head;
    if (!head || !this.ledger.hasGenesis) return this.replyError(request.requestId, 'NOT_READY', 'this node has no chain yet');
    const value = this.ledger.state.get(request.key) ?? null;
    this.reply({ requestId: request.requestId, ok: true, kind: 'read', value, height: head.height, hash: head.hash, stale });
  }

  // ---------------------------------------------------------------------------------------------
  // Output

  private send(message: Message): void {
    this.ready.messages.push(message);
  }

  private event(level: EventLevel, message: string, fields?: Record<string, unknown>): void {
    this.ready.events.push({ level, message, ballot: this.ballot, height: this.headHeight, fields });
  }
}
