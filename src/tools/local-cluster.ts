/**
 * A cluster of `paxchain node start` processes on 127.0.0.1, one data directory each under one
 * root. Used by `paxchain cluster start`, the failover benchmark, the chaos demo and the
 * real-process tests. Processes are controlled by their PID only (kill -9, SIGSTOP/SIGCONT,
 * SIGTERM), never by name.
 *
 *   ROOT/cluster.json   cluster id, size, base port, genesis time (written at creation)
 *   ROOT/secret         the cluster secret (mode 0600, written at creation: random unless one
 *                       was given), so one node can be restarted by hand (README)
 *   ROOT/keys/member-N.json  node N's Ed25519 member key (mode 0600), and
 *   ROOT/members.json   every member's public key: the key ceremony, done at creation, whose
 *                       public half --bootstrap writes into genesis (signed heads, README)
 *   ROOT/running.json   while running: the supervising process's PID and each node's PID, so a
 *                       second start on the same data is refused before it spawns anything
 *   ROOT/nodeN/         node N's data directory
 *
 * The founding start passes --bootstrap (every node writes the same genesis). Later starts do
 * not: a node whose directory was wiped comes back as a learner and rejoins safely.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PaxchainClient } from '../client/client.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { encodeMemberListFile } from '../ledger/member-key.js';
import { createMemberKey, writeMemberKeyFile } from '../node/member-key-file.js';

export const CLUSTER_FILE = 'cluster.json';
export const SECRET_FILE = 'secret';
const MEMBERS_FILE = 'members.json';
const KEYS_DIR = 'keys';
const RUNNING_FILE = 'running.json';
/** The secret of local clusters created before ROOT/secret existed. */
const LEGACY_SECRET = 'paxchain-local-cluster-secret';
/** Random bytes of a generated local secret. */
const SECRET_RANDOM_BYTES = 24;
/** Back-off before restarting a node that died: doubles from the minimum per recent restart. */
const RESTART_DELAY_MIN_MS = 500;
const RESTART_DELAY_MAX_MS = 8000;
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
  /** Serve each node's /metrics and /healthz on 127.0.0.1:metricsBasePort + id - 1 (undefined: off). */
  readonly metricsBasePort?: number;
  /** Extra `node start` flags for every node. */
  readonly nodeArgs?: readonly string[];
  /** Every line a node prints (stdout and stderr). */
  readonly onLine?: (node: number, line: string) => void;
  /** How long a node may take to open its port (a long replay): default START_TIMEOUT_MS. */
  readonly startTimeoutMs?: number;
  /** A node process exited without being asked to. */
  readonly onExit?: (node: number, code: number | null, signal: NodeJS.Signals | null) => void;
  /**
   * Restart a node that exited without being asked to, after a back-off, at most `maxPerWindow`
   * times per `windowMs` (then it stays down and `onNotice` says how to start it by hand).
   */
  readonly restart?: { readonly maxPerWindow: number; readonly windowMs: number };
  /** The cluster's own log lines (restarts, giving up). */
  readonly onNotice?: (line: string) => void;
}

/** What ROOT/running.json holds while a cluster runs. */
interface RunningFile {
  readonly pid: number;
  readonly nodes: Record<string, number>;
}

interface NodeProcess {
  child: ChildProcess;
  /** When this node was restarted after dying, within the restart window (oldest first). */
  restartsAtMs: number[];
  expectedExit: boolean;
  /** The last lines the node printed, to say why it exited. */
  lastLines: string[];
}

export class LocalCluster {
  readonly file: ClusterFile;
  private readonly processes = new Map<number, NodeProcess>();
  private readonly founding: boolean;
  private readonly secret: string;
  private stopping = false;
  private readonly restartTimers = new Set<NodeJS.Timeout>();

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
      this.secret = options.secret ?? process.env.PAXCHAIN_SECRET ?? readSecret(options.root);
    } else {
      if (options.nodes < 1 || options.nodes > 9) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, '--nodes must be 1..9');
      mkdirSync(options.root, { recursive: true });
      this.file = { clusterId: `local-${Date.now().toString(36)}`, nodes: options.nodes, basePort: options.basePort, genesisTimeMs: Date.now() };
      writeFileSync(path, `${JSON.stringify(this.file, null, 2)}\n`);
      this.founding = true;
      this.secret = options.secret ?? process.env.PAXCHAIN_SECRET ?? randomBytes(SECRET_RANDOM_BYTES).toString('base64url');
      writeSecret(options.root, this.secret);
      writeClusterKeys(options.root, this.ids);
    }
  }

  get ids(): number[] {
    return Array.from({ length: this.file.nodes }, (_, i) => i + 1);
  }

  endpoint(id: number): string {
    return `127.0.0.1:${this.file.basePort + id - 1}`;
  }

  /** Node `id`'s metrics address (HOST:PORT), if metrics are on. */
  metricsEndpoint(id: number): string | undefined {
    return this.options.metricsBasePort === undefined ? undefined : `127.0.0.1:${this.options.metricsBasePort + id - 1}`;
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

  /**
   * Starts every node and waits until each accepts connections. Refused with STORE_LOCKED, before
   * anything is spawned, if this cluster already runs (ROOT/running.json names a live process) or
   * a node's port is taken.
   */
  async start(): Promise<void> {
    await this.refuseIfRunning();
    this.stopping = false;
    for (const id of this.ids) this.spawnNode(id, this.founding);
    this.writeRunning();
    const started = await Promise.allSettled(this.ids.map((id) => this.waitForPort(id)));
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed) {
      // Leave nothing running behind a failed start.
      await this.stop();
      throw (failed as PromiseRejectedResult).reason;
    }
  }

  /** (Re)starts one node, without --bootstrap unless asked (the founding start passes it). */
  async startNode(id: number, options: { bootstrap?: boolean; secret?: string } = {}): Promise<void> {
    if (this.isRunning(id)) return;
    this.spawnNode(id, options.bootstrap ?? false, options.secret);
    this.writeRunning();
    await this.waitForPort(id);
  }

  /**
   * The command that starts node `id` of this cluster by hand, as `cluster start` would (without
   * --bootstrap: the cluster exists). The secret is read from ROOT/secret, never printed.
   */
  manualStartCommand(id: number): string {
    const args = this.nodeArgs(id).map((arg) => (/^[\w./:=,@+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`));
    return `PAXCHAIN_SECRET="$(cat ${join(this.options.root, SECRET_FILE)})" npx paxchain ${args.join(' ')}`;
  }

  private async refuseIfRunning(): Promise<void> {
    const running = readRunning(this.options.root);
    if (running && running.pid !== process.pid && isAlive(running.pid)) {
      const nodes = Object.entries(running.nodes)
        .filter(([, pid]) => isAlive(pid))
        .map(([id, pid]) => `node ${id} pid ${pid} on ${this.endpoint(Number(id))}`);
      throw new PaxchainError(
        ErrorCode.STORE_LOCKED,
        `the cluster in ${this.options.root} is already running (cluster start pid ${running.pid}${nodes.length > 0 ? `; ${nodes.join(', ')}` : ''}): stop it first (Ctrl-C in its terminal, or kill ${running.pid})`,
        { pid: running.pid, nodes: running.nodes },
      );
    }
    const busy: string[] = [];
    for (const id of this.ids) {
      if (this.isRunning(id)) continue;
      if (await canConnect(this.file.basePort + id - 1)) busy.push(`node ${id}'s ${this.endpoint(id)}`);
      const metrics = this.options.metricsBasePort;
      if (metrics !== undefined && (await canConnect(metrics + id - 1))) busy.push(`node ${id}'s metrics port ${this.metricsEndpoint(id)}`);
    }
    if (busy.length > 0) {
      throw new PaxchainError(
        ErrorCode.STORE_LOCKED,
        `${busy.join(', ')} ${busy.length === 1 ? 'is' : 'are'} already in use (a node of this cluster started by hand, or another program): stop it, or use another --base-port`,
        { ports: busy },
      );
    }
  }

  private writeRunning(): void {
    const nodes: Record<string, number> = {};
    for (const id of this.ids) if (this.isRunning(id)) nodes[id] = this.pid(id)!;
    const running: RunningFile = { pid: process.pid, nodes };
    writeFileSync(join(this.options.root, RUNNING_FILE), `${JSON.stringify(running)}\n`);
  }

  /** A node died on its own: restart it after a back-off, unless it died too often lately. */
  private maybeRestart(id: number, entry: NodeProcess): boolean {
    const policy = this.options.restart;
    if (!policy || this.stopping) return false;
    const now = Date.now();
    const recent = entry.restartsAtMs.filter((at) => now - at < policy.windowMs);
    if (recent.length >= policy.maxPerWindow) {
      this.options.onNotice?.(
        `node ${id} exited ${recent.length + 1} times within ${Math.round(policy.windowMs / 1000)} s; not restarting it again. ` +
          `Last output: ${lastOutput(entry) || '(none)'}. To start it by hand: ${this.manualStartCommand(id)}`,
      );
      return false;
    }
    const delayMs = Math.min(RESTART_DELAY_MAX_MS, RESTART_DELAY_MIN_MS * 2 ** recent.length);
    this.options.onNotice?.(`restarting node ${id} in ${delayMs} ms (restart ${recent.length + 1} of at most ${policy.maxPerWindow} per ${Math.round(policy.windowMs / 1000)} s)`);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.stopping || this.isRunning(id)) return;
      this.spawnNode(id, false, undefined, [...recent, Date.now()]);
      this.writeRunning();
      this.waitForPort(id).then(
        () => this.options.onNotice?.(`node ${id} is back (pid ${this.pid(id)})`),
        (error: unknown) => this.options.onNotice?.(`node ${id} did not come back: ${error instanceof Error ? error.message : String(error)}`),
      );
    }, delayMs);
    this.restartTimers.add(timer);
    return true;
  }

  /** `node start` arguments of node `id` (after bin/run.js). */
  private nodeArgs(id: number): string[] {
    const peers = this.ids.filter((peer) => peer !== id).map((peer) => `${peer}=${this.endpoint(peer)}`).join(',');
    return [
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
      // A cluster created before member keys existed runs unsigned (no verified reads).
      ...(existsSync(membersPath(this.options.root)) ? ['--key', memberKeyPath(this.options.root, id), '--members', membersPath(this.options.root)] : []),
      ...(this.options.metricsBasePort === undefined ? [] : ['--metrics', this.metricsEndpoint(id)!]),
    ];
  }

  private spawnNode(id: number, bootstrap: boolean, secret?: string, restartsAtMs: number[] = []): void {
    const args = [RUN_JS, ...this.nodeArgs(id)];
    if (bootstrap) args.push('--bootstrap');
    if (this.options.trace) args.push('--trace');
    if (this.options.logFormat === 'json') args.push('--json');
    if (this.options.nodeArgs) args.push(...this.options.nodeArgs);
    const env = { ...process.env, PAXCHAIN_SECRET: secret ?? this.secret };
    // PAXCHAIN_NODE_FLAGS: extra flags for the node processes' Node.js (e.g. --cpu-prof), for
    // profiling a cluster; Node refuses most of those in NODE_OPTIONS.
    const nodeFlags = (process.env.PAXCHAIN_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeFlags, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    const entry: NodeProcess = { child, restartsAtMs, expectedExit: false, lastLines: [] };
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
      if (entry.expectedExit) return;
      this.options.onExit?.(id, code, signal);
      if (!this.maybeRestart(id, entry) && this.options.restart && !this.stopping) this.writeRunning();
    });
  }

  private async waitForPort(id: number): Promise<void> {
    const timeout = this.options.startTimeoutMs ?? START_TIMEOUT_MS;
    const deadline = Date.now() + timeout;
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
    throw new PaxchainError(ErrorCode.TIMEOUT, `node ${id} did not open port ${port} within ${timeout} ms`);
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
    this.stopping = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    await Promise.all(
      this.ids.map(async (id) => {
        if (!this.isRunning(id)) return;
        process.kill(this.pid(id)!, 'SIGCONT');
        await this.signal(id, 'SIGTERM');
      }),
    );
    if (readRunning(this.options.root)?.pid === process.pid) rmSync(join(this.options.root, RUNNING_FILE), { force: true });
  }
}

/** ROOT/members.json: the founding members' public keys (the ceremony's public half). */
function membersPath(root: string): string {
  return join(root, MEMBERS_FILE);
}

/** ROOT/keys/member-ID.json: node ID's secret key (mode 0600). */
function memberKeyPath(root: string, id: number): string {
  return join(root, KEYS_DIR, `member-${id}.json`);
}

/**
 * The key ceremony: a key per member (ROOT/keys/member-N.json, mode 0600), then the public list
 * every founding member reads (ROOT/members.json). `cluster start` runs it when it creates a
 * local cluster; `cluster init` runs it alone, for members on other hosts (copy each key file to
 * its host, ROOT/members.json to all). Refused (ALREADY_EXISTS) if a key file exists.
 */
export function writeClusterKeys(root: string, ids: readonly number[]): { members: string; keys: string[] } {
  mkdirSync(join(root, KEYS_DIR), { recursive: true, mode: 0o700 });
  const keys = ids.map((id) => createMemberKey(id));
  if (existsSync(membersPath(root))) throw new PaxchainError(ErrorCode.ALREADY_EXISTS, `${membersPath(root)} exists; a ceremony is run once per cluster`);
  for (const key of keys) writeMemberKeyFile(memberKeyPath(root, key.node), key);
  writeFileSync(membersPath(root), encodeMemberListFile(keys.map((key) => ({ node: key.node, publicKey: key.publicKey }))));
  return { members: membersPath(root), keys: keys.map((key) => memberKeyPath(root, key.node)) };
}

function writeSecret(root: string, secret: string): void {
  const path = join(root, SECRET_FILE);
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  chmodSync(path, 0o600); // an existing file keeps its mode through writeFileSync
}

/** ROOT/secret; a cluster created before that file existed used the legacy built-in secret. */
function readSecret(root: string): string {
  const path = join(root, SECRET_FILE);
  if (!existsSync(path)) return LEGACY_SECRET;
  const secret = readFileSync(path, 'utf8').trim();
  if (secret === '') throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${path} is empty; put the cluster secret in it or pass --secret`);
  return secret;
}

function readRunning(root: string): RunningFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(root, RUNNING_FILE), 'utf8')) as RunningFile;
    return Number.isInteger(parsed.pid) && typeof parsed.nodes === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this PID exists (signal 0 checks without sending anything). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lastOutput(entry: NodeProcess): string {
  return entry.lastLines.filter((line) => line.trim() !== '').slice(-3).join(' | ');
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
