/** Real-process test clusters: temp data dirs, free ports, bounded waits, cleanup by PID. */
import { afterAll, beforeAll } from 'vitest';
import { LocalCluster } from '../../src/tools/local-cluster.js';
import { PaxchainClient } from '../../src/client/client.js';
import type { NodeStatus } from '../../src/transport/protocol.js';
import { tempDir } from '../helpers.js';
import { freeBasePort } from '../ports.js';

export { freeBasePort } from '../ports.js';

export interface TestCluster {
  readonly cluster: LocalCluster;
  readonly client: PaxchainClient;
  readonly lines: string[];
  close(): Promise<void>;
}

/**
 * @param nodeArgs extra `node start` flags for every node (e.g. genesis settings with --bootstrap)
 * @param options.metrics serve each node's /metrics and /healthz on free ports (cluster.metricsEndpoint)
 */
export async function startTestCluster(nodes: number, nodeArgs: readonly string[] = [], options: { metrics?: boolean } = {}): Promise<TestCluster> {
  const lines: string[] = [];
  // The free ports found may be taken by another process before the nodes bind them: then the
  // start is tried again on other ports (a few times, never silently for other errors).
  for (let attempt = 1; ; attempt++) {
    const dir = tempDir('paxchain-cluster-');
    const cluster = new LocalCluster({
      root: dir.path,
      nodes,
      basePort: await freeBasePort(nodes),
      metricsBasePort: options.metrics ? await freeBasePort(nodes) : undefined,
      secret: 'test-cluster-secret',
      nodeArgs,
      onLine: (node, line) => {
        lines.push(`[node${node}] ${line}`);
        if (lines.length > 5000) lines.shift();
      },
    });
    try {
      await cluster.start();
    } catch (error) {
      dir.cleanup();
      if (attempt < 3 && /EADDRINUSE|address already in use/i.test(String(error))) continue;
      throw error;
    }
    const test = wrapCluster(cluster, dir, lines);
    try {
      await settled(test);
    } catch (error) {
      // Say what the nodes looked like and logged, so that a cluster that never settles can be
      // diagnosed from the failure alone.
      const views = (await statuses(test)).map((status, index) =>
        status ? `node ${status.nodeId}: ${status.role} ballot ${status.ballot} promised ${status.promised} voting ${status.voting} leader ${status.leader}` : `node ${index + 1}: no answer`,
      );
      await test.close();
      throw new Error(`${String(error)}\n${views.join('\n')}\nlast log lines:\n${lines.slice(-60).join('\n')}`);
    }
    return test;
  }
}

/**
 * Waits until every running node votes and follows one leader at one ballot. A node whose process
 * came up after the others had elected a leader bootstrapped as a learner (see `bootstrap` in
 * src/node/run.ts) and votes only after rejoining, about a second later: tests that look at roles
 * right after start must not see that window.
 */
export async function settled(test: TestCluster, timeoutMs = 30_000): Promise<number> {
  return waitFor(
    'one leader followed by every voting node',
    async () => {
      const all = (await statuses(test)).filter((_, index) => test.cluster.isRunning(test.cluster.ids[index]!));
      const leader = all.find((status) => status?.role === 'leader');
      if (!leader) return undefined;
      const agreed = all.every((status) => status !== undefined && status.voting && status.ballot === leader.ballot && (status.role === 'follower' || status === leader) && status.leader === leader.nodeId);
      return agreed ? leader.nodeId : undefined;
    },
    timeoutMs,
  );
}

function wrapCluster(cluster: LocalCluster, dir: { cleanup(): void }, lines: string[]): TestCluster {
  const client = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 10_000 });
  return {
    cluster,
    client,
    lines,
    async close() {
      await client.close();
      await cluster.stop();
      dir.cleanup();
    },
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

export async function statuses(test: TestCluster): Promise<Array<NodeStatus | undefined>> {
  return Promise.all(test.cluster.ids.map((id) => (test.cluster.isRunning(id) ? test.client.status(test.cluster.endpoint(id)).catch(() => undefined) : undefined)));
}

export async function leaderOf(test: TestCluster): Promise<number> {
  return waitFor('a leader', async () => (await statuses(test)).find((status) => status?.role === 'leader')?.nodeId);
}

/** Waits until every running node has the same head (height and hash); returns it. */
export async function converged(test: TestCluster, timeoutMs = 30_000): Promise<{ height: number; hash: string }> {
  return waitFor(
    'all nodes at the same head',
    async () => {
      const all = await statuses(test);
      const heads = all.map((status) => status?.head);
      const first = heads[0];
      if (!first || heads.some((head) => !head || head.height !== first.height || head.hash !== first.hash)) return undefined;
      return first;
    },
    timeoutMs,
  );
}

/**
 * One test cluster for the enclosing describe block: started (and settled) before its tests,
 * stopped after them. The returned object stands for the cluster once it has started; `setup`
 * runs right after the start (e.g. seed writes).
 */
export function useTestCluster(nodes: number, setup?: (test: TestCluster) => Promise<unknown>): TestCluster {
  let current: TestCluster | undefined;
  const started = (): TestCluster => {
    if (!current) throw new Error('the test cluster is used before it started (beforeAll)');
    return current;
  };
  beforeAll(async () => {
    current = await startTestCluster(nodes);
    await setup?.(current);
  }, 60_000);
  afterAll(async () => {
    await current?.close();
  }, 60_000);
  return {
    get cluster() {
      return started().cluster;
    },
    get client() {
      return started().client;
    },
    get lines() {
      return started().lines;
    },
    close: () => started().close(),
  };
}
