// Heads, catch-up and recovery with real processes: a paused follower catches up, wiped nodes
// (a follower, then the former leader) rejoin without voting before it is safe, a corrupt block
// at rest below the checkpoint is found by the scrub and repaired from a peer, and audits report clean clusters
// and forks between clusters.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/lib/bytes.js';
import { hashRecord } from '../../src/chain/block.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { ChainStore } from '../../src/storage/chain-store.js';
import { blockKey } from '../../src/storage/keys.js';
import { LevelBackend } from '../../src/storage/level-backend.js';
import { runCli, tempDir, sid } from '../helpers.js';
import { converged, leaderOf, statuses, type TestCluster, useTestCluster, waitFor } from './cluster-helpers.js';

async function writeMany(test: TestCluster, count: number, prefix: string): Promise<void> {
  const workers = 16;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = worker; i < count; i += workers) await test.client.put(`${prefix}/${i}`, `${i}`);
    }),
  );
}

/** Same head and state digest everywhere, every node voting. */
async function agreed(test: TestCluster): Promise<void> {
  await converged(test, 60_000);
  const all = await waitFor('every node voting with the same digest', async () => {
    const snapshot = await statuses(test);
    const digests = new Set(snapshot.map((status) => status?.stateRoot));
    return snapshot.every((status) => status?.voting) && digests.size === 1 ? snapshot : undefined;
  }, 60_000);
  expect(new Set(all.map((status) => status!.head!.hash)).size).toBe(1);
}

describe('heads, catch-up and recovery (3 real nodes)', () => {
  const test = useTestCluster(3, (started) => started.client.put('seed', 'value'));

  it('(a) a follower stopped (SIGSTOP) while 20k writes go through catches up after SIGCONT', async () => {
    const leader = await leaderOf(test);
    const follower = test.cluster.ids.find((id) => id !== leader)!;
    await test.cluster.signal(follower, 'SIGSTOP');
    try {
      await writeMany(test, 20_000, 'paused');
    } finally {
      await test.cluster.signal(follower, 'SIGCONT');
    }
    await agreed(test);
  }, 120_000);

  it('(b) a wiped follower rejoins: no promise or acceptance before it is safe, then same head and digest', async () => {
    const leader = await leaderOf(test);
    const follower = test.cluster.ids.find((id) => id !== leader)!;
    await test.cluster.wipe(follower);
    await test.cluster.startNode(follower);
    const endpoint = test.cluster.endpoint(follower);
    // Keep writing while it learns: a learner must still not vote.
    const writes = writeMany(test, 2000, 'while-learning');
    const samples: Array<{ voting: boolean; promises: number; accepted: number }> = [];
    await waitFor('the wiped node to vote again', async () => {
      const status = await test.client.status(endpoint);
      samples.push({ voting: status.voting, promises: status.counters.promisesSent!, accepted: status.counters.acceptedSent! });
      return status.voting ? true : undefined;
    }, 60_000);
    await writes;
    const learning = samples.filter((sample) => !sample.voting);
    expect(learning.length).toBeGreaterThan(0);
    for (const sample of learning) expect(sample).toMatchObject({ promises: 0, accepted: 0 });
    // The node's own log says so too (its stdout may trail its status replies a little).
    await waitFor('the rejoin log line', async () =>
      test.lines.some((line) => line.startsWith(`[node${follower}]`) && line.includes('rejoined as a voter')) ? true : undefined,
    );
    await test.client.put('after-rejoin', 'x');
    await agreed(test);
    const status = await test.client.status(endpoint);
    expect(status.counters.acceptedSent).toBeGreaterThan(0);
  }, 120_000);

  it('(c) the former leader, wiped, rejoins the same way', async () => {
    const leader = await leaderOf(test);
    await test.cluster.wipe(leader);
    await test.client.put('leader-wiped', 'still-writable');
    await test.cluster.startNode(leader);
    await waitFor('the wiped former leader to vote again', async () => ((await test.client.status(test.cluster.endpoint(leader))).voting ? true : undefined), 60_000);
    await test.client.put('after-leader-rejoin', 'x');
    await agreed(test);
  }, 120_000);

  it('(d) a corrupt block at rest below the checkpoint is found by the scrub at its height and repaired from a peer', async () => {
    await agreed(test);
    const leader = await leaderOf(test);
    const victim = test.cluster.ids.find((id) => id !== leader)!;
    // A clean stop writes a checkpoint at the head: the restart reads no body below it.
    await test.cluster.signal(victim, 'SIGTERM');
    await waitFor('the victim to stop', async () => (test.cluster.isRunning(victim) ? undefined : true));
    const backend = await LevelBackend.open(join(test.cluster.dataDir(victim), 'db'), { create: false });
    const store = await ChainStore.open(backend, fastSha256);
    const height = Math.floor(store.head!.height / 2);
    const good = (await store.getRecord(height))!.slice();
    const record = good.slice();
    record[record.length - 2] ^= 0x10;
    await backend.write([{ type: 'put', key: blockKey(height), value: record }], { sync: true });
    await backend.close();
    // Offline verify (a replay from genesis) sees it at exactly that height.
    const verify = runCli(['chain', 'verify', '--data', test.cluster.dataDir(victim), '--json']);
    expect(verify.json().problem).toMatchObject({ height, reason: 'BODY_HASH_MISMATCH' });
    await test.cluster.startNode(victim);
    const tag = `[node${victim}]`;
    await waitFor('the scrub to repair the block', async () => (test.lines.some((line) => line.startsWith(tag) && line.includes(`repaired block ${height} (BODY_HASH_MISMATCH)`)) ? true : undefined));
    expect(test.lines.some((line) => line.startsWith(tag) && line.includes(`stored block ${height} is damaged`))).toBe(true);
    // Repaired in place: the node kept its chain above it, its checkpoint and its vote.
    const status = await test.client.status(test.cluster.endpoint(victim));
    expect(status.counters).toMatchObject({ scrubDamaged: 1, scrubRepaired: 1 });
    expect(status.voting).toBe(true);
    expect(test.lines.some((line) => line.startsWith(tag) && line.includes('stored chain is corrupt'))).toBe(false);
    await test.client.put('after-repair', 'x');
    await agreed(test);
    // The body it serves is the good one again, byte for byte.
    const shown = runCli(['chain', 'show', String(height), '--endpoints', test.cluster.endpoint(victim), '--no-results', '--json']);
    expect(shown.status).toBe(0);
    expect(shown.json().block.hash).toBe(toHex(hashRecord(fastSha256, good)));
    const blocks = await test.client.blocks(height, height, test.cluster.endpoint(victim));
    expect(toHex(blocks.records[0]!)).toBe(toHex(good));
    const audit = runCli(['chain', 'audit', '--endpoints', test.cluster.endpoints.join(','), '--json']);
    expect(audit.status).toBe(0);
    expect(audit.json()).toMatchObject({ ok: true, fork: null });
  }, 120_000);

  it('(f) a healthy cluster audits clean, every link checked', async () => {
    const result = runCli(['chain', 'audit', '--endpoints', test.cluster.endpoints.join(','), '--json']);
    expect(result.status).toBe(0);
    const report = result.json();
    expect(report.ok).toBe(true);
    expect(report.sources.every((source: { reachable: boolean; brokenAt: unknown }) => source.reachable && source.brokenAt === null)).toBe(true);
    expect(report.linksChecked).toBeGreaterThan(report.commonPrefix);
    const human = runCli(['chain', 'audit', '--endpoints', test.cluster.endpoints.join(',')]).stdout;
    expect(human).toContain('audit OK: all chains agree');
  });

  it('--bootstrap against peers that already run a chain is refused with a clear error', async () => {
    const leader = await leaderOf(test);
    const follower = test.cluster.ids.find((id) => id !== leader)!;
    await test.cluster.wipe(follower);
    const peers = test.cluster.ids.filter((id) => id !== follower).map((id) => `${id}=${test.cluster.endpoint(id)}`).join(',');
    const result = runCli(
      ['node', 'start', '--id', String(follower), '--data', test.cluster.dataDir(follower), '--listen', test.cluster.endpoint(follower), '--peers', peers, '--bootstrap', '--cluster-id', test.cluster.file.clusterId, '--json'],
      { env: { PAXCHAIN_SECRET: 'test-cluster-secret' }, timeoutMs: 20_000 },
    );
    expect(result.status).toBe(1);
    // Logs are JSON lines; the error is a JSON document with a stable code.
    expect(result.stdout).toMatch(/"code": "ALREADY_EXISTS"/);
    expect(result.stdout).toMatch(/node \d \([^)]+\) already runs a chain at height \d+: refusing --bootstrap/);
    await test.cluster.startNode(follower);
    await agreed(test);
  }, 120_000);
});

describe('--bootstrap after the first election', () => {
  const test = useTestCluster(3);

  it('a wiped node started with --bootstrap while its peers have voted but hold no blocks joins as a learner, then rejoins', async () => {
    const leader = await leaderOf(test);
    const status = await test.client.status(test.cluster.endpoint(leader));
    expect(status.head?.height).toBe(0);
    const victim = test.cluster.ids.find((id) => id !== leader)!;
    await test.cluster.wipe(victim);
    await test.cluster.startNode(victim, { bootstrap: true });
    await waitFor('the bootstrap log line', async () => (test.lines.some((line) => line.startsWith(`[node${victim}]`) && line.includes('joining as a learner')) ? true : undefined));
    // It votes again only after the rejoin protocol, and then the cluster takes writes.
    await waitFor('the rejoin', async () => ((await test.client.status(test.cluster.endpoint(victim))).voting ? true : undefined));
    // The log line can arrive after the status reply that shows the vote: the node answers status
    // from memory as soon as the grant is taken (a timer tick), logs the event in the flush that
    // follows, and the two reach this process on different channels (TCP and the stdout pipe),
    // with no order between them. So wait for it, bounded, instead of expecting it already here.
    await waitFor('the rejoin log line', async () =>
      test.lines.some((line) => line.startsWith(`[node${victim}]`) && line.includes('rejoined as a voter')) ? true : undefined,
    );
    expect((await test.client.put('after/rejoin', 'ok')).result).toBe('OK');
  }, 120_000);
});

describe('audit across clusters', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeAll(() => {
    dir = tempDir('paxchain-audit-');
  });
  afterAll(() => dir?.cleanup());

  it('(e) two data directories from different clusters: fork at height 0 with both hashes', () => {
    for (const [name, cluster] of [['a', 'alpha'], ['b', 'beta']]) {
      expect(runCli(['dev', 'gen', '--data', join(dir.path, name!), '--blocks', '30', '--commands-per-block', '2', '--cluster-id', cluster!]).status).toBe(0);
    }
    const result = runCli(['chain', 'audit', '--data', join(dir.path, 'a'), '--data', join(dir.path, 'b'), '--json']);
    expect(result.status).toBe(1);
    const report = result.json();
    expect(report.fork.height).toBe(0);
    expect(report.fork.sides).toHaveLength(2);
    for (const side of report.fork.sides) expect(side.hash).toMatch(/^[0-9a-f]{64}$/);
    const human = runCli(['chain', 'audit', '--data', join(dir.path, 'a'), '--data', join(dir.path, 'b')]).stdout;
    expect(human).toContain('FORK at height 0:');
  });
});

describe('divergence (3 real nodes)', () => {
  const test = useTestCluster(3, (started) => writeMany(started, 200, 'before-fork'));

  it('a node whose chain forked raises the alarm, finds the first divergent height, refuses writes and votes', async () => {
    const head = await converged(test);
    const leader = await leaderOf(test);
    const victim = test.cluster.ids.find((id) => id !== leader)!;
    await test.cluster.signal(victim, 'SIGTERM');
    // Rewrite the victim's last 10 blocks as a valid but different chain: every link and digest
    // checks out locally, only comparing with the peers shows the fork.
    const forkAt = head.height - 9;
    const { Ledger } = await import('../../src/ledger/ledger.js');
    const { encodeBatchBody } = await import('../../src/chain/body.js');
    const { replayStore } = await import('../../src/storage/replay.js');
    const backend = await LevelBackend.open(join(test.cluster.dataDir(victim), 'db'), { create: false });
    const store = await ChainStore.open(backend, fastSha256);
    const prefix = await replayStore(store, fastSha256, { upTo: forkAt - 1 });
    const ledger: InstanceType<typeof Ledger> = prefix.ledger;
    await store.truncateFrom(forkAt, ledger.head!);
    const forged: Uint8Array[] = [];
    for (let height = forkAt; height <= head.height; height++) {
      forged.push(ledger.append(encodeBatchBody(height, [[1, sid(424242), height, `forged/${height}`, new TextEncoder().encode('x')]])).record);
    }
    await store.append(forged, { sync: true });
    await backend.close();
    expect(runCli(['chain', 'verify', '--data', test.cluster.dataDir(victim), '--json']).json().ok).toBe(true);
    await test.cluster.startNode(victim);
    const endpoint = test.cluster.endpoint(victim);
    const diverged = await waitFor('the divergence to be located', async () => {
      const status = await test.client.status(endpoint);
      return status.diverged?.firstHeight !== undefined ? status.diverged : undefined;
    });
    expect(diverged.firstHeight).toBe(forkAt);
    expect(test.lines.some((line) => line.startsWith(`[node${victim}]`) && line.includes(`first divergent height ${forkAt}`))).toBe(true);
    // It refuses client writes; the other two carry on without its votes.
    const { PaxchainClient } = await import('../../src/client/client.js');
    const only = new PaxchainClient({ endpoints: [endpoint], timeoutMs: 1500 });
    const refused = await only.put('to/diverged', 'no').catch((error: unknown) => error);
    await only.close();
    expect(String((refused as Error).message)).toMatch(/diverged/i);
    expect((await test.client.put('others/carry-on', 'yes')).result).toBe('OK');
    // The majority side is not condemned by one disagreeing peer: it raises an alarm and serves.
    const leaderStatus = await test.client.status(test.cluster.endpoint(leader));
    expect(leaderStatus.diverged).toBeNull();
    expect(leaderStatus.disagreeingPeers?.map((other) => other.peer)).toContain(victim);
    const human = runCli(['status', '--endpoints', test.cluster.endpoints.join(',')]).stdout;
    expect(human).toContain(`DIVERGED@${forkAt}`);
    expect(human).toMatch(new RegExp(`ALARM node ${leader}: node ${victim} holds another block at height \\d+`));
    const audit = runCli(['chain', 'audit', '--endpoints', test.cluster.endpoints.join(','), '--json']);
    expect(audit.status).toBe(1);
    expect(audit.json().fork.height).toBe(forkAt);
  }, 120_000);
});
