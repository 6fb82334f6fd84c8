/**
 * `paxchain dev bench-api`: the range, txn and put API of paxchain next to etcd 3.4's under the
 * same load shape, on one machine, one system at a time (the other is not running meanwhile):
 *
 *   range  10,000 keys r/00000..r/09999 (100-byte values) loaded first; then --range-clients
 *          closed-loop clients each read 100 consecutive keys from a random start, in key order
 *          (paxchain: client.range(start, { end, limit: 100 }); etcd: /v3/kv/range with range_end
 *          and limit 100). Both are linearizable reads; an answer without 100 keys is an error.
 *   txn    --txn-clients clients, each a txn of 4 compares "version(k) = v" and 4 puts on its own
 *          keys t/<client>/0..3, v the version it last saw (0: absent); a txn that did not succeed
 *          is a failed compare (there should be none: each client owns its keys).
 *   put    --put-clients clients, plain puts of 100-byte values on random keys of 10,000: the
 *          baseline next to txn.
 *   watch  --watchers watchers, watcher i of the keys with prefix wl/<i>/, each on a connection of
 *          its own (paxchain: client.watch(prefix, { prefix: true }) of a PaxchainClient per
 *          watcher whose endpoints are rotated by i, so the watchers start spread over the three
 *          nodes; etcd: a POST /watch stream of the gateway at the leader, its own connection,
 *          key..range_end the prefix). Once every watcher has seen a marker write of its own
 *          (wl/<i>/ready, written again every WATCH_READY_ROUND_MS until seen, at most
 *          WATCH_READY_ROUNDS times), --watch-writers closed-loop writers put 100-byte values at
 *          full speed on wl/<random i>/<random k of WATCH_KEYS_PER_PREFIX>, each value starting
 *          with a token of its own (the write's number, then "."). Every write's issue and
 *          acknowledgement times and its event's first delivery time (when the watcher's loop
 *          takes it) are kept, for at most WATCH_WRITES_MAX writes. After the run the watchers
 *          get up to WATCH_MISS_WAIT_MS more for the acknowledged writes not yet delivered; then:
 *          chosen -> delivered p50/p99 (acknowledgement to delivery, for the writes issued after
 *          the warm-up and acknowledged before the deadline; the ack is when the writer knows the
 *          write was chosen; a delivery before the ack counts as 0 and is counted), issue ->
 *          delivered p50/p99 of the same writes, events delivered/s (first deliveries inside the
 *          measured window), writes/s (the ops/s of the writers), the acknowledged writes never
 *          delivered (missed) and the events delivered more than once (duplicated).
 *   slow-watcher  plain puts as `put` (--put-clients clients) measured twice, one run after the
 *          other: with no watcher, then while one watch of every key (prefix "") at the leader
 *          is never read (paxchain: a raw TCP connection that sends ClientHello and one watch
 *          request, then pauses its socket; etcd: a POST /watch stream whose response is paused).
 *          The leader's watch counters are read before the stalled watch, once it is open
 *          (after STALL_SETTLE_MS) and after the second run (paxchain: status counters watches and
 *          watchesFellBehind, from which whether it ended the watch with FELL_BEHIND; etcd:
 *          /metrics etcd_debugging_mvcc_watcher_total and etcd_debugging_mvcc_slow_watcher_total).
 *
 * Each workload runs a 1 s warm-up, then --duration seconds measured: ops/s and p50/p99 latency
 * count the operations that started after the warm-up and ended before the deadline (every one's
 * duration, in a preallocated buffer of LATENCY_SAMPLES_MAX, sorted for the percentiles); errors
 * count the whole run, warm-up included. Clients stop starting operations at the deadline, and
 * the run ends at most HARD_STOP_GRACE_MS later whatever is still in flight (counted as errors).
 *
 * paxchain: a fresh 3-node local cluster in a temporary directory (ports --base-port and up, or
 * the next free ones), clients sharing one PaxchainClient per 32 as `paxchain bench` does.
 * etcd: `etcd` from PATH, installed by scripts/etcd.sh if missing; a fresh 3-member cluster on
 * 127.0.0.1 (client ports --etcd-port..+2, peer ports +10..+12) in a temporary directory, driven
 * through its JSON gateway (/v3/, or /v3beta/ if that is what answers) at the leader member, with
 * node:http and a keep-alive agent holding one connection per client. Both fsync every write.
 * If etcd cannot be installed or started the result carries paxchain alone and why.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PaxchainClient } from '../client/client.js';
import { parseEndpoint } from '../lib/endpoint.js';
import { isPaxchainError } from '../lib/errors.js';
import { Prng } from '../lib/prng.js';
import { encodeFrame } from '../transport/frame.js';
import { buildClientHello } from '../transport/handshake.js';
import { summarize } from './bench.js';
import { LocalCluster } from './local-cluster.js';

export const API_WORKLOADS = ['range', 'txn', 'put', 'watch', 'slow-watcher'] as const;
export type ApiWorkload = (typeof API_WORKLOADS)[number];
/** The workloads run when none are named. */
export const DEFAULT_API_WORKLOADS: readonly ApiWorkload[] = ['range', 'txn', 'put'];

/** Latency samples kept at most per workload (one per operation); beyond this, sampling stops. */
const LATENCY_SAMPLES_MAX = 5_000_000;
const WARMUP_SECONDS = 1;
/** Per-operation deadline, both systems. */
const OP_TIMEOUT_MS = 5000;
/** How long after the deadline a workload waits for operations in flight before it ends anyway. */
const HARD_STOP_GRACE_MS = OP_TIMEOUT_MS + 2000;
/** Back-off of a client after an error, so a system that refuses everything is not spun on. */
const ERROR_BACKOFF_MS = 100;
const VALUE_BYTES = 100;
const RANGE_KEYS = 10_000;
const RANGE_READ = 100;
const PUT_KEYS = 10_000;
const TXN_KEYS_PER_CLIENT = 4;
/** Writers loading the range keys. */
const LOAD_CONCURRENCY = 64;
/** Attempts per key while loading before the load fails. */
const LOAD_ATTEMPTS_MAX = 3;
/** watch: the keys under each watcher's prefix, wl/<i>/0..99. */
const WATCH_KEYS_PER_PREFIX = 100;
/** watch: writes whose times are kept at most; a writer past it fails with TOKENS_EXHAUSTED. */
const WATCH_WRITES_MAX = 2_000_000;
/** watch: how long after the run an acknowledged write may still be delivered before it counts as missed. */
const WATCH_MISS_WAIT_MS = 5000;
/** watch: rounds of marker writes before the writers start, one every WATCH_READY_ROUND_MS, until every watcher saw its own. */
const WATCH_READY_ROUNDS = 30;
const WATCH_READY_ROUND_MS = 1000;
const WATCH_READY_SUFFIX = '/ready';
/** The longest JSON message of an etcd watch stream kept while it is incomplete. */
const ETCD_WATCH_MESSAGE_BYTES_MAX = 64 * 1024 * 1024;
/** etcd's /metrics gauges of watchers, read around the slow-watcher run. */
const ETCD_WATCH_METRICS = ['etcd_debugging_mvcc_watcher_total', 'etcd_debugging_mvcc_slow_watcher_total'];
/** slow-watcher: the wait after the stalled watch is sent, so that the leader holds it before the puts. */
const STALL_SETTLE_MS = 500;
/** How often the waits of the watch workloads look again. */
const POLL_MS = 50;
/** Clients per PaxchainClient (src/tools/bench.ts: one connection per 32 clients). */
const CLIENTS_PER_CONNECTION = 32;
/** Alternative base ports tried (+100 each) when the asked ones are taken. */
const PORT_ATTEMPTS_MAX = 20;
const ETCD_PEER_PORT_OFFSET = 10;
const ETCD_QUOTA_BACKEND_BYTES = 8 * 1024 * 1024 * 1024;
const ETCD_INSTALL_TIMEOUT_MS = 300_000;
/** Health polls of the etcd members, every 100 ms. */
const ETCD_HEALTH_ROUNDS = 300;
const ETCD_STOP_TIMEOUT_MS = 5000;
/** scripts/etcd.sh of this checkout, whether this module runs compiled (dist/src/tools) or as source. */
const ETCD_SCRIPT = [new URL('../../../scripts/etcd.sh', import.meta.url), new URL('../../scripts/etcd.sh', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((path) => existsSync(path));

export interface ApiBenchOptions {
  readonly workloads: readonly ApiWorkload[];
  readonly durationSeconds: number;
  readonly rangeClients: number;
  readonly txnClients: number;
  readonly putClients: number;
  readonly watchers: number;
  readonly watchWriters: number;
  readonly basePort: number;
  readonly etcd: boolean;
  readonly etcdPort: number;
  readonly onPhase?: (text: string) => void;
}

interface WorkloadFigures {
  readonly workload: ApiWorkload;
  /** slow-watcher: 'no watcher' or 'stalled watcher'; null for the others. */
  readonly variant: string | null;
  readonly clients: number;
  readonly seconds: number;
  readonly operations: number;
  readonly opsPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly errors: number;
  readonly errorsByCode: Record<string, number>;
  /** txn only: txns whose compares did not hold (0 expected). */
  readonly failedCompares: number | null;
  /** watch only (the ops/s and latency above are the writers' puts). */
  readonly watch: WatchFigures | null;
  /** slow-watcher's stalled run only. */
  readonly stall: StallFigures | null;
}

interface WatchFigures {
  readonly watchers: number;
  readonly writers: number;
  /** Writes acknowledged in the whole run, warm-up included. */
  readonly acknowledged: number;
  /** Acknowledged writes no watcher delivered by WATCH_MISS_WAIT_MS after the run (0 expected). */
  readonly missed: number;
  /** Events delivered again after their first delivery (0 expected). */
  readonly duplicated: number;
  /** Events of writes that failed at the writer (their outcome unknown to it): not missed, not counted. */
  readonly deliveredUnacknowledged: number;
  /** First deliveries inside the measured window, per second. */
  readonly eventsPerSecond: number;
  /** The writes issued after the warm-up and acknowledged before the deadline that were delivered (the latencies' count). */
  readonly measured: number;
  /** Acknowledgement to delivery; a delivery before the ack counts 0. */
  readonly chosenToDeliveredMs: { readonly p50: number; readonly p99: number };
  /** Measured writes delivered before their acknowledgement arrived. */
  readonly deliveredBeforeAck: number;
  readonly issueToDeliveredMs: { readonly p50: number; readonly p99: number };
  /** Watch streams that failed or ended before the end, and (paxchain) the times a watch moved or resumed. */
  readonly watchErrors: number;
  readonly watchResumes: number;
}

interface StallFigures {
  /** The leader's watch counters before the stalled watch, once it is open, and after the puts. */
  readonly before: Record<string, number>;
  readonly opened: Record<string, number>;
  readonly after: Record<string, number>;
  /** paxchain: whether the leader ended a watch with FELL_BEHIND meanwhile; null for etcd (it ends no watch for that). */
  readonly endedFellBehind: boolean | null;
}

interface SystemFigures {
  readonly system: 'paxchain' | 'etcd';
  /** How the system was run and reached. */
  readonly setup: string;
  /** The range keys the system counted after the load (10,000 expected); null without the range workload. */
  readonly loadedKeys: number | null;
  readonly workloads: readonly WorkloadFigures[];
}

export interface ApiBenchResult {
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly paxchain: SystemFigures;
  readonly etcd: SystemFigures | null;
  /** Why there are no etcd figures (null when there are). */
  readonly etcdSkipped: string | null;
}

/** What a workload asks of a system; `client` is the simulated client's index. */
interface ApiDriver {
  put(client: number, key: string, value: Uint8Array): Promise<void>;
  /** Reads [start, end) with at most `limit` keys; returns how many came back. */
  range(client: number, start: string, end: string, limit: number): Promise<number>;
  /** "version(k) = version" on every key, then a put of each; whether the compares held. */
  txn(client: number, keys: readonly string[], version: number, value: Uint8Array): Promise<boolean>;
  version(client: number, key: string): Promise<number>;
  count(start: string, end: string): Promise<number>;
  /** Watcher `watcher` of the keys starting with `prefix`, on a connection of its own, feeding `sink`. */
  watch(watcher: number, prefix: string, sink: WatchSink): Promise<Closable>;
  /** A watch of every key at the leader whose stream is never read. */
  stall(): Promise<Closable>;
  /** The leader's counters of watches (see StallFigures). */
  watchCounters(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

interface Closable {
  close(): Promise<void>;
}

/** Where a watcher's stream reports: each event's key and value, a failed or ended stream, a resume. */
interface WatchSink {
  event(key: string, value: Uint8Array): void;
  error(): void;
  resume(): void;
}

/** Opens a driver for `clients` simulated clients. */
type DriverFactory = (clients: number) => Promise<ApiDriver>;

class BenchError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function benchApi(options: ApiBenchOptions): Promise<ApiBenchResult> {
  const phase = options.onPhase ?? (() => undefined);
  const samples = new Float64Array(LATENCY_SAMPLES_MAX);
  const paxchain = await runPaxchain(options, samples, phase);
  let etcd: SystemFigures | null = null;
  let etcdSkipped: string | null = null;
  if (!options.etcd) {
    etcdSkipped = 'not run (--no-etcd)';
  } else {
    try {
      etcd = await runEtcd(options, samples, phase);
    } catch (error) {
      etcdSkipped = error instanceof Error ? error.message : String(error);
      phase(`etcd skipped: ${etcdSkipped}`);
    }
  }
  return { durationSeconds: options.durationSeconds, warmupSeconds: WARMUP_SECONDS, paxchain, etcd, etcdSkipped };
}

// ---------------------------------------------------------------------------------------------
// The workloads, the same for both systems.

const rangeKey = (index: number): string => `r/${String(index).padStart(5, '0')}`;
const putKey = (index: number): string => `p/${String(index).padStart(5, '0')}`;
const txnKeys = (client: number): string[] => Array.from({ length: TXN_KEYS_PER_CLIENT }, (_, i) => `t/${client}/${i}`);

/** Loads (if asked) and runs the chosen workloads on one system, one after the other. */
async function runWorkloads(system: SystemFigures['system'], setup: string, open: DriverFactory, options: ApiBenchOptions, samples: Float64Array, phase: (text: string) => void): Promise<SystemFigures> {
  const value = new Uint8Array(VALUE_BYTES).fill(0x61);
  const figures: WorkloadFigures[] = [];
  let loadedKeys: number | null = null;
  for (const workload of API_WORKLOADS.filter((name) => options.workloads.includes(name))) {
    const clients = workload === 'range' ? options.rangeClients : workload === 'txn' ? options.txnClients : workload === 'watch' ? options.watchWriters : options.putClients;
    if (workload === 'range') loadedKeys = await loadRangeKeys(system, open, value, phase);
    const driver = await open(clients);
    try {
      figures.push(...(await runWorkload({ system, workload, clients, driver, options, samples, value, phase })));
    } finally {
      await driver.close();
    }
  }
  return { system, setup, loadedKeys, workloads: figures };
}

/** One workload on one system, its driver open for `clients` clients. */
interface WorkloadRun {
  readonly system: SystemFigures['system'];
  readonly workload: ApiWorkload;
  readonly clients: number;
  readonly driver: ApiDriver;
  readonly options: ApiBenchOptions;
  readonly samples: Float64Array;
  readonly value: Uint8Array;
  readonly phase: (text: string) => void;
}

async function runWorkload(run: WorkloadRun): Promise<WorkloadFigures[]> {
  const { system, workload, clients, options } = run;
  if (workload === 'watch') return [await runWatch(run)];
  if (workload === 'slow-watcher') return runSlowWatcher(run);
  run.phase(`${system} ${workload}: ${clients} clients, ${WARMUP_SECONDS}s warm-up + ${options.durationSeconds}s`);
  return [await measureRun(run, null, workloadStep(workload, run.driver, clients, run.value))];
}

/** `measure` of one step over the run's clients; `variant` names the slow-watcher's runs. */
function measureRun(run: WorkloadRun, variant: string | null, step: Step): Promise<WorkloadFigures> {
  const label = variant === null ? run.workload : `${run.workload} (${variant})`;
  const report = (line: string): void => run.phase(`${run.system} ${label}: ${line}`);
  return measure({ workload: run.workload, variant, clients: run.clients, seconds: run.options.durationSeconds, step, samples: run.samples, report });
}

/** Writes r/00000..r/09999 with LOAD_CONCURRENCY writers; returns the count the system reports after. */
async function loadRangeKeys(system: string, open: DriverFactory, value: Uint8Array, phase: (text: string) => void): Promise<number> {
  const driver = await open(LOAD_CONCURRENCY);
  try {
    phase(`${system}: loading ${RANGE_KEYS.toLocaleString('en-US')} keys ${rangeKey(0)}..${rangeKey(RANGE_KEYS - 1)}`);
    const started = performance.now();
    let next = 0;
    const writer = async (client: number): Promise<void> => {
      for (let index = next++; index < RANGE_KEYS; index = next++) {
        for (let attempt = 1; ; attempt++) {
          try {
            await driver.put(client, rangeKey(index), value);
            break;
          } catch (error) {
            if (attempt >= LOAD_ATTEMPTS_MAX) throw error;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, (_, client) => writer(client)));
    const count = await driver.count(rangeKey(0), rangeKey(RANGE_KEYS));
    phase(`${system}: loaded in ${((performance.now() - started) / 1000).toFixed(1)}s; the range counts ${count} keys`);
    return count;
  } finally {
    await driver.close();
  }
}

/** One operation of a workload for one client: true when it did what it should (false: a failed compare). */
type Step = (client: number, prng: Prng) => Promise<boolean>;

function workloadStep(workload: 'range' | 'txn' | 'put', driver: ApiDriver, clients: number, value: Uint8Array): Step {
  if (workload === 'put') {
    return async (client, prng) => {
      await driver.put(client, putKey(prng.nextInt(PUT_KEYS)), value);
      return true;
    };
  }
  if (workload === 'range') {
    return async (client, prng) => {
      const start = prng.nextInt(RANGE_KEYS - RANGE_READ + 1);
      const got = await driver.range(client, rangeKey(start), rangeKey(start + RANGE_READ), RANGE_READ);
      if (got !== RANGE_READ) throw new BenchError('SHORT_RANGE', `read ${got} keys from ${rangeKey(start)}, not ${RANGE_READ}`);
      return true;
    };
  }
  // txn: each client's keys all have the same version (every txn puts all of them); after an
  // error or a failed compare the client reads it again before its next txn.
  const keys = Array.from({ length: clients }, (_, client) => txnKeys(client));
  const versions = new Array<number>(clients).fill(0);
  const unsure = new Array<boolean>(clients).fill(false);
  return async (client) => {
    if (unsure[client]) {
      versions[client] = await driver.version(client, keys[client]![0]!);
    }
    unsure[client] = true;
    const succeeded = await driver.txn(client, keys[client]!, versions[client]!, value);
    if (succeeded) {
      versions[client]!++;
      unsure[client] = false;
    }
    return succeeded;
  };
}

interface MeasureOptions {
  readonly workload: ApiWorkload;
  readonly variant: string | null;
  readonly clients: number;
  readonly seconds: number;
  readonly step: Step;
  readonly samples: Float64Array;
  readonly report: (line: string) => void;
}

const errorCode = (error: unknown): string =>
  isPaxchainError(error) ? error.code : error instanceof BenchError ? error.code : typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'ERROR';

/** Runs `clients` closed loops of `step` for the warm-up plus `seconds`, with a hard stop. */
async function measure(options: MeasureOptions): Promise<WorkloadFigures> {
  const { samples, clients } = options;
  const tally = { count: 0, operations: 0, failedCompares: 0, errors: 0, done: 0, exited: 0, errorsByCode: {} as Record<string, number> };
  const started = performance.now();
  const warmEnd = started + WARMUP_SECONDS * 1000;
  const deadline = warmEnd + options.seconds * 1000;
  const stop = { stopped: false };
  const loop = async (client: number): Promise<void> => {
    const prng = new Prng(client * 100_003 + 17);
    while (!stop.stopped && performance.now() < deadline) {
      const begin = performance.now();
      try {
        const ok = await options.step(client, prng);
        const end = performance.now();
        tally.done++;
        if (begin < warmEnd || end > deadline) continue;
        if (tally.count < samples.length) samples[tally.count++] = end - begin;
        tally.operations++;
        if (!ok) tally.failedCompares++;
      } catch (error) {
        const code = errorCode(error);
        tally.errorsByCode[code] = (tally.errorsByCode[code] ?? 0) + 1;
        tally.errors++;
        await new Promise((resolve) => setTimeout(resolve, ERROR_BACKOFF_MS));
      }
    }
    tally.exited++;
  };
  let last = 0;
  const progress = setInterval(() => {
    const now = performance.now();
    const stage = now < warmEnd ? ' (warm-up)' : now > deadline ? ' (past the deadline)' : '';
    options.report(`${((now - started) / 1000).toFixed(0)}s${stage} ${tally.done - last} ops in the last second, ${tally.errors} errors`);
    last = tally.done;
  }, 1000);
  let hardStop: NodeJS.Timeout | undefined;
  try {
    const stopped = new Promise<void>((resolve) => (hardStop = setTimeout(resolve, deadline - started + HARD_STOP_GRACE_MS)));
    await Promise.race([Promise.all(Array.from({ length: clients }, (_, client) => loop(client))), stopped]);
  } finally {
    stop.stopped = true;
    clearInterval(progress);
    clearTimeout(hardStop);
  }
  const unfinished = clients - tally.exited;
  if (unfinished > 0) {
    tally.errorsByCode.UNFINISHED = unfinished;
    tally.errors += unfinished;
  }
  const latency = summarize(samples, tally.count);
  return {
    workload: options.workload,
    variant: options.variant,
    clients,
    seconds: options.seconds,
    operations: tally.operations,
    opsPerSecond: Math.round(tally.operations / options.seconds),
    latencyMs: { p50: latency.p50, p99: latency.p99, max: latency.max },
    errors: tally.errors,
    errorsByCode: tally.errorsByCode,
    failedCompares: options.workload === 'txn' ? tally.failedCompares : null,
    watch: null,
    stall: null,
  };
}

// ---------------------------------------------------------------------------------------------
// watch and slow-watcher

const watchPrefix = (watcher: number): string => `wl/${watcher}/`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `done` every POLL_MS for at most `ms`; whether it held. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (let round = 0; round < Math.ceil(ms / POLL_MS); round++) {
    if (done()) return true;
    await sleep(POLL_MS);
  }
  return done();
}

/** The watch workload's record: per write token its issue, ack and first delivery times (0: not yet). */
interface WatchBook {
  readonly issued: Float64Array;
  readonly acked: Float64Array;
  readonly delivered: Float64Array;
  /** Tokens handed out: writes 0..next-1. */
  next: number;
  readonly ready: Uint8Array;
  duplicated: number;
  errors: number;
  resumes: number;
  /** Tokens below it are delivered or not acknowledged (the wait for the last deliveries moves it). */
  settledThrough: number;
}

function newWatchBook(watchers: number): WatchBook {
  const times = (): Float64Array => new Float64Array(WATCH_WRITES_MAX);
  return { issued: times(), acked: times(), delivered: times(), next: 0, ready: new Uint8Array(watchers), duplicated: 0, errors: 0, resumes: 0, settledThrough: 0 };
}

/** A 100-byte value that starts with the token's digits and a ".". */
function tokenValue(token: number): Uint8Array {
  const value = new Uint8Array(VALUE_BYTES).fill(0x61);
  const digits = String(token);
  for (let i = 0; i < digits.length; i++) value[i] = digits.charCodeAt(i);
  value[digits.length] = 0x2e;
  return value;
}

/** The token a value starts with, or -1. */
function readToken(value: Uint8Array): number {
  let token = 0;
  let i = 0;
  for (; i < value.length && i < 16; i++) {
    const digit = value[i]! - 0x30;
    if (digit < 0 || digit > 9) break;
    token = token * 10 + digit;
  }
  return i > 0 && value[i] === 0x2e ? token : -1;
}

function watchSink(book: WatchBook, watcher: number): WatchSink {
  return {
    event: (key, value) => {
      const now = performance.now();
      if (key.endsWith(WATCH_READY_SUFFIX)) {
        book.ready[watcher] = 1;
        return;
      }
      const token = readToken(value);
      if (token < 0 || token >= book.next) return;
      if (book.delivered[token]! > 0) book.duplicated++;
      else book.delivered[token] = now;
    },
    error: () => book.errors++,
    resume: () => book.resumes++,
  };
}

async function runWatch(run: WorkloadRun): Promise<WorkloadFigures> {
  const { system, driver, clients, options } = run;
  const book = newWatchBook(options.watchers);
  const streams: Closable[] = [];
  try {
    run.phase(`${system} watch: opening ${options.watchers} watchers`);
    for (let watcher = 0; watcher < options.watchers; watcher++) streams.push(await driver.watch(watcher, watchPrefix(watcher), watchSink(book, watcher)));
    await waitWatchersReady(run, book);
    run.phase(`${system} watch: ${clients} writers, ${options.watchers} watchers, ${WARMUP_SECONDS}s warm-up + ${options.durationSeconds}s`);
    // measure() reads the clock the same way as its first statement, before any await.
    const warmEnd = performance.now() + WARMUP_SECONDS * 1000;
    const window = { warmEnd, deadline: warmEnd + options.durationSeconds * 1000 };
    const writes = await measureRun(run, null, watchWriteStep(driver, book, options.watchers));
    run.phase(`${system} watch: waiting up to ${WATCH_MISS_WAIT_MS} ms for the acknowledged writes not yet delivered`);
    await until(() => settled(book), WATCH_MISS_WAIT_MS);
    return { ...writes, watch: watchFigures(book, window, run) };
  } finally {
    await Promise.all(streams.map((stream) => stream.close()));
  }
}

/** Writes each watcher's marker until every watcher saw its own (the watches are live). */
async function waitWatchersReady(run: WorkloadRun, book: WatchBook): Promise<void> {
  const marker = new Uint8Array([0x72]);
  for (let round = 0; round < WATCH_READY_ROUNDS; round++) {
    const waiting = [...book.ready.keys()].filter((watcher) => book.ready[watcher] === 0);
    if (waiting.length === 0) return;
    await Promise.all(waiting.map((watcher, n) => run.driver.put(n % run.clients, `${watchPrefix(watcher)}${WATCH_READY_SUFFIX.slice(1)}`, marker).catch(() => undefined)));
    if (await until(() => book.ready.every((seen) => seen === 1), WATCH_READY_ROUND_MS)) return;
  }
  const missing = book.ready.filter((seen) => seen === 0).length;
  throw new BenchError('WATCH_NOT_READY', `${missing} of ${book.ready.length} watchers saw none of ${WATCH_READY_ROUNDS} marker writes`);
}

function watchWriteStep(driver: ApiDriver, book: WatchBook, watchers: number): Step {
  return async (client, prng) => {
    const token = book.next;
    if (token >= WATCH_WRITES_MAX) throw new BenchError('TOKENS_EXHAUSTED', `${WATCH_WRITES_MAX} writes tracked already`);
    book.next++;
    const key = `${watchPrefix(prng.nextInt(watchers))}${prng.nextInt(WATCH_KEYS_PER_PREFIX)}`;
    book.issued[token] = performance.now();
    await driver.put(client, key, tokenValue(token));
    book.acked[token] = performance.now();
    return true;
  };
}

/** Whether every acknowledged write is delivered (moves `settledThrough` on). */
function settled(book: WatchBook): boolean {
  while (book.settledThrough < book.next && (book.acked[book.settledThrough] === 0 || book.delivered[book.settledThrough]! > 0)) book.settledThrough++;
  return book.settledThrough >= book.next;
}

function watchFigures(book: WatchBook, window: { readonly warmEnd: number; readonly deadline: number }, run: WorkloadRun): WatchFigures {
  const { samples } = run;
  const counts = { acknowledged: 0, missed: 0, deliveredUnacknowledged: 0, inWindow: 0, measured: 0, deliveredBeforeAck: 0 };
  const measuredWrite = (token: number): boolean =>
    book.acked[token]! > 0 && book.delivered[token]! > 0 && book.issued[token]! >= window.warmEnd && book.acked[token]! <= window.deadline;
  for (let token = 0; token < book.next; token++) {
    const acked = book.acked[token]!;
    const delivered = book.delivered[token]!;
    if (delivered >= window.warmEnd && delivered <= window.deadline) counts.inWindow++;
    if (acked === 0) {
      if (delivered > 0) counts.deliveredUnacknowledged++;
      continue;
    }
    counts.acknowledged++;
    if (delivered === 0) counts.missed++;
    if (!measuredWrite(token) || counts.measured >= samples.length) continue;
    samples[counts.measured++] = Math.max(0, delivered - acked);
    if (delivered < acked) counts.deliveredBeforeAck++;
  }
  const chosen = summarize(samples, counts.measured);
  let issuedCount = 0;
  for (let token = 0; token < book.next && issuedCount < samples.length; token++) {
    if (measuredWrite(token)) samples[issuedCount++] = book.delivered[token]! - book.issued[token]!;
  }
  const issued = summarize(samples, issuedCount);
  return {
    watchers: run.options.watchers,
    writers: run.clients,
    acknowledged: counts.acknowledged,
    missed: counts.missed,
    duplicated: book.duplicated,
    deliveredUnacknowledged: counts.deliveredUnacknowledged,
    eventsPerSecond: Math.round(counts.inWindow / run.options.durationSeconds),
    measured: counts.measured,
    chosenToDeliveredMs: { p50: chosen.p50, p99: chosen.p99 },
    deliveredBeforeAck: counts.deliveredBeforeAck,
    issueToDeliveredMs: { p50: issued.p50, p99: issued.p99 },
    watchErrors: book.errors,
    watchResumes: book.resumes,
  };
}

/** The put workload without a watcher, then with a watch of every key at the leader that is never read. */
async function runSlowWatcher(run: WorkloadRun): Promise<WorkloadFigures[]> {
  const { system, driver, clients, options } = run;
  const step = workloadStep('put', driver, clients, run.value);
  run.phase(`${system} slow-watcher: ${clients} clients of plain puts, no watcher, ${WARMUP_SECONDS}s warm-up + ${options.durationSeconds}s`);
  const alone = await measureRun(run, 'no watcher', step);
  const before = await driver.watchCounters();
  const stalled = await driver.stall();
  try {
    await sleep(STALL_SETTLE_MS);
    const opened = await driver.watchCounters();
    run.phase(`${system} slow-watcher: the same puts while a watch of every key at the leader is never read (counters ${formatCounters(opened)})`);
    const slowed = await measureRun(run, 'stalled watcher', step);
    const after = await driver.watchCounters();
    run.phase(`${system} slow-watcher: the leader's counters before ${formatCounters(before)}; watch open ${formatCounters(opened)}; after ${formatCounters(after)}`);
    const endedFellBehind = after.watchesFellBehind === undefined ? null : after.watchesFellBehind > (before.watchesFellBehind ?? 0);
    return [alone, { ...slowed, stall: { before, opened, after, endedFellBehind } }];
  } finally {
    await stalled.close();
  }
}

const formatCounters = (counters: Record<string, number>): string =>
  Object.entries(counters)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');

// ---------------------------------------------------------------------------------------------
// paxchain

async function runPaxchain(options: ApiBenchOptions, samples: Float64Array, phase: (text: string) => void): Promise<SystemFigures> {
  const basePort = await freeBase(options.basePort, [0, 1, 2]);
  const root = mkdtempSync(join(tmpdir(), 'paxchain-api-'));
  try {
    const cluster = new LocalCluster({ root, nodes: 3, basePort, secret: 'api-bench' });
    const probe = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 2000 });
    try {
      phase(`paxchain: starting 3 nodes on ${cluster.endpoints.join(', ')} in ${root}`);
      await cluster.start();
      const leader = await cluster.waitForLeader(probe, 600);
      phase(`paxchain: node ${leader} leads`);
      const setup = `3 nodes on ${cluster.endpoints.join(',')}; clients share one PaxchainClient per ${CLIENTS_PER_CONNECTION}`;
      return await runWorkloads('paxchain', setup, async (clients) => paxchainDriver(cluster.endpoints, clients, cluster.endpoint(leader)), options, samples, phase);
    } finally {
      await probe.close();
      phase('paxchain: stopping the cluster');
      await cluster.stop();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function paxchainDriver(endpoints: readonly string[], clients: number, leader: string): ApiDriver {
  const pool = Array.from({ length: Math.ceil(clients / CLIENTS_PER_CONNECTION) }, () => new PaxchainClient({ endpoints, timeoutMs: OP_TIMEOUT_MS }));
  const of = (client: number): PaxchainClient => pool[client % pool.length]!;
  return {
    put: async (client, key, value) => {
      await of(client).put(key, value);
    },
    range: async (client, start, end, limit) => {
      let got = 0;
      for await (const page of of(client).range(start, { end, limit })) got += page.entries.length;
      return got;
    },
    txn: async (client, keys, version, value) => {
      const result = await of(client).txn({
        compares: keys.map((key) => ({ target: 'version' as const, key, relation: '=' as const, operand: version })),
        success: keys.map((key) => ({ kind: 'put' as const, key, value })),
      });
      return result.succeeded;
    },
    version: async (client, key) => (await of(client).get(key)).revisions?.version ?? 0,
    count: async (start, end) => (await of(0).count(start, { end })).count,
    watch: async (watcher, prefix, sink) => paxchainWatch(endpoints, watcher, prefix, sink),
    stall: () => paxchainStall(leader),
    watchCounters: async () => {
      const { counters } = await of(0).status(leader);
      return { watches: counters.watches ?? 0, watchesFellBehind: counters.watchesFellBehind ?? 0 };
    },
    close: async () => {
      await Promise.all(pool.map((client) => client.close()));
    },
  };
}

/** A watch on a PaxchainClient of its own whose endpoints are rotated by `watcher` (its first node differs by watcher). */
function paxchainWatch(endpoints: readonly string[], watcher: number, prefix: string, sink: WatchSink): Closable {
  const first = watcher % endpoints.length;
  const client = new PaxchainClient({ endpoints: [...endpoints.slice(first), ...endpoints.slice(0, first)], timeoutMs: OP_TIMEOUT_MS });
  const watch = client.watch(prefix, { prefix: true, onResume: () => sink.resume() });
  let closing = false;
  const consumed = (async () => {
    try {
      for await (const event of watch) sink.event(event.key, event.value ?? new Uint8Array(0));
      if (!closing) sink.error();
    } catch {
      sink.error();
    }
  })();
  return {
    close: async () => {
      closing = true;
      await watch.return();
      await consumed;
      await client.close();
    },
  };
}

/** ClientHello and a watch of every key on a raw connection to `endpoint`, whose socket is then paused and never read. */
async function paxchainStall(endpoint: string): Promise<Closable> {
  const { host, port } = parseEndpoint(endpoint);
  const socket = connect({ host, port, noDelay: true });
  socket.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new BenchError('TIMEOUT', `no connection to ${endpoint} in ${OP_TIMEOUT_MS} ms`)), OP_TIMEOUT_MS);
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
  } catch (error) {
    socket.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  socket.write(encodeFrame(buildClientHello()));
  socket.write(encodeFrame({ id: 1, op: 'watch', key: new Uint8Array(0), prefix: true, from: null }));
  socket.pause();
  return { close: async () => void socket.destroy() };
}

/** The first base (start, start + 100, ...) whose base + each offset is a free 127.0.0.1 port. */
async function freeBase(start: number, offsets: readonly number[]): Promise<number> {
  for (let attempt = 0; attempt < PORT_ATTEMPTS_MAX; attempt++) {
    const base = start + attempt * 100;
    let free = true;
    for (const offset of offsets) free = free && (await portFree(base + offset));
    if (free) return base;
  }
  throw new BenchError('PORTS_TAKEN', `no free ports at ${start} + ${offsets.join(',')} (nor ${PORT_ATTEMPTS_MAX - 1} bases above it, 100 apart)`);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------------------------------------
// etcd

interface EtcdMembers {
  readonly clientPorts: readonly number[];
  readonly children: readonly ChildProcess[];
  readonly logs: readonly string[];
}

async function runEtcd(options: ApiBenchOptions, samples: Float64Array, phase: (text: string) => void): Promise<SystemFigures> {
  const binary = ensureEtcd(phase);
  const version = etcdVersion(binary);
  if (!version.startsWith('3.4')) phase(`etcd: version ${version}, not 3.4 (run anyway)`);
  const base = await freeBase(options.etcdPort, [0, 1, 2, ETCD_PEER_PORT_OFFSET, ETCD_PEER_PORT_OFFSET + 1, ETCD_PEER_PORT_OFFSET + 2]);
  const root = mkdtempSync(join(tmpdir(), 'paxchain-api-etcd-'));
  let members: EtcdMembers | undefined;
  try {
    phase(`etcd ${version}: starting 3 members, client ports ${base}-${base + 2}, in ${root}`);
    members = startEtcd(binary, root, base);
    await waitHealthy(members);
    const { port, prefix } = await etcdLeader(members.clientPorts);
    phase(`etcd: the leader answers on 127.0.0.1:${port}, gateway ${prefix}/`);
    const setup = `etcd ${version}, 3 members on 127.0.0.1:${base}-${base + 2}; JSON gateway ${prefix}/ at the leader (127.0.0.1:${port}), node:http keep-alive, one connection per client`;
    return await runWorkloads('etcd', setup, async (clients) => etcdDriver(port, prefix, clients), options, samples, phase);
  } finally {
    if (members) {
      phase('etcd: stopping the members');
      await stopEtcd(members);
    }
    rmSync(root, { recursive: true, force: true });
  }
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** etcd's path; runs scripts/etcd.sh (output on stderr) when it is not on PATH. */
function ensureEtcd(phase: (text: string) => void): string {
  const found = findOnPath('etcd');
  if (found) return found;
  if (!ETCD_SCRIPT) throw new BenchError('NO_ETCD', 'etcd is not installed and scripts/etcd.sh is not in this checkout');
  phase(`etcd: not on PATH; running ${ETCD_SCRIPT}`);
  const run = spawnSync('sh', [ETCD_SCRIPT], { stdio: ['ignore', 2, 2], timeout: ETCD_INSTALL_TIMEOUT_MS });
  const installed = findOnPath('etcd');
  if (!installed) throw new BenchError('NO_ETCD', `etcd is not installed and ${ETCD_SCRIPT} could not install it (${run.error ? run.error.message : `exit ${run.status}`})`);
  return installed;
}

function etcdVersion(binary: string): string {
  const run = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const found = /etcd Version: (\S+)/.exec(run.stdout ?? '');
  if (!found) throw new BenchError('NO_ETCD', `${binary} --version said nothing usable (${(run.stderr ?? '').trim().slice(0, 200) || `exit ${run.status}`})`);
  return found[1]!;
}

function startEtcd(binary: string, root: string, base: number): EtcdMembers {
  const ids = [0, 1, 2];
  const peer = (i: number): string => `http://127.0.0.1:${base + ETCD_PEER_PORT_OFFSET + i}`;
  const client = (i: number): string => `http://127.0.0.1:${base + i}`;
  const initialCluster = ids.map((i) => `e${i + 1}=${peer(i)}`).join(',');
  const token = `paxchain-bench-${randomBytes(6).toString('hex')}`;
  const logs = ids.map((i) => join(root, `e${i + 1}.log`));
  const children = ids.map((i) => {
    const args = [
      ...['--name', `e${i + 1}`, '--data-dir', join(root, `e${i + 1}`)],
      ...['--listen-client-urls', client(i), '--advertise-client-urls', client(i)],
      ...['--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i)],
      ...['--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', token],
      ...['--quota-backend-bytes', String(ETCD_QUOTA_BACKEND_BYTES), '--logger', 'zap', '--log-level', 'warn', '--log-outputs', 'stderr'],
    ];
    const log = openSync(logs[i]!, 'a');
    try {
      return spawn(binary, args, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
  });
  const members = { clientPorts: ids.map((i) => base + i), children, logs };
  // Never leave a member behind this process, whatever ends it.
  process.once('exit', () => killMembers(members));
  return members;
}

function killMembers(members: EtcdMembers): void {
  for (const child of members.children) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const logTail = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').slice(-3).join(' | ').slice(0, 600) : '');

async function waitHealthy(members: EtcdMembers): Promise<void> {
  for (let round = 0; round < ETCD_HEALTH_ROUNDS; round++) {
    const dead = members.children.findIndex((child) => child.exitCode !== null || child.signalCode !== null);
    if (dead >= 0) throw new BenchError('ETCD_EXITED', `etcd member e${dead + 1} exited (${members.children[dead]!.exitCode ?? members.children[dead]!.signalCode}): ${logTail(members.logs[dead]!)}`);
    const healthy = await Promise.all(
      members.clientPorts.map((port) =>
        fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) })
          .then(async (response) => ((await response.json()) as { health?: string }).health === 'true')
          .catch(() => false),
      ),
    );
    if (healthy.every(Boolean)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new BenchError('ETCD_UNHEALTHY', `etcd not healthy after ${ETCD_HEALTH_ROUNDS / 10}s: ${logTail(members.logs[0]!)}`);
}

/** The leader's client port and the gateway prefix that answers there (/v3, else /v3beta). */
async function etcdLeader(ports: readonly number[]): Promise<{ port: number; prefix: string }> {
  const agent = new Agent({ keepAlive: false });
  try {
    for (const prefix of ['/v3', '/v3beta']) {
      for (const port of ports) {
        const status = (await post(agent, port, `${prefix}/maintenance/status`, '{}').catch(() => undefined)) as { header?: { member_id?: string }; leader?: string } | undefined;
        if (status?.leader !== undefined && status.header?.member_id === status.leader) return { port, prefix };
      }
    }
  } finally {
    agent.destroy();
  }
  throw new BenchError('ETCD_NO_LEADER', `no etcd member on ports ${ports.join(',')} says it leads through /v3 or /v3beta`);
}

async function stopEtcd(members: EtcdMembers): Promise<void> {
  await Promise.all(
    members.children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(child.pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ETCD_STOP_TIMEOUT_MS)));
      if ((await Promise.race([exited, late])) === 'late' && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
      clearTimeout(timer);
    }),
  );
}

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

function etcdDriver(port: number, prefix: string, clients: number): ApiDriver {
  const agent = new Agent({ keepAlive: true, maxSockets: clients, maxFreeSockets: clients });
  const values = new WeakMap<Uint8Array, string>();
  const encoded = (value: Uint8Array): string => values.get(value) ?? values.set(value, Buffer.from(value).toString('base64')).get(value)!;
  const call = (path: string, body: unknown): Promise<unknown> => post(agent, port, `${prefix}${path}`, JSON.stringify(body));
  type RangeReply = { kvs?: Array<{ version?: string }>; count?: string };
  return {
    put: async (_client, key, value) => {
      await call('/kv/put', { key: base64(key), value: encoded(value) });
    },
    range: async (_client, start, end, limit) => ((await call('/kv/range', { key: base64(start), range_end: base64(end), limit })) as RangeReply).kvs?.length ?? 0,
    txn: async (_client, keys, version, value) => {
      const compare = keys.map((key) => ({ key: base64(key), target: 'VERSION', result: 'EQUAL', version: String(version) }));
      const success = keys.map((key) => ({ request_put: { key: base64(key), value: encoded(value) } }));
      // proto3 JSON leaves out a false `succeeded`.
      return ((await call('/kv/txn', { compare, success })) as { succeeded?: boolean }).succeeded === true;
    },
    version: async (_client, key) => Number(((await call('/kv/range', { key: base64(key) })) as RangeReply).kvs?.[0]?.version ?? 0),
    count: async (start, end) => Number(((await call('/kv/range', { key: base64(start), range_end: base64(end), count_only: true })) as RangeReply).count ?? 0),
    watch: async (_watcher, watchedPrefix, sink) => etcdWatch(port, prefix, watchedPrefix, sink),
    stall: async () => etcdWatch(port, prefix, '', null),
    watchCounters: async () => {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(OP_TIMEOUT_MS) });
      const text = await response.text();
      const counters: Record<string, number> = {};
      for (const name of ETCD_WATCH_METRICS) {
        const found = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
        if (found) counters[name] = Number(found[1]);
      }
      return counters;
    },
    close: async () => agent.destroy(),
  };
}

/** etcd's key and range_end for the keys starting with `prefix` (every key for ""), base64. */
function etcdPrefixRange(prefix: string): { key: string; range_end: string } {
  const key = Buffer.from(prefix, 'utf8');
  if (key.length === 0) return { key: 'AA==', range_end: 'AA==' };
  let last = key.length - 1;
  while (last >= 0 && key[last] === 0xff) last--;
  const end = Buffer.from(key.subarray(0, last + 1));
  if (last >= 0) end[last]!++;
  return { key: key.toString('base64'), range_end: last >= 0 ? end.toString('base64') : 'AA==' };
}

type EtcdWatchMessage = { result?: { canceled?: boolean; events?: Array<{ kv?: { key?: string; value?: string } }> }; error?: unknown };

/**
 * A POST /watch stream of the keys starting with `watched`, on a connection of its own, once the
 * response began; each event goes to `sink`. Without a sink the response is paused and never read.
 */
function etcdWatch(port: number, gateway: string, watched: string, sink: WatchSink | null): Promise<Closable> {
  const body = JSON.stringify({ create_request: etcdPrefixRange(watched) });
  let ended = false;
  const failed = (): void => {
    if (ended) return;
    ended = true;
    sink?.error();
  };
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const request = httpRequest({ host: '127.0.0.1', port, path: `${gateway}/watch`, method: 'POST', agent: false, headers }, (response) => {
      clearTimeout(timer);
      if (response.statusCode !== 200) {
        response.resume();
        reject(new BenchError(`HTTP_${response.statusCode}`, `${gateway}/watch answered ${response.statusCode}`));
        return;
      }
      const close = async (): Promise<void> => {
        ended = true;
        request.destroy();
      };
      resolve({ close });
      response.on('error', failed);
      if (sink === null) {
        response.pause();
        return;
      }
      response.setEncoding('utf8');
      response.on('data', jsonObjects((text) => etcdWatchMessage(text, sink) || failed(), failed));
      response.on('end', failed);
    });
    const timer = setTimeout(() => request.destroy(new BenchError('TIMEOUT', `no answer from ${gateway}/watch in ${OP_TIMEOUT_MS} ms`)), OP_TIMEOUT_MS);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
      failed();
    });
    request.end(body);
  });
}

/** Hands one message's events to `sink`; false when it is no JSON or says the watch ended. */
function etcdWatchMessage(text: string, sink: WatchSink): boolean {
  let message: EtcdWatchMessage;
  try {
    message = JSON.parse(text) as EtcdWatchMessage;
  } catch {
    return false;
  }
  for (const event of message.result?.events ?? []) {
    sink.event(Buffer.from(event.kv?.key ?? '', 'base64').toString('utf8'), Buffer.from(event.kv?.value ?? '', 'base64'));
  }
  return message.error === undefined && message.result?.canceled !== true;
}

/**
 * Splits a stream of JSON objects (one after the other, whatever is between them) into each
 * object's text as it completes; `overflow` when one exceeds ETCD_WATCH_MESSAGE_BYTES_MAX.
 */
function jsonObjects(onObject: (text: string) => void, overflow: () => void): (chunk: string) => void {
  let pending = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  return (chunk) => {
    const scanned = pending.length;
    pending += chunk;
    let start = 0;
    for (let i = scanned; i < pending.length; i++) {
      const c = pending.charCodeAt(i);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) {
        inString = true;
      } else if (c === 0x7b) {
        if (depth++ === 0) start = i;
      } else if (c === 0x7d && depth > 0 && --depth === 0) {
        onObject(pending.slice(start, i + 1));
        start = i + 1;
      }
    }
    pending = depth > 0 ? pending.slice(start) : '';
    if (pending.length > ETCD_WATCH_MESSAGE_BYTES_MAX) {
      pending = '';
      depth = 0;
      overflow();
    }
  };
}

/** POSTs a JSON body to 127.0.0.1:port; the parsed answer, or a BenchError HTTP_<status> / TIMEOUT. */
function post(agent: Agent, port: number, path: string, body: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port, path, method: 'POST', agent, timeout: OP_TIMEOUT_MS, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (response.statusCode !== 200) reject(new BenchError(`HTTP_${response.statusCode}`, text.slice(0, 300)));
          else resolve(JSON.parse(text));
        });
      },
    );
    request.on('timeout', () => request.destroy(new BenchError('TIMEOUT', `no answer from 127.0.0.1:${port}${path} in ${OP_TIMEOUT_MS} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}
