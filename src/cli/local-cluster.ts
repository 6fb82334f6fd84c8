/**
 * A cluster of `paxchain node start` processes on 127.0.0.1, one data directory each under one
 * root. Used by `paxchain cluster start`, the failover benchmark, the chaos demo and the
 * real-process tests. Processes are controlled by their PID only (kill -9, SIGSTOP/SIGCONT,
 * SIGTERM), never by name.
 *
 *   ROOT/cluster.json   cluster id, size, base port, genesis time (written at creation)
 *   ROOT/nodeN/         node N's data directory
 *
 * The founding start passes --bootstrap (every node writes the same genesis). Later starts do
 * not: a node whose directory was wiped comes back as a learner and rejoins safely.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PaxchainClient } from '../client/client.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';

export const CLUSTER_FILE = 'cluster.json';
/** bin/run.js of this checkout, whether this module runs compiled (dist/src/cli) or as source. */
const RUN_JS = [new URL('../../../bin/run.js', import.meta.url), new URL('../../bin/run.js', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((path) => existsSync(path))!;
/** How long a node may take to open its port. */
const START_TIMEOUT_MS = 20_000;
/** How long a node may take to stop after SIGTERM before it gets SIGKILL. */
const STOP_TIMEOUT_MS = 5000;
/** Output lines kept per node for error messages. */
const LAST_LINES_KEPT = 20;

export interface ClusterFile {
  readonly clusterId: string;
  readonly nodes: number;
  readonly basePort: number;
  readonly genesisTimeMs: number;
}

export interface LocalClusterOptions {
  readonly root: string;
  readonly nodes: number;
  readonly basePort: number;
  readonly secret?: string;
  readonly trace?: boolean;
  readonly logFormat?: 'text' | 'json';
  /** Extra `node start` flags for every node. */
  readonly nodeArgs?: readonly string[];
  /** Every line a node prints (stdout and stderr). */
  readonly onLine?: (node: number, line: string) => void;
  /** A node process exited without being asked to. */
  readonly onExit?: (node: number, code: number | null, signal: NodeJS.Signals | null) => void;
}

interface NodeProcess {
  child: ChildProcess;
  expectedExit: boolean;
  /** The last lines the node printed, to say why it exited. */
  lastLines: string[];
}

export class LocalCluster {
  readonly file: ClusterFile;
  private readonly processes = new Map<number, NodeProcess>();
  private readonly founding: boolean;

  constructor(private readonly options: LocalClusterOptions) {
    const path = join(options.root, CLUSTER_FILE);
    if (existsSync(path)) {
      const file = JSON.parse(readFileSync(path, 'utf8')) as ClusterFile;
      if (file.nodes !== options.nodes || file.basePort !== options.basePort) {
        throw new PaxchainError(
          ErrorCode.INVALID_ARGUMENT,
          `${options.root} holds a ${file.nodes}-node cluster on base port ${file.basePort}; use --nodes ${file.nodes} --base-port ${file.basePort} or another --data`,
        );
      }
      this.file = file;
      this.founding = false;
    } else {
      if (options.nodes < 1 || options.nodes > 9) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, '--nodes must be 1..9');
      mkdirSync(options.root, { recursive: true });
      this.file = { clusterId: `local-${Date.now().toString(36)}`, nodes: options.nodes, basePort: options.basePort, genesisTimeMs: Date.now() };
      writeFileSync(path, `${JSON.stringify(this.file, null, 2)}\n`);
      this.founding = true;
    }
  }

  get ids(): number[] {
    return Array.from({ length: this.file.nodes }, (_, i) => i + 1);
  }

  endpoint(id: number): string {
    return `127.0.0.1:${this.file.basePort + id - 1}`;
  }

  get endpoints(): string[] {
    return this.ids.map((id) => this.endpoint(id));
  }

  dataDir(id: number): string {
    return join(this.options.root, `node${id}`);
  }

  pid(id: number): number | undefined {
    return this.processes.get(id)?.child.pid;
  }

  /** Asks the running nodes, every 50 ms for at most `rounds` rounds, until one says it leads. */
  async waitForLeader(probe: PaxchainClient, rounds: number): Promise<number> {
    for (let round = 0; round < rounds; round++) {
      for (const id of this.ids) {
        if (!this.isRunning(id)) continue;
        const status = await probe.status(this.endpoint(id)).catch(() => undefined);
        if (status?.role === 'leader') return id;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('no leader');
  }

  isRunning(id: number): boolean {
    const process = this.processes.get(id);
    return process !== undefined && process.child.exitCode === null && process.child.signalCode === null;
  }

  /** Starts every node and waits until each accepts connections. */
  async start(): Promise<void> {
    for (const id of this.ids) this.spawnNode(id, this.founding);
    const started = await Promise.allSettled(this.ids.map((id) => this.waitForPort(id)));
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed) {
      // Leave nothing running behind a failed start.
      await this.stop();
      throw (failed as PromiseRejectedResult).reason;
    }
  }

  /** (Re)starts one node, without --bootstrap unless asked (the founding start passes it). */
  async startNode(id: number, options: { bootstrap?: boolean } = {}): Promise<void> {
    if (this.isRunning(id)) return;
    this.spawnNode(id, options.bootstrap ?? false);
    await this.waitForPort(id);
  }

  private spawnNode(id: number, bootstrap: boolean): void {
    const peers = this.ids.filter((peer) => peer !== id).map((peer) => `${peer}=${this.endpoint(peer)}`).join(',');
    const args = [
      RUN_JS,
      'node',
      'start',
      '--id',
      String(id),
      '--data',
      this.dataDir(id),
      '--listen',
      this.endpoint(id),
      '--peers',
      peers,
      '--cluster-id',
      this.file.clusterId,
      '--genesis-time',
      String(this.file.genesisTimeMs),
    ];
    if (bootstrap) args.push('--bootstrap');
    if (this.options.trace) args.push('--trace');
    if (this.options.logFormat === 'json') args.push('--json');
    if (this.options.nodeArgs) args.push(...this.options.nodeArgs);
    const env = { ...process.env, PAXCHAIN_SECRET: this.options.secret ?? process.env.PAXCHAIN_SECRET ?? 'paxchain-local-cluster-secret' };
    // PAXCHAIN_NODE_FLAGS: extra flags for the node processes' Node.js (e.g. --cpu-prof), for
    // profiling a cluster; Node refuses most of those in NODE_OPTIONS.
    const nodeFlags = (process.env.PAXCHAIN_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeFlags, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    const entry: NodeProcess = { child, expectedExit: false, lastLines: [] };
    this.processes.set(id, entry);
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          entry.lastLines.push(line);
          if (entry.lastLines.length > LAST_LINES_KEPT) entry.lastLines.shift();
          this.options.onLine?.(id, line);
        }
      });
    }
    child.on('exit', (code, signal) => {
      if (!entry.expectedExit) this.options.onExit?.(id, code, signal);
    });
  }

  private async waitForPort(id: number): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    const port = this.file.basePort + id - 1;
    while (Date.now() < deadline) {
      if (!this.isRunning(id)) {
        const entry = this.processes.get(id);
        const why = entry?.lastLines.filter((line) => line.trim() !== '').slice(-3).join(' | ');
        throw new PaxchainError(ErrorCode.UNAVAILABLE, `node ${id} exited while starting (exit code ${entry?.child.exitCode ?? entry?.child.signalCode})${why ? `: ${why}` : ''}`);
      }
      if (await canConnect(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new PaxchainError(ErrorCode.TIMEOUT, `node ${id} did not open port ${port} within ${START_TIMEOUT_MS} ms`);
  }

  /** Sends `signal` to node `id`'s PID; SIGKILL/SIGTERM wait for the exit. */
  async signal(id: number, signal: 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    const entry = this.processes.get(id);
    if (!entry || !this.isRunning(id)) return;
    if (signal === 'SIGKILL' || signal === 'SIGTERM') entry.expectedExit = true;
    const exited = new Promise<void>((resolve) => entry.child.once('exit', () => resolve()));
    process.kill(entry.child.pid!, signal);
    if (signal === 'SIGTERM') {
      const timer = setTimeout(() => this.isRunning(id) && process.kill(entry.child.pid!, 'SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    } else if (signal === 'SIGKILL') {
      await exited;
    }
  }

  /** Stops node `id` and deletes its data directory (it restarts as a learner). */
  async wipe(id: number): Promise<void> {
    await this.signal(id, 'SIGKILL');
    rmSync(this.dataDir(id), { recursive: true, force: true });
  }

  /** Stops every node (SIGCONT first, in case one is stopped), then SIGTERM. */
  async stop(): Promise<void> {
    await Promise.all(
      this.ids.map(async (id) => {
        if (!this.isRunning(id)) return;
        process.kill(this.pid(id)!, 'SIGCONT');
        await this.signal(id, 'SIGTERM');
      }),
    );
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
  });
}
