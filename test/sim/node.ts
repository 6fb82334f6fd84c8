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
import { fetchReplyPlan, hashesReplyPlan } from '../../src/host/serve.js';
import type { ReplicaConfig } from '../../src/replica/config.js';
import { sealWireCommand } from '../../src/kv/command.js';
import { SessionIdCache } from '../../src/kv/session-map.js';
import type { Message } from '../../src/replica/messages.js';
import type { ClientReply } from '../../src/replica/ready.js';
import { Replica } from '../../src/replica/replica.js';
import { type ChainStore, decodeHead } from '../../src/storage/chain-store.js';
import { ACCEPTOR_KEY, blockKey, HEAD_KEY } from '../../src/storage/keys.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';
import { runPlanSync } from '../../src/storage/plan.js';
import type { SimNetwork } from './network.js';
import type { VerifyRequest } from '../../src/ledger/verified.js';
import type { HeadSigning } from '../../src/replica/certify.js';

export type PlantedBug = 'reply-before-persist' | 'ignore-phase1-values' | 'wiped-votes-at-once' | 'repair-keeps-vote';

export interface ClientRequestPayload {
  readonly kind: 'write' | 'read';
  readonly requestId: number;
  readonly command?: readonly unknown[];
  readonly key?: string;
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
}

/** Log lines kept per node for failure reports. */
const LOG_LINES_MAX = 400;
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
    this.host = new ReadyLoop(store, { nodeId: this.id, unsafeSendBeforeSync: bug === 'reply-before-persist' });
    this.replica = new Replica(this.options.config, prng, outcome.restored, this.options.signing);
    this.note(now, `started: head ${outcome.head?.height ?? 'none'}, voting ${outcome.restored.acceptor.voting}`);
  }

  /** Power cut: unsynced writes and unsent messages are lost. */
  crash(now: number): void {
    this.backend.crash();
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
  }

  deliver(message: Message): void {
    this.replica?.step(message);
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
    for (const serve of ready.serves) this.send(now, [runPlanSync(fetchReplyPlan(this.id, this.store!.head, serve), this.backend)], []);
    for (const serve of ready.hashServes) this.send(now, [runPlanSync(hashesReplyPlan(this.id, this.options.sha256, serve), this.backend)], []);
    this.maybeWrite(now);
    return ready.replies.length > 0 || ready.messages.some((message) => (message.type === 'promise' || message.type === 'accepted') && message.to !== this.id);
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
    for (const message of messages) network.send(now, from, { kind: 'node', id: message.to }, message, message.to === this.id);
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
