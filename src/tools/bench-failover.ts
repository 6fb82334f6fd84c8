/**
 * `paxchain dev bench-failover`: how long from kill -9 of the leader to the first acknowledged
 * write. Starts its own local cluster in a temp directory, keeps a few writers busy, and per
 * trial: finds the leader, SIGKILLs its PID, waits for the first write acknowledged after the
 * kill, restarts the node, waits until all heads agree. Prints per-trial times, p50 and max.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PaxchainClient } from '../client/client.js';
import { LocalCluster } from './local-cluster.js';
import { summarize } from './bench.js';

export interface FailoverOptions {
  readonly trials: number;
  readonly nodes: number;
  readonly basePort: number;
  readonly writers: number;
  /** Node log lines (for investigating slow trials). */
  readonly onLine?: (node: number, line: string) => void;
  readonly onTrial?: (trial: number, milliseconds: number, oldLeader: number, newLeader: number) => void;
}

export interface FailoverResult {
  readonly trials: number;
  readonly nodes: number;
  readonly millis: number[];
  readonly p50: number;
  readonly max: number;
  readonly mean: number;
}

export async function benchFailover(options: FailoverOptions): Promise<FailoverResult> {
  const root = mkdtempSync(join(tmpdir(), 'paxchain-failover-'));
  const cluster = new LocalCluster({ root, nodes: options.nodes, basePort: options.basePort, secret: 'failover-bench', onLine: options.onLine });
  const writer = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 2000, attemptTimeoutMs: 100 });
  const probe = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 1000 });
  let running = true;
  /** When the current trial's kill happened, and the first ack of a write sent after it. */
  let killedAt = Infinity;
  let firstAck = Infinity;
  const millis: number[] = [];
  try {
    await cluster.start();
    const loops = Array.from({ length: options.writers }, async (_, worker) => {
      for (let i = 0; running; i++) {
        const sentAt = performance.now();
        try {
          await writer.put(`failover/${worker}`, String(i));
          // Only a write sent after the kill proves a new leader: earlier ones may have been
          // answered by the old leader just before it died.
          if (sentAt >= killedAt && firstAck === Infinity) firstAck = performance.now();
        } catch {
          // Failed writes during the failover are expected; only the time to the next ack counts.
        }
      }
    });
    for (let trial = 1; trial <= options.trials; trial++) {
      const leader = await cluster.waitForLeader(probe, 200);
      await settle(probe, cluster);
      firstAck = Infinity;
      const kill = cluster.signal(leader, 'SIGKILL');
      killedAt = performance.now();
      await kill;
      while (firstAck === Infinity) await new Promise((resolve) => setTimeout(resolve, 1));
      const elapsed = firstAck - killedAt;
      killedAt = Infinity;
      millis.push(Math.round(elapsed * 10) / 10);
      const newLeader = await cluster.waitForLeader(probe, 200);
      options.onTrial?.(trial, elapsed, leader, newLeader);
      await cluster.startNode(leader);
    }
    running = false;
    await Promise.all(loops);
  } finally {
    running = false;
    await writer.close();
    await probe.close();
    await cluster.stop();
    rmSync(root, { recursive: true, force: true });
  }
  const summary = summarize(Float64Array.from(millis), millis.length);
  return { trials: options.trials, nodes: options.nodes, millis, p50: summary.p50, max: summary.max, mean: summary.mean };
}

/** Waits until every node is up, voting and at the same head. */
async function settle(probe: PaxchainClient, cluster: LocalCluster): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const all = await Promise.all(cluster.ids.map((id) => probe.status(cluster.endpoint(id)).catch(() => undefined)));
    const heights = all.map((status) => status?.head?.height ?? -1);
    if (all.every((status) => status?.voting) && Math.max(...heights) - Math.min(...heights) <= 2) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
