// Real node processes on 127.0.0.1, driven through the CLI and the client library: writes and
// reads through any node, kill -9 of the leader under load, minority and majority outages.
import { describe, expect, it } from 'vitest';
import { isPaxchainError } from '../../src/lib/errors.js';
import { PaxchainClient } from '../../src/client/client.js';
import { fromHex } from '../../src/lib/bytes.js';
import { ClientConnection } from '../../src/transport/index.js';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytes, cliPath, runCli, tempDir } from '../helpers.js';
import { converged, leaderOf, statuses, useTestCluster, waitFor } from './cluster-helpers.js';

const text = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes));

describe('3-node cluster of real processes', () => {
  const test = useTestCluster(3);

  it('put/get/delete/cas through the CLI, sent to a follower, which points to the leader', async () => {
    const leader = await leaderOf(test);
    const follower = test.cluster.ids.find((id) => id !== leader)!;
    const only = ['--endpoints', test.cluster.endpoint(follower), '--json'];
    // `duplicate` may be true: on a loaded machine the first attempt can time out right after the
    // cluster starts, and the retry (same session and seq) is answered with the first result.
    expect(runCli(['put', 'fruit/apple', '1.20', ...only]).json()).toMatchObject({ result: 'OK', duplicate: expect.any(Boolean) });
    expect(runCli(['get', 'fruit/apple', ...only]).json()).toMatchObject({ found: true, value: '1.20', stale: false });
    expect(runCli(['cas', 'fruit/apple', '1.25', '--expect', '1.20', ...only]).json()).toMatchObject({ matched: true, result: 'OK' });
    const mismatch = runCli(['cas', 'fruit/apple', '9.99', '--expect', '1.20', ...only]);
    expect(mismatch.status).toBe(1);
    expect(mismatch.json()).toMatchObject({ matched: false, result: 'CAS_MISMATCH' });
    expect(runCli(['cas', 'fruit/kiwi', '0.50', '--absent', ...only]).json()).toMatchObject({ matched: true });
    expect(runCli(['cas', 'fruit/kiwi', '--delete', '--expect', '0.50', ...only]).json()).toMatchObject({ result: 'DELETED' });
    expect(runCli(['delete', 'fruit/apple', ...only]).json()).toMatchObject({ result: 'DELETED' });
    const gone = runCli(['get', 'fruit/apple', ...only]);
    expect(gone.status).toBe(1);
    expect(gone.json()).toMatchObject({ found: false });
    // A stale read at a follower answers locally and names the block it read at.
    const stale = runCli(['get', 'fruit/kiwi', '--stale', ...only]).json();
    expect(stale).toMatchObject({ stale: true, found: false, node: test.cluster.endpoint(follower) });
    expect(stale.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('binary forms round-trip any bytes: --key-hex, --value-hex/-base64/-file in, get --raw/--base64/--json out (issue 10, finding 4)', async () => {
    const target = ['--endpoints', test.cluster.endpoints.join(',')];
    const binary = Uint8Array.of(0x00, 0xff, 0x0a, 0xfe, 0x41);
    expect(runCli(['put', '--key-hex', '62696e2fefbfbd', '--value-hex', Buffer.from(binary).toString('hex'), ...target]).status).toBe(0);
    const file = tempDir('paxchain-bytes-');
    try {
      writeFileSync(join(file.path, 'value'), Buffer.from([0xfe, 0x01]));
      expect(runCli(['put', 'bin/file', '--value-file', join(file.path, 'value'), ...target]).status).toBe(0);
    } finally {
      file.cleanup();
    }
    expect(runCli(['put', 'bin/b64', '--value-base64', 'base64/text+==', ...target]).status).toBe(2);
    expect(runCli(['put', 'bin/b64', '--value-base64', Buffer.from('(not found)').toString('base64'), ...target]).status).toBe(0);
    // The key given as hex is the real U+FFFD character, which KEY itself could not carry.
    const raw = spawnSync(process.execPath, [cliPath, 'get', 'bin/\ufffd', '--raw', ...target]);
    expect(raw.stderr.toString()).toMatch(/KEY is not valid UTF-8/);
    const rawHex = spawnSync(process.execPath, [cliPath, 'get', '--key-hex', '62696e2fefbfbd', '--raw', ...target]);
    expect(new Uint8Array(rawHex.stdout)).toEqual(binary);
    expect(runCli(['get', '--key-hex', '62696e2fefbfbd', '--base64', ...target]).stdout.trim()).toBe(Buffer.from(binary).toString('base64'));
    expect(runCli(['get', '--key-hex', '62696e2fefbfbd', '--json', ...target]).json()).toMatchObject({ found: true, encoding: 'base64', value: Buffer.from(binary).toString('base64') });
    expect(runCli(['get', 'bin/file', '--raw', ...target]).status).toBe(0);
    expect(runCli(['get', 'bin/file', ...target]).stdout.trim()).toBe('base64:/gE=');
    // A text value that looks like the not-found marker prints quoted; a missing key does not.
    expect(runCli(['get', 'bin/b64', ...target]).stdout.trim()).toBe('"(not found)"');
    expect(runCli(['get', 'bin/missing', ...target]).stdout.trim()).toBe('(not found)');
  });

  it('status shows every node with role, ballot, chosen and applied heights', async () => {
    await converged(test);
    const result = runCli(['status', '--endpoints', test.cluster.endpoints.join(','), '--json']).json();
    expect(result.nodes).toHaveLength(3);
    expect(result.leader).toBeGreaterThan(0);
    for (const node of result.nodes) expect(node.status).toMatchObject({ voting: true, role: expect.stringMatching(/leader|follower/) });
    const human = runCli(['status', '--endpoints', test.cluster.endpoints.join(',')]).stdout;
    expect(human).toMatch(/ID\s+ENDPOINT\s+ROLE\s+BALLOT/);
  });

  it('chain head, list and show work online and agree with what the nodes applied', async () => {
    await test.client.put('online/x', 'y');
    const target = ['--endpoints', test.cluster.endpoints.join(','), '--json'];
    const head = runCli(['chain', 'head', ...target]).json();
    expect(head.height).toBeGreaterThan(0);
    expect(head.hash).toMatch(/^[0-9a-f]{64}$/);
    const list = runCli(['chain', 'list', '--from', '0', '--to', String(head.height), ...target]).json();
    expect(list.blocks.map((block: { height: number }) => block.height)).toEqual(Array.from({ length: head.height + 1 }, (_, i) => i));
    for (let i = 1; i < list.blocks.length; i++) expect(list.blocks[i].prevHash).toBe(list.blocks[i - 1].hash);
    // show replays (and verifies) the chain fetched from the node to give the results.
    const withPut = list.blocks.findLast((block: { commands: number }) => block.commands > 0);
    const show = runCli(['chain', 'show', String(withPut.height), ...target]).json();
    expect(show).toMatchObject({ resultsVerified: true, problem: null });
    expect(show.commands[0].result).toMatch(/OK|DELETED|NOT_FOUND|CAS_MISMATCH/);
  });

  it('bench runs against the cluster and reports figures (a smoke test, no timing asserted)', () => {
    const result = runCli(['bench', '--endpoints', test.cluster.endpoints.join(','), '--clients', '4', '--duration', '1', '--mix', 'put=50,get=30,cas=10,delete=10', '--json']);
    expect(result.status, result.stderr).toBe(0);
    const report = result.json();
    expect(report.operations).toBeGreaterThan(0);
    expect(report.errors).toEqual({});
    expect(report.latency.p99).toBeGreaterThanOrEqual(report.latency.p50);
    expect(report.leadership.before.leader).toBeGreaterThan(0);
  });

  it('the library: concurrent writes through any endpoint are each applied once', async () => {
    const writes = Array.from({ length: 200 }, (_, i) => test.client.put(`lib/${i}`, `v${i}`));
    const results = await Promise.all(writes);
    expect(results.every((result) => result.result === 'OK' && !result.duplicate)).toBe(true);
    expect(new Set(results.map((result) => `${result.session}:${result.seq}`)).size).toBe(200);
    for (const i of [0, 99, 199]) expect(text((await test.client.get(`lib/${i}`)).value)).toBe(`v${i}`);
  });

  it('kill -9 of the leader under load: writes resume, no acknowledged write is lost, chains agree after it returns', async () => {
    const leader = await leaderOf(test);
    const acknowledged = new Map<string, string>();
    let stop = false;
    let failures = 0;
    const writer = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        const key = `load/${worker}/${i}`;
        try {
          await test.client.put(key, key);
          acknowledged.set(key, key);
        } catch {
          failures++;
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, worker) => writer(worker));
    await waitFor('load running', async () => (acknowledged.size > 200 ? true : undefined));
    await test.cluster.signal(leader, 'SIGKILL');
    const before = acknowledged.size;
    await waitFor('writes after the kill', async () => (acknowledged.size > before + 200 ? true : undefined), 15_000);
    stop = true;
    await Promise.all(workers);
    const newLeader = await leaderOf(test);
    expect(newLeader).not.toBe(leader);
    await test.cluster.startNode(leader);
    const head = await converged(test);
    expect(head.height).toBeGreaterThan(0);
    // Every acknowledged write is there, through linearizable reads at the leader.
    const keys = [...acknowledged.keys()];
    for (let i = 0; i < keys.length; i += 50) {
      const batch = keys.slice(i, i + 50);
      const values = await Promise.all(batch.map((key) => test.client.get(key)));
      values.forEach((read, index) => expect(text(read.value), batch[index]).toBe(batch[index]));
    }
    expect(failures).toBeLessThan(acknowledged.size);
  }, 90_000);

  it('a session the chain shows cannot be taken over: the forged write is refused and the real client keeps writing (issue 10, finding 3)', async () => {
    const victim = new PaxchainClient({ endpoints: test.cluster.endpoints });
    const attacker = await ClientConnection.connect('127.0.0.1', Number(test.cluster.endpoint(await leaderOf(test)).split(':')[1]));
    try {
      const first = await victim.put('hijack/k', 'mine-1');
      // What anyone can read: chain show prints the writer's session id and seq.
      const shown = runCli(['chain', 'show', String(first.height), '--endpoints', test.cluster.endpoints.join(','), '--json']).json();
      const command = shown.commands.find((entry: { key?: string }) => entry.key === 'hijack/k');
      expect(command).toMatchObject({ session: first.session, seq: first.seq });
      // The hijack of the issue: a write in that session with a far higher seq.
      const forged = await attacker.request({ op: 'write', command: [1, fromHex(first.session), 1_000_000, 'hijack/k', bytes('evil')] });
      expect(forged).toMatchObject({ ok: false, error: 'INVALID_ARGUMENT', message: expect.stringMatching(/session secret/) });
      // Whatever the attacker sends as a secret lands in a session of its own.
      const padded = new Uint8Array(32);
      padded.set(fromHex(first.session)!);
      const own = await attacker.request({ op: 'write', command: [1, padded, 1_000_000, 'hijack/other', bytes('evil')] });
      expect(own).toMatchObject({ ok: true, result: 'OK', duplicate: false });
      // The same (secret, seq) again is answered from the dedup table with the first result.
      const again = await attacker.request({ op: 'write', command: [1, padded, 1_000_000, 'hijack/other', bytes('evil')] });
      expect(again).toMatchObject({ ok: true, result: 'OK', duplicate: true });
      // The real client's session is untouched: its next writes succeed (before: STALE_REQUEST).
      for (let i = 2; i <= 4; i++) expect(await victim.put('hijack/k', `mine-${i}`)).toMatchObject({ result: 'OK', session: first.session, seq: i });
      expect(text((await victim.get('hijack/k')).value)).toBe('mine-4');
    } finally {
      await attacker.close();
      await victim.close();
    }
  });

  it('garbage bytes and an oversized frame close only that connection; the node keeps serving', async () => {
    const { connect } = await import('node:net');
    const port = Number(test.cluster.endpoint(1).split(':')[1]);
    const closedBy = (payload: Uint8Array) =>
      new Promise<boolean>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port }, () => socket.write(payload));
        socket.resume();
        socket.on('close', () => resolve(true));
        socket.on('error', () => undefined);
        setTimeout(() => {
          socket.destroy();
          resolve(false);
        }, 5000);
      });
    expect(await closedBy(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'))).toBe(true);
    expect(await closedBy(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3))).toBe(true);
    const status = await test.client.status(test.cluster.endpoint(1));
    expect(status.counters.badFrames + status.counters.oversizedFrames + status.counters.authFailures).toBeGreaterThan(0);
    expect((await test.client.put('after/garbage', 'fine')).result).toBe('OK');
  });

  it('a peer with the wrong secret is refused, and so is a node forging the handshake', async () => {
    const { PeerLinks } = await import('../../src/transport/index.js');
    const { encodeFrame } = await import('../../src/transport/frame.js');
    const { secretKey } = await import('../../src/node/config.js');
    const [host, port] = test.cluster.endpoint(1).split(':');
    const impostor = new PeerLinks({
      clusterId: test.cluster.file.clusterId,
      nodeId: 2,
      secret: secretKey('not-the-secret'),
      peers: [{ nodeId: 1, host: host!, port: Number(port) }],
    });
    try {
      // The node proves itself first: with the wrong secret the impostor cannot verify it.
      const failure = await waitFor('the impostor to fail authentication', async () => impostor.status()[0]!.lastError ?? undefined, 10_000);
      expect(String(failure)).toMatch(/AUTH|proof|secret/i);
      expect(impostor.status()[0]!.state).not.toBe('connected');
    } finally {
      await impostor.close();
    }
    // A stranger that answers the challenge with a made-up proof is refused and counted.
    const { connect } = await import('node:net');
    const before = (await test.client.status(test.cluster.endpoint(1))).counters.authFailures;
    await new Promise<void>((resolve) => {
      const socket = connect({ host, port: Number(port) }, () => {
        socket.write(encodeFrame({ v: 1, kind: 'peer', clusterId: test.cluster.file.clusterId, nodeId: 3, nonce: new Uint8Array(32).fill(7) }));
        setTimeout(() => socket.write(encodeFrame({ v: 1, kind: 'proof', proof: new Uint8Array(32).fill(1) })), 100);
      });
      socket.resume(); // read (and drop) the challenge, so the node's close is seen
      socket.on('close', () => resolve());
      socket.on('error', () => undefined);
    });
    const after = (await test.client.status(test.cluster.endpoint(1))).counters.authFailures;
    expect(after).toBeGreaterThan(before);
    expect((await test.client.put('after/impostor', 'fine')).result).toBe('OK');
  });

  it('a member whose messages are garbled or spoofed has that connection closed and counted; nothing reaches the replica', async () => {
    const { PeerLinks } = await import('../../src/transport/index.js');
    const { secretKey } = await import('../../src/node/config.js');
    // The impostor holds the cluster secret and takes the place of a stopped follower (a running
    // node with the same id would take its connection back), but speaks for the third node.
    const leader = await leaderOf(test);
    const absent = [1, 2, 3].find((id) => id !== leader)!;
    const target = leader;
    const spoofed = [1, 2, 3].find((id) => id !== leader && id !== absent)!;
    await test.cluster.signal(absent, 'SIGTERM');
    const [host, port] = test.cluster.endpoint(target).split(':');
    const before = (await test.client.status(test.cluster.endpoint(target))).counters;
    const closes: string[] = [];
    const member = new PeerLinks({
      clusterId: test.cluster.file.clusterId,
      nodeId: absent,
      secret: secretKey('test-cluster-secret'),
      peers: [{ nodeId: target, host: host!, port: Number(port) }],
      reconnectDelayMinMs: 20,
      reconnectDelayMaxMs: 100,
      onLinkChange: (status) => {
        if (status.state === 'down') closes.push(status.lastError ?? '');
      },
    });
    const connected = () => waitFor('the impostor link', async () => (member.status()[0]!.state === 'connected' ? true : undefined), 10_000);
    const spoofedBallot = 1000 * 256 + spoofed;
    try {
      await connected();
      const head = { height: 0, hash: new Uint8Array(32) };
      expect(member.send(target, { type: 'heartbeat', from: spoofed, to: target, ballot: spoofedBallot, chosenThrough: 0, head, round: 1 })).toBe(true);
      await waitFor('the spoofed message refused', async () => (closes.length >= 1 ? true : undefined), 10_000);
      await connected();
      expect(member.send(target, { type: 'no-such-message', from: absent, to: target })).toBe(true);
      await waitFor('the unknown message refused', async () => (closes.length >= 2 ? true : undefined), 10_000);
    } finally {
      await member.close();
    }
    const after = await test.client.status(test.cluster.endpoint(target));
    expect(after.counters.badPeerMessages - before.badPeerMessages).toBe(2);
    expect(after.counters.badFrames - before.badFrames).toBe(2);
    // The spoofed heartbeat's ballot never reached the replica: the leader still leads at its own.
    expect(after.role).toBe('leader');
    expect(after.ballot).not.toBe(`1000.${spoofed}`);
    expect(after.promised).not.toBe(`1000.${spoofed}`);
    expect((await test.client.put('after/spoof', 'fine')).result).toBe('OK');
    await test.cluster.startNode(absent);
    await converged(test);
  }, 60_000);
});

describe('5-node cluster of real processes: outages', () => {
  const test = useTestCluster(5);

  it('with a minority down writes go on; with a majority down clients get UNAVAILABLE in time; then it recovers', async () => {
    const leader = await leaderOf(test);
    const others = test.cluster.ids.filter((id) => id !== leader);
    // Minority (2 of 5) down, the leader among them.
    await test.cluster.signal(leader, 'SIGKILL');
    await test.cluster.signal(others[0]!, 'SIGKILL');
    expect((await test.client.put('minority/down', 'ok')).result).toBe('OK');
    // Majority (3 of 5) down.
    await test.cluster.signal(others[1]!, 'SIGKILL');
    const impatient = new PaxchainClient({ endpoints: test.cluster.endpoints, timeoutMs: 3000 });
    const started = Date.now();
    const error = await impatient.put('majority/down', 'no').catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    await impatient.close();
    expect(isPaxchainError(error, 'UNAVAILABLE')).toBe(true);
    expect(elapsed).toBeLessThan(6000);
    for (const id of [leader, others[0]!, others[1]!]) await test.cluster.startNode(id);
    expect((await test.client.put('majority/back', 'yes')).result).toBe('OK');
    expect(text((await test.client.get('minority/down')).value)).toBe('ok');
    await converged(test);
    const all = await statuses(test);
    expect(all.every((status) => status?.voting)).toBe(true);
  }, 90_000);
});
