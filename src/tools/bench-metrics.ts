/**
 * `paxchain dev bench-metrics`: what metrics cost on write throughput. Per round, two fresh local
 * 3-node clusters in temp directories, one with `--metrics` off and one with it on and scraped
 * every second as Prometheus would (all three nodes); the order flips each round so neither mode
 * always runs on a warmer machine. Each run: settle, a 2 s warm-up, then the measured bench
 * (put=100, `clients` concurrent writers). Prints each run, then per mode the median throughput
 * and p99, and the cost as the difference of the medians.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PaxchainClient } from '../client/client.js';
import { type BenchResult, runBench } from './bench.js';
import { LocalCluster } from './local-cluster.js';

/** Warm-up before each measured run. */
const WARMUP_SECONDS = 2;
/** Scrape interval with metrics on (a common Prometheus setting is 15 s; 1 s is the harsh case). */
const SCRAPE_INTERVAL_MS = 1000;
const SCRAPE_TIMEOUT_MS = 2000;

export interface MetricsBenchOptions {
  readonly rounds: number;
  readonly clients: number;
  readonly durationSeconds: number;
  readonly basePort: number;
  readonly onRun?: (run: MetricsBenchRun) => void;
}

export interface MetricsBenchRun {
  readonly round: number;
  readonly metrics: boolean;
  readonly throughput: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** Scrapes answered during the measured run (metrics on), and their mean size in bytes. */
  readonly scrapes: number;
  readonly scrapeBytes: number;
}

export interface MetricsBenchResult {
  readonly clients: number;
  readonly durationSeconds: number;
  readonly runs: readonly MetricsBenchRun[];
  readonly off: { readonly throughput: number; readonly p99: number };
  readonly on: { readonly throughput: number; readonly p99: number };
  /** (off - on) / off of the median throughputs, in percent (negative: on was faster). */
  readonly costPercent: number;
}

export async function benchMetrics(options: MetricsBenchOptions): Promise<MetricsBenchResult> {
  const runs: MetricsBenchRun[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? [false, true] : [true, false];
    for (const metrics of order) {
      const run = await oneRun(round, metrics, options);
      runs.push(run);
      options.onRun?.(run);
    }
  }
  const mode = (metrics: boolean) => {
    const mine = runs.filter((run) => run.metrics === metrics);
    return { throughput: median(mine.map((run) => run.throughput)), p99: median(mine.map((run) => run.p99)) };
  };
  const off = mode(false);
  const on = mode(true);
  return { clients: options.clients, durationSeconds: options.durationSeconds, runs, off, on, costPercent: off.throughput > 0 ? ((off.throughput - on.throughput) / off.throughput) * 100 : 0 };
}

async function oneRun(round: number, metrics: boolean, options: MetricsBenchOptions): Promise<MetricsBenchRun> {
  const root = mkdtempSync(join(tmpdir(), 'paxchain-bench-metrics-'));
  const cluster = new LocalCluster({ root, nodes: 3, basePort: options.basePort, metricsBasePort: metrics ? options.basePort + 100 : undefined, secret: 'bench-metrics' });
  const probe = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 2000 });
  let scraper: NodeJS.Timeout | undefined;
  try {
    await cluster.start();
    await cluster.waitForLeader(probe, 400);
    const bench = (seconds: number): Promise<BenchResult> =>
      runBench({ endpoints: cluster.endpoints, clients: options.clients, connections: Math.max(1, Math.ceil(options.clients / 32)), durationSeconds: seconds, valueBytes: 100, keys: 10_000, mix: { put: 100, get: 0, delete: 0, cas: 0 }, stale: false, timeoutMs: 10_000, seed: round });
    await bench(WARMUP_SECONDS);
    let scrapes = 0;
    let bytes = 0;
    if (metrics) {
      scraper = setInterval(() => {
        for (const id of cluster.ids) {
          void scrape(`http://${cluster.metricsEndpoint(id)}/metrics`).then((size) => {
            scrapes++;
            bytes += size;
          }, () => undefined);
        }
      }, SCRAPE_INTERVAL_MS);
    }
    const result = await bench(options.durationSeconds);
    const errors = Object.values(result.errors).reduce((sum, count) => sum + count, 0);
    return { round, metrics, throughput: result.throughput, p50: result.latency.p50, p99: result.latency.p99, errors, scrapes, scrapeBytes: scrapes > 0 ? Math.round(bytes / scrapes) : 0 };
  } finally {
    if (scraper) clearInterval(scraper);
    await probe.close();
    await cluster.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

function scrape(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = get(url, { timeout: SCRAPE_TIMEOUT_MS }, (response) => {
      let size = 0;
      response.on('data', (chunk: Buffer) => (size += chunk.length));
      response.on('end', () => (response.statusCode === 200 ? resolve(size) : reject(new Error(`HTTP ${response.statusCode}`))));
    });
    request.on('timeout', () => request.destroy(new Error('scrape timed out')));
    request.on('error', reject);
  });
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
