// Prometheus metrics and /healthz of real node processes, read through a text-format parser.
import { request } from 'node:http';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { health, HEALTH_BEHIND_BLOCKS_MAX, type HealthInput } from '../../src/node/metrics-server.js';
import { NodeMetrics, type MetricsView } from '../../src/node/metrics.js';
import { leaderOf, settled, startTestCluster, type TestCluster, waitFor } from './cluster-helpers.js';

interface Scrape {
  readonly families: Map<string, PrometheusFamily>;
  /** Every sample line, histogram parts included, with its labels (see `samples`). */
  readonly samples: ReadonlyArray<{ name: string; labels: Record<string, string>; value: number }>;
}

/**
 * Parses an exposition. The parser groups a histogram's buckets only when the family has no other
 * labels; so the families (names, HELP, TYPE) come from one parse, and the samples from a second
 * parse of the same text with the TYPE lines of histograms removed (each sample line on its own).
 */
function parseExposition(text: string): Scrape {
  const families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
  const untyped = text.replace(/^# TYPE \S+ histogram$/gm, '');
  const samples = [];
  for (const family of parsePrometheusTextFormat(untyped)) {
    for (const sample of family.metrics) samples.push({ name: family.name, labels: { ...(sample.labels ?? {}) }, value: Number(sample.value) });
  }
  return { families, samples };
}

function value(scrape: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = scrape.samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted));
  return found?.value;
}

function get(endpoint: string, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  const [host, port] = endpoint.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path, method, timeout: 5000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type']), body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${endpoint}${path}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function scrape(test: TestCluster, id: number): Promise<Scrape> {
  const answer = await get(test.cluster.metricsEndpoint(id)!, '/metrics');
  expect(answer.status).toBe(200);
  expect(answer.type).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(answer.body);
}

describe('metrics of a 3-node cluster of real processes', () => {
  let test: TestCluster;
  beforeAll(async () => {
    test = await startTestCluster(3, [], { metrics: true });
  }, 60_000);
  afterAll(async () => {
    await test?.close();
  }, 60_000);

  it('exposes conventional names, the leader, heights, latencies, fsyncs and per-peer series', async () => {
    const leader = await leaderOf(test);
    for (let i = 0; i < 30; i++) await test.client.put(`m/${i}`, `v${i}`);
    for (let i = 0; i < 10; i++) await test.client.get(`m/${i}`);
    await test.client.get('m/1', { stale: true });
    for await (const page of test.client.range('m/', { prefix: true })) expect(page.entries.length).toBeGreaterThan(0);
    const head = await waitFor('every node at the leader\'s head', async () => {
      const status = await test.client.status(test.cluster.endpoint(leader));
      const all = await Promise.all(test.cluster.ids.map((id) => test.client.status(test.cluster.endpoint(id))));
      return all.every((each) => each.head?.height === status.head?.height) ? status.head!.height : undefined;
    });
    // Heartbeats have gone round (the round-trip histogram has samples from both followers).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const scrapes = new Map<number, Scrape>();
    for (const id of test.cluster.ids) scrapes.set(id, await scrape(test, id));

    for (const [id, scraped] of scrapes) {
      for (const family of scraped.families.values()) {
        expect(family.name, 'names are snake case with a known prefix').toMatch(/^(paxchain|process|nodejs)_[a-z0-9_]+$/);
        expect(family.help.length, `${family.name} has help`).toBeGreaterThan(0);
        if (!family.name.startsWith('paxchain_')) continue;
        if (family.type === 'COUNTER') expect(family.name).toMatch(/_total$/);
        else expect(family.name).not.toMatch(/_total$/);
        if (/_seconds$/.test(family.name)) expect(family.type).toBe('HISTOGRAM');
      }
      expect(value(scraped, 'paxchain_node_info', { node_id: String(id) })).toBe(1);
      expect(value(scraped, 'paxchain_is_leader')).toBe(id === leader ? 1 : 0);
      expect(value(scraped, 'paxchain_role', { role: id === leader ? 'leader' : 'follower' })).toBe(1);
      expect(value(scraped, 'paxchain_leader_id')).toBe(leader);
      expect(value(scraped, 'paxchain_applied_height')).toBe(head);
      expect(value(scraped, 'paxchain_durable_height')).toBe(head);
      expect(value(scraped, 'paxchain_chosen_height')).toBeGreaterThanOrEqual(head);
      expect(value(scraped, 'paxchain_state_keys')).toBe(30);
      expect(value(scraped, 'paxchain_diverged')).toBe(0);
      expect(value(scraped, 'paxchain_blocks_appended_total')).toBeGreaterThanOrEqual(30);
      expect(value(scraped, 'paxchain_leader_changes_total')).toBeGreaterThanOrEqual(1);
      // Every block was synced to disk before it was voted for or applied.
      expect(value(scraped, 'paxchain_disk_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(30);
      expect(value(scraped, 'paxchain_disk_batch_blocks_sum')).toBeGreaterThanOrEqual(30);
      const peers = test.cluster.ids.filter((other) => other !== id);
      for (const peer of peers) {
        expect(value(scraped, 'paxchain_peer_link_up', { peer: String(peer) })).toBe(1);
        expect(value(scraped, 'paxchain_peer_head_height', { peer: String(peer) })).toBe(head);
        expect(value(scraped, 'paxchain_peer_lag_blocks', { peer: String(peer) })).toBe(0);
      }
      expect(value(scraped, 'paxchain_peer_link_up', { peer: String(id) })).toBeUndefined();
    }
    const atLeader = scrapes.get(leader)!;
    // The writes went to the leader (the client follows it) and were answered there.
    expect(value(atLeader, 'paxchain_write_duration_seconds_count', { result: 'ok' })).toBeGreaterThanOrEqual(30);
    expect(value(atLeader, 'paxchain_write_duration_seconds_bucket', { result: 'ok', le: '+Inf' })).toBe(value(atLeader, 'paxchain_write_duration_seconds_count', { result: 'ok' }));
    expect(value(atLeader, 'paxchain_write_duration_seconds_sum', { result: 'ok' })).toBeGreaterThan(0);
    expect(value(atLeader, 'paxchain_read_duration_seconds_count', { kind: 'read' })).toBeGreaterThanOrEqual(10);
    expect(value(atLeader, 'paxchain_read_duration_seconds_count', { kind: 'range' })).toBeGreaterThanOrEqual(1);
    for (const peer of test.cluster.ids.filter((other) => other !== leader)) {
      expect(value(atLeader, 'paxchain_peer_round_trip_seconds_count', { peer: String(peer) })).toBeGreaterThan(0);
    }
    // Counters only grow between scrapes.
    const again = await scrape(test, leader);
    expect(value(again, 'paxchain_client_requests_total')!).toBeGreaterThanOrEqual(value(atLeader, 'paxchain_client_requests_total')!);
  }, 60_000);

  it('/healthz is 200 on a healthy node, 503 with the reason while it has no leader, then 200 again', async () => {
    for (const id of test.cluster.ids) {
      const answer = await get(test.cluster.metricsEndpoint(id)!, '/healthz');
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ ok: true, reasons: [], node: id });
    }
    // Freeze the two others: the one left loses its majority and, with it, any leader.
    const [kept, ...frozen] = test.cluster.ids;
    for (const id of frozen) await test.cluster.signal(id, 'SIGSTOP');
    try {
      const unhealthy = await waitFor('a 503 from the node left alone', async () => {
        const answer = await get(test.cluster.metricsEndpoint(kept!)!, '/healthz');
        return answer.status === 503 ? JSON.parse(answer.body) as { ok: boolean; reasons: string[] } : undefined;
      }, 20_000);
      expect(unhealthy.ok).toBe(false);
      expect(unhealthy.reasons).toContain('no leader');
    } finally {
      for (const id of frozen) await test.cluster.signal(id, 'SIGCONT');
    }
    await settled(test);
    await waitFor('200 again', async () => ((await get(test.cluster.metricsEndpoint(kept!)!, '/healthz')).status === 200 ? true : undefined), 20_000);
  }, 60_000);

  it('a killed peer shows as a link down; only GET and HEAD of /metrics and /healthz are served', async () => {
    const leader = await leaderOf(test);
    const victim = test.cluster.ids.find((id) => id !== leader)!;
    await test.cluster.signal(victim, 'SIGKILL');
    try {
      await waitFor('the link down in the leader\'s metrics', async () => (value(await scrape(test, leader), 'paxchain_peer_link_up', { peer: String(victim) }) === 0 ? true : undefined), 20_000);
    } finally {
      await test.cluster.startNode(victim);
    }
    const endpoint = test.cluster.metricsEndpoint(leader)!;
    expect((await get(endpoint, '/metrics', 'POST')).status).toBe(405);
    expect((await get(endpoint, '/nothing')).status).toBe(404);
    const head = await get(endpoint, '/metrics', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    await settled(test);
  }, 60_000);
});

describe('metrics exposition and health, without processes', () => {
  const view = (overrides: Partial<MetricsView> = {}): MetricsView => ({
    role: 'follower', leader: 2, ballotRound: 7, voting: true, chosenHeight: 10, appliedHeight: 10, durableHeight: 10, proposalsInFlight: 0, writesQueued: 0, requestsWaiting: 0,
    peers: [{ id: 2, headHeight: 12, linkUp: true }, { id: 3, headHeight: null, linkUp: false }],
    stateSync: { active: false, chunks: null, loaded: 0, syncs: 0, chunksRefused: 0 },
    state: null, diskBytes: null, checkpointHeight: null, diverged: false, frozen: false, disagreeingPeers: 0, cutOff: false, watches: 0,
    connections: { pending: 0, client: 1, peer: 1 }, counters: { clientRequests: 5, badFrames: 1, oversizedFrames: 2 },
    ...overrides,
  });

  it('mirrors the driver\'s counters, leaves out what is unknown, and marks one role', async () => {
    let current = view();
    const metrics = new NodeMetrics(() => current, { nodeId: 1, clusterId: 'c', version: 'test' }, { processMetrics: false });
    let scraped = parseExposition(await metrics.text());
    expect(value(scraped, 'paxchain_client_requests_total')).toBe(5);
    expect(value(scraped, 'paxchain_frames_refused_total')).toBe(3);
    expect(value(scraped, 'paxchain_catchup_behind_blocks')).toBe(2);
    expect(value(scraped, 'paxchain_peer_head_height', { peer: '3' })).toBeUndefined();
    expect(value(scraped, 'paxchain_peer_link_up', { peer: '3' })).toBe(0);
    expect(value(scraped, 'paxchain_state_keys')).toBeNaN();
    expect(scraped.samples.filter((sample) => sample.name === 'paxchain_role' && sample.value === 1).map((sample) => sample.labels.role)).toEqual(['follower']);
    await new Promise((resolve) => setTimeout(resolve, 150)); // past the one-view-per-scrape window
    current = view({ role: 'leader', leader: 1, counters: { clientRequests: 9, badFrames: 1, oversizedFrames: 2 } });
    metrics.writeDone(0.003, true);
    metrics.writeDone(0.2, false);
    metrics.peerRoundTrip(2, 0.0004);
    scraped = parseExposition(await metrics.text());
    expect(value(scraped, 'paxchain_client_requests_total')).toBe(9);
    expect(value(scraped, 'paxchain_role', { role: 'leader' })).toBe(1);
    expect(value(scraped, 'paxchain_role', { role: 'follower' })).toBe(0);
    expect(value(scraped, 'paxchain_write_duration_seconds_bucket', { result: 'ok', le: '0.005' })).toBe(1);
    expect(value(scraped, 'paxchain_write_duration_seconds_bucket', { result: 'ok', le: '0.002' })).toBe(0);
    expect(value(scraped, 'paxchain_write_duration_seconds_count', { result: 'error' })).toBe(1);
    expect(value(scraped, 'paxchain_peer_round_trip_seconds_bucket', { peer: '2', le: '0.0005' })).toBe(1);
  });

  it('health names each reason a node is not ok', () => {
    const ok: HealthInput = { node: 1, role: 'follower', leader: 2, hasGenesis: true, appliedHeight: 100, highestPeerHeight: 100, voting: true, stateSyncActive: false, diverged: false, frozen: false, cutOff: null };
    expect(health(ok)).toMatchObject({ ok: true, reasons: [] });
    expect(health({ ...ok, leader: 0 }).reasons).toEqual(['no leader']);
    expect(health({ ...ok, diverged: true }).reasons).toEqual(['diverged: its chain differs from a peer\'s']);
    expect(health({ ...ok, frozen: true }).reasons).toEqual(['frozen after a state root mismatch']);
    expect(health({ ...ok, voting: false }).reasons).toEqual(['catching up: a learner, not voting yet']);
    expect(health({ ...ok, stateSyncActive: true, voting: false }).reasons).toEqual(['catching up: loading a checkpoint from peers']);
    expect(health({ ...ok, highestPeerHeight: 100 + HEALTH_BEHIND_BLOCKS_MAX }).ok).toBe(true);
    expect(health({ ...ok, highestPeerHeight: 101 + HEALTH_BEHIND_BLOCKS_MAX }).reasons).toEqual([`catching up: ${HEALTH_BEHIND_BLOCKS_MAX + 1} blocks behind`]);
    expect(health({ ...ok, cutOff: 'node 2: ECONNREFUSED' }).reasons).toEqual(['cut off from every peer (node 2: ECONNREFUSED)']);
    expect(health({ ...ok, hasGenesis: false, leader: 0 }).reasons).toEqual(['no chain yet (no genesis)', 'no leader']);
  });
});
