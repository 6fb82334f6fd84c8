/**
 * `paxchain demo`: a local cluster under a client workload, optionally with chaos. Loads
 * data/fruits.json, runs clients that put, read, cas and delete fruit prices while recording
 * every operation's call and return time, and with --chaos fails a random acceptor every 2-4 s
 * (kill -9, SIGSTOP/SIGCONT or wipe-and-rejoin, chosen at random; never more than a minority
 * failed at once) and recovers it 2-4 s later. At the end: heal, wait for the nodes to agree,
 * audit the chains, and check the recorded history for linearizability.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromUtf8 } from '../lib/bytes.js';
import { isPaxchainError } from '../lib/errors.js';
import { Prng } from '../lib/prng.js';
import { checkLinearizability, type HistoryOp, type LinearizabilityResult } from '../check/linearizability.js';
import { PaxchainClient } from '../client/client.js';
import { majority } from '../paxos/quorum.js';
import { type AuditReport, audit } from './audit.js';
import { readEntries } from './load.js';
import { LocalCluster } from './local-cluster.js';

/** data/fruits.json of this checkout, whether this module runs compiled or as source. */
const FRUITS_FILE = [new URL('../../../data/fruits.json', import.meta.url), new URL('../../data/fruits.json', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((path) => existsSync(path))!;

/** Time the cluster gets to agree after the chaos stops. */
const SETTLE_TIMEOUT_MS = 60_000;
/** Operations recorded at most (the checker's input stays bounded). */
const HISTORY_OPERATIONS_MAX = 200_000;

export type FaultKind = 'kill-9' | 'sigstop' | 'wipe';

export interface FaultRecord {
  readonly node: number;
  readonly kind: FaultKind;
  readonly atSeconds: number;
  readonly recoveredAtSeconds?: number;
}

export interface DemoOptions {
  readonly nodes: number;
  readonly basePort: number;
  readonly durationSeconds: number;
  readonly chaos: boolean;
  readonly seed: number;
  readonly clients: number;
  readonly trace: boolean;
  /** Data root; a temporary directory (deleted afterwards) when absent. */
  readonly data?: string;
  readonly onLine?: (node: number, line: string) => void;
  readonly onSummary?: (line: string) => void;
}

export interface DemoResult {
  readonly nodes: number;
  readonly durationSeconds: number;
  readonly operations: number;
  readonly errors: Record<string, number>;
  readonly faults: FaultRecord[];
  readonly audit: AuditReport;
  readonly linearizability: Pick<LinearizabilityResult, 'ok' | 'verdict' | 'keys' | 'operations' | 'violation' | 'unknownKeys'>;
  readonly ok: boolean;
}

interface ActiveFault {
  readonly record: { node: number; kind: FaultKind; atSeconds: number; recoveredAtSeconds?: number };
  readonly recoverAt: number;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const root = options.data ?? mkdtempSync(join(tmpdir(), 'paxchain-demo-'));
  const cluster = new LocalCluster({ root, nodes: options.nodes, basePort: options.basePort, trace: options.trace, secret: 'paxchain-demo', onLine: options.onLine });
  const prng = new Prng(options.seed);
  const history: HistoryOp[] = [];
  const errors: Record<string, number> = {};
  const faults: FaultRecord[] = [];
  const active = new Map<number, ActiveFault>();
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  let operations = 0;
  let running = true;
  // Asks every node for its status once a second for the live summary (a short deadline: a
  // stopped node must not hold the summary up).
  const probe = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 300 });
  try {
    await cluster.start();
    await loadFruits(cluster, history);
    let nextId = history.length;
    const workers = Array.from({ length: options.clients }, (_, index) =>
      runWorker(index, cluster, prng.fork(), history, errors, () => running, () => operations++, () => ++nextId),
    );
    let nextFault = performance.now() + prng.between(2000, 4000);
    let lastSummary = performance.now();
    let lastOps = 0;
    while (seconds() < options.durationSeconds) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await recoverDue(cluster, active, seconds());
      if (options.chaos && performance.now() >= nextFault) {
        await injectFault(cluster, prng, active, faults, seconds());
        nextFault = performance.now() + prng.between(2000, 4000);
      }
      if (performance.now() - lastSummary >= 1000) {
        options.onSummary?.(await summary(probe, cluster, seconds(), operations - lastOps, errors, active));
        lastOps = operations;
        lastSummary = performance.now();
      }
    }
    for (const fault of active.values()) fault.record.recoveredAtSeconds = seconds();
    await recoverAll(cluster, active);
    running = false;
    await Promise.all(workers);
    await settle(cluster);
    const auditReport = await audit({ endpoints: cluster.endpoints, dataDirs: [], timeoutMs: 5000 });
    const checked = checkLinearizability(history);
    const { ok, verdict, keys, operations: checkedOperations, violation, unknownKeys } = checked;
    return {
      nodes: options.nodes,
      durationSeconds: Math.round(seconds() * 10) / 10,
      operations,
      errors,
      faults,
      audit: auditReport,
      linearizability: { ok, verdict, keys, operations: checkedOperations, violation, unknownKeys },
      ok: auditReport.ok && checked.verdict === 'linearizable',
    };
  } finally {
    running = false;
    await probe.close();
    await cluster.stop();
    if (!options.data) rmSync(root, { recursive: true, force: true });
  }
}

async function loadFruits(cluster: LocalCluster, history: HistoryOp[]): Promise<void> {
  const client = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 10_000 });
  try {
    await Promise.all(
      readEntries(FRUITS_FILE, 'fruit/').map(async ([key, value]) => {
        const call = performance.now();
        await client.put(key, value);
        history.push({ id: history.length + 1, process: 0, kind: 'put', key, value, call, return: performance.now(), result: { ok: true } });
      }),
    );
  } finally {
    await client.close();
  }
}

/** One client session: one operation at a time on the fruit keys, every call and return recorded. */
async function runWorker(
  index: number,
  cluster: LocalCluster,
  prng: Prng,
  history: HistoryOp[],
  errors: Record<string, number>,
  running: () => boolean,
  counted: () => void,
  nextId: () => number,
): Promise<void> {
  const client = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 3000, attemptTimeoutMs: 500 });
  const keys = readEntries(FRUITS_FILE, 'fruit/').map(([key]) => key);
  const lastSeen = new Map<string, string | null>();
  let written = 0;
  const process = index + 1;
  try {
    while (running() && history.length < HISTORY_OPERATIONS_MAX) {
      const key = prng.pick(keys);
      const roll = prng.nextInt(100);
      const id = nextId();
      const call = performance.now();
      const price = `${(prng.nextInt(999) / 100 + 0.01).toFixed(2)}#${process}.${++written}`;
      try {
        if (roll < 40) {
          const read = await client.get(key);
          const value = read.value === null ? null : fromUtf8(read.value);
          lastSeen.set(key, value);
          history.push({ id, process, kind: 'get', key, call, return: performance.now(), result: { value } });
        } else if (roll < 80) {
          await client.put(key, price);
          history.push({ id, process, kind: 'put', key, value: price, call, return: performance.now(), result: { ok: true } });
        } else if (roll < 95) {
          const expect = lastSeen.get(key) ?? null;
          const result = await client.cas(key, expect, price);
          history.push({ id, process, kind: 'cas', key, expect, value: price, call, return: performance.now(), result: { ok: result.result !== 'CAS_MISMATCH' } });
        } else {
          const result = await client.delete(key);
          history.push({ id, process, kind: 'delete', key, call, return: performance.now(), result: { deleted: result.result === 'DELETED' } });
        }
        counted();
      } catch (error) {
        const code = isPaxchainError(error) ? error.code : 'ERROR';
        errors[code] = (errors[code] ?? 0) + 1;
        // A write whose outcome is unknown may or may not have been applied: no return time.
        if (roll >= 40 && (code === 'TIMEOUT' || code === 'UNAVAILABLE' || code === 'OVERLOADED')) {
          if (roll < 80) history.push({ id, process, kind: 'put', key, value: price, call });
          else if (roll < 95) history.push({ id, process, kind: 'cas', key, expect: lastSeen.get(key) ?? null, value: price, call });
          else history.push({ id, process, kind: 'delete', key, call });
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    await client.close();
  }
}

async function injectFault(cluster: LocalCluster, prng: Prng, active: Map<number, ActiveFault>, faults: FaultRecord[], at: number): Promise<void> {
  const minority = cluster.ids.length - majority(cluster.ids.length);
  if (active.size >= minority) return;
  const healthy = cluster.ids.filter((id) => !active.has(id) && cluster.isRunning(id));
  if (healthy.length === 0) return;
  const node = prng.pick(healthy);
  const kind = prng.pick<FaultKind>(['kill-9', 'sigstop', 'wipe']);
  if (kind === 'kill-9') await cluster.signal(node, 'SIGKILL');
  else if (kind === 'sigstop') await cluster.signal(node, 'SIGSTOP');
  else await cluster.wipe(node);
  const record = { node, kind, atSeconds: Math.round(at * 10) / 10 };
  faults.push(record);
  active.set(node, { record, recoverAt: at + prng.between(2000, 4000) / 1000 });
}

async function recoverDue(cluster: LocalCluster, active: Map<number, ActiveFault>, now: number): Promise<void> {
  for (const [node, fault] of active) {
    if (now < fault.recoverAt) continue;
    await recover(cluster, node, fault);
    fault.record.recoveredAtSeconds = Math.round(now * 10) / 10;
    active.delete(node);
  }
}

async function recover(cluster: LocalCluster, node: number, fault: ActiveFault): Promise<void> {
  if (fault.record.kind === 'sigstop') await cluster.signal(node, 'SIGCONT');
  else await cluster.startNode(node);
}

async function recoverAll(cluster: LocalCluster, active: Map<number, ActiveFault>): Promise<void> {
  for (const [node, fault] of active) await recover(cluster, node, fault);
  active.clear();
}

/** Waits until every node votes and all heads agree (bounded). */
async function settle(cluster: LocalCluster): Promise<void> {
  const client = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 1000 });
  const deadline = performance.now() + SETTLE_TIMEOUT_MS;
  try {
    while (performance.now() < deadline) {
      const all = await Promise.all(cluster.ids.map((id) => client.status(cluster.endpoint(id)).catch(() => undefined)));
      const heads = new Set(all.map((status) => (status?.voting && status.head ? `${status.head.height}:${status.head.hash}` : 'x')));
      if (heads.size === 1 && !heads.has('x')) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await client.close();
  }
}

async function summary(
  probe: PaxchainClient,
  cluster: LocalCluster,
  at: number,
  opsLastSecond: number,
  errors: Record<string, number>,
  active: Map<number, ActiveFault>,
): Promise<string> {
  const all = await Promise.all(cluster.ids.map((id) => (cluster.isRunning(id) && !isStopped(active, id) ? probe.status(cluster.endpoint(id)).catch(() => undefined) : undefined)));
  const leader = all.find((status) => status?.role === 'leader')?.nodeId;
  const heights = all.map((status) => (status?.head ? `${status.head.height}${status.voting ? '' : 'L'}` : '-')).join(' ');
  const errorCount = Object.values(errors).reduce((sum, count) => sum + count, 0);
  const faults = [...active.values()].map((fault) => `node ${fault.record.node} ${fault.record.kind}`).join(', ') || 'none';
  return `t=${at.toFixed(0)}s  ${opsLastSecond} ops/s  errors ${errorCount}  leader ${leader ?? '-'}  heights [${heights}]  fault: ${faults}`;
}

function isStopped(active: Map<number, ActiveFault>, id: number): boolean {
  return active.get(id)?.record.kind === 'sigstop';
}
