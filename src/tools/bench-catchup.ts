/**
 * `paxchain dev bench-catchup`: a wiped node with a long chain back to voting, end to end, and
 * what the leader's write throughput does meanwhile.
 *
 * Builds a chain of --blocks blocks of --commands-per-block commands offline (the same code the
 * nodes run), gives a copy to each of three nodes, starts them, measures write throughput for
 * --baseline seconds, then wipes a follower and restarts it while the same load runs: the time
 * until it votes again with the leader's head gives blocks/s and MB/s, and the load during that
 * time gives the throughput under catch-up.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PaxchainClient } from '../client/client.js';
import { encodeAcceptorState } from '../storage/acceptor-store.js';
import { databasePath } from '../storage/data-dir.js';
import { ACCEPTOR_KEY } from '../storage/keys.js';
import { LevelBackend } from '../storage/level-backend.js';
import { type BenchResult, runBench } from './bench.js';
import { GENERATED_START_MS, generateDataDir, type GenResult } from './gen-ops.js';
import { CLUSTER_FILE, type ClusterFile, LocalCluster } from './local-cluster.js';

export interface CatchupOptions {
  readonly blocks: number;
  readonly commandsPerBlock: number;
  readonly valueBytes: number;
  readonly basePort: number;
  readonly clients: number;
  readonly baselineSeconds: number;
  /** Catch-up flow control given to the nodes (blocks/s); undefined = no limit. */
  readonly catchupRate?: number;
  readonly onPhase?: (text: string) => void;
}

export interface CatchupResult {
  readonly chain: { readonly blocks: number; readonly commands: number; readonly megabytes: number };
  /** Blocks the wiped node fetched, verified and appended until it voted again. */
  readonly caughtUpBlocks: number;
  readonly seconds: number;
  readonly blocksPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly commandsPerSecond: number;
  readonly baseline: BenchResult;
  readonly duringCatchup: BenchResult;
  /** Throughput during catch-up as a share of the baseline. */
  readonly throughputKept: number;
}

export async function benchCatchup(options: CatchupOptions): Promise<CatchupResult> {
  const root = mkdtempSync(join(tmpdir(), 'paxchain-catchup-'));
  const clusterId = 'catchup-bench';
  try {
    const generated = await prepareDataDirs(root, clusterId, options);
    const cluster = new LocalCluster({
      root,
      nodes: 3,
      basePort: options.basePort,
      secret: 'catchup-bench',
      nodeArgs: options.catchupRate === undefined ? [] : ['--catchup-rate', String(options.catchupRate)],
    });
    const probe = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 2000 });
    try {
      options.onPhase?.('starting the cluster (each node replays the chain)');
      await cluster.start();
      const leader = await cluster.waitForLeader(probe, 600);
      const load = (seconds: number, stop?: { stopped: boolean }) =>
        runBench({
          endpoints: cluster.endpoints,
          clients: options.clients,
          connections: Math.max(1, Math.ceil(options.clients / 32)),
          durationSeconds: seconds,
          valueBytes: options.valueBytes,
          keys: 100_000,
          mix: { put: 100, get: 0, delete: 0, cas: 0 },
          stale: false,
          timeoutMs: 5000,
          seed: 3,
          stop,
        });
      options.onPhase?.(`baseline load for ${options.baselineSeconds}s`);
      const baseline = await load(options.baselineSeconds);
      const victim = cluster.ids.find((id) => id !== leader)!;
      options.onPhase?.(`wiping node ${victim} and restarting it under load`);
      await cluster.wipe(victim);
      const stop = { stopped: false };
      const during = load(3600, stop);
      const started = performance.now();
      await cluster.startNode(victim);
      const caughtUp = await waitForCatchup(probe, cluster, victim, leader);
      const seconds = (performance.now() - started) / 1000;
      stop.stopped = true;
      const duringCatchup = await during;
      const bytesPerBlock = generated.bytes / generated.blocks;
      return {
        chain: { blocks: generated.blocks, commands: generated.commands, megabytes: Math.round(generated.bytes / 1e6) },
        caughtUpBlocks: caughtUp + 1,
        seconds: Math.round(seconds * 100) / 100,
        blocksPerSecond: Math.round((caughtUp + 1) / seconds),
        megabytesPerSecond: Math.round(((caughtUp + 1) * bytesPerBlock) / 1e6 / seconds),
        commandsPerSecond: Math.round(((caughtUp + 1) * options.commandsPerBlock) / seconds),
        baseline,
        duringCatchup,
        throughputKept: Math.round((duringCatchup.throughput / baseline.throughput) * 1000) / 1000,
      };
    } finally {
      await probe.close();
      await cluster.stop();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Generates the chain once, then gives each of the three nodes a copy with a fresh acceptor state. */
async function prepareDataDirs(root: string, clusterId: string, options: CatchupOptions): Promise<GenResult> {
  options.onPhase?.(`generating ${options.blocks} blocks x ${options.commandsPerBlock} commands`);
  const generated = await generateDataDir(join(root, 'seed'), {
    force: true,
    blocks: options.blocks,
    commandsPerBlock: options.commandsPerBlock,
    clusterId,
    members: [1, 2, 3],
    workload: { seed: 7, keys: 100_000, valueBytes: options.valueBytes, clients: 1000, mix: { put: 100, delete: 0, cas: 0 }, duplicateRate: 0 },
  });
  const file: ClusterFile = { clusterId, nodes: 3, basePort: options.basePort, genesisTimeMs: GENERATED_START_MS };
  writeFileSync(join(root, CLUSTER_FILE), JSON.stringify(file));
  for (const id of [1, 2, 3]) {
    cpSync(join(root, 'seed'), join(root, `node${id}`), { recursive: true });
    const backend = await LevelBackend.open(databasePath(join(root, `node${id}`)), { create: false });
    await backend.write([{ type: 'put', key: ACCEPTOR_KEY, value: encodeAcceptorState({ promised: 0, voting: true }) }], { sync: true });
    await backend.close();
  }
  return generated;
}

/** Polls until the wiped node votes again and is within 50 blocks of the leader; returns its height. */
async function waitForCatchup(probe: PaxchainClient, cluster: LocalCluster, victim: number, leader: number): Promise<number> {
  for (;;) {
    const [mine, leaders] = await Promise.all([
      probe.status(cluster.endpoint(victim)).catch(() => undefined),
      probe.status(cluster.endpoint(leader)).catch(() => undefined),
    ]);
    if (mine?.voting && mine.head && leaders?.head && mine.head.height >= leaders.head.height - 50) {
      return mine.head.height;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
