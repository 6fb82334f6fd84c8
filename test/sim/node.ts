/**
 * A simulated node: the production Replica with simulated edges. Disk = MemoryBackend (writes
 * are unsynced until a simulated fsync completes; a crash loses them), network = SimNetwork,
 * clock = the simulation's ticks, randomness = a PRNG forked from the seed. The driver logic
 * (persist a Ready, then send) mirrors src/node and shares its storage code (persistOps).
 */
import { toHex } from '../../src/lib/bytes.js';
import { limits } from '../../src/lib/limits.js';
import type { Prng } from '../../src/lib/prng.js';
import type { Sha256 } from '../../src/lib/sha256.js';
import { hashRecord } from '../../src/chain/block.js';
import type { GenesisConfig } from '../../src/chain/body.js';
import type { ReplicaConfig } from '../../src/replica/config.js';
import { sealWireCommand } from '../../src/kv/command.js';
import { Ledger } from '../../src/replica/ledger.js';
import type { Message } from '../../src/replica/messages.js';
import { type ClientReply, mustPersistBeforeSending, type Ready } from '../../src/replica/ready.js';
import { Replica, type RestoredState } from '../../src/replica/replica.js';
import { acceptedRange, decodeAcceptedEntry, decodeAcceptorState, encodeAcceptorState, persistOps } from '../../src/storage/acceptor-store.js';
import { ChainStore, decodeHead } from '../../src/storage/chain-store.js';
import { ACCEPTOR_KEY, blockHeightOfKey, blockKey, blockKeyEnd, HEAD_KEY } from '../../src/storage/keys.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';
import type { SimNetwork } from './network.js';

export type PlantedBug = 'reply-before-persist' | 'ignore-phase1-values' | 'wiped-votes-at-once';

export interface ClientRequestPayload {
  readonly kind: 'write' | 'read';
  readonly requestId: number;
  readonly command?: readonly unknown[];
  readonly key?: string;
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
}

interface PendingSync {
  readonly messages: Message[];
  readonly replies: ClientReply[];
  /** The backend's unsynced-write mark after this Ready was written. */
  readonly mark: number;
}

/** One fsync in flight at a time (group commit): it covers every Ready written before it began. */
interface SyncInFlight {
  readonly dueTick: number;
  readonly mark: number;
  /** How many pending Readys it covers. */
  readonly covers: number;
}

/** Log lines kept per node for failure reports. */
const LOG_LINES_MAX = 400;

export class SimNode {
  readonly id: number;
  readonly backend = new MemoryBackend();
  private store: ChainStore | undefined;
  replica: Replica | undefined;
  private pending: PendingSync[] = [];
  private syncing: SyncInFlight | undefined;
  private readonly requestClients = new Map<number, number>();
  readonly log: string[] = [];
  wiped = false;

  constructor(private readonly options: NodeOptions) {
    this.id = options.id;
  }

  get up(): boolean {
    return this.replica !== undefined;
  }

  /** Writes genesis and a voting acceptor state: a founding member of a new cluster. */
  bootstrap(genesis: GenesisConfig): void {
    const record = Ledger.genesisRecord(this.options.sha256, genesis);
    const store = ChainStore.withHead(this.backend, this.options.sha256, undefined);
    const { ops } = store.prepareAppend([record]);
    ops.push({ type: 'put', key: ACCEPTOR_KEY, value: encodeAcceptorState({ promised: 0, voting: true }) });
    this.backend.writeSync(ops, { sync: true });
  }

  /** Starts (or restarts) the replica from what the disk durably holds. */
  start(now: number, genesis?: GenesisConfig): void {
    if (this.options.bug === 'wiped-votes-at-once' && this.wiped && genesis && this.backend.getSync(HEAD_KEY) === undefined) {
      // Planted bug: the wiped node is bootstrapped again and votes at once, as if its disk had
      // never promised or accepted anything.
      this.bootstrap(genesis);
    }
    const restored = this.restore();
    this.replica = new Replica(this.options.config, this.options.prng.fork(), restored);
    this.note(now, `started: head ${restored.ledger.head?.height ?? 'none'}, voting ${restored.acceptor.voting}`);
  }

  private restore(): RestoredState {
    const sha256 = this.options.sha256;
    const ledger = new Ledger(sha256);
    const headBytes = this.backend.getSync(HEAD_KEY);
    const head = headBytes ? decodeHead(headBytes) : undefined;
    for (const entries of this.backend.entriesSync({ gte: blockKey(0), lt: blockKeyEnd }, 4096)) {
      for (const [key, record] of entries) {
        const height = blockHeightOfKey(key);
        const outcome = ledger.replay(height, record);
        if ('problem' in outcome) throw new Error(`node ${this.id}: stored chain broken at ${outcome.problem.height}: ${outcome.problem.message}`);
      }
    }
    if ((head?.height ?? -1) !== (ledger.head?.height ?? -1)) throw new Error(`node ${this.id}: head pointer disagrees with blocks`);
    this.store = ChainStore.withHead(this.backend, sha256, ledger.head);
    const acceptorBytes = this.backend.getSync(ACCEPTOR_KEY);
    const acceptor = acceptorBytes ? decodeAcceptorState(acceptorBytes) : { promised: 0, voting: false };
    const accepted = [];
    const headHeight = ledger.head?.height ?? -1;
    for (const entries of this.backend.entriesSync(acceptedRange, 4096)) {
      for (const [key, value] of entries) {
        const entry = decodeAcceptedEntry(key, value);
        if (entry.slot > headHeight) accepted.push(entry);
      }
    }
    return { ledger, acceptor, accepted };
  }

  /** Power cut: unsynced writes and unsent messages are lost. */
  crash(now: number): void {
    this.backend.crash();
    this.replica = undefined;
    this.pending = [];
    this.syncing = undefined;
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
      const command = sealWireCommand(payload.command, this.options.sha256);
      if (typeof command === 'string') throw new Error(`sim client sent a bad write: ${command}`);
      replica.propose({ requestId: payload.requestId, command });
    }
    else replica.read({ requestId: payload.requestId, key: payload.key!, stale: false });
  }

  /**
   * Takes the replica's Ready: writes it (unsynced), schedules its fsync, serves fetches.
   * Returns true when the Ready carried a vote (promise or accepted) or client replies: moments at
   * which a crash tests persistence before reply.
   */
  flush(now: number): boolean {
    const replica = this.replica;
    if (!replica) return false;
    const ready = replica.takeReady();
    for (const event of ready.events) {
      this.note(now, `${event.level} ${event.message} ballot=${event.ballot} height=${event.height}${event.fields ? ' ' + safeJson(event.fields) : ''}`);
    }
    this.persist(ready);
    for (const serve of ready.serves) this.serve(now, serve.to, serve.fromHeight, serve.maxBlocks);
    const mark = this.backend.unsyncedMark;
    if (this.options.bug === 'reply-before-persist') {
      // Planted bug: send first, make durable later; a crash in between loses promises.
      this.send(now, ready.messages, ready.replies);
      this.pending.push({ messages: [], replies: [], mark });
    } else {
      // The node driver's policy (src/replica/ready.ts): votes and messages to oneself wait for
      // the fsync, everything else leaves at once.
      const wait = ready.messages.filter((message) => mustPersistBeforeSending(message) || message.to === this.id);
      const now_ = ready.messages.filter((message) => !(mustPersistBeforeSending(message) || message.to === this.id));
      this.send(now, now_, ready.replies);
      // Like the node driver: only votes (and what waits on them) start an fsync; blocks alone
      // stay volatile until the next one, and a crash before it loses them.
      if (wait.length > 0 || ready.acceptor || ready.accepted.length > 0) this.pending.push({ messages: wait, replies: [], mark });
    }
    this.maybeStartSync(now);
    return ready.replies.length > 0 || ready.messages.some((message) => (message.type === 'promise' || message.type === 'accepted') && message.to !== this.id);
  }

  private persist(ready: Ready): void {
    const store = this.store!;
    const { ops, head } = persistOps(store, ready);
    if (ops.length === 0) return;
    this.backend.writeSync(ops, { sync: false });
    if (head) store.committed(head);
    for (const record of ready.blocks) this.options.onBlock(this.id, record);
  }

  private maybeStartSync(now: number): void {
    if (this.syncing || this.pending.length === 0) return;
    const last = this.pending[this.pending.length - 1]!;
    this.syncing = { dueTick: now + this.options.prng.between(0, this.options.syncTicksMax), mark: last.mark, covers: this.pending.length };
  }

  /** Completes the fsync in flight when it is due and releases what waited for it. */
  releaseDue(now: number): void {
    const sync = this.syncing;
    if (!sync || sync.dueTick > now) return;
    this.syncing = undefined;
    this.backend.syncThrough(sync.mark);
    const done = this.pending.splice(0, sync.covers);
    const consumed = sync.mark;
    for (const rest of this.pending) (rest as { mark: number }).mark -= consumed;
    for (const ready of done) this.send(now, ready.messages, ready.replies);
    this.maybeStartSync(now);
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

  private serve(now: number, to: number, fromHeight: number, maxBlocks: number): void {
    const records: Uint8Array[] = [];
    let bytes = 0;
    for (let height = fromHeight; records.length < maxBlocks; height++) {
      const record = this.backend.getSync(blockKey(height));
      if (!record || (records.length > 0 && bytes + record.length > limits.fetchBytesMax)) break;
      records.push(record);
      bytes += record.length;
    }
    const head = this.store?.head;
    const message: Message = { type: 'blocks', from: this.id, to, fromHeight, records, head: head ? { height: head.height, hash: head.hash } : null };
    this.options.network.send(now, { kind: 'node', id: this.id }, { kind: 'node', id: to }, message);
  }

  note(now: number, line: string): void {
    this.log.push(`[t=${now} n${this.id}] ${line}`);
    if (this.log.length > LOG_LINES_MAX) this.log.shift();
  }

  /** Hashes of every block on this node's disk (durable or not), by height. */
  chainHashes(): string[] {
    const out: string[] = [];
    for (const entries of this.backend.entriesSync({ gte: blockKey(0), lt: blockKeyEnd }, 4096)) {
      for (const [, record] of entries) out.push(toHex(hashRecord(this.options.sha256, record)));
    }
    return out;
  }
}

function safeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v instanceof Uint8Array ? toHex(v).slice(0, 16) : v));
}
