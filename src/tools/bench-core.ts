/**
 * `paxchain dev bench-core`: how many commands per CPU-second the replica core chooses and
 * applies in a fault-free 3-replica cluster inside one process. Messages are delivered at once
 * and Ready's durable writes go to memory backends, so this measures the protocol and ledger
 * code itself (the upper bound the node driver can reach before sockets and fsync).
 */
import { Prng } from '../lib/prng.js';
import { encodeCommand } from '../kv/command.js';
import { fixedSessionId } from '../kv/session.js';
import { fastSha256 } from '../native/sha256.js';
import { replicaConfig } from '../replica/config.js';
import type { Message } from '../replica/messages.js';
import { Replica } from '../replica/replica.js';
import { bootstrapSync } from '../host/genesis.js';
import { ReadyLoop } from '../host/ready-loop.js';
import { restoreSync } from '../host/restore.js';
import { MemoryBackend } from '../storage/memory-backend.js';

export interface CoreBenchOptions {
  readonly commands: number;
  /** Client requests kept outstanding. */
  readonly outstanding: number;
  readonly valueBytes: number;
  readonly pipelineMax: number;
  readonly batchCommandsMax: number;
}

export interface CoreBenchResult extends CoreBenchOptions {
  readonly chosen: number;
  readonly blocks: number;
  readonly averageBatch: number;
  readonly cpuSeconds: number;
  readonly wallSeconds: number;
  readonly commandsPerCpuSecond: number;
}

interface BenchNode {
  readonly replica: Replica;
  readonly backend: MemoryBackend;
  readonly host: ReadyLoop;
}

export function benchCore(options: CoreBenchOptions): CoreBenchResult {
  const members = [1, 2, 3];
  const genesis = { clusterId: 'bench', members, dedupCapacity: 100_000, createdAtMs: 0 };
  const nodes = new Map<number, BenchNode>();
  for (const id of members) {
    const backend = new MemoryBackend();
    bootstrapSync(backend, fastSha256, genesis, true);
    const { store, outcome } = restoreSync(backend, fastSha256);
    const config = replicaConfig(id, members, { pipelineMax: options.pipelineMax, batchCommandsMax: options.batchCommandsMax });
    nodes.set(id, { replica: new Replica(config, new Prng(id), outcome.restored), backend, host: new ReadyLoop(store, { nodeId: id }) });
  }
  let queue: Message[] = [];
  let completed = 0;
  let blocks = 0;
  const flush = (): void => {
    for (const node of nodes.values()) {
      const ready = node.replica.takeReady();
      for (const message of node.host.plan(ready)) queue.push(message);
      // Memory writes complete at once: each Ready's batch is written and released here.
      const batch = node.host.nextBatch();
      if (batch) {
        if (batch.ops.length > 0) node.backend.writeSync(batch.ops, { sync: batch.sync });
        for (const message of node.host.batchWritten()) queue.push(message);
      }
      if (node.replica.role === 'leader') {
        blocks += ready.blocks.length;
        completed += ready.replies.length;
      }
    }
  };
  const deliver = (): void => {
    for (let round = 0; round < 10 && (queue.length > 0 || round === 0); round++) {
      flush();
      const batch = queue;
      queue = [];
      for (const message of batch) nodes.get(message.to)!.replica.step(message);
    }
  };
  // Elect node 1: tick until someone leads.
  let leader: Replica | undefined;
  for (let tick = 0; tick < 500 && !leader; tick++) {
    for (const node of nodes.values()) node.replica.tick(tick);
    deliver();
    leader = [...nodes.values()].map((node) => node.replica).find((replica) => replica.role === 'leader');
  }
  if (!leader) throw new Error('bench-core: no leader elected');
  const value = new Uint8Array(options.valueBytes).fill(0x61);
  const seqs = new Array<number>(options.outstanding).fill(0);
  const sessions = Array.from({ length: options.outstanding }, (_, client) => fixedSessionId(client + 1));
  let issued = 0;
  let requestId = 0;
  const issue = (client: number): void => {
    issued++;
    leader!.propose({ requestId: ++requestId, command: encodeCommand({ op: 'put', session: sessions[client]!, seq: ++seqs[client]!, key: `key-${issued % 100_000}`, value }) });
  };
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  for (let client = 0; client < options.outstanding && issued < options.commands; client++) issue(client);
  let next = 0;
  while (completed < options.commands) {
    const before = completed;
    deliver();
    // Closed loop: every completed request frees a client to send the next one.
    for (let i = before; i < completed && issued < options.commands; i++) issue(next++ % options.outstanding);
    if (completed === before && queue.length === 0) {
      for (const node of nodes.values()) node.replica.tick(0);
    }
  }
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    ...options,
    chosen: completed,
    blocks,
    averageBatch: Math.round((completed / Math.max(1, blocks)) * 10) / 10,
    cpuSeconds,
    wallSeconds: (performance.now() - wallStart) / 1000,
    commandsPerCpuSecond: Math.round(completed / cpuSeconds),
  };
}
