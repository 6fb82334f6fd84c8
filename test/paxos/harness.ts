/**
 * A hand-driven cluster for unit tests of the replica: messages wait in a queue until the test
 * delivers them (all, or filtered), so a test can build exactly the interleaving a Paxos rule is
 * about. Ready is applied as the driver would: persisted (here: recorded) before messages move.
 */
import { Prng } from '../../src/lib/prng.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { replicaConfig, type ReplicaConfig } from '../../src/replica/config.js';
import { Ledger } from '../../src/replica/ledger.js';
import type { Message } from '../../src/replica/messages.js';
import type { ClientReply, Ready } from '../../src/replica/ready.js';
import { Replica } from '../../src/replica/replica.js';
import { encodeCommand } from '../../src/kv/command.js';
import { fixedSessionId } from '../../src/kv/session.js';

export const genesis = { clusterId: 'unit', members: [1, 2, 3], dedupCapacity: 100, createdAtMs: 0 };

export interface HarnessNode {
  replica: Replica;
  /** Every Ready taken from this node, in order. */
  readies: Ready[];
  replies: ClientReply[];
  /** The order in which this node's effects happened: 'persist' entries precede 'send' ones. */
  trace: string[];
}

export function newReplica(id: number, options: { members?: number[]; voting?: boolean; withGenesis?: boolean; config?: Partial<ReplicaConfig> } = {}): Replica {
  const members = options.members ?? genesis.members;
  const ledger = new Ledger(fastSha256);
  if (options.withGenesis !== false) ledger.replay(0, Ledger.genesisRecord(fastSha256, { ...genesis, members }));
  return new Replica(replicaConfig(id, members, options.config), new Prng(id), {
    ledger,
    acceptor: { promised: 0, voting: options.voting ?? true },
    accepted: [],
  });
}

export class Harness {
  readonly nodes = new Map<number, HarnessNode>();
  queue: Message[] = [];
  /** Messages dropped by filters, for assertions. */
  dropped: Message[] = [];
  private requestIds = 0;

  constructor(members: number[] = [1, 2, 3], options: { config?: Partial<ReplicaConfig> } = {}) {
    for (const id of members) this.nodes.set(id, { replica: newReplica(id, { members, config: options.config }), readies: [], replies: [], trace: [] });
  }

  node(id: number): HarnessNode {
    return this.nodes.get(id)!;
  }

  replica(id: number): Replica {
    return this.node(id).replica;
  }

  /** Takes every node's Ready: record persistence, then queue its messages. */
  flush(): void {
    for (const [id, node] of this.nodes) {
      const ready = node.replica.takeReady();
      node.readies.push(ready);
      if (ready.acceptor || ready.accepted.length > 0 || ready.blocks.length > 0) node.trace.push('persist');
      for (const message of ready.messages) {
        node.trace.push(`send ${message.type}`);
        this.queue.push(message);
      }
      node.replies.push(...ready.replies);
      for (const serve of ready.serves) this.serve(id, serve.to, serve.fromHeight, serve.maxBlocks);
    }
  }

  private serve(from: number, to: number, fromHeight: number, maxBlocks: number): void {
    const ledger = this.replica(from).chain;
    const records: Uint8Array[] = [];
    for (const ready of this.node(from).readies) records.push(...ready.blocks);
    const genesisRecord = Ledger.genesisRecord(fastSha256, { ...genesis, members: this.replica(from).memberIds as number[] });
    const chain = [genesisRecord, ...records];
    const head = ledger.head!;
    this.queue.push({ type: 'blocks', from, to, fromHeight, records: chain.slice(fromHeight, fromHeight + maxBlocks), head: { height: head.height, hash: head.hash } });
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
