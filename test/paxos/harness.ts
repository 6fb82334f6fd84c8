/**
 * A hand-driven cluster for unit tests of the replica: messages wait in a queue until the test
 * delivers them (all, or filtered), so a test can build exactly the interleaving a Paxos rule is
 * about. Each replica runs on a memory store through the host, like the node and the simulator:
 * started by the host's bootstrap and restore, its Readys planned by the host's Ready loop
 * (written and released at once), fetches served by the host.
 */
import { Prng } from '../../src/lib/prng.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { bootstrapSync } from '../../src/host/genesis.js';
import { ReadyLoop } from '../../src/host/ready-loop.js';
import { restoreSync } from '../../src/host/restore.js';
import { fetchReplyPlan, hashesReplyPlan } from '../../src/host/serve.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { replicaConfig, type ReplicaConfig } from '../../src/replica/config.js';
import type { Message } from '../../src/replica/messages.js';
import type { ClientReply, Ready } from '../../src/replica/ready.js';
import { Replica } from '../../src/replica/replica.js';
import type { ChainStore } from '../../src/storage/chain-store.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';
import { records, runPlanSync } from '../../src/storage/plan.js';
import { encodeCommand } from '../../src/kv/command.js';
import { fixedSessionId } from '../../src/kv/session.js';

export const genesis = { clusterId: 'unit', members: [1, 2, 3], dedupCapacity: 100, createdAtMs: 0 };

export interface HarnessNode {
  replica: Replica;
  /** Every Ready taken from this node, in order. */
  readies: Ready[];
  replies: ClientReply[];
}

/** The store and Ready loop each replica made by newReplica() runs on. */
interface Edge {
  readonly backend: MemoryBackend;
  readonly store: ChainStore;
  readonly host: ReadyLoop;
}
const edges = new WeakMap<Replica, Edge>();

/**
 * A replica started by the host from a memory store: bootstrapped with genesis (unless
 * `withGenesis: false`: a wiped node), then holding `records` (blocks 1.. on top of genesis, as
 * a node restarted on its own chain would), with voting rights as given.
 */
export function newReplica(
  id: number,
  options: { members?: number[]; voting?: boolean; withGenesis?: boolean; config?: Partial<ReplicaConfig>; records?: Uint8Array[] } = {},
): Replica {
  const members = options.members ?? genesis.members;
  const backend = new MemoryBackend();
  if (options.withGenesis !== false) bootstrapSync(backend, fastSha256, { ...genesis, members }, options.voting ?? true);
  if (options.records?.length) {
    const { store } = restoreSync(backend, fastSha256);
    backend.writeSync(store.prepareAppend(options.records).ops, { sync: true });
  }
  const { store, outcome } = restoreSync(backend, fastSha256);
  const replica = new Replica(replicaConfig(id, members, options.config), new Prng(id), { ...outcome.restored, acceptor: { promised: 0, voting: options.voting ?? true } });
  edges.set(replica, { backend, store, host: new ReadyLoop(store, { nodeId: id }) });
  return replica;
}

export class Harness {
  readonly nodes = new Map<number, HarnessNode>();
  queue: Message[] = [];
  /** Messages dropped by filters, for assertions. */
  dropped: Message[] = [];
  private requestIds = 0;

  constructor(members: number[] = [1, 2, 3], options: { config?: Partial<ReplicaConfig> } = {}) {
    for (const id of members) this.nodes.set(id, { replica: newReplica(id, { members, config: options.config }), readies: [], replies: [] });
  }

  node(id: number): HarnessNode {
    return this.nodes.get(id)!;
  }

  replica(id: number): Replica {
    return this.node(id).replica;
  }

  /** Takes every node's Ready through the host: write its batch, then queue what it released. */
  flush(): void {
    for (const [id, node] of this.nodes) {
      const edge = edges.get(node.replica)!;
      const ready = node.replica.takeReady();
      node.readies.push(ready);
      for (const message of edge.host.plan(ready)) this.queue.push(message);
      node.replies.push(...ready.replies);
      for (const serve of ready.serves) this.queue.push(runPlanSync(fetchReplyPlan(id, edge.store.head, serve), edge.backend));
      for (const serve of ready.hashServes) this.queue.push(runPlanSync(hashesReplyPlan(id, fastSha256, serve), edge.backend));
      const batch = edge.host.nextBatch();
      if (!batch) continue;
      if (batch.ops.length > 0) edge.backend.writeSync(batch.ops, { sync: batch.sync });
      for (const message of edge.host.batchWritten()) this.queue.push(message);
    }
  }

  /** Node `id`'s stored chain, genesis first, as its host serves it. */
  chainRecords(id: number): Uint8Array[] {
    const edge = edges.get(this.replica(id))!;
    const head = edge.store.head?.height ?? -1;
    return runPlanSync(records(0, head, head + 1), edge.backend).records;
  }

  /** Delivers queued messages (those passing `keep`; the rest are dropped) until quiet. */
  deliver(keep: (message: Message) => boolean = () => true, roundsMax = 50): void {
    for (let round = 0; round < roundsMax; round++) {
      this.flush();
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const message of batch) {
        if (!keep(message)) {
          this.dropped.push(message);
          continue;
        }
        // A copy, as the network gives: no replica may rely on sharing a value's object.
        this.nodes.get(message.to)?.replica.step(structuredClone(message));
      }
    }
    this.flush();
  }

  tick(ticks: number, keep?: (message: Message) => boolean): void {
    for (let i = 0; i < ticks; i++) {
      for (const node of this.nodes.values()) node.replica.tick(i);
      this.deliver(keep);
    }
  }

  /** Ticks until some node leads (or throws). */
  electLeader(keep?: (message: Message) => boolean): number {
    for (let i = 0; i < 200; i++) {
      this.tick(1, keep);
      for (const [id, node] of this.nodes) if (node.replica.role === 'leader') return id;
    }
    throw new Error('no leader elected');
  }

  /** A write of session fixedSessionId(client). */
  put(node: number, client: number, seq: number, key: string, value: string): number {
    const requestId = ++this.requestIds;
    const command = encodeCommand({ op: 'put', session: fixedSessionId(client), seq, key, value: new TextEncoder().encode(value) });
    this.replica(node).propose({ requestId, command });
    return requestId;
  }

  read(node: number, key: string, stale = false): number {
    const requestId = ++this.requestIds;
    this.replica(node).read({ requestId, key, stale });
    return requestId;
  }

  reply(node: number, requestId: number): ClientReply | undefined {
    return this.node(node).replies.find((reply) => reply.requestId === requestId);
  }
}

export const noop = (): Uint8Array => encodeBatchBody(0, []);

/** A delivery filter that cuts `node` off from the others (its messages to itself still flow). */
export const isolating = (node: number) => (message: Message) => message.from === message.to || (message.from !== node && message.to !== node);
