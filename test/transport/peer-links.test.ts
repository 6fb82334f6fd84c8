// PeerLinks (src/transport/peer-links.ts): one authenticated outgoing connection per peer, reopened
// with back-off after any failure; send() queues only on a connected link, within its bounds.
import { afterEach, describe, expect, it } from 'vitest';
import { isPaxchainError } from '../../src/lib/errors.js';
import { type LinkStatus, PeerLinks, type PeerLinksOptions, reconnectDelayMs } from '../../src/transport/peer-links.js';
import { TransportServer } from '../../src/transport/server.js';
import { closeAll, credentials, HOST, onCleanup, startRecordingServer, waitFor, WRONG_SECRET } from './helpers.js';

afterEach(closeAll);

function openLinks(port: number, overrides: Partial<PeerLinksOptions> = {}): PeerLinks {
  const links = new PeerLinks({ ...credentials(1), peers: [{ nodeId: 2, host: HOST, port }], reconnectDelayMaxMs: 100, ...overrides });
  onCleanup(() => links.close());
  return links;
}

function linkTo2(links: PeerLinks): LinkStatus {
  return links.status().find((status) => status.nodeId === 2)!;
}

describe('PeerLinks handshake', () => {
  it('with the right secret the link connects and messages arrive in order, tagged with the sender', async () => {
    const recording = await startRecordingServer();
    const links = openLinks(recording.server.port);
    await waitFor('connected', () => linkTo2(links).state === 'connected');
    for (let i = 0; i < 100; i++) expect(links.send(2, { i })).toBe(true);
    await waitFor('100 messages', () => recording.peerMessages.length === 100);
    expect(recording.peerMessages).toEqual(Array.from({ length: 100 }, (_, i) => ({ from: 1, message: { i } })));
    expect(recording.server.connectedPeers()).toEqual([1]);
  });

  it('with a wrong secret the link never connects, AUTH_FAILED is reported and nothing is delivered', async () => {
    const recording = await startRecordingServer();
    const links = openLinks(recording.server.port, { secret: WRONG_SECRET });
    await waitFor('two failed attempts', () => linkTo2(links).failedAttempts >= 2);
    expect(linkTo2(links).state).not.toBe('connected');
    expect(linkTo2(links).lastError).toMatch(/^AUTH_FAILED/);
    expect(links.stats().authFailures).toBeGreaterThanOrEqual(2);
    expect(links.send(2, { tag: 'never' })).toBe(false);
    expect(recording.peerMessages).toEqual([]);
    expect(recording.server.connectedPeers()).toEqual([]);
  });

  it('a peer address where an HTTP server listens is reported as not a paxchain node', async () => {
    const { createServer } = await import('node:http');
    const web = createServer((_request, response) => response.end('hello'));
    web.on('clientError', (_error, socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    onCleanup(() => new Promise((resolve) => web.close(resolve)));
    await new Promise<void>((resolve) => web.listen(0, HOST, resolve));
    const links = openLinks((web.address() as { port: number }).port);
    await waitFor('a failed attempt', () => linkTo2(links).failedAttempts >= 1);
    expect(linkTo2(links).lastError).toMatch(/^BAD_FRAME: node 2's address: not a paxchain node \(got bytes that look like HTTP/);
  });

  it('with a wrong cluster id the server refuses the Hello, counts it, and delivers nothing', async () => {
    const recording = await startRecordingServer();
    const links = openLinks(recording.server.port, { clusterId: 'another-cluster' });
    await waitFor('server counted a refusal', () => recording.server.stats().authFailures >= 1);
    expect(linkTo2(links).state).not.toBe('connected');
    expect(links.send(2, { tag: 'never' })).toBe(false);
    expect(recording.peerMessages).toEqual([]);
  });

  it('a node id the server does not list as a peer is refused', async () => {
    const recording = await startRecordingServer();
    const links = new PeerLinks({ ...credentials(7), peers: [{ nodeId: 2, host: HOST, port: recording.server.port }] });
    onCleanup(() => links.close());
    await waitFor('server counted a refusal', () => recording.server.stats().authFailures >= 1);
    expect(links.status()[0]!.state).not.toBe('connected');
    expect(recording.server.connectedPeers()).toEqual([]);
  });

  it('a link that reached a different node than configured is refused by the connector', async () => {
    // The server at this port is node 2, but the link believes it is node 3.
    const recording = await startRecordingServer({ peerIds: [1, 3] });
    const links = new PeerLinks({ ...credentials(1), peers: [{ nodeId: 3, host: HOST, port: recording.server.port }] });
    onCleanup(() => links.close());
    await waitFor('refused', () => links.stats().authFailures >= 1);
    expect(links.status()[0]!.lastError).toMatch(/expected node 3/);
  });
});

describe('PeerLinks reconnect', () => {
  it('reconnects after the peer server restarts on the same port, and messages flow again', async () => {
    const first = await startRecordingServer();
    const port = first.server.port;
    const links = openLinks(port);
    await waitFor('connected', () => linkTo2(links).state === 'connected');
    expect(links.send(2, { n: 1 })).toBe(true);
    await waitFor('first message', () => first.peerMessages.length === 1);
    await first.server.close();
    await waitFor('link noticed', () => linkTo2(links).state !== 'connected');
    expect(links.send(2, { n: 2 })).toBe(false);
    const second = await startRecordingServer({ port });
    await waitFor('reconnected', () => linkTo2(links).state === 'connected');
    expect(links.send(2, { n: 3 })).toBe(true);
    await waitFor('message after restart', () => second.peerMessages.length === 1);
    expect(second.peerMessages).toEqual([{ from: 1, message: { n: 3 } }]);
  });

  it('keeps retrying while the peer is down and connects once it comes up', async () => {
    const probe = await startRecordingServer();
    const port = probe.server.port;
    await probe.server.close();
    const links = openLinks(port);
    await waitFor('several refused attempts', () => linkTo2(links).failedAttempts >= 3);
    expect(linkTo2(links).lastError).toMatch(/ECONNREFUSED/);
    const server = await startRecordingServer({ port });
    await waitFor('connected', () => linkTo2(links).state === 'connected');
    expect(linkTo2(links).failedAttempts).toBe(0);
    expect(links.send(2, 'up')).toBe(true);
    await waitFor('delivered', () => server.peerMessages.length === 1);
  });

  it('reconnectNow() skips the back-off when the caller knows the peer is back', async () => {
    const probe = await startRecordingServer();
    const port = probe.server.port;
    await probe.server.close();
    const links = new PeerLinks({ ...credentials(1), peers: [{ nodeId: 2, host: HOST, port }], reconnectDelayMinMs: 60_000, reconnectDelayMaxMs: 60_000 });
    onCleanup(() => links.close());
    await waitFor('the first refusal', () => linkTo2(links).failedAttempts >= 1 && linkTo2(links).state === 'down');
    const server = await startRecordingServer({ port });
    expect(links.reconnectNow(2)).toBe(true);
    await waitFor('connected long before the 60 s back-off', () => linkTo2(links).state === 'connected');
    expect(links.reconnectNow(2)).toBe(false); // already connected: nothing to do
    expect(links.send(2, 'hello')).toBe(true);
    await waitFor('delivered', () => server.peerMessages.length === 1);
  });

  it('close() stops reconnecting and resolves with every socket closed', async () => {
    const recording = await startRecordingServer();
    const links = openLinks(recording.server.port);
    await waitFor('connected', () => linkTo2(links).state === 'connected');
    await links.close();
    expect(linkTo2(links).state).toBe('down');
    await waitFor('server saw the close', () => recording.server.stats().connectionsOpen === 0);
    expect(links.send(2, 'after close')).toBe(false);
  });

  it('reconnectDelayMs doubles from the minimum up to the maximum, jittered within [cap / 2, cap]', () => {
    expect(reconnectDelayMs(0, 50, 2000, () => 0)).toBe(50);
    expect(reconnectDelayMs(1, 50, 2000, () => 0.999999)).toBe(100);
    expect(reconnectDelayMs(3, 50, 2000, () => 0)).toBe(200);
    expect(reconnectDelayMs(3, 50, 2000, () => 0.999999)).toBe(400);
    expect(reconnectDelayMs(10, 50, 2000, () => 0)).toBe(1000);
    expect(reconnectDelayMs(10, 50, 2000, () => 0.999999)).toBe(2000);
    expect(reconnectDelayMs(10_000, 50, 2000, () => 0.5)).toBe(1500);
  });
});

describe('PeerLinks send bounds', () => {
  it('send() returns false and counts a drop once the queue holds sendQueueFramesMax frames', async () => {
    const recording = await startRecordingServer();
    const links = openLinks(recording.server.port, { sendQueueFramesMax: 4 });
    await waitFor('connected', () => linkTo2(links).state === 'connected');
    // Same tick: nothing has been flushed yet, so the 5th frame finds the queue full.
    const accepted = Array.from({ length: 6 }, (_, i) => links.send(2, { i }));
    expect(accepted).toEqual([true, true, true, true, false, false]);
    expect(links.stats().drops).toBe(2);
    await waitFor('4 delivered', () => recording.peerMessages.length === 4);
    expect(links.send(2, { i: 6 })).toBe(true);
    await waitFor('5 delivered', () => recording.peerMessages.length === 5);
  });

  it('send() returns false once the queue would exceed sendQueueBytesMax', async () => {
    const recording = await startRecordingServer();
    const links = openLinks(recording.server.port, { sendQueueBytesMax: 10_000 });
    await waitFor('connected', () => linkTo2(links).state === 'connected');
    expect(links.send(2, new Uint8Array(6_000))).toBe(true);
    expect(links.send(2, new Uint8Array(6_000))).toBe(false);
    expect(links.send(2, new Uint8Array(3_000))).toBe(true);
  });

  it('a message over the frame limit is refused with FRAME_TOO_LARGE; an unknown node is a TypeError', async () => {
    const recording = await startRecordingServer();
    const links = openLinks(recording.server.port, { maxFrameBytes: 1024 });
    await waitFor('connected', () => linkTo2(links).state === 'connected');
    let caught: unknown;
    try {
      links.send(2, new Uint8Array(2048));
    } catch (error) {
      caught = error;
    }
    expect(isPaxchainError(caught, 'FRAME_TOO_LARGE')).toBe(true);
    expect(() => links.send(5, 'x')).toThrow(TypeError);
  });

  it('broadcast() queues one encoding on every connected link and skips the others', async () => {
    const node2 = await startRecordingServer();
    const node3Messages: Array<{ from: number; message: unknown }> = [];
    const node3 = await TransportServer.start({
      ...credentials(3),
      port: 0,
      peerIds: [1, 2],
      onPeerMessage: (from, message) => {
        node3Messages.push({ from, message });
      },
      onClientRequest: () => {},
    });
    onCleanup(() => node3.close());
    const links = openLinks(node2.server.port, {
      peers: [
        { nodeId: 2, host: HOST, port: node2.server.port },
        { nodeId: 3, host: HOST, port: node3.port },
      ],
    });
    await waitFor('both connected', () => links.status().every((status) => status.state === 'connected'));
    expect(links.broadcast({ kind: 'heartbeat' })).toBe(2);
    await waitFor('both delivered', () => node2.peerMessages.length === 1 && node3Messages.length === 1);
    expect(node3Messages).toEqual([{ from: 1, message: { kind: 'heartbeat' } }]);
    await node3.close();
    await waitFor('link to 3 down', () => links.status()[1]!.state !== 'connected');
    expect(links.broadcast({ kind: 'heartbeat' })).toBe(1);
  });

  it('a peer message the node refuses closes that link as a bad frame; the link reopens and later messages arrive', async () => {
    const delivered: unknown[] = [];
    const node2 = await TransportServer.start({
      ...credentials(2),
      port: 0,
      peerIds: [1],
      onPeerMessage: (_from, message) => {
        if ((message as { kind?: string }).kind === 'bogus') return 'unknown message kind bogus';
        delivered.push(message);
      },
      onClientRequest: () => {},
    });
    onCleanup(() => node2.close());
    const links = openLinks(node2.port);
    await waitFor('connected', () => linkTo2(links).state === 'connected');
    expect(links.send(2, { kind: 'ok', i: 1 })).toBe(true);
    expect(links.send(2, { kind: 'bogus' })).toBe(true);
    await waitFor('the refusal counted', () => node2.stats().badFrames === 1);
    await waitFor('the link reopened', () => linkTo2(links).state === 'connected' && node2.connectedPeers().length === 1);
    expect(links.send(2, { kind: 'ok', i: 2 })).toBe(true);
    await waitFor('the later message', () => delivered.length === 2);
    expect(delivered).toEqual([{ kind: 'ok', i: 1 }, { kind: 'ok', i: 2 }]);
  });
});
