// `get --verify` through the real CLI against real node processes: answers checked against a
// majority-signed head and the trusted state file; a trust file that a lying history would need
// to contradict (a head above the cluster's: rollback; another hash at a real height: fork; another
// genesis pinned) is refused with VERIFICATION_FAILED and the reason. put/cas/delete --verify prove
// the write in the state of its block the same way.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { useTestCluster, waitFor } from '../node/cluster-helpers.js';
import { encodeHeadCertificate, headCertificateFromJson } from '../../src/ledger/signing.js';
import { pack } from '../../src/lib/msgpack.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { openDataDir } from '../../src/storage/data-dir.js';
import { CERTIFICATE_KEY } from '../../src/storage/keys.js';

describe('get --verify', () => {
  const test = useTestCluster(3);
  const dir = tempDir('paxchain-trust-');
  afterAll(() => dir.cleanup());
  const state = join(dir.path, 'trust.json');
  const verifiedGet = (key: string, extra: string[] = []) =>
    runCli(['get', key, '--verify', '--state-file', state, '--endpoints', test.cluster.endpoints.join(','), '--json', ...extra]);

  it('proves a value and an absence at a majority-signed head, pins the cluster and advances the trusted head', async () => {
    await test.client.put('fruit/fig', '2.40');
    const first = verifiedGet('fruit/fig');
    expect(first.status, first.stderr).toBe(0);
    expect(first.json()).toMatchObject({ found: true, value: '2.40', verified: { stateFile: state, pinnedOnFirstUse: true } });
    const trusted = JSON.parse(readFileSync(state, 'utf8'));
    expect(trusted).toMatchObject({ format: 'paxchain-trust', members: [{ node: 1 }, { node: 2 }, { node: 3 }] });
    await test.client.put('fruit/fig', '2.50');
    const second = verifiedGet('fruit/fig');
    expect(second.json()).toMatchObject({ found: true, value: '2.50', verified: { pinnedOnFirstUse: false } });
    expect(second.json().verified.certifiedHeight).toBeGreaterThan(trusted.head.height);
    const absent = verifiedGet('fruit/none');
    expect(absent.status).toBe(1);
    expect(absent.json()).toMatchObject({ found: false, value: null });
    // Human output says what was verified.
    const text = runCli(['get', 'fruit/fig', '--verify', '--state-file', state, '--endpoints', test.cluster.endpoints.join(',')]);
    expect(text.stdout).toMatch(/^2\.50 {2}\[verified at block \d+, head \d+ [0-9a-f]{16} signed by a majority\]/);
  });

  it('refuses a rollback below the trusted head, a fork from it, and another pinned cluster, naming the check', () => {
    const good = readFileSync(state, 'utf8');
    const trusted = JSON.parse(good);
    const expectRefused = (reason: string, extra: string[] = []) => {
      const result = verifiedGet('fruit/fig', extra);
      expect(result.status, result.stdout).toBe(1);
      expect(result.json()).toMatchObject({ error: { code: 'VERIFICATION_FAILED', details: { reason } } });
    };
    // The client trusts a head the cluster has not reached: any answer now is a rollback.
    writeFileSync(state, JSON.stringify({ ...trusted, head: { height: trusted.head.height + 1000, hash: 'ab'.repeat(32) } }));
    expectRefused('ROLLBACK');
    // The client trusts another block at a real height: the cluster's history forks from it.
    writeFileSync(state, JSON.stringify({ ...trusted, head: { height: 1, hash: 'cd'.repeat(32) } }));
    expectRefused('FORK');
    writeFileSync(state, good);
    expectRefused('GENESIS_MISMATCH', ['--genesis-hash', 'ef'.repeat(32)]);
    // The file was not advanced by a refused answer, and the honest path still works.
    expect(verifiedGet('fruit/fig').status).toBe(0);
  });

  it('put, cas and delete --verify prove the write in the state of the block that applied it', () => {
    const endpoints = test.cluster.endpoints.join(',');
    const before = JSON.parse(readFileSync(state, 'utf8')).head.height as number;
    const write = (args: string[]) => runCli([...args, '--verify', '--state-file', state, '--endpoints', endpoints, '--json']);
    const put = write(['put', 'fruit/kiwi', '0.90']);
    expect(put.status, put.stderr).toBe(0);
    const putRecord = put.json();
    expect(putRecord).toMatchObject({ key: 'fruit/kiwi', result: 'OK', verified: { stateFile: state, pinnedOnFirstUse: false } });
    expect(putRecord.height).toBeGreaterThan(before);
    expect(putRecord.verified.certifiedHeight).toBeGreaterThanOrEqual(putRecord.height);
    const mismatch = write(['cas', 'fruit/kiwi', '1.00', '--expect', '0.80']);
    expect(mismatch.status).toBe(1);
    expect(mismatch.json()).toMatchObject({ result: 'CAS_MISMATCH', matched: false, verified: {} });
    expect(write(['cas', 'fruit/kiwi', '1.00', '--expect', '0.90']).json()).toMatchObject({ result: 'OK', matched: true, verified: {} });
    expect(write(['delete', 'fruit/kiwi']).json()).toMatchObject({ result: 'DELETED', verified: {} });
    const again = write(['delete', 'fruit/kiwi']).json();
    expect(again).toMatchObject({ result: 'NOT_FOUND', verified: {} });
    // Each verified write advanced the trusted head.
    expect(JSON.parse(readFileSync(state, 'utf8')).head.height).toBeGreaterThanOrEqual(again.height);
    const text = runCli(['put', 'fruit/kiwi', '0.95', '--verify', '--state-file', state, '--endpoints', endpoints]);
    expect(text.stdout).toMatch(/^OK \(height \d+\) {2}\[verified in block \d+, head \d+ [0-9a-f]{16} signed by a majority\]/);
    // A trusted head the cluster has not reached: the write is made, its proof refused.
    const good = readFileSync(state, 'utf8');
    writeFileSync(state, JSON.stringify({ ...JSON.parse(good), head: { height: 1_000_000, hash: 'ab'.repeat(32) } }));
    const refused = write(['put', 'fruit/kiwi', '1.10']);
    expect(refused.status).toBe(1);
    expect(refused.json()).toMatchObject({ error: { code: 'VERIFICATION_FAILED', details: { reason: 'ROLLBACK', write: { result: 'OK' } } } });
    writeFileSync(state, good);
  });
});

describe('chain prove and chain verify-proof', () => {
  const test = useTestCluster(3);
  const dir = tempDir('paxchain-proof-');
  afterAll(() => dir.cleanup());

  it('a proof written online checks out offline, and fails after tampering or under another pinned genesis', async () => {
    await test.client.put('fruit/lime', '0.30');
    const state = join(dir.path, 'trust.json');
    const proved = runCli(['chain', 'prove', 'fruit/lime', '--state-file', state, '--endpoints', test.cluster.endpoints.join(',')]);
    expect(proved.status, proved.stderr).toBe(0);
    expect(proved.stderr).toMatch(/proved fruit\/lime present at block \d+/);
    const file = join(dir.path, 'proof.json');
    writeFileSync(file, proved.stdout);
    const genesisHash = JSON.parse(proved.stdout).genesisHash as string;
    const checked = runCli(['chain', 'verify-proof', file, '--genesis-hash', genesisHash, '--json']);
    expect(checked.status, checked.stdout).toBe(0);
    expect(checked.json()).toMatchObject({ valid: true, key: 'fruit/lime', found: true, value: '0.30' });
    // One hex digit of the proven value changed: the state proof no longer gives the header's root.
    const json = JSON.parse(proved.stdout);
    json.answer.proof.leaf.value = json.answer.proof.leaf.value.replace(/.$/, (digit: string) => (digit === '0' ? '1' : '0'));
    writeFileSync(file, JSON.stringify(json));
    const tampered = runCli(['chain', 'verify-proof', file, '--genesis-hash', genesisHash, '--json']);
    expect(tampered.status).toBe(1);
    expect(tampered.json()).toMatchObject({ error: { code: 'VERIFICATION_FAILED', details: { reason: 'BAD_PROOF' } } });
    writeFileSync(file, proved.stdout);
    const otherCluster = runCli(['chain', 'verify-proof', file, '--genesis-hash', 'ab'.repeat(32), '--json']);
    expect(otherCluster.json()).toMatchObject({ error: { code: 'VERIFICATION_FAILED', details: { reason: 'GENESIS_MISMATCH' } } });
  });

  it('--at H proves the state of an older block, from the replayed chain, under the newest signed head', async () => {
    const endpoints = test.cluster.endpoints.join(',');
    const state = join(dir.path, 'trust-at.json');
    const first = await test.client.put('fruit/plum', '0.70');
    await test.client.put('fruit/plum', '0.75');
    await test.client.delete('fruit/plum');
    const proveAt = (height: number) => runCli(['chain', 'prove', 'fruit/plum', '--at', String(height), '--state-file', state, '--endpoints', endpoints]);
    const old = proveAt(first.height);
    expect(old.status, old.stderr).toBe(0);
    expect(old.stderr).toContain(`proved fruit/plum present at block ${first.height}`);
    const file = join(dir.path, 'plum.json');
    writeFileSync(file, old.stdout);
    const checked = runCli(['chain', 'verify-proof', file, '--json']).json();
    expect(checked).toMatchObject({ valid: true, key: 'fruit/plum', found: true, value: '0.70', height: first.height });
    expect(checked.certifiedHeight).toBeGreaterThan(first.height);
    // Before its first put the key was absent; a height above the signed head cannot be proven.
    writeFileSync(file, proveAt(first.height - 1).stdout);
    expect(runCli(['chain', 'verify-proof', file, '--json']).json()).toMatchObject({ valid: true, found: false, height: first.height - 1 });
    const above = runCli(['chain', 'prove', 'fruit/plum', '--at', '1000000', '--state-file', state, '--endpoints', endpoints, '--json']);
    expect(above.status).toBe(2); // a usage error
    expect(above.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
  });
});

describe('signed heads in the chain tools', () => {
  const test = useTestCluster(3);

  it('status, audit and chain verify check the head certificate a node stored; a forged one is reported', async () => {
    const endpoints = test.cluster.endpoints.join(',');
    await test.client.put('fruit/date', '3.10');
    const trust = { genesisHash: undefined };
    const read = await test.client.getVerified('fruit/date', trust);
    // The node that ran the signature round (the leader) stored the certificate and reports it.
    const leader = await waitFor('a node reporting the certificate', async () => {
      for (let id = 1; id <= 3; id++) {
        const status = await test.client.status(test.cluster.endpoint(id)).catch(() => undefined);
        if (status?.certificate && status.certificate.height >= read.certified.height) return { id, status };
      }
      return undefined;
    });
    expect(leader.status.certificate!.signatures.length).toBeGreaterThanOrEqual(2);
    const audited = runCli(['chain', 'audit', '--endpoints', endpoints, '--json']);
    expect(audited.status, audited.stdout).toBe(0);
    const source = audited.json().sources.find((entry: { source: string }) => entry.source === test.cluster.endpoint(leader.id));
    expect(source.certificate).toMatchObject({ ok: true, height: leader.status.certificate!.height });
    // Offline: the stopped node's stored certificate is checked against its replayed chain.
    await test.cluster.signal(leader.id, 'SIGTERM');
    const dir = test.cluster.dataDir(leader.id);
    const verified = runCli(['chain', 'verify', '--data', dir, '--json']);
    expect(verified.status, verified.stdout).toBe(0);
    expect(verified.json()).toMatchObject({ ok: true, certificate: { ok: true, height: leader.status.certificate!.height } });
    expect(runCli(['chain', 'verify', '--data', dir]).stdout).toMatch(/signed: block \d+ by members \d+, \d+/);
    // The same signatures over another block hash: not a majority's signatures of anything.
    const forged = headCertificateFromJson(leader.status.certificate);
    if (typeof forged === 'string') throw new Error(forged);
    const store = await openDataDir(dir, fastSha256, { create: false });
    await store.backend.write([{ type: 'put', key: CERTIFICATE_KEY, value: pack(encodeHeadCertificate({ ...forged, blockHash: new Uint8Array(32).fill(7) })) }], { sync: true });
    await store.close();
    const refused = runCli(['chain', 'verify', '--data', dir, '--json']);
    expect(refused.status).toBe(1);
    expect(refused.json()).toMatchObject({ ok: false, problem: null, certificate: { ok: false, reason: 'BAD_CERTIFICATE' } });
    const audit = runCli(['chain', 'audit', '--data', dir, '--json']);
    expect(audit.json()).toMatchObject({ ok: false, sources: [{ certificate: { ok: false, reason: 'BAD_CERTIFICATE' } }] });
  });
});

describe('history KEY', () => {
  const test = useTestCluster(3);

  it('lists every change of the key from the replayed chain, oldest first; --all adds the commands that changed nothing', async () => {
    const client = test.client;
    await client.put('fruit/pear', '1');
    await client.put('fruit/other', 'x');
    await client.put('fruit/pear', '2');
    await client.cas('fruit/pear', '2', '3');
    await client.cas('fruit/pear', '9', '4'); // a mismatch: no change
    await client.delete('fruit/pear');
    const endpoints = test.cluster.endpoints.join(',');
    const history = runCli(['history', 'fruit/pear', '--endpoints', endpoints, '--json']);
    expect(history.status, history.stderr).toBe(0);
    const changes = history.json().changes as Array<{ op: string; result: string; value: string | null; height: number }>;
    expect(changes.map((change) => [change.op, change.result, change.value])).toEqual([
      ['put', 'OK', '1'],
      ['put', 'OK', '2'],
      ['cas', 'OK', '3'],
      ['delete', 'DELETED', null],
    ]);
    expect(changes.map((change) => change.height)).toEqual([...changes.map((change) => change.height)].sort((a, b) => a - b));
    const all = runCli(['history', 'fruit/pear', '--endpoints', endpoints, '--all', '--json']).json();
    expect(all.changes.map((change: { result: string }) => change.result)).toEqual(['OK', 'OK', 'OK', 'CAS_MISMATCH', 'DELETED']);
    const text = runCli(['history', 'fruit/pear', '--endpoints', endpoints]).stdout.trim().split('\n');
    expect(text[0]).toMatch(/^# 4 changes of fruit\/pear up to height \d+/);
    expect(text[4]).toMatch(/delete +DELETED +\(absent\)$/);
  });
});

describe('cluster init', () => {
  it('writes one 0600 key per member and the public list, and never runs twice on one directory', () => {
    const dir = tempDir('paxchain-ceremony-');
    try {
      const out = join(dir.path, 'ceremony');
      const first = runCli(['cluster', 'init', '--nodes', '3', '--out', out, '--json']);
      expect(first.status, first.stderr).toBe(0);
      const written = first.json();
      expect(written.keys).toHaveLength(3);
      for (const path of written.keys) expect(statSync(path).mode & 0o777).toBe(0o600);
      const members = JSON.parse(readFileSync(written.members, 'utf8'));
      expect(members).toMatchObject({ format: 'paxchain-members', members: [{ node: 1 }, { node: 2 }, { node: 3 }] });
      expect(new Set(members.members.map((member: { publicKey: string }) => member.publicKey)).size).toBe(3);
      const again = runCli(['cluster', 'init', '--nodes', '3', '--out', out, '--json']);
      expect(again.status).toBe(1);
      expect(again.json()).toMatchObject({ error: { code: 'ALREADY_EXISTS' } });
    } finally {
      dir.cleanup();
    }
  });
});
