/**
 * `paxchain dev bench-ledger`: what checkpoints, retention and state sync buy on a long chain,
 * before and after in one run, on a 3-node local cluster in a temporary directory:
 *
 *   1. restart with a full replay (no checkpoint yet): each node's restore time, and the
 *      cluster's time from spawn to a leader; then write load with no checkpoints (p50/p99);
 *   2. a clean stop (every node writes a checkpoint at its head); disk bytes; with state sync,
 *      `chain prune` below head - retain on every node, disk bytes again;
 *   3. restart from the checkpoint, the same two times; write load while checkpoints are written
 *      every --checkpoint-every blocks (p50/p99, checkpoints written meanwhile);
 *   4. a follower wiped and restarted under that load: time until it votes again at the leader's
 *      head, and the write throughput kept meanwhile. With --state-sync (default) the others
 *      pruned the blocks it needs, so it syncs state from a checkpoint; with --no-state-sync it
 *      fetches and replays every block (what a wiped node did before).
 *
 * The chain is one made by `paxchain dev gen` (--chain DIR, copied) or generated here.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PaxchainClient } from '../client/client.js';
import { pruneDataDir } from '../cli/prune-ops.js';
import { fastSha256 } from '../native/sha256.js';
import { encodeAcceptorState } from '../storage/acceptor-store.js';
import { databasePath, directoryBytes, openDataDir } from '../storage/data-dir.js';
import { ACCEPTOR_KEY } from '../storage/keys.js';
import { LevelBackend } from '../storage/level-backend.js';
import { type BenchResult, runBench } from './bench.js';
import { GENERATED_START_MS, generateDataDir } from './gen-ops.js';
import { CLUSTER_FILE, type ClusterFile, LocalCluster } from './local-cluster.js';

export interface LedgerBenchOptions {
  /** A chain made by `dev gen` to copy (its genesis names the cluster id and members 1,2,3). */
  readonly chain?: string;
  readonly clusterId: string;
  /** Without --chain: the chain to generate. */
  readonly blocks: number;
  readonly commandsPerBlock: number;
  readonly keys: number;
  readonly basePort: number;
  readonly clients: number;
  readonly loadSeconds: number;
  readonly checkpointEvery: number;
  readonly retainBlocks: number;
  readonly stateSync: boolean;
  readonly onPhase?: (text: string) => void;
}

export interface RestartFigures {
  /** Each node's restore ("replayed N blocks ... in Xs"), as its log said. */
  readonly restores: ReadonlyArray<{ readonly node: number; readonly blocks: number; readonly from: string; readonly seconds: number }>;
  /** From spawning the three nodes to every port answering and a leader elected. */
  readonly secondsToLeader: number;
}

export interface LedgerBenchResult {
  readonly chain: { readonly head: number; readonly megabytes: number };
  readonly fullReplay: RestartFigures;
  readonly fromCheckpoint: RestartFigures;
  readonly loadWithoutCheckpoints: BenchResult;
  readonly loadWithCheckpoints: BenchResult;
  /** Checkpoints the leader wrote during the load with checkpoints. */
  readonly checkpointsWritten: number;
  /** Bytes of the three nodes' stores after the clean stop, and after pruning (null without --state-sync). */
  readonly diskBytes: { readonly kept: number; readonly pruned: number | null };
  readonly wiped: {
    readonly mode: 'state sync' | 'blocks';
    readonly secondsToVoting: number;
    readonly height: number;
    readonly during: BenchResult;
    /** Throughput during the rejoin as a share of the load with checkpoints. */
    readonly throughputKept: number;
  };
}

const RESTORE_LINE = /replayed (\d+) blocks (from genesis|after the checkpoint at height \d+) in ([\d.]+)s/;

export async function benchLedger(options: LedgerBenchOptions): Promise<LedgerBenchResult> {
  const root = mkdtempSync(join(tmpdir(), 'paxchain-ledger-'));
  const phase = options.onPhase ?? (() => undefined);
  try {
    const head = await prepare(root, options);
    const dirs = [1, 2, 3].map((id) => join(root, `node${id}`));
    const storeBytes = (): number => dirs.reduce((sum, dir) => sum + (directoryBytes(databasePath(dir)) ?? 0), 0);
    const megabytes = Math.round((directoryBytes(databasePath(dirs[0]!)) ?? 0) / 1e6);

    phase('start 1: every node replays the whole chain (no checkpoint yet)');
    const first = await startCluster(root, options, ['--checkpoint-every', '0', '--scrub-rate', '0']);
    let loadWithoutCheckpoints: BenchResult;
    try {
      phase(`load for ${options.loadSeconds}s without checkpoints`);
      loadWithoutCheckpoints = await load(first.cluster, options, options.loadSeconds);
    } finally {
      phase('clean stop: every node writes a checkpoint at its head');
      await first.close();
    }
    const kept = storeBytes();
    let pruned: number | null = null;
    if (options.stateSync) {
      await pruneAll(dirs, options.retainBlocks, phase);
      pruned = storeBytes();
    }

    phase('start 2: every node loads its checkpoint');
    const retain = options.stateSync ? ['--retain-blocks', String(options.retainBlocks)] : [];
    const second = await startCluster(root, options, ['--checkpoint-every', String(options.checkpointEvery), ...retain]);
    try {
      const cluster = second.cluster;
      const probe = second.probe;
      const fromCheckpoint = second.figures();
      const leader = await cluster.waitForLeader(probe, 600);
      const before = (await probe.status(cluster.endpoint(leader))).counters.checkpointsWritten ?? 0;
      phase(`load for ${options.loadSeconds}s with a checkpoint every ${options.checkpointEvery} blocks`);
      const loadWithCheckpoints = await load(cluster, options, options.loadSeconds);
      const checkpointsWritten = ((await probe.status(cluster.endpoint(leader))).counters.checkpointsWritten ?? 0) - before;
      phase(`wiping a follower and restarting it under load (${options.stateSync ? 'its peers pruned: state sync' : 'every block fetched'})`);
      const { height, secondsToVoting, during: duringResult } = await wipeAndRejoin(cluster, probe, leader, options);
      return {
        chain: { head, megabytes },
        fullReplay: first.figures(),
        fromCheckpoint,
        loadWithoutCheckpoints,
        loadWithCheckpoints,
        checkpointsWritten,
        diskBytes: { kept, pruned },
        wiped: {
          mode: options.stateSync ? 'state sync' : 'blocks',
          secondsToVoting: Math.round(secondsToVoting * 100) / 100,
          height,
          during: duringResult,
          throughputKept: Math.round((duringResult.throughput / loadWithCheckpoints.throughput) * 1000) / 1000,
        },
      };
    } finally {
      await second.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** `chain prune --below head - retain` on every stopped node. */
async function pruneAll(dirs: readonly string[], retain: number, phase: (text: string) => void): Promise<void> {
  for (const dir of dirs) {
    const store = await openDataDir(dir, fastSha256, { create: false });
    const top = store.head!.height;
    await store.close();
    phase(`chain prune ${dir} --below ${top - retain}`);
    await pruneDataDir(dir, Math.max(1, top - retain));
  }
}

/** The chain copied (or generated) into node1..3 with a voting acceptor each; returns its head height. */
async function prepare(root: string, options: LedgerBenchOptions): Promise<number> {
  const seed = options.chain ?? join(root, 'seed');
  if (!options.chain) {
    options.onPhase?.(`generating ${options.blocks} blocks x ${options.commandsPerBlock} commands over ${options.keys} keys`);
    await generateDataDir(seed, {
      force: true,
      blocks: options.blocks,
      commandsPerBlock: options.commandsPerBlock,
      clusterId: options.clusterId,
      members: [1, 2, 3],
      workload: { seed: 1, keys: options.keys, valueBytes: 100, clients: 1000, mix: { put: 90, delete: 5, cas: 5 }, duplicateRate: 0.001 },
    });
  }
  const file: ClusterFile = { clusterId: options.clusterId, nodes: 3, basePort: options.basePort, genesisTimeMs: GENERATED_START_MS };
  writeFileSync(join(root, CLUSTER_FILE), JSON.stringify(file));
  let head = -1;
  for (const id of [1, 2, 3]) {
    options.onPhase?.(`copying the chain to node${id}`);
    cpSync(seed, join(root, `node${id}`), { recursive: true });
    const backend = await LevelBackend.open(databasePath(join(root, `node${id}`)), { create: false });
    await backend.write([{ type: 'put', key: ACCEPTOR_KEY, value: encodeAcceptorState({ promised: 0, voting: true }) }], { sync: true });
    await backend.close();
    const store = await openDataDir(join(root, `node${id}`), fastSha256, { create: false });
    head = store.head?.height ?? -1;
    await store.close();
  }
  return head;
}

async function startCluster(root: string, options: LedgerBenchOptions, nodeArgs: string[]): Promise<{ cluster: LocalCluster; probe: PaxchainClient; figures(): RestartFigures; close(): Promise<void> }> {
  const restores: Array<RestartFigures['restores'][number]> = [];
  const cluster = new LocalCluster({
    root,
    nodes: 3,
    basePort: options.basePort,
    secret: 'ledger-bench',
    nodeArgs,
    // Three full replays of a long chain share two cores.
    startTimeoutMs: 600_000,
    onLine: (node, line) => {
      const found = RESTORE_LINE.exec(line);
      if (found) restores.push({ node, blocks: Number(found[1]), from: found[2]!, seconds: Number(found[3]) });
    },
  });
  const probe = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 2000 });
  const started = performance.now();
  await cluster.start();
  await cluster.waitForLeader(probe, 1200);
  const secondsToLeader = Math.round((performance.now() - started) / 10) / 100;
  return {
    cluster,
    probe,
    figures: () => ({ restores: [...restores].sort((a, b) => a.node - b.node), secondsToLeader }),
    close: async () => {
      await probe.close();
      await cluster.stop();
    },
  };
}

function load(cluster: LocalCluster, options: LedgerBenchOptions, seconds: number, stop?: { stopped: boolean }): Promise<BenchResult> {
  return runBench({
    endpoints: cluster.endpoints,
    clients: options.clients,
    connections: Math.max(1, Math.ceil(options.clients / 32)),
    durationSeconds: seconds,
    valueBytes: 100,
    keys: options.keys,
    mix: { put: 100, get: 0, delete: 0, cas: 0 },
    stale: false,
    timeoutMs: 5000,
    seed: 5,
    stop,
  });
}

/** Wipes a follower and restarts it under load: how long until it votes again at the leader's head. */
async function wipeAndRejoin(cluster: LocalCluster, probe: PaxchainClient, leader: number, options: LedgerBenchOptions): Promise<{ height: number; secondsToVoting: number; during: BenchResult }> {
  const victim = cluster.ids.find((id) => id !== leader)!;
  await cluster.wipe(victim);
  const stop = { stopped: false };
  const during = load(cluster, options, 3600, stop);
  const started = performance.now();
  await cluster.startNode(victim);
  const height = await waitForVoting(probe, cluster, victim, leader);
  const secondsToVoting = (performance.now() - started) / 1000;
  stop.stopped = true;
  return { height, secondsToVoting, during: await during };
}

/** Polls until the wiped node votes again and is within 50 blocks of the leader; returns its height. */
async function waitForVoting(probe: PaxchainClient, cluster: LocalCluster, victim: number, leader: number): Promise<number> {
  for (;;) {
    const [mine, leaders] = await Promise.all([
      probe.status(cluster.endpoint(victim)).catch(() => undefined),
      probe.status(cluster.endpoint(leader)).catch(() => undefined),
    ]);
    if (mine?.voting && mine.head && leaders?.head && mine.head.height >= leaders.head.height - 50) return mine.head.height;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
