/** The cluster the hostile script attacks (a local one on free ports) and its honest clients. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../src/tools/local-cluster.js';
import { PaxchainClient } from '../../src/client/client.js';
import { freeBasePort } from '../ports.js';

/** Honest client loops running beside the attack. */
const HONEST_CLIENTS = 4;
/** Pause between two operations of one honest client. */
const HONEST_PAUSE_MS = 20;

/** A base port with `count` free consecutive ports (never 7001-7003, reserved for the lead). */
export const freePorts = freeBasePort;

/** Node log lines kept (newest), for the run's summary of warnings and role changes. */
const NODE_LINES_KEPT = 2_000;
export const nodeLines: string[] = [];

/** Starts a 3-node local cluster in a temp dir (removed on stop) and waits for a leader. */
export async function startCluster(basePort: number): Promise<LocalCluster> {
  const root = mkdtempSync(join(tmpdir(), 'paxchain-hostile-'));
  const onLine = (node: number, line: string): void => {
    nodeLines.push(`node${node}: ${line}`);
    if (nodeLines.length > NODE_LINES_KEPT) nodeLines.shift();
  };
  const cluster = new LocalCluster({ root, nodes: 3, basePort, secret: 'hostile-script-secret', onLine });
  const stop = cluster.stop.bind(cluster);
  cluster.stop = async () => {
    await stop();
    rmSync(root, { recursive: true, force: true });
  };
  await cluster.start();
  const probe = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 3_000 });
  await cluster.waitForLeader(probe, 400);
  // Let the followers settle on the leader before measuring.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await probe.close();
  return cluster;
}

export interface HonestLoad {
  stop(): Promise<{ writes: number; reads: number; errors: number; firstError: string | undefined }>;
}

/** HONEST_CLIENTS loops, each writing a key then reading it back, until stopped. */
export function honestLoad(endpoints: readonly string[]): HonestLoad {
  const totals = { writes: 0, reads: 0, errors: 0, firstError: undefined as string | undefined };
  let running = true;
  const loops = Array.from({ length: HONEST_CLIENTS }, async (_, index) => {
    const client = new PaxchainClient({ endpoints: [...endpoints], timeoutMs: 5_000 });
    for (let round = 0; running; round++) {
      const key = `honest/${index}/${round % 100}`;
      try {
        await client.put(key, `value ${round}`);
        totals.writes++;
        const read = await client.get(key);
        if (new TextDecoder().decode(read.value ?? new Uint8Array()) !== `value ${round}`) throw new Error(`read ${key}: wrong value`);
        totals.reads++;
      } catch (error) {
        totals.errors++;
        totals.firstError ??= error instanceof Error ? error.message : String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, HONEST_PAUSE_MS));
    }
    await client.close();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return totals;
    },
  };
}
