/**
 * `npm run test:prometheus` (scripts/test-prometheus.sh installs Debian's prometheus first).
 *
 * A real scrape: starts a local 3-node cluster with metrics on, lints each node's exposition with
 * `promtool check metrics`, starts Prometheus (scrape every second) on a temp directory, runs a
 * bounded write load, then asks Prometheus' HTTP API for the write rate, the write p99, the leader
 * and the heights, and checks them against the cluster's own status. Prints what it saw; exits 1
 * on any mismatch. Everything it starts is stopped by PID, its temp directory removed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PaxchainClient } from '../../src/client/client.js';
import { LocalCluster } from '../../src/tools/local-cluster.js';
import { freeBasePort } from '../ports.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '15' }, clients: { type: 'string', default: '16' } } });
const LOAD_SECONDS = Math.min(120, Math.max(5, Number(values.seconds)));
const CLIENTS = Math.min(128, Math.max(1, Number(values.clients)));
const PROMETHEUS = process.env.PAXCHAIN_PROMETHEUS ?? 'prometheus';
const PROMTOOL = process.env.PAXCHAIN_PROMTOOL ?? 'promtool';
/** How long Prometheus may take to come up, and a query to answer. */
const PROMETHEUS_READY_MS = 30_000;
const HTTP_TIMEOUT_MS = 5_000;

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get(url, { timeout: HTTP_TIMEOUT_MS }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer in ${HTTP_TIMEOUT_MS} ms`)));
    request.on('error', reject);
  });
}

interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

async function query(api: string, promql: string): Promise<Sample[]> {
  const answer = await fetchText(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const parsed = JSON.parse(answer.body) as { status: string; data?: { result: Sample[] }; error?: string };
  if (parsed.status !== 'success') throw new Error(`query ${promql}: ${parsed.error ?? answer.body}`);
  return parsed.data!.result;
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const failures: string[] = [];
function check(ok: boolean, what: string): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

/** A bounded write load: CLIENTS writers for LOAD_SECONDS; returns the writes acknowledged. */
async function writeLoad(endpoints: readonly string[]): Promise<number> {
  let written = 0;
  const stopAt = Date.now() + LOAD_SECONDS * 1000;
  const writers = Array.from({ length: CLIENTS }, async (_, writer) => {
    const own = new PaxchainClient({ endpoints: [...endpoints], timeoutMs: 10_000 });
    try {
      for (let i = 0; Date.now() < stopAt; i++) {
        await own.put(`prom/${writer}/${i % 100}`, `value-${i}`);
        written++;
      }
    } finally {
      await own.close();
    }
  });
  await Promise.all(writers);
  return written;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'paxchain-prometheus-'));
  let prometheus: ChildProcess | undefined;
  const cluster = new LocalCluster({ root: join(dir, 'cluster'), nodes: 3, basePort: await freeBasePort(3), metricsBasePort: await freeBasePort(3), secret: 'prometheus-test-secret' });
  const client = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 10_000 });
  try {
    await cluster.start();
    const leader = await cluster.waitForLeader(client, 200);
    const targets = cluster.ids.map((id) => cluster.metricsEndpoint(id)!);
    console.log(`cluster: nodes ${cluster.endpoints.join(' ')}; metrics ${targets.join(' ')}; leader node ${leader}`);

    // The exposition, linted by Prometheus' own tool.
    for (const target of targets) {
      const scraped = await fetchText(`http://${target}/metrics`);
      const lint = spawnSync(PROMTOOL, ['check', 'metrics'], { input: scraped.body, encoding: 'utf8' });
      const problems = `${lint.stdout}${lint.stderr}`.trim();
      check(lint.status === 0 && problems === '', `promtool check metrics on ${target}: ${problems === '' ? 'clean' : problems}`);
    }

    const promPort = await freeBasePort(1);
    const api = `http://127.0.0.1:${promPort}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: paxchain\n    static_configs:\n      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]\n`,
    );
    prometheus = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const promLog: string[] = [];
    prometheus.stderr!.setEncoding('utf8').on('data', (chunk: string) => promLog.push(chunk));
    await waitUntil('Prometheus ready', async () => (await fetchText(`${api}/-/ready`)).status === 200, PROMETHEUS_READY_MS);
    await waitUntil('all three targets up', async () => (await query(api, 'up == 1')).length === 3, PROMETHEUS_READY_MS);
    console.log(`prometheus: pid ${prometheus.pid} on ${api}, scraping every 1 s`);

    const written = await writeLoad(cluster.endpoints);
    const rate = Number((await query(api, 'sum(rate(paxchain_write_duration_seconds_count{result="ok"}[10s]))'))[0]?.value[1] ?? 'NaN');
    const p99 = Number((await query(api, 'histogram_quantile(0.99, sum by (le) (rate(paxchain_write_duration_seconds_bucket{result="ok"}[10s])))'))[0]?.value[1] ?? 'NaN');
    const fsyncP99 = Number((await query(api, 'histogram_quantile(0.99, sum by (le) (rate(paxchain_disk_fsync_duration_seconds_bucket[10s])))'))[0]?.value[1] ?? 'NaN');
    const leaders = await query(api, 'paxchain_is_leader == 1');
    const heights = await query(api, 'paxchain_applied_height');
    const roundTrips = await query(api, 'histogram_quantile(0.5, rate(paxchain_peer_round_trip_seconds_bucket[10s]))');
    console.log(`load: ${CLIENTS} clients for ${LOAD_SECONDS} s, ${written} writes acknowledged (${(written / LOAD_SECONDS).toFixed(0)}/s by the clients' count)`);
    console.log(`prometheus: write rate ${rate.toFixed(0)}/s (rate over the last 10 s), write p99 ${(p99 * 1000).toFixed(1)} ms, fsync p99 ${(fsyncP99 * 1000).toFixed(1)} ms`);
    console.log(`prometheus: leader ${leaders.map((s) => `${s.metric.instance}`).join(', ') || 'none'}; applied heights ${heights.map((s) => `${s.metric.instance}=${s.value[1]}`).join(' ')}`);
    console.log(`prometheus: peer round trip p50 ${roundTrips.map((s) => `${s.metric.instance}->${s.metric.peer} ${(Number(s.value[1]) * 1000).toFixed(2)} ms`).join(', ')}`);
    check(rate > 0, `the write rate Prometheus computed is above 0 (${rate.toFixed(0)}/s)`);
    check(leaders.length === 1 && leaders[0]!.metric.instance === cluster.metricsEndpoint(leader), `Prometheus sees exactly one leader, node ${leader} (${cluster.metricsEndpoint(leader)})`);
    const status = await client.status(cluster.endpoint(leader));
    check(heights.length === 3 && heights.every((s) => Number(s.value[1]) > 0 && Number(s.value[1]) <= (status.head?.height ?? 0)), `applied heights are in (0, ${status.head?.height}] on all three`);
    check(roundTrips.length === 2, 'the leader reports a round trip to each of its two peers');
    if (failures.length > 0 && promLog.length > 0) console.log(`prometheus log (last lines):\n${promLog.join('').split('\n').slice(-10).join('\n')}`);
  } finally {
    await client.close();
    if (prometheus?.pid !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      process.kill(prometheus.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (prometheus.exitCode === null && prometheus.signalCode === null) process.kill(prometheus.pid, 'SIGKILL');
    }
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(failures.length === 0 ? 'test:prometheus: all checks passed' : `test:prometheus: ${failures.length} check(s) failed`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

await main();
