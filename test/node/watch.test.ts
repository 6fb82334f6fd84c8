// Watches through real node processes: while writers run, the leader is killed with SIGKILL, the
// node a watch goes through is stopped with SIGSTOP, and a node is wiped and state-syncs back; each
// watch must deliver exactly the chain's changes of its keys, in order, none missed or repeated,
// compared event by event with each key's history replayed from the chain. Then the CLI's
// `watch` (text and --json lines, --from-height, --count), and a watch from a height no node
// holds any more (COMPACTED). A verified watch (`watch --verify`) goes through the same faults
// and delivers the same events, each under a majority-signed head.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PaxchainClient } from '../../src/client/client.js';
import type { Watch, WatchEvent } from '../../src/client/watch.js';
import type { VerifiedWatch, VerifiedWatchEvent } from '../../src/client/verified-watch.js';
import { keyHistory } from '../../src/tools/history.js';
import { runCli, runCliAsync } from '../helpers.js';
import { converged, leaderOf, settled, startTestCluster, type TestCluster, waitFor } from './cluster-helpers.js';

const KEYS = ['w/a', 'w/b', 'w/c', 'w/d', 'wx'];
const decoder = new TextDecoder();

interface Collected {
  readonly events: WatchEvent[];
  readonly resumes: string[];
  failure?: unknown;
}

/** Consumes `watch` in the background into `collected`. */
function collect(watch: AsyncIterable<WatchEvent>, collected: Collected): Promise<void> {
  return (async () => {
    try {
      for await (const event of watch) collected.events.push(event);
    } catch (error) {
      collected.failure = error;
    }
  })();
}

describe('watch on a live cluster', () => {
  let test: TestCluster;
  let endpoints: string;
  beforeAll(async () => {
    test = await startTestCluster(3);
    endpoints = test.cluster.endpoints.join(',');
  }, 60_000);
  afterAll(() => test?.close(), 60_000);

  it('delivers exactly the chain\'s changes across SIGKILL of the leader, SIGSTOP of the watched node and a wiped node', async () => {
    const leader = await leaderOf(test);
    const followers = test.cluster.ids.filter((id) => id !== leader);
    const through = (first: number): string[] => [test.cluster.endpoint(first), ...test.cluster.ids.filter((id) => id !== first).map((id) => test.cluster.endpoint(id))];
    // One client per watch, each starting at a chosen node: the leader, a follower, the other follower.
    const clients = [leader, followers[0]!, followers[1]!].map((first) => new PaxchainClient({ endpoints: through(first), timeoutMs: 10_000 }));
    const start = (await test.client.put('w/start', 'x')).height;
    const watched: Array<{ filter: string; prefix: boolean; collected: Collected; done: Promise<void>; watch: Watch | VerifiedWatch }> = [];
    for (const [i, filter] of [['w/', true], ['w/b', false], ['w', true]].entries()) {
      const collected: Collected = { events: [], resumes: [] };
      const watch = clients[i]!.watch(filter[0] as string, { prefix: filter[1] as boolean, fromHeight: start + 1, onResume: (notice) => collected.resumes.push(notice.reason) });
      watched.push({ filter: filter[0] as string, prefix: filter[1] as boolean, collected, watch, done: collect(watch, collected) });
    }
    // A fourth, verified (--verify): every event checked against a majority-signed head, through the same faults.
    const verifiedClient = new PaxchainClient({ endpoints: through(followers[0]!), timeoutMs: 10_000 });
    clients.push(verifiedClient);
    const verifiedCollected: Collected = { events: [], resumes: [] };
    const verified = verifiedClient.watchVerified('w/', { genesisHash: undefined }, { prefix: true, fromHeight: start + 1, onResume: (notice) => verifiedCollected.resumes.push(notice.reason) });
    watched.push({ filter: 'w/', prefix: true, collected: verifiedCollected, watch: verified, done: collect(verified, verifiedCollected) });
    const writers = startWriters(test, 8);
    try {
      await faults(test, leader, followers);
    } finally {
      await writers.stop();
    }
    const head = await converged(test, 60_000);
    expect(writers.written()).toBeGreaterThan(200);
    await waitFor('every watch to reach the head', async () => (watched.every((w) => (w.watch.resumeHeight ?? 0) > head.height) ? true : undefined), 30_000);
    for (const w of watched) await w.watch.return();
    await Promise.all(watched.map((w) => w.done));
    await Promise.all(clients.map((client) => client.close()));

    // The truth: every change of each key, from the chain replayed from genesis.
    const expected = new Map<string, Array<{ height: number; op: string; value: string | null }>>();
    for (const key of [...KEYS, 'w/start']) {
      const history = await keyHistory({ endpoints }, key);
      expected.set(key, history.changes.filter((change) => change.height > start).map((change) => ({ height: change.height, op: change.value === null ? 'delete' : 'put', value: change.value })));
    }
    for (const w of watched) checkWatch(w.filter, w.prefix, w.collected, expected);
    expect(expected.get('w/b')!.length).toBeGreaterThan(20);
    // Each watch had to move: the first lost its node to SIGKILL, the second to SIGSTOP, the third to the wipe.
    expect(watched[0]!.collected.resumes.length).toBeGreaterThan(0);
    expect(watched[1]!.collected.resumes.some((reason) => reason.includes('sent nothing'))).toBe(true);
    expect(watched[2]!.collected.resumes.length).toBeGreaterThan(0);
    // The verified watch delivered the same events, each under a signed head at or above its block.
    expect(verifiedCollected.events.length).toBe(watched[0]!.collected.events.length);
    for (const event of verifiedCollected.events as VerifiedWatchEvent[]) expect(event.signedHead.height).toBeGreaterThanOrEqual(event.height);
  }, 180_000);

  it('the CLI streams lines and JSON lines from a height, stops after --count, and says COMPACTED for a height no node holds', async () => {
    const first = await test.client.put('cli/one', '1');
    await test.client.put('cli/two', 'zwei');
    await test.client.delete('cli/one');
    const text = runCli(['watch', '--prefix', 'cli/', '--from-height', String(first.height), '--count', '3', '--endpoints', endpoints, '--quiet']);
    expect(text.status).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^${first.height} PUT cli/one 1  \\(create ${first.height}, mod ${first.height}, version 1\\)$`));
    expect(lines[1]).toMatch(/ PUT cli\/two zwei /);
    expect(lines[2]).toMatch(/ DELETE cli\/one$/);
    const json = runCli(['watch', 'cli/two', '--from-height', String(first.height), '--count', '1', '--endpoints', endpoints, '--json', '--quiet']);
    const [event, end] = json.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(event).toMatchObject({ op: 'put', key: 'cli/two', value: 'zwei', encoding: 'utf8', version: 1 });
    expect(end.summary).toMatchObject({ key: 'cli/two', events: 1 });
    expect(end.summary.resumeHeight).toBeGreaterThan(event.height);
    // --verify: the same events, each checked against a majority-signed head; the trusted head saved.
    const trust = join(mkdtempSync(join(tmpdir(), 'paxchain-watch-trust-')), 'trust.json');
    const checked = runCli(['watch', '--prefix', 'cli/', '--from-height', String(first.height), '--count', '3', '--verify', '--state-file', trust, '--endpoints', endpoints, '--quiet']);
    expect(checked.status, checked.stderr).toBe(0);
    expect(checked.stdout.trim().split('\n').map((line) => line.replace(/  \[verified, head \d+\]$/, ''))).toEqual(lines);
    expect(checked.stdout).toMatch(/\[verified, head \d+\]/);
    expect(JSON.parse(readFileSync(trust, 'utf8')).head.height).toBeGreaterThanOrEqual(first.height);
    const checkedJson = runCli(['watch', 'cli/two', '--from-height', String(first.height), '--count', '1', '--verify', '--state-file', trust, '--endpoints', endpoints, '--json', '--quiet']);
    const [verifiedEvent, verifiedEnd] = checkedJson.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(verifiedEvent).toMatchObject({ key: 'cli/two', value: 'zwei' });
    expect(verifiedEvent.verified.signedHeight).toBeGreaterThanOrEqual(verifiedEvent.height);
    expect(verifiedEnd.summary.signedHeight).toBe(verifiedEvent.verified.signedHeight);
    rmSync(dirname(trust), { recursive: true, force: true });
    // A live watch sees a write made after it started.
    // The write waits until the CLI's watch is registered at a node: a CLI that starts slowly on a
    // loaded machine would otherwise begin after the write and wait for a later one.
    const watchesBefore = await watchCount(test);
    const live = runCliAsync(['watch', 'cli/live', '--count', '1', '--endpoints', endpoints, '--json', '--quiet']);
    await waitFor('the CLI\'s watch registered', async () => ((await watchCount(test)) > watchesBefore ? true : undefined), 30_000);
    await test.client.put('cli/live', 'now');
    const result = await live;
    expect(JSON.parse(result.stdout.split('\n')[0]!)).toMatchObject({ key: 'cli/live', value: 'now' });
    // A restarted node holds the changes from its restart on: restart each, and none holds height 1.
    for (const id of test.cluster.ids) {
      await test.cluster.signal(id, 'SIGTERM');
      await test.cluster.startNode(id);
      await settled(test);
    }
    const old = runCli(['watch', 'cli/', '--from-height', '1', '--endpoints', endpoints, '--json', '--quiet']);
    expect(old.status).toBe(1);
    expect(JSON.parse(old.stdout).error.code).toBe('COMPACTED');
    expect(runCli(['watch', '--endpoints', endpoints]).status).toBe(2);
  }, 120_000);
});

/** Eight writers of puts, deletes and txns on the watched keys and others, until stopped. */
function startWriters(test: TestCluster, count: number): { stop(): Promise<void>; written(): number } {
  let writing = true;
  let written = 0;
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; writing; i++) {
      const key = KEYS[(i * 7 + w) % KEYS.length]!;
      try {
        if (i % 9 === 4) await test.client.delete(key);
        else if (i % 13 === 6) await test.client.txn({ compares: [], success: [{ kind: 'put', key, value: `t${w}.${i}` }, { kind: 'put', key: 'other', value: 'y' }], failure: [] });
        else await test.client.put(i % 5 === 0 ? `other/${i}` : key, `v${w}.${i}`);
        written++;
      } catch {
        // An outcome-unknown write (during the kill) is fine: the chain says what happened.
      }
    }
  };
  const running = Array.from({ length: count }, (_, w) => writer(w));
  return {
    async stop() {
      writing = false;
      await Promise.all(running);
    },
    written: () => written,
  };
}

/** SIGKILL of the leader and its restart, SIGSTOP of one follower for 5 s, a wipe of the other. */
async function faults(test: TestCluster, leader: number, followers: readonly number[]): Promise<void> {
  await pause(1500);
  await test.cluster.signal(leader, 'SIGKILL');
  await pause(3000);
  await test.cluster.startNode(leader);
  // Longer than the watch's silence bound (3 s).
  await test.cluster.signal(followers[0]!, 'SIGSTOP');
  await pause(5000);
  await test.cluster.signal(followers[0]!, 'SIGCONT');
  // It comes back empty and state-syncs.
  await test.cluster.wipe(followers[1]!);
  await pause(1500);
  await test.cluster.startNode(followers[1]!);
  await pause(2000);
}

/** The watch's events are in chain order, once each, and per key exactly the chain's changes. */
function checkWatch(filter: string, prefix: boolean, collected: Collected, expected: Map<string, Array<{ height: number; op: string; value: string | null }>>): void {
  expect(collected.failure).toBeUndefined();
  const events = collected.events;
  for (let i = 1; i < events.length; i++) {
    const [a, b] = [events[i - 1]!, events[i]!];
    expect(a.height < b.height || (a.height === b.height && a.seq < b.seq), `${filter}: ${a.height}.${a.seq} then ${b.height}.${b.seq}`).toBe(true);
  }
  for (const [key, changes] of expected) {
    const wanted = prefix ? key.startsWith(filter) : key === filter;
    const got = events.filter((event) => event.key === key).map((event) => ({ height: event.height, op: event.op, value: event.value === null ? null : decoder.decode(event.value) }));
    expect(got, `${filter} ${key}`).toEqual(wanted ? changes : []);
  }
  // Every put carries the key's revisions after it.
  for (const event of events) if (event.op === 'put') expect(event.revisions!.modHeight).toBe(event.height);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Watches open on all nodes together (status counters). */
async function watchCount(test: TestCluster): Promise<number> {
  const all = await Promise.all(test.cluster.ids.map((id) => test.client.status(test.cluster.endpoint(id)).catch(() => undefined)));
  return all.reduce((sum, status) => sum + (status?.counters.watches ?? 0), 0);
}
