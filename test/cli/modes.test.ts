// The demo, load and dump, and --trace, through the real CLI and real node processes.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LocalCluster } from '../../src/tools/local-cluster.js';
import { PaxchainClient } from '../../src/client/client.js';
import { runCli, tempDir } from '../helpers.js';
import { freeBasePort, useTestCluster, waitFor } from '../node/cluster-helpers.js';

describe('load and kv dump', () => {
  const test = useTestCluster(3);

  it('load data/fruits.json, then dump: every fruit back, at the height and state root chain head reports', async () => {
    const endpoints = test.cluster.endpoints.join(',');
    const loaded = runCli(['load', 'data/fruits.json', '--prefix', 'fruit/', '--endpoints', endpoints, '--json']);
    expect(loaded.status, loaded.stderr).toBe(0);
    expect(loaded.json()).toMatchObject({ keys: 52 });
    const fruits = JSON.parse((await import('node:fs')).readFileSync('data/fruits.json', 'utf8')) as Record<string, string>;
    // Let every node apply the last block, then compare the dump with chain head.
    await waitFor('heads to agree', async () => {
      const heads = await Promise.all(test.cluster.endpoints.map((endpoint) => test.client.status(endpoint)));
      return new Set(heads.map((status) => status.head?.hash)).size === 1 ? true : undefined;
    });
    const dump = runCli(['kv', 'dump', '--endpoints', endpoints, '--json']).json();
    const head = runCli(['chain', 'head', '--endpoints', endpoints, '--json']).json();
    expect(dump.height).toBe(head.height);
    expect(dump.hash).toBe(head.hash);
    expect(dump.stateRoot).toBe(head.stateRoot);
    const dumped = Object.fromEntries(dump.entries.map((entry: { key: string; value: string }) => [entry.key, entry.value]));
    for (const [fruit, price] of Object.entries(fruits)) expect(dumped[`fruit/${fruit}`]).toBe(price);
    // Human output: a header line with the same digest, then key = value lines.
    const text = runCli(['kv', 'dump', '--endpoints', endpoints, '--prefix', 'fruit/kiwi']).stdout.trim().split('\n');
    expect(text[0]).toContain(`state root ${head.stateRoot}`);
    expect(text[1]).toBe(`fruit/kiwi = ${fruits.kiwi}`);
  });

  it('kv dump --at an earlier height shows the state as it was then', async () => {
    const before = await test.client.put('history/probe', 'first');
    await test.client.put('history/probe', 'second');
    const endpoints = test.cluster.endpoints.join(',');
    const then = runCli(['kv', 'dump', '--endpoints', endpoints, '--at', String(before.height), '--prefix', 'history/', '--json']).json();
    expect(then.height).toBe(before.height);
    expect(then.entries).toEqual([{ key: 'history/probe', value: 'first', encoding: 'utf8' }]);
  });

  it('load refuses a file that is not a JSON object, with a stable code', () => {
    const dir = tempDir();
    try {
      const file = `${dir.path}/list.json`;
      writeFileSync(file, "[1, 2, 3]");
      const result = runCli(['load', file, '--endpoints', test.cluster.endpoints.join(','), '--json']);
      expect(result.status).toBe(2);
      expect(result.json().error.code).toBe('INVALID_ARGUMENT');
    } finally {
      dir.cleanup();
    }
  });
});

describe('--trace', () => {
  it('logs the phase-1 and phase-2 messages of a write, one line each', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    const cluster = new LocalCluster({ root: dir.path, nodes: 3, basePort: await freeBasePort(3), trace: true, onLine: (node, line) => lines.push(`[node${node}] ${line}`) });
    const client = new PaxchainClient({ endpoints: cluster.endpoints });
    try {
      await cluster.start();
      const write = await client.put('traced', 'value');
      await waitFor('the accepted messages of the write', async () => (lines.some((line) => /trace accepted \d->\d ballot=\S+ slot=/.test(line) && line.includes(`slot=${write.height}`)) ? true : undefined));
      const traced = lines.filter((line) => line.includes(' trace '));
      expect(traced.some((line) => /trace prepare \d->\d ballot=\d+\.\d+ slots=\d+\.\./.test(line))).toBe(true);
      expect(traced.some((line) => /trace promise \d->\d ballot=\d+\.\d+ chosenThrough=\d+ entries=\d+/.test(line))).toBe(true);
      expect(traced.some((line) => line.includes(`slot=${write.height}`) && /trace accept \d->\d ballot=\S+ slot=\d+ chosenThrough=\d+ bytes=\d+/.test(line))).toBe(true);
      expect(traced.some((line) => line.includes(`slot=${write.height}`) && /trace accepted \d->\d/.test(line))).toBe(true);
    } finally {
      await client.close();
      await cluster.stop();
      dir.cleanup();
    }
  }, 60_000);
});

describe('demo', () => {
  it('demo --chaos --duration 20: faults injected, the audit is clean and the history linearizable', async () => {
    const result = runCli(['demo', '--chaos', '--duration', '20', '--base-port', String(await freeBasePort(5)), '--json'], { timeoutMs: 150_000 });
    expect(result.status, result.stderr.slice(-2000)).toBe(0);
    const report = result.json();
    expect(report.ok).toBe(true);
    expect(report.faults.length).toBeGreaterThanOrEqual(3);
    expect(report.audit).toMatchObject({ ok: true, fork: null });
    expect(report.linearizability.verdict).toBe('linearizable');
    expect(report.linearizability.operations).toBeGreaterThan(1000);
    expect(result.stderr).toMatch(/t=\d+s\s+\d+ ops\/s\s+errors \d+\s+leader \S+\s+heights \[/);
  }, 180_000);
});

