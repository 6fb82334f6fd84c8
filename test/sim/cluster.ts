/**
 * One deterministic simulation of a whole cluster from one seed: N replicas running the
 * production Replica and host, a faulty network, crashes that lose unsynced writes (a minority at
 * a time, plus rare whole-cluster power losses), wipes (a minority at a time), corruption at rest
 * (a flipped bit in a stored block or the acceptor record of some crashed nodes, which the
 * production restore must repair), partitions that change over time, and clients recording a
 * history. Then the faults stop and the cluster must converge. Checkers:
 *
 * - safety, on every block any replica appends: one block (so one chosen value and one state
 *   digest) per height across all replicas, which also makes every chain a prefix of the longest;
 * - the client history is linearizable (src/check/linearizability.ts), timed-out operations counted
 *   as maybe-applied;
 * - liveness: after the faults stop, every replica reaches the same head, wiped replicas vote
 *   again, and every client operation gets an answer, within a bounded number of ticks.
 *
 * A failure names the seed, the cluster size and the command that replays it exactly.
 */
import { readU64, toHex } from '../../src/lib/bytes.js';
import { Prng } from '../../src/lib/prng.js';
import { hashRecord, HEADER_BYTES } from '../../src/chain/block.js';

import { Ledger } from '../../src/ledger/ledger.js';
import { generateMemberKey } from '../../src/ledger/signing.js';
import { fastEd25519Signer, fastEd25519Verifier } from '../../src/native/ed25519.js';
import type { HeadSigning } from '../../src/replica/certify.js';
import { checkLinearizability, type HistoryOp, type LinearizabilityResult } from '../../src/check/linearizability.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Phase1 } from '../../src/paxos/phase1.js';
import { replicaConfig } from '../../src/replica/config.js';
import type { Message } from '../../src/replica/messages.js';
import type { ClientReply } from '../../src/replica/ready.js';
import { API_PREFIX, SimClient } from './client.js';
import { type ChainCommand, checkChainOrder, type ChainOrderVerdict } from './chain-order.js';
import { decodeBody, type GenesisConfig } from '../../src/chain/body.js';

import { type NetworkFaults, SimNetwork } from './network.js';
import { type ClientRequestPayload, type PlantedBug, SimNode } from './node.js';

export interface SimulationOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly clients?: number;
  /** Ticks with faults, then the healing phase. */
  readonly faultTicks?: number;
  /** Ticks the cluster gets to converge once faults stop. */
  readonly settleTicksMax?: number;
  readonly bug?: PlantedBug;
  /** Fault kinds to use (default: all). */
  readonly faults?: ReadonlySet<FaultKind>;
  /**
   * Members hold Ed25519 keys (listed in genesis) and a third of the reads and of the writes are
   * verified: each answer is checked by its client (src/ledger/verified.ts) against the head it
   * trusts; an honest answer refused is a violation. (Off in the default test seeds, whose runs stay as they were.)
   */
  readonly verifiedReads?: boolean;
  /** Checkpoints, retention and so state sync in the mix (default true; false: the first round's runs). */
  readonly checkpoints?: boolean;
  /** A faulty member whose every snapshot chunk sent is changed by one byte (state sync must refuse them). */
  readonly tamperChunksFrom?: number;
  /** Log lines per node in a failure report (default 60). */
  readonly logLines?: number;
  /** Clients also issue txns and range reads, checked against the chain's order (default true). */
  readonly apiOps?: boolean;
}

export type FaultKind = 'crash' | 'wipe' | 'corrupt' | 'partition' | 'loss' | 'power';

export interface SimulationReport {
  readonly seed: number;
  readonly nodes: number;
  readonly ok: boolean;
  readonly failure?: string;
  readonly replay: string;
  readonly ticks: number;
  readonly blocks: number;
  readonly operations: number;
  readonly completed: number;
  readonly abandoned: number;
  /** Verified answers the clients checked (with verifiedReads). */
  readonly verifiedAnswers: number;
  /** Verified writes proven at their block, and those answered unprovable (with verifiedReads). */
  readonly verifiedWrites: number;
  readonly unprovableWrites: number;
  readonly faultsInjected: Record<FaultKind, number>;
  /** Restores that found corruption at rest and repaired it. */
  readonly repairs: number;
  /** This seed's checkpoint interval and retention (undefined: none), and what they did. */
  readonly ledger: {
    readonly checkpointEvery: number | undefined;
    readonly retainBlocks: number | undefined;
    readonly checkpoints: number;
    readonly prunes: number;
    readonly restartsFromCheckpoint: number;
    readonly stateSyncs: number;
    /** Snapshot chunks a syncing node refused, and chunks the faulty member changed. */
    readonly chunksRefused: number;
    readonly chunksTampered: number;
  };
  readonly linearizability?: LinearizabilityResult;
  /** Answered txns and range reads the chain-order check accepted (0 when it did not run). */
  readonly ordered: { readonly txns: number; readonly ranges: number };
  readonly log?: string[];
}

class SafetyViolation extends Error {}

/** Share of the (minority) crashes after which the node comes back with a flipped bit at rest. */
const CORRUPT_SHARE = 0.4;

function headSigning(key: { secretKey: Uint8Array; publicKey: Uint8Array }): HeadSigning {
  const sign = fastEd25519Signer(key.secretKey, key.publicKey);
  return { sign, verify: (publicKey, statement, signature) => fastEd25519Verifier.verify(publicKey, statement, signature) };
}

export function replayCommand(options: Pick<SimulationOptions, 'seed' | 'nodes' | 'bug' | 'verifiedReads'>): string {
  return `npm run sim -- --seed ${options.seed} --nodes ${options.nodes}${options.bug ? ` --bug ${options.bug}` : ''}${options.verifiedReads ? ' --verified-reads' : ''}`;
}

export function runSimulation(options: SimulationOptions): SimulationReport {
  const restore = options.bug === 'ignore-phase1-values' ? plantIgnorePhase1Values() : () => undefined;
  try {
    return new Simulation(options).run();
  } finally {
    restore();
  }
}

/** Planted bug for the checker's own test: a new leader forgets what phase 1 reported. */
function plantIgnorePhase1Values(): () => void {
  const original = Phase1.prototype.outcome;
  Phase1.prototype.outcome = function patched(this: Phase1) {
    const outcome = original.call(this);
    return { ...outcome, adopted: new Map() };
  };
  return () => {
    Phase1.prototype.outcome = original;
  };
}

class Simulation {
  private readonly prng: Prng;
  private readonly network: SimNetwork;
  private readonly nodes: SimNode[] = [];
  private readonly clients: SimClient[] = [];
  private readonly members: number[];
  private readonly blockAt = new Map<number, { hash: string; node: number }>();
  /** The first record seen at each height (the check above makes it every node's), for the chain-order check. */
  private readonly bodies = new Map<number, Uint8Array>();
  private orderedChecked: ChainOrderVerdict | undefined;
  private now = 0;
  private opIds = 0;
  private readonly faultsInjected: Record<FaultKind, number> = { crash: 0, wipe: 0, corrupt: 0, partition: 0, loss: 0, power: 0 };
  private readonly downUntil = new Map<number, number>();
  private partitionUntil = 0;
  private nextFaultTick = 0;
  private readonly faultKinds: ReadonlySet<FaultKind>;
  private readonly baseFaults: NetworkFaults;
  private readonly genesis: GenesisConfig;
  /** Per-seed fault intensity: ticks between faults and how long a node stays down. */
  private readonly faultGapTicks: readonly [number, number];
  /** Probability of crashing a node right after it sent a vote (storm seeds). */
  private readonly crashAfterVote: number;
  private faultEnd = 0;
  private readonly downTicks: readonly [number, number];
  private readonly ledgerSettings: { checkpointEvery: number | undefined; retainBlocks: number | undefined };

  constructor(private readonly options: SimulationOptions) {
    this.prng = new Prng(options.seed);
    this.faultKinds = options.faults ?? new Set<FaultKind>(['crash', 'wipe', 'corrupt', 'partition', 'loss', 'power']);
    this.baseFaults = {
      loss: this.faultKinds.has('loss') ? this.prng.nextFloat() * 0.08 : 0,
      duplicate: this.faultKinds.has('loss') ? this.prng.nextFloat() * 0.04 : 0,
      delayMin: 1,
      delayMax: this.prng.between(1, 4),
    };
    // A third of the seeds are storms: frequent, short outages, which is where lost unsynced
    // writes and forgotten promises show up.
    const storm = this.prng.chance(0.35);
    this.faultGapTicks = storm ? [10, 60] : [60, 240];
    this.downTicks = storm ? [3, 60] : [20, 300];
    this.crashAfterVote = storm && this.faultKinds.has('crash') ? 0.02 : 0;
    const syncTicksMax = this.prng.between(0, storm ? 20 : 3);
    this.network = new SimNetwork(this.prng.fork(), { ...this.baseFaults });
    this.members = Array.from({ length: options.nodes }, (_, i) => i + 1);
    // Member keys from their own stream, so the simulation's draws stay as they were.
    const keyPrng = new Prng(options.seed ^ 0x5eed_c0de);
    const keys = options.verifiedReads ? this.members.map(() => generateMemberKey(Uint8Array.from({ length: 32 }, () => keyPrng.nextInt(256)))) : [];
    const genesis: GenesisConfig = { clusterId: `sim-${options.seed}`, members: this.members, dedupCapacity: 1000, createdAtMs: 0, memberKeys: keys.map((key) => key.publicKey) };
    this.genesis = genesis;
    const genesisHash = hashRecord(fastSha256, Ledger.genesisRecord(fastSha256, genesis));
    // Checkpoints and retention from their own stream too: most seeds write checkpoints every few
    // dozen blocks, and most of those prune old bodies, so restarts load checkpoints and wiped
    // nodes often find the bodies they need gone and must sync state.
    const ledgerPrng = new Prng(options.seed ^ 0x0c4e_c4b7);
    const checkpointEvery = options.checkpoints === false || !ledgerPrng.chance(0.85) ? undefined : ledgerPrng.between(4, 60);
    const retainBlocks = checkpointEvery !== undefined && ledgerPrng.chance(0.7) ? ledgerPrng.between(0, 40) : undefined;
    this.ledgerSettings = { checkpointEvery, retainBlocks };
    for (const id of this.members) {
      const node = new SimNode({
        id,
        config: replicaConfig(id, this.members, { clusterId: genesis.clusterId, fetchBlocks: 64 }),
        sha256: fastSha256,
        prng: this.prng.fork(),
        network: this.network,
        syncTicksMax,
        bug: options.bug,
        onBlock: (node, record) => this.checkBlock(node, record),
        signing: keys.length > 0 ? headSigning(keys[id - 1]!) : undefined,
        checkpointEvery,
        retainBlocks,
        tamperChunks: options.tamperChunksFrom === id,
      });
      node.bootstrap(genesis);
      node.start(0);
      this.nodes.push(node);
    }
    for (let i = 0; i < (options.clients ?? 3); i++) {
      this.clients.push(
        new SimClient(
          { id: 100 + i, members: this.members, keys: 4, prng: this.prng.fork(), network: this.network, timeoutTicks: 60, attemptsMax: 6, thinkTicks: 8, verifiedReads: keys.length > 0 ? { genesisHash } : undefined, apiOps: options.apiOps !== false },
          () => ++this.opIds,
        ),
      );
    }
  }

  run(): SimulationReport {
    const faultTicks = this.options.faultTicks ?? 2500;
    const settleMax = this.options.settleTicksMax ?? 4000;
    this.faultEnd = faultTicks;
    try {
      for (; this.now < faultTicks; this.now++) {
        this.injectFaults();
        this.step();
      }
      this.heal();
      const settleEnd = this.now + settleMax;
      let settled = false;
      for (; this.now < settleEnd; this.now++) {
        if (this.now === faultTicks + 200) for (const client of this.clients) client.issuing = false;
        this.step();
        if (this.now > faultTicks + 200 && this.now % 20 === 0 && this.converged()) {
          settled = true;
          break;
        }
      }
      if (!settled) return this.report(`liveness: no convergence within ${settleMax} ticks after faults stopped: ${this.convergenceState()}`);
      const history = this.clients.flatMap((client) => client.history);
      const linearizability = checkLinearizability(history);
      if (linearizability.verdict === 'violation') {
        return this.report(`linearizability: ${linearizability.violation?.message} (key ${linearizability.violation?.key})`, linearizability);
      }
      const order = this.checkOrder();
      if (!order.ok) return this.report(`chain order: ${order.message}`, linearizability);
      this.orderedChecked = order;
      return this.report(undefined, linearizability);
    } catch (error) {
      if (error instanceof SafetyViolation) return this.report(error.message);
      return this.report(`crash: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }

  private step(): void {
    const now = this.now;
    for (const envelope of this.network.due(now)) {
      if (envelope.to.kind === 'client') {
        this.clients.find((client) => client.id === envelope.to.id)?.onReply(now, envelope.payload as ClientReply);
        continue;
      }
      const node = this.nodes[envelope.to.id - 1]!;
      if (!node.up) continue;
      if (envelope.from.kind === 'client') node.clientRequest(envelope.from.id, envelope.payload as ClientRequestPayload);
      else node.deliver(envelope.payload as Message, now);
    }
    for (const node of this.nodes) node.tick(now);
    for (const client of this.clients) client.tick(now);
    for (const node of this.nodes) {
      const voted = node.flush(now);
      // Crashes aimed at the moment a vote leaves, before it is synced (storm seeds only).
      if (voted && now < this.faultEnd && this.prng.chance(this.crashAfterVote)) this.crashNow(node);
    }
    for (const node of this.nodes) node.releaseDue(now);
  }

  /** One fault every 60..240 ticks; never more than a minority down, wiped or voteless at once. */
  private injectFaults(): void {
    const now = this.now;
    for (const [id, until] of this.downUntil) {
      if (now >= until) {
        this.downUntil.delete(id);
        this.nodes[id - 1]!.start(now, this.genesis);
      }
    }
    if (this.partitionUntil !== 0 && now >= this.partitionUntil) {
      this.network.heal();
      this.partitionUntil = 0;
    }
    if (now < this.nextFaultTick) return;
    this.nextFaultTick = now + this.prng.between(this.faultGapTicks[0], this.faultGapTicks[1]);
    // Corruption at rest is not a fault of its own: it comes with a share of the crashes.
    const kinds = [...this.faultKinds].filter((kind) => kind !== 'corrupt');
    if (kinds.length === 0) return;
    const kind = this.prng.pick(kinds);
    if (kind === 'power') this.powerLoss();
    else if (kind === 'crash' || kind === 'wipe') this.takeDown(kind);
    else if (kind === 'partition') this.partition();
    else this.network.faults = { ...this.baseFaults, loss: this.prng.nextFloat() * 0.25 };
    if (kind === 'loss') this.faultsInjected.loss++;
  }

  private impaired(): number {
    return this.nodes.filter((node) => !node.up || !node.replica!.voting).length;
  }

  private takeDown(kind: 'crash' | 'wipe'): void {
    const minority = Math.floor((this.nodes.length - 1) / 2);
    if (this.impaired() >= minority) return;
    const candidates = this.nodes.filter((node) => node.up && node.replica!.voting);
    if (candidates.length === 0) return;
    // Half the time the leader: its loss is what recovery has to get right.
    const leader = candidates.find((node) => node.replica!.role === 'leader');
    const node = leader && this.prng.chance(0.5) ? leader : this.prng.pick(candidates);
    if (kind === 'wipe') node.wipe(this.now);
    else node.crash(this.now);
    this.downUntil.set(node.id, this.now + this.prng.between(this.downTicks[0], this.downTicks[1]));
    this.faultsInjected[kind]++;
    if (kind === 'crash') this.maybeCorrupt(node);
  }

  /**
   * Every node loses power at the same tick (a datacenter outage) and comes back a few ticks
   * apart. More than a minority is down for a moment, so nothing can be chosen then, but every
   * vote a node gave must survive: this is the fault that exposes replying before persisting.
   * Rare (a twelfth of the faults at most), and never while a wiped node is still rejoining.
   */
  private powerLoss(): void {
    if (!this.prng.chance(0.35) || this.nodes.some((node) => !node.up || !node.replica!.voting)) return;
    for (const node of this.nodes) {
      node.crash(this.now);
      this.downUntil.set(node.id, this.now + this.prng.between(1, 40));
    }
    this.faultsInjected.power++;
    // No corruption here: a node whose rejoin grant was not yet durable comes back a learner
    // too, and two learners of three leave no majority (seed 201610).
  }

  private crashNow(node: SimNode): void {
    const minority = Math.floor((this.nodes.length - 1) / 2);
    if (!node.up || this.impaired() >= minority) return;
    node.crash(this.now);
    this.downUntil.set(node.id, this.now + this.prng.between(this.downTicks[0], this.downTicks[1]));
    this.faultsInjected.crash++;
  }

  /** After a minority crash: sometimes the node's disk flips a bit at rest while it is down. */
  private maybeCorrupt(node: SimNode): void {
    if (!this.faultKinds.has('corrupt') || !this.prng.chance(CORRUPT_SHARE)) return;
    node.corrupt(this.now, this.prng);
    this.faultsInjected.corrupt++;
  }

  private partition(): void {
    if (this.partitionUntil !== 0) return;
    const shuffled = [...this.members].sort(() => this.prng.nextFloat() - 0.5);
    const cut = this.prng.between(1, Math.floor(this.members.length / 2));
    this.network.partition(shuffled.slice(0, cut), shuffled.slice(cut));
    this.partitionUntil = this.now + this.prng.between(50, 400);
    this.faultsInjected.partition++;
  }

  private heal(): void {
    this.network.heal();
    this.partitionUntil = 0;
    this.network.faults = { ...this.baseFaults, loss: 0, duplicate: 0 };
    for (const id of this.downUntil.keys()) this.nodes[id - 1]!.start(this.now, this.genesis);
    this.downUntil.clear();
    for (const client of this.clients) client.mayGiveUp = false;
  }

  /** Txns and ranges against the chain's order (test/sim/chain-order.ts), over the blocks every node agreed on. */
  private checkOrder(): ChainOrderVerdict {
    const blocks: ChainCommand[][] = [];
    for (let height = 1; this.bodies.has(height); height++) {
      const body = decodeBody(this.bodies.get(height)!.subarray(HEADER_BYTES));
      if (typeof body === 'string') return { ok: false, message: `block ${height}: ${body}` };
      blocks.push(body.kind === 'batch' ? body.commands.map((tuple) => ({ tuple, session: sessionOf(tuple) })) : []);
    }
    return checkChainOrder(blocks, this.clients.flatMap((client) => client.ordered), (key) => key.startsWith(API_PREFIX));
  }

  private checkBlock(node: number, record: Uint8Array): void {
    const height = readU64(record, 1);
    const hash = toHex(hashRecord(fastSha256, record));
    const seen = this.blockAt.get(height);
    if (!seen) {
      this.blockAt.set(height, { hash, node });
      if (this.options.apiOps !== false) this.bodies.set(height, record);
      return;
    }
    if (seen.hash !== hash) {
      throw new SafetyViolation(`safety: node ${node} appended block ${height} ${hash.slice(0, 16)}, node ${seen.node} appended ${seen.hash.slice(0, 16)}`);
    }
  }

  private converged(): boolean {
    if (this.clients.some((client) => client.busy)) return false;
    const heads = this.nodes.map((node) => node.replica?.head);
    const first = heads[0];
    if (!first) return false;
    const allVoting = this.nodes.every((node) => node.replica?.voting);
    return allVoting && heads.every((head) => head && head.height === first.height && toHex(head.hash) === toHex(first.hash));
  }

  private convergenceState(): string {
    const nodes = this.nodes.map((node) => {
      const replica = node.replica;
      return replica ? `n${node.id}:${replica.role}@${replica.head?.height ?? '-'}${replica.voting ? '' : '(learner)'}` : `n${node.id}:down`;
    });
    const busy = this.clients.filter((client) => client.busy).map((client) => `c${client.id}`);
    return `${nodes.join(' ')}; busy clients: ${busy.join(',') || 'none'}`;
  }

  private report(failure: string | undefined, linearizability?: LinearizabilityResult): SimulationReport {
    const history: HistoryOp[] = this.clients.flatMap((client) => client.history);
    return {
      seed: this.options.seed,
      nodes: this.options.nodes,
      ok: failure === undefined,
      failure,
      replay: replayCommand(this.options),
      ticks: this.now,
      blocks: this.blockAt.size,
      operations: history.length,
      completed: this.clients.reduce((sum, client) => sum + client.completed, 0),
      abandoned: this.clients.reduce((sum, client) => sum + client.abandoned, 0),
      verifiedAnswers: this.clients.reduce((sum, client) => sum + client.verified, 0),
      verifiedWrites: this.clients.reduce((sum, client) => sum + client.verifiedWrites, 0),
      unprovableWrites: this.clients.reduce((sum, client) => sum + client.unprovable, 0),
      faultsInjected: this.faultsInjected,
      repairs: this.nodes.reduce((sum, node) => sum + node.repairs, 0),
      ledger: {
        ...this.ledgerSettings,
        checkpoints: this.nodes.reduce((sum, node) => sum + node.background.checkpoints, 0),
        prunes: this.nodes.reduce((sum, node) => sum + node.background.prunes, 0),
        restartsFromCheckpoint: this.nodes.reduce((sum, node) => sum + node.background.restartsFromCheckpoint, 0),
        stateSyncs: this.nodes.reduce((sum, node) => sum + node.background.stateSyncs + (node.replica?.syncStatus.syncs ?? 0), 0),
        chunksRefused: this.nodes.reduce((sum, node) => sum + node.background.chunksRefused + (node.replica?.syncStatus.chunksRefused ?? 0), 0),
        chunksTampered: this.nodes.reduce((sum, node) => sum + node.tampered, 0),
      },
      linearizability,
      ordered: this.orderedChecked?.ok ? { txns: this.orderedChecked.txns, ranges: this.orderedChecked.ranges } : { txns: 0, ranges: 0 },
      log: failure === undefined ? undefined : this.nodes.flatMap((node) => node.log.slice(-(this.options.logLines ?? 60))),
    };
  }
}

/** The session id (hex) a chain command records, or null for none. */
function sessionOf(tuple: unknown): string | null {
  const session = Array.isArray(tuple) ? tuple[1] : undefined;
  return session instanceof Uint8Array ? toHex(session) : null;
}
