// Checkpoints and retention with real processes (node start --checkpoint-every --retain-blocks):
// nodes prune old bodies while serving, every header stays (audit is clean), a pruned body reads
// as PRUNED; nodes killed with SIGKILL at random moments under load, checkpoints being written
// every few dozen blocks, restart from a checkpoint to the cluster's state; a stopped pruned
// node verifies end to end, lists its pruned heights, prunes further by hand, and restarts.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';
import { converged, leaderOf, statuses, type TestCluster, startTestCluster, waitFor } from './cluster-helpers.js';
import { afterAll, beforeAll } from 'vitest';

async function writeMany(test: TestCluster, count: number, prefix: string): Promise<void> {
  const workers = 4;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = worker; i < count; i += workers) await test.client.put(`${prefix}/${i % 150}`, `${prefix}-${i}-${'v'.repeat(200)}`);
    }),
  );
}

/** Same head and state root on every node. */
async function agreed(test: TestCluster): Promise<string> {
  await converged(test, 60_000);
  return waitFor('one state root everywhere, every node voting', async () => {
    const all = await statuses(test);
    const roots = new Set(all.map((status) => status?.stateRoot));
    return all.every((status) => status?.voting) && roots.size === 1 ? all[0]!.stateRoot! : undefined;
  }, 60_000);
}

describe('checkpoints and retention (3 real nodes)', () => {
  let test: TestCluster;
  beforeAll(async () => {
    test = await startTestCluster(3, ['--checkpoint-every', '40', '--retain-blocks', '20']);
  }, 60_000);
  afterAll(async () => test?.close());

  it('prunes old bodies while serving: headers stay (audit clean), a pruned body is PRUNED, status shows checkpoint, oldest body and disk', async () => {
    await writeMany(test, 600, 'a');
    const all = await waitFor('every node checkpointed and pruned', async () => {
      const snapshot = await statuses(test);
      return snapshot.every((status) => status && (status.checkpointHeight ?? 0) >= 80 && (status.oldestBody ?? 0) > 1) ? snapshot : undefined;
    }, 30_000);
    for (const status of all) {
      expect(status!.oldestBody).toBeLessThanOrEqual(status!.checkpointHeight! - 20 + 1);
      expect(status!.counters.bodiesPruned).toBeGreaterThan(0);
      expect(status!.diskBytes).toBeGreaterThan(0);
    }
    const endpoint = test.cluster.endpoint(1);
    const shown = runCli(['chain', 'show', '2', '--endpoints', endpoint, '--json']);
    expect(shown.status).toBe(1);
    expect(shown.json().error.code).toBe('PRUNED');
    // The state of an old block needs the bodies from genesis: the node says it cannot.
    const old = runCli(['get', 'a-1', '--at', '5', '--endpoints', endpoint, '--json']);
    expect(old.status).toBe(1);
    expect(old.json().error).toMatchObject({ code: 'PRUNED', message: expect.stringMatching(/cannot rebuild the state at height 5/) });
    const head = runCli(['chain', 'head', '--endpoints', endpoint, '--json']);
    expect(head.status).toBe(0);
    const audit = runCli(['chain', 'audit', '--endpoints', test.cluster.endpoints.join(','), '--json']);
    expect(audit.status).toBe(0);
    expect(audit.json()).toMatchObject({ ok: true, fork: null });
    const table = runCli(['status', '--endpoints', test.cluster.endpoints.join(',')]);
    expect(table.stdout).toMatch(/CHECKPOINT\s+BODIES\s+DISK/);
  }, 120_000);

  it('nodes killed with SIGKILL at random moments under load restart from a checkpoint to the cluster\'s state', async () => {
    for (let round = 0; round < 4; round++) {
      const leader = await leaderOf(test);
      // Followers and, once, the leader.
      const victim = round === 3 ? leader : test.cluster.ids.filter((id) => id !== leader)[round % 2]!;
      const load = writeMany(test, 300, `k${round}`);
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(Math.random() * 400)));
      await test.cluster.signal(victim, 'SIGKILL');
      await load;
      const mark = test.lines.length;
      await test.cluster.startNode(victim);
      await waitFor('the restart report', async () => (test.lines.slice(mark).some((line) => line.startsWith(`[node${victim}]`) && /replayed \d+ blocks after the checkpoint at height \d+/.test(line)) ? true : undefined));
      await agreed(test);
    }
    const gets = await Promise.all([0, 1, 2, 3].map((round) => test.client.get(`k${round}/7`)));
    expect(gets.map((got) => got.value && new TextDecoder().decode(got.value))).toEqual([0, 1, 2, 3].map((round) => `k${round}-${7 + 150 <= 299 ? 157 : 7}-${'v'.repeat(200)}`));
  }, 240_000);

  it('a wiped node whose peers pruned the blocks it needs state-syncs from a checkpoint under load, then votes again', async () => {
    const leader = await leaderOf(test);
    const victim = test.cluster.ids.find((id) => id !== leader)!;
    await writeMany(test, 300, 'w');
    await waitFor('the peers to prune past genesis + 1', async () => {
      const all = await statuses(test);
      return all.every((status) => (status?.oldestBody ?? 0) > 2) ? true : undefined;
    });
    await test.cluster.wipe(victim);
    const mark = test.lines.length;
    const load = writeMany(test, 600, 'x');
    await test.cluster.startNode(victim);
    const tag = `[node${victim}]`;
    await waitFor('the state sync', async () => (test.lines.slice(mark).some((line) => line.startsWith(tag) && /state sync: loaded the checkpoint at height \d+/.test(line)) ? true : undefined), 60_000);
    await load;
    await waitFor('the wiped node to vote again', async () => ((await test.client.status(test.cluster.endpoint(victim))).voting ? true : undefined), 60_000);
    await agreed(test);
    const status = await test.client.status(test.cluster.endpoint(victim));
    expect(status.stateSync).toMatchObject({ phase: 'idle', syncs: 1, chunksRefused: 0 });
    expect(status.oldestBody).toBeGreaterThan(2);
    expect(status.checkpointHeight).toBeGreaterThan(0);
    // Its chain is the cluster's, header for header, though it never had the old bodies.
    const audit = runCli(['chain', 'audit', '--endpoints', test.cluster.endpoints.join(','), '--json']);
    expect(audit.status).toBe(0);
    expect(audit.json()).toMatchObject({ ok: true, fork: null });
    expect(runCli(['chain', 'show', '1', '--endpoints', test.cluster.endpoint(victim), '--json']).json().error.code).toBe('PRUNED');
    const read = await test.client.get('x/7');
    expect(read.value && new TextDecoder().decode(read.value)).toMatch(/^x-/);
  }, 180_000);

  it('a stopped pruned node verifies end to end, lists pruned heights from their headers, prunes further by hand and restarts', async () => {
    const leader = await leaderOf(test);
    // The follower keeping the most bodies (not the one that synced state and never had the old ones).
    const all = await statuses(test);
    const victim = test.cluster.ids.filter((id) => id !== leader).sort((a, b) => (all[a - 1]?.oldestBody ?? 0) - (all[b - 1]?.oldestBody ?? 0))[0]!;
    await test.cluster.signal(victim, 'SIGTERM');
    const data = test.cluster.dataDir(victim);
    const verify = runCli(['chain', 'verify', '--data', data, '--json']);
    expect(verify.status).toBe(0);
    const verified = verify.json();
    expect(verified).toMatchObject({ ok: true, problem: null });
    expect(verified.prunedBelow).toBeGreaterThan(1);
    expect(verified.checkpoint).toBe(verified.verifiedHead.height);
    const list = runCli(['chain', 'list', '--data', data, '--from', '0', '--to', '3', '--json']);
    expect(list.json().blocks.map((block: { kind: string }) => block.kind)).toEqual(['genesis', 'pruned', 'pruned', 'pruned']);
    const showOffline = runCli(['chain', 'show', '1', '--data', data, '--json']);
    expect(showOffline.json().error.code).toBe('PRUNED');
    const below = verified.verifiedHead.height - 5;
    const pruned = runCli(['chain', 'prune', '--data', data, '--below', String(below), '--json']);
    expect(pruned.status).toBe(0);
    expect(pruned.json()).toMatchObject({ oldestBody: below, checkpoint: verified.verifiedHead.height });
    expect(pruned.json().bodiesDeleted).toBeGreaterThan(0);
    const beyond = runCli(['chain', 'prune', '--data', data, '--below', String(verified.verifiedHead.height + 1), '--json']);
    expect(beyond.status).toBe(2);
    expect(beyond.json().error.code).toBe('INVALID_ARGUMENT');
    const mark = test.lines.length;
    await test.cluster.startNode(victim);
    await waitFor('the restart report', async () => (test.lines.slice(mark).some((line) => line.startsWith(`[node${victim}]`) && line.includes(`replayed 0 blocks after the checkpoint at height ${verified.verifiedHead.height}`)) ? true : undefined));
    await test.client.put('after-prune', 'x');
    await agreed(test);
    expect((await test.client.status(test.cluster.endpoint(victim))).oldestBody).toBeGreaterThanOrEqual(below);
  }, 120_000);
});
