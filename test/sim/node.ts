/**
 * A simulated node: the production Replica and the production host (src/host: Ready loop,
 * restore and repair, bootstrap, block serving) with simulated edges. Disk = MemoryBackend
 * (writes are unsynced until a simulated fsync completes; a crash loses them; corruption at rest
 * flips a stored bit), network = SimNetwork, clock = the simulation's ticks, randomness = a PRNG
 * forked from the seed. This file only performs what the host plans: it writes the batch the
 * host hands out, completes its fsync after a random delay, and sends what the host releases.
 */
import { toHex } from '../../src/lib/bytes.js';
import type { Prng } from '../../src/lib/prng.js';
import type { Sha256 } from '../../src/lib/sha256.js';
import type { GenesisConfig } from '../../src/chain/body.js';
import { bootstrapSync } from '../../src/host/genesis.js';
import { ReadyLoop } from '../../src/host/ready-loop.js';
import { restoreSync } from '../../src/host/restore.js';
import { BodyRepair, scrubPlan } from '../../src/host/scrub.js';
import { fetchReplyPlan, hashesReplyPlan, type ServeCheck, snapshotServePlan } from '../../src/host/serve.js';
import type { ReplicaConfig } from '../../src/replica/config.js';
import { sealWireCommand } from '../../src/kv/command.js';
import { SessionIdCache } from '../../src/kv/session-map.js';
import type { Message } from '../../src/replica/messages.js';
import type { ClientReply } from '../../src/replica/ready.js';
import { Replica } from '../../src/replica/replica.js';
import { type ChainStore, decodeHead, prunePlan } from '../../src/storage/chain-store.js';
import { ACCEPTOR_KEY, blockKey, HEAD_KEY } from '../../src/storage/keys.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';
import { PlanStepper, runPlanSync } from '../../src/storage/plan.js';
import { CHECKPOINTS_KEPT_DEFAULT, writeCheckpointPlan } from '../../src/storage/checkpoint-store.js';
import type { SimNetwork } from './network.js';
import type { RangeQuery } from '../../src/kv/range.js';
import type { VerifyRequest } from '../../src/ledger/verified.js';
import type { HeadSigning } from '../../src/replica/certify.js';

export type PlantedBug = 'reply-before-persist' | 'ignore-phase1-values' | 'wiped-votes-at-once' | 'repair-keeps-vote' | 'stale-ranges';

export interface ClientRequestPayload {
  readonly kind: 'write' | 'read' | 'range';
  readonly requestId: number;
  readonly command?: readonly unknown[];
  readonly key?: string;
  /** A range read (src/kv/range.ts). */
  readonly range?: RangeQuery;
  /** A verified read or write (src/ledger/verified.ts): proofs at a majority-signed head. */
  readonly verify?: VerifyRequest;
}

export interface NodeOptions {
  readonly id: number;
  readonly config: ReplicaConfig;
  readonly sha256: Sha256;
  readonly prng: Prng;
  readonly network: SimNetwork;
  /** Simulated fsync latency in ticks, uniform in [0, syncTicksMax]. */
  readonly syncTicksMax: number;
  readonly bug?: PlantedBug;
  /** Every appended block goes through here (the one-value-per-height checker). */
  readonly onBlock: (node: number, record: Uint8Array) => void;
  /** This member's head signing (its key is in genesis). */
  readonly signing?: HeadSigning;
  /** Blocks between checkpoints (undefined: none); written one store operation per tick. */
  readonly checkpointEvery?: number;
  /** Retention: after each checkpoint, prune the bodies more than this many blocks below it. */
  readonly retainBlocks?: number;
  /** A faulty member: every snapshot chunk it sends has one byte changed (the proofs must catch it). */
  readonly tamperChunks?: boolean;
}

/** Log lines kept per node for failure reports. */
const LOG_LINES_MAX = 400;
/** The simulated scrub checks SCRUB_BLOCKS_PER_TICK blocks every SCRUB_EVERY_TICKS ticks (a pass over a few hundred blocks in a few hundred ticks). */
const SCRUB_BLOCKS_PER_TICK = 16;
const SCRUB_EVERY_TICKS = 10;
/** Ticks a repair fetch waits before the next peer is asked. */
const REPAIR_RETRY_TICKS = 50;
/** Corruption at rest hits one of this many blocks below the durable head (where votes were). */
const CORRUPT_DEPTH_BLOCKS = 3;

export class SimNode {
  readonly id: number;
  readonly backend = new MemoryBackend();
  private store: ChainStore | undefined;
  private host: ReadyLoop | undefined;
  replica: Replica | undefined;
  /** Tick at which the fsync of the batch in flight completes (one at a time: group commit). */
  private syncDueTick: number | undefined;
  private readonly requestClients = new Map<number, number>();
  /** As the node's driver: ids of seen secrets memoized. */
  private readonly sessionIds: SessionIdCache;
  readonly log: string[] = [];
  wiped = false;
  /** Restores that found corruption and repaired it (chain or acceptor record). */
  repairs = 0;
  /** Checkpoints and prunes completed, restarts from a checkpoint, state syncs finished. */
  readonly background = { checkpoints: 0, prunes: 0, restartsFromCheckpoint: 0, stateSyncs: 0, chunksRefused: 0 };
  /** The checkpoint or prune being written, one operation per tick (a crash abandons it). */
  private work: { kind: 'checkpoint'; height: number; plan: PlanStepper<unknown> } | { kind: 'prune'; below: number; plan: PlanStepper<number> } | undefined;
  private checkpointHeight = -1;
  /** The scrub's next height, and the damaged blocks being refetched (as the driver does). */
  private scrubCursor = 1;
  private bodyRepair: BodyRepair | undefined;
  /** Chunks this (faulty) node changed before sending. */
  tampered = 0;
  /** Damaged blocks found (by the scrub or while serving) and repaired from a peer. */
  readonly bodyRepairs = { found: 0, repaired: 0 };

  constructor(private readonly options: NodeOptions) {
    this.id = options.id;
    this.sessionIds = new SessionIdCache(options.sha256, options.prng.nextU32());
  }

  get up(): boolean {
    return this.replica !== undefined;
  }

  /** Writes genesis and a voting acceptor state: a founding member of a new cluster. */
  bootstrap(genesis: GenesisConfig): void {
    bootstrapSync(this.backend, this.options.sha256, genesis, true);
  }

  /** Starts (or restarts) the replica from what the disk durably holds, through the host's restore. */
  start(now: number, genesis?: GenesisConfig): void {
    const bug = this.options.bug;
    if (bug === 'wiped-votes-at-once' && this.wiped && genesis && this.backend.getSync(HEAD_KEY) === undefined) {
      // Planted bug: the wiped node is bootstrapped again and votes at once, as if its disk had
      // never promised or accepted anything.
      this.bootstrap(genesis);
    }
    const prng = this.options.prng.fork();
    // A seeded, per-start hash seed, as the node draws a random one.
    const { store, outcome } = restoreSync(this.backend, this.options.sha256, { unsafeRepairKeepsVote: bug === 'repair-keeps-vote', hashSeed: prng.nextU32() });
    if (outcome.repaired || outcome.acceptorRepaired) this.repairs++;
    if (outcome.repaired) this.note(now, `repaired: ${outcome.repaired.reason} at ${outcome.repaired.height} (${outcome.repaired.message})`);
    if (outcome.acceptorRepaired) this.note(now, 'repaired: unreadable acceptor record');
    this.store = store;
    this.checkpointHeight = outcome.checkpoint ?? -1;
    this.scrubCursor = store.oldestBody;
    this.bodyRepair = new BodyRepair(this.id, this.options.config.members, REPAIR_RETRY_TICKS);
    if (outcome.checkpoint !== undefined) this.background.restartsFromCheckpoint++;
    this.host = new ReadyLoop(store, { nodeId: this.id, unsafeSendBeforeSync: bug === 'reply-before-persist' });
    this.replica = new Replica(this.options.config, prng, outcome.restored, this.options.signing);
    this.note(now, `started: head ${outcome.head?.height ?? 'none'}, voting ${outcome.restored.acceptor.voting}, checkpoint ${outcome.checkpoint ?? 'none'} (${outcome.blocks} blocks replayed), bodies from ${store.oldestBody}`);
  }

  /** Power cut: unsynced writes and unsent messages are lost. */
  crash(now: number): void {
    this.backend.crash();
    if (this.work) this.note(now, `crash abandons the ${this.work.kind} in progress`);
    this.work = undefined;
    this.bodyRepair = undefined;
    if (this.replica) {
      this.background.stateSyncs += this.replica.syncStatus.syncs;
      this.background.chunksRefused += this.replica.syncStatus.chunksRefused;
    }
    this.replica = undefined;
    this.host = undefined;
    this.syncDueTick = undefined;
    this.requestClients.clear();
    this.note(now, 'crashed');
  }

  /** Crash and lose the disk. */
  wipe(now: number): void {
    this.crash(now);
    this.backend.wipe();
    this.wiped = true;
    this.note(now, 'wiped');
  }

  /**
   * Corruption at rest while the node is down: flips one bit of a durable block near the head,
   * or (a tenth of the time) of the acceptor record. Restore must find and repair it.
   */
  corrupt(now: number, prng: Prng): void {
    const headBytes = this.backend.getSync(HEAD_KEY);
    const head = headBytes ? decodeHead(headBytes) : undefined;
    const target = !head || prng.chance(0.1) ? undefined : prng.between(Math.max(0, head.height - CORRUPT_DEPTH_BLOCKS + 1), head.height);
    const key = target === undefined ? ACCEPTOR_KEY : blockKey(target);
    if (this.backend.flipDurableBit(key, prng.between(0, 1 << 24))) this.note(now, `corrupted at rest: ${target === undefined ? 'acceptor record' : `block ${target}`}`);
  }

  tick(now: number): void {
    this.replica?.tick(now * 10);
    this.backgroundStep(now);
    this.scrubStep(now);
  }

  /**
   * Checkpoints and retention as the node driver does them, but one store operation per tick,
   * beside the Ready loop's writes: a crash may land between any two. A checkpoint starts only
   * when everything planned is written, so its block is at or below what the store holds.
   */
  private backgroundStep(now: number): void {
    const { replica, host, store } = this;
    if (!replica || !host || !store) return;
    if (this.work) {
      this.work.plan.step(this.backend);
      if (!this.work.plan.done) return;
      const work = this.work;
      this.work = undefined;
      if (work.kind === 'prune') {
        store.pruned(work.below);
        this.background.prunes++;
        this.note(now, `pruned ${work.plan.value} bodies below ${work.below}`);
        return;
      }
      this.checkpointHeight = work.height;
      this.background.checkpoints++;
      this.note(now, `checkpoint written at ${work.height}`);
      const retain = this.options.retainBlocks;
      if (retain !== undefined && work.height - retain > store.oldestBody) this.work = { kind: 'prune', below: work.height - retain, plan: new PlanStepper(prunePlan(work.height - retain)) };
      return;
    }
    const every = this.options.checkpointEvery;
    const head = replica.head;
    if (every === undefined || !head || head.height - Math.max(0, this.checkpointHeight) < every || !host.idle || store.head?.height !== head.height) return;
    const snapshot = replica.state.snapshot();
    this.work = { kind: 'checkpoint', height: head.height, plan: new PlanStepper(writeCheckpointPlan(this.options.sha256, head.height, head.hash, snapshot, CHECKPOINTS_KEPT_DEFAULT)) };
  }

  deliver(message: Message, now: number): void {
    if (message.type === 'blocks' && this.bodyRepair?.awaits(message.fromHeight) && this.replica) {
      const outcome = this.bodyRepair.onBlocks(this.options.sha256, message, this.replica.chain.history.leaf(message.fromHeight));
      if (outcome?.kind === 'repaired') {
        // Unsynced, like any write: a crash before the next sync loses it, and the scrub finds it again.
        this.backend.writeSync(outcome.ops, { sync: false });
        this.bodyRepairs.repaired++;
        this.note(now, `repaired block ${outcome.height} (${outcome.reason}) from node ${message.from}`);
      }
      return;
    }
    this.replica?.step(message);
  }

  /** A block found damaged: fetched again from a peer (BodyRepair, as in the driver). */
  private queueRepair(now: number, height: number, reason: string): void {
    if (!this.bodyRepair || this.store?.isPruned(height) || this.bodyRepair.awaits(height)) return;
    const fetch = this.bodyRepair.queue(height, reason, now);
    if (!fetch) return;
    this.bodyRepairs.found++;
    this.note(now, `damaged block ${height} (${reason}): fetching it again`);
    this.send(now, [fetch], []);
  }

  /** The scrub, a few blocks per tick, and the repair retries. */
  private scrubStep(now: number): void {
    const { replica, store, bodyRepair } = this;
    if (!replica || !store || !bodyRepair || !store.head || store.head.height < 1) return;
    if (now % SCRUB_EVERY_TICKS !== 0) return;
    this.send(now, bodyRepair.retry(now, (height) => store.isPruned(height)), []);
    if (this.scrubCursor > store.head.height || this.scrubCursor < store.oldestBody) this.scrubCursor = store.oldestBody;
    const history = replica.chain.history;
    const step = runPlanSync(scrubPlan(this.options.sha256, this.scrubCursor, Math.min(store.head.height, replica.head?.height ?? -1), SCRUB_BLOCKS_PER_TICK, (height) => history.leaf(height)), this.backend);
    this.scrubCursor = step.next;
    for (const finding of step.damaged) this.queueRepair(now, finding.height, finding.reason);
  }

  clientRequest(clientId: number, payload: ClientRequestPayload): void {
    const replica = this.replica;
    if (!replica) return;
    this.requestClients.set(payload.requestId, clientId);
    if (payload.kind === 'write') {
      // As the node's request decoding does: the chain records the id derived from the secret.
      const sealed = sealWireCommand(payload.command, this.sessionIds);
      if (typeof sealed === 'string') throw new Error(`sim client sent a bad write: ${sealed}`);
      replica.propose({ requestId: payload.requestId, command: sealed.tuple, decoded: sealed.command, verify: payload.verify });
    }
    // The planted bug 'stale-ranges' answers range reads from the contacted node's own state, no ReadIndex.
    else if (payload.kind === 'range') replica.read({ requestId: payload.requestId, key: '', stale: this.options.bug === 'stale-ranges', range: payload.range });
    else replica.read({ requestId: payload.requestId, key: payload.key!, stale: false, verify: payload.verify });
  }

  /**
   * Takes the replica's Ready through the host: sends what may leave now, serves fetches, writes
   * the next batch. Returns true when the Ready carried a vote (promise or accepted) or client
   * replies: moments at which a crash tests persistence before reply.
   */
  flush(now: number): boolean {
    const replica = this.replica;
    const host = this.host;
    if (!replica || !host) return false;
    const ready = replica.takeReady();
    for (const event of ready.events) {
      this.note(now, `${event.level} ${event.message} ballot=${event.ballot} height=${event.height}${event.fields ? ' ' + safeJson(event.fields) : ''}`);
    }
    for (const record of ready.blocks) this.options.onBlock(this.id, record);
    this.send(now, host.plan(ready), ready.replies);
    const check = this.serveCheck(now, replica);
    for (const serve of ready.serves) this.send(now, [runPlanSync(fetchReplyPlan(this.id, this.store!.head, serve, { prunedBelow: this.store!.prunedBelow, check }), this.backend)], []);
    for (const serve of ready.hashServes) this.send(now, [runPlanSync(hashesReplyPlan(this.id, this.options.sha256, serve), this.backend)], []);
    for (const serve of ready.snapshotServes) this.send(now, [runPlanSync(snapshotServePlan(this.id, serve, check), this.backend)], []);
    this.maybeWrite(now);
    return ready.replies.length > 0 || ready.messages.some((message) => (message.type === 'promise' || message.type === 'accepted') && message.to !== this.id);
  }

  /** As the driver's: serve only what matches the chain's hashes (the sim has no scrub to repair the rest). */
  private serveCheck(now: number, replica: Replica): ServeCheck {
    return {
      sha256: this.options.sha256,
      blockHash: (height) => (height <= (replica.head?.height ?? -1) ? replica.chain.history.leaf(height) : undefined),
      onDamaged: (height, what) => this.queueRepair(now, height, `${what.toUpperCase()}_DAMAGED (found serving it)`),
    };
  }

  /** Writes the host's next batches (unsynced) until one needs an fsync, which then starts. */
  private maybeWrite(now: number): void {
    while (this.syncDueTick === undefined && this.host) {
      const batch = this.host.nextBatch();
      if (!batch) return;
      if (batch.ops.length > 0) this.backend.writeSync(batch.ops, { sync: false });
      if (batch.sync) {
        this.syncDueTick = now + this.options.prng.between(0, this.options.syncTicksMax);
        return;
      }
      this.send(now, this.host.batchWritten(), []);
    }
  }

  /** Completes the fsync in flight when it is due and releases what waited for it. */
  releaseDue(now: number): void {
    if (this.syncDueTick === undefined || this.syncDueTick > now || !this.host) return;
    this.syncDueTick = undefined;
    this.backend.sync();
    this.send(now, this.host.batchWritten(), []);
    this.maybeWrite(now);
  }

  private send(now: number, messages: readonly Message[], replies: readonly ClientReply[]): void {
    const network = this.options.network;
    const from = { kind: 'node' as const, id: this.id };
    for (const sent of messages) {
      let message = sent;
      if (this.options.tamperChunks && message.type === 'chunk' && message.bytes && message.bytes.length > 0) {
        const bytes = message.bytes.slice();
        bytes[bytes.length - 1] ^= 0x01;
        message = { ...message, bytes };
        this.tampered++;
      }
      network.send(now, from, { kind: 'node', id: message.to }, message, message.to === this.id);
    }
    for (const reply of replies) {
      const client = this.requestClients.get(reply.requestId);
      if (client === undefined) continue;
      this.requestClients.delete(reply.requestId);
      network.send(now, from, { kind: 'client', id: client }, reply);
    }
  }

  note(now: number, line: string): void {
    this.log.push(`[t=${now} n${this.id}] ${line}`);
    if (this.log.length > LOG_LINES_MAX) this.log.shift();
  }
}

function safeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v instanceof Uint8Array ? toHex(v).slice(0, 16) : v));
}
