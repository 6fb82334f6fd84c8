// The state limits genesis sets, through real node processes: a cluster bootstrapped with
// `--state-entries-max 3 --state-bytes-max 64` refuses the write that would pass either with
// STATE_FULL (exit 1 from the CLI, the same result on every replica), still takes overwrites and
// deletes, and reports its state size against the limits in `status --json`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';
import { startTestCluster, type TestCluster, waitFor } from './cluster-helpers.js';

describe('state limits from genesis', () => {
  let test: TestCluster;
  beforeAll(async () => {
    test = await startTestCluster(3, ['--state-entries-max', '3', '--state-bytes-max', '64']);
  }, 60_000);
  afterAll(() => test?.close(), 60_000);

  it('a write past the limit is STATE_FULL and changes nothing; deletes make room; status shows the size', async () => {
    const endpoints = test.cluster.endpoints.join(',');
    for (const key of ['a', 'b', 'c']) expect(runCli(['put', key, 'v', '--endpoints', endpoints]).status).toBe(0);
    const full = runCli(['put', 'd', 'v', '--endpoints', endpoints, '--json']);
    expect(full.status).toBe(1);
    expect(full.json()).toMatchObject({ error: { code: 'STATE_FULL' } });
    expect(runCli(['get', 'd', '--endpoints', endpoints]).status).toBe(1);
    // Bytes: 'a' = 1 + 60 bytes would make 1+1+1+1 + 61 = 65 > 64.
    expect(runCli(['put', 'a', 'x'.repeat(60), '--endpoints', endpoints, '--json']).json()).toMatchObject({ error: { code: 'STATE_FULL' } });
    expect(runCli(['put', 'a', 'x'.repeat(59), '--endpoints', endpoints]).status).toBe(0);
    expect(runCli(['delete', 'b', '--endpoints', endpoints]).status).toBe(0);
    expect(runCli(['put', 'd', 'v', '--endpoints', endpoints]).status).toBe(0);
    // Followers apply a block once they learn it is chosen (the next heartbeat): wait for all three.
    const statuses = await waitFor('every node applied the writes', async () => {
      const all = await Promise.all([1, 2, 3].map((id) => test.client.status(test.cluster.endpoint(id))));
      return all.every((node) => node.state?.keys === 3 && node.head?.height === all[0]!.head?.height) ? all : undefined;
    });
    for (const node of statuses) {
      expect(node.state).toMatchObject({ keys: 3, bytes: 1 + 59 + 1 + 1 + 1 + 1, entriesMax: 3, bytesMax: 64 });
      expect(node.diskBytes).toBeGreaterThan(0);
    }
    expect(runCli(['status', '--endpoints', endpoints, '--json']).json().nodes[0].status.state).toMatchObject({ entriesMax: 3, bytesMax: 64 });
    // Every replica applied the same results: the audit finds one chain.
    expect(runCli(['chain', 'audit', '--endpoints', endpoints, '--json']).json()).toMatchObject({ ok: true });
  });
});
