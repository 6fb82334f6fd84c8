// Ranges, transactions and revisions through real node processes: the library's page iterator
// over more keys than one page holds, the CLI's range flags, `txn` in its text and JSON forms,
// and `get --json` showing a key's revisions; the chain afterwards audits clean.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RANGE_PAGE_ENTRIES_MAX } from '../../src/kv/range.js';
import { runCli, tempDir } from '../helpers.js';
import { startTestCluster, type TestCluster } from './cluster-helpers.js';

describe('ranges, txn and revisions on a live cluster', () => {
  let test: TestCluster;
  let endpoints: string;
  beforeAll(async () => {
    test = await startTestCluster(3);
    endpoints = test.cluster.endpoints.join(',');
  }, 60_000);
  afterAll(() => test?.close(), 60_000);

  it('the page iterator walks 2,500 keys in order across pages at non-decreasing heights; counts and limits agree', async () => {
    const keys = Array.from({ length: 2500 }, (_, i) => `user/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((key) => test.client.put(key, `v-${key}`)));
    await test.client.put('user0', 'outside the prefix');
    const seen: string[] = [];
    const heights: number[] = [];
    let pages = 0;
    for await (const page of test.client.range('user/', { prefix: true })) {
      pages++;
      heights.push(page.height);
      for (const entry of page.entries) {
        seen.push(entry.key);
        expect(entry.value && Buffer.from(entry.value).toString()).toBe(`v-${entry.key}`);
        expect(entry.revisions.version).toBe(1);
      }
    }
    expect(seen).toEqual(keys);
    expect(pages).toBe(Math.ceil(keys.length / RANGE_PAGE_ENTRIES_MAX));
    expect(heights).toEqual([...heights].sort((a, b) => a - b));
    expect((await test.client.count('user/', { prefix: true })).count).toBe(2500);
    const limited = [];
    for await (const page of test.client.range('user/01000', { end: 'user/02000', limit: 1500, keysOnly: true })) limited.push(...page.entries);
    expect(limited.map((entry) => entry.key)).toEqual(keys.slice(1000, 2000));
    expect(limited.every((entry) => entry.value === null)).toBe(true);
    const cli = runCli(['get', '--prefix', 'user/', '--limit', '3', '--endpoints', endpoints, '--json']).json();
    expect(cli.entries.map((entry: { key: string }) => entry.key)).toEqual(keys.slice(0, 3));
    expect(runCli(['get', '--prefix', 'user/', '--count-only', '--endpoints', endpoints]).stdout.trim()).toBe('2500');
    expect(runCli(['get', 'user/00001', '--end', 'user/00003', '--endpoints', endpoints]).stdout).toBe('user/00001\tv-user/00001\nuser/00002\tv-user/00002\n');
    expect(runCli(['get', '--prefix', 'user/', '--verify', '--endpoints', endpoints]).status).toBe(2);
  }, 120_000);

  it('get --at H reads a key and a range from the state of an older block, replayed from genesis', async () => {
    const first = await test.client.put('at/k', 'one');
    await test.client.put('at/j', 'jay');
    const second = await test.client.put('at/k', 'two');
    const then = runCli(['get', 'at/k', '--at', String(first.height), '--endpoints', endpoints, '--json']).json();
    expect(then).toMatchObject({ key: 'at/k', found: true, value: 'one', height: first.height, version: 1, modHeight: first.height });
    expect(runCli(['get', 'at/k', '--at', String(second.height), '--endpoints', endpoints]).stdout).toMatch(/^two {2}\[state at block \d+, replayed from genesis\]/);
    expect(runCli(['get', 'at/j', '--at', String(first.height), '--endpoints', endpoints]).status).toBe(1);
    const range = runCli(['get', '--prefix', 'at/', '--at', String(second.height), '--endpoints', endpoints, '--json']).json();
    expect(range.entries.map((entry: { key: string; value: string }) => [entry.key, entry.value])).toEqual([['at/j', 'jay'], ['at/k', 'two']]);
    expect(runCli(['get', '--prefix', 'at/', '--count-only', '--at', String(first.height), '--endpoints', endpoints]).stdout.trim()).toBe('1');
    const above = runCli(['get', 'at/k', '--at', '99999999', '--endpoints', endpoints, '--json']);
    expect(above.status).toBe(1);
    expect(above.json().error.code).toBe('NOT_FOUND');
    expect(runCli(['get', 'at/k', '--at', '3', '--stale', '--endpoints', endpoints]).status).toBe(2);
  }, 60_000);

  it('get --json shows revisions; txn runs one branch atomically from text and JSON; history lists it', async () => {
    expect(runCli(['put', 'job/1', 'queued', '--endpoints', endpoints]).status).toBe(0);
    const put = runCli(['put', 'job/1', 'queued', '--endpoints', endpoints, '--json']).json();
    const read = runCli(['get', 'job/1', '--endpoints', endpoints, '--json']).json();
    expect(read).toMatchObject({ found: true, modHeight: put.height, version: 2 });
    expect(read.createHeight).toBeLessThan(put.height);

    const claim = `value("job/1") = "queued"\nabsent("job/1/owner")\n\nput job/1 running\nput job/1/owner me\nget job/1\n\nget job/1/owner\n`;
    const won = runCli(['txn', '--endpoints', endpoints], { input: claim });
    expect(won.status).toBe(0);
    expect(won.stdout).toMatch(/^SUCCEEDED \(height \d+\)\njob\/1\trunning\n$/);
    const lost = runCli(['txn', '--endpoints', endpoints, '--json'], { input: claim });
    expect(lost.status).toBe(1);
    expect(lost.json()).toMatchObject({ result: 'COMPARE_FAILED', succeeded: false, gets: [{ key: 'job/1/owner', found: true, value: 'me', version: 1 }] });

    const dir = tempDir();
    try {
      const file = join(dir.path, 'txn.json');
      writeFileSync(file, JSON.stringify({ compares: [{ key: 'job/1', target: 'version', relation: '>', operand: 2 }], success: [{ op: 'delete-prefix', prefix: 'job/' }], failure: [] }));
      const cleared = runCli(['txn', '--file', file, '--endpoints', endpoints, '--json']).json();
      expect(cleared).toMatchObject({ succeeded: true, deleted: 2 });
    } finally {
      dir.cleanup();
    }
    expect(runCli(['get', '--prefix', 'job/', '--count-only', '--endpoints', endpoints]).stdout.trim()).toBe('0');
    const bad = runCli(['txn', '--endpoints', endpoints, '--json'], { input: '\n\nput a 1\nput a 2\n' });
    expect(bad.status).toBe(2);
    expect(bad.json().error.message).toMatch(/written twice/);
    const history = runCli(['history', 'job/1/owner', '--endpoints', endpoints, '--json']).json();
    expect(history.changes.map((change: { op: string; value: string | null }) => [change.op, change.value])).toEqual([['txn', 'me'], ['txn', null]]);
    expect(runCli(['chain', 'audit', '--endpoints', endpoints, '--json']).json()).toMatchObject({ ok: true });
  }, 120_000);
});
