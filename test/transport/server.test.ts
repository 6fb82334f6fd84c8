// TransportServer (src/transport/server.ts) against misbehaving sockets. ARCHITECTURE §5: garbage,
// oversized or unknown frames close that connection and nothing else; a stranger can neither vote
// nor have anything delivered.
import { afterEach, describe, expect, it } from 'vitest';
import { concatBytes, writeU32 } from '../../src/lib/bytes.js';
import { ClientConnection } from '../../src/transport/client-connection.js';
import { encodeFrame, FrameDecoder } from '../../src/transport/frame.js';
import { buildClientHello, buildPeerHello, type PeerChallenge, randomNonce } from '../../src/transport/handshake.js';
import { CLIENT_FRAME_BYTES_MAX, HANDSHAKE_FRAME_BYTES_MAX } from '../../src/transport/limits.js';
import { limits } from '../../src/lib/limits.js';
import { PeerLinks } from '../../src/transport/peer-links.js';
import {
  clientHelloThen,
  closeAll,
  credentials,
  framePrefix,
  HOST,
  onCleanup,
  rawConnect,
  rawFrame,
  type RawSocket,
  type RecordingServer,
  startRecordingServer,
  waitFor,
} from './helpers.js';

afterEach(closeAll);

interface Healthy {
  readonly links: PeerLinks;
  readonly client: ClientConnection;
}

/** A real peer (node 1) and a real client connected to the server under test. */
async function connectHealthy(recording: RecordingServer): Promise<Healthy> {
  const port = recording.server.port;
  const links = new PeerLinks({ ...credentials(1), peers: [{ nodeId: 2, host: HOST, port }] });
  onCleanup(() => links.close());
  const client = await ClientConnection.connect(HOST, port);
  onCleanup(() => client.close());
  await waitFor('peer link connected', () => links.status()[0]!.state === 'connected');
  return { links, client };
}

/** The healthy peer and client still get through; also proves earlier junk was handled first. */
async function expectStillServing(recording: RecordingServer, healthy: Healthy, tag: string): Promise<void> {
  expect(await healthy.client.request({ tag })).toMatchObject({ echo: { tag } });
  expect(healthy.links.send(2, { tag })).toBe(true);
  await waitFor(`peer message ${tag}`, () => recording.peerMessages.some(({ message }) => (message as { tag?: string }).tag === tag));
}

function framesReceived(raw: RawSocket): unknown[] {
  return new FrameDecoder().push(concatBytes(...raw.received));
}

/** A raw socket that sent a well-formed peer Hello as node 1 and got the server's Challenge. */
async function rawPeerAfterChallenge(port: number): Promise<{ raw: RawSocket; challenge: PeerChallenge }> {
  const raw = await rawConnect(port);
  raw.socket.write(encodeFrame(buildPeerHello(credentials(1), randomNonce())));
  await waitFor('challenge', () => framesReceived(raw).length > 0);
  return { raw, challenge: framesReceived(raw)[0] as PeerChallenge };
}

describe('TransportServer: a bad connection is closed alone', () => {
  it('raw garbage (an HTTP request, a bad version byte) closes just that connection and is counted', async () => {
    const recording = await startRecordingServer();
    const healthy = await connectHealthy(recording);
    const http = await rawConnect(recording.server.port);
    http.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const badVersion = await rawConnect(recording.server.port);
    badVersion.socket.write(rawFrame(encodeFrame(buildClientHello()).subarray(5), { version: 7 }));
    await waitFor('both garbage sockets closed', () => http.state.closed && badVersion.state.closed);
    // "GET " read as a length prefix is ~1.2 GB: refused as oversized; the bad version as bad.
    expect(recording.server.stats()).toMatchObject({ oversizedFrames: 1, badFrames: 1, connectionsOpen: 2 });
    await expectStillServing(recording, healthy, 'after-garbage');
    expect(recording.clientRequests.map(({ request }) => request)).toEqual([expect.objectContaining({ tag: 'after-garbage' })]);
  });

  it('an oversized frame from an admitted client closes it before the body is sent', async () => {
    const recording = await startRecordingServer({ maxFrameBytes: 64 * 1024 });
    const healthy = await connectHealthy(recording);
    const raw = await rawConnect(recording.server.port);
    const prefix = new Uint8Array(4);
    writeU32(prefix, 0, 64 * 1024 + 1);
    raw.socket.write(concatBytes(encodeFrame(buildClientHello()), prefix));
    await waitFor('oversized sender closed', () => raw.state.closed);
    expect(recording.server.stats().oversizedFrames).toBe(1);
    await expectStillServing(recording, healthy, 'after-oversized');
  });

  it('before the handshake, a frame above HANDSHAKE_FRAME_BYTES_MAX is refused from its prefix', async () => {
    const recording = await startRecordingServer();
    const raw = await rawConnect(recording.server.port);
    const prefix = new Uint8Array(4);
    writeU32(prefix, 0, HANDSHAKE_FRAME_BYTES_MAX + 1);
    raw.socket.write(prefix);
    await waitFor('closed', () => raw.state.closed);
    expect(recording.server.stats().oversizedFrames).toBe(1);
  });

  it('a truncated frame followed by a close delivers nothing and does not disturb the server', async () => {
    const recording = await startRecordingServer();
    const healthy = await connectHealthy(recording);
    const raw = await rawConnect(recording.server.port);
    const request = encodeFrame({ id: 1, tag: 'truncated' });
    raw.socket.end(concatBytes(encodeFrame(buildClientHello()), request.subarray(0, request.length - 3)));
    await waitFor('truncated sender closed', () => raw.state.closed);
    await expectStillServing(recording, healthy, 'after-truncated');
    expect(recording.clientRequests.map(({ request }) => request.tag)).toEqual(['after-truncated']);
    expect(recording.server.stats()).toMatchObject({ badFrames: 0, oversizedFrames: 0, connectionsOpen: 2 });
  });

  it('a client frame without a numeric id closes that client (BAD_FRAME)', async () => {
    const recording = await startRecordingServer();
    const raw = await rawConnect(recording.server.port);
    raw.socket.write(concatBytes(encodeFrame(buildClientHello()), encodeFrame({ id: 'seven' })));
    await waitFor('closed', () => raw.state.closed);
    expect(recording.server.stats().badFrames).toBe(1);
    expect(recording.clientRequests).toEqual([]);
  });

  it('a ClientHello beyond clientConnectionsMax is refused and counted; the open clients keep working', async () => {
    const recording = await startRecordingServer({ clientConnectionsMax: 2 });
    const first = await ClientConnection.connect(HOST, recording.server.port);
    onCleanup(() => first.close());
    const second = await ClientConnection.connect(HOST, recording.server.port);
    onCleanup(() => second.close());
    await waitFor('two clients admitted', () => recording.server.stats().clientConnectionsOpen === 2);
    const third = await rawConnect(recording.server.port);
    third.socket.write(encodeFrame(buildClientHello()));
    await waitFor('third closed', () => third.state.closed);
    expect(recording.server.stats()).toMatchObject({ connectionsRefused: 1, clientsRefusedFull: 1, connectionsOpen: 2 });
    expect(await first.request({ n: 1 })).toMatchObject({ echo: { n: 1 } });
    expect(await second.request({ n: 2 })).toMatchObject({ echo: { n: 2 } });
  });
});

describe('TransportServer: nothing from an unauthenticated peer is delivered', () => {
  it('a stranger that skips the handshake and sends peer messages gets nothing delivered', async () => {
    const recording = await startRecordingServer();
    const healthy = await connectHealthy(recording);
    const stranger = await rawConnect(recording.server.port);
    stranger.socket.write(concatBytes(encodeFrame({ kind: 'accept', slot: 1, tag: 'stranger' }), encodeFrame({ kind: 'prepare', tag: 'stranger' })));
    await waitFor('stranger closed', () => stranger.state.closed);
    expect(recording.server.stats().authFailures).toBe(1);
    await expectStillServing(recording, healthy, 'after-stranger');
    expect(recording.peerMessages).toEqual([{ from: 1, message: { tag: 'after-stranger' } }]);
    expect(recording.clientRequests.map(({ request }) => request.tag)).toEqual(['after-stranger']);
  });

  it('a stranger that answers the Challenge with a forged proof, then sends messages, gets nothing delivered', async () => {
    const recording = await startRecordingServer();
    const healthy = await connectHealthy(recording);
    const { raw, challenge } = await rawPeerAfterChallenge(recording.server.port);
    expect(challenge).toMatchObject({ v: 1, kind: 'challenge', nodeId: 2 });
    const forged = encodeFrame({ v: 1, kind: 'proof', proof: randomNonce() });
    raw.socket.write(concatBytes(forged, encodeFrame({ kind: 'accept', tag: 'forged' })));
    await waitFor('forger closed', () => raw.state.closed);
    expect(recording.server.stats().authFailures).toBe(1);
    await expectStillServing(recording, healthy, 'after-forger');
    expect(recording.peerMessages).toEqual([{ from: 1, message: { tag: 'after-forger' } }]);
  });

  it('a stranger that sends a Hello and then messages instead of a Proof gets nothing delivered', async () => {
    const recording = await startRecordingServer();
    const healthy = await connectHealthy(recording);
    const raw = await rawConnect(recording.server.port);
    raw.socket.write(concatBytes(encodeFrame(buildPeerHello(credentials(1), randomNonce())), encodeFrame({ kind: 'accept', tag: 'eager' })));
    await waitFor('eager stranger closed', () => raw.state.closed);
    expect(recording.server.stats().authFailures).toBe(1);
    await expectStillServing(recording, healthy, 'after-eager');
    expect(recording.peerMessages).toEqual([{ from: 1, message: { tag: 'after-eager' } }]);
  });

  it('a replayed Hello (same nonce) is refused before any Challenge is sent', async () => {
    const recording = await startRecordingServer();
    const hello = encodeFrame(buildPeerHello(credentials(1), randomNonce()));
    const original = await rawConnect(recording.server.port);
    original.socket.write(hello);
    await waitFor('challenge to the original', () => framesReceived(original).length === 1);
    const replay = await rawConnect(recording.server.port);
    replay.socket.write(hello);
    await waitFor('replay closed', () => replay.state.closed);
    expect(replay.received).toEqual([]);
    expect(recording.server.stats().authFailures).toBe(1);
  });

  it('a connection that does not finish its handshake in time is closed and counted', async () => {
    const recording = await startRecordingServer({ handshakeTimeoutMs: 50 });
    const silent = await rawConnect(recording.server.port);
    await waitFor('silent socket closed', () => silent.state.closed);
    const { raw: stalled } = await rawPeerAfterChallenge(recording.server.port);
    await waitFor('stalled peer closed', () => stalled.state.closed);
    expect(recording.server.stats().authFailures).toBe(2);
    expect(recording.server.connectedPeers()).toEqual([]);
  });
});

/** Waits `ms` of wall time (the server's sweep runs on real timers). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('TransportServer: frame bounds by connection class', () => {
  it('a client frame over CLIENT_FRAME_BYTES_MAX is refused from its prefix, before and after ClientHello', async () => {
    const recording = await startRecordingServer();
    const healthy = await connectHealthy(recording);
    const beforeHello = await rawConnect(recording.server.port);
    beforeHello.socket.write(framePrefix(CLIENT_FRAME_BYTES_MAX));
    const afterHello = await rawConnect(recording.server.port);
    // Only the prefix is sent: a node that waited for the body would never close this socket.
    afterHello.socket.write(clientHelloThen(framePrefix(CLIENT_FRAME_BYTES_MAX + 1)));
    await waitFor('both oversized senders closed', () => beforeHello.state.closed && afterHello.state.closed);
    expect(recording.server.stats()).toMatchObject({ oversizedFrames: 2, clientBufferedBytes: 0 });
    await expectStillServing(recording, healthy, 'after-oversized-client');
  });

  it('the largest request a client can need (a cas of a largest key and two largest values) fits in a client frame', async () => {
    const recording = await startRecordingServer();
    const client = await ClientConnection.connect(HOST, recording.server.port);
    onCleanup(() => client.close());
    const value = new Uint8Array(limits.valueBytesMax).fill(7);
    const command = [3, 2 ** 53 - 1, 2 ** 53 - 1, 'k'.repeat(limits.keyBytesMax), value, value];
    const reply = await client.request({ op: 'write', command });
    expect((reply['echo'] as { command: unknown[] }).command[3]).toBe('k'.repeat(limits.keyBytesMax));
  });

  it('an authenticated peer still gets frames above the client bound (up to FRAME_BYTES_MAX)', async () => {
    const recording = await startRecordingServer();
    const healthy = await connectHealthy(recording);
    const big = new Uint8Array(CLIENT_FRAME_BYTES_MAX * 2).fill(1);
    expect(healthy.links.send(2, { tag: 'big', big })).toBe(true);
    await waitFor('big peer message', () => recording.peerMessages.some(({ message }) => (message as { tag?: string }).tag === 'big'));
    expect(recording.server.stats().oversizedFrames).toBe(0);
    expect(recording.server.connectedPeers()).toEqual([1]);
  });
});

describe('TransportServer: slow and idle clients', () => {
  it('a client that trickles a frame is closed once the frame misses its deadline (slowloris)', async () => {
    const recording = await startRecordingServer({ frameDeadlineMs: 300, sweepIntervalMs: 20, idleTimeoutMs: 0 });
    const healthy = await connectHealthy(recording);
    const slow = await rawConnect(recording.server.port);
    const request = encodeFrame({ id: 1, tag: 'never-complete' });
    slow.socket.write(clientHelloThen(request.subarray(0, 1)));
    const startedAt = Date.now();
    for (let sent = 1; sent < request.length - 1 && !slow.state.closed; sent++) {
      slow.socket.write(request.subarray(sent, sent + 1));
      await sleep(40);
    }
    expect(slow.state.closed).toBe(true);
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(recording.server.stats()).toMatchObject({ slowFramesClosed: 1, clientBufferedBytes: 0 });
    expect(recording.clientRequests.map(({ request: r }) => r.tag)).toEqual([]);
    await expectStillServing(recording, healthy, 'after-slowloris');
  });

  it('a client that only trickles partial frames is closed as idle; one sending complete requests stays', async () => {
    const recording = await startRecordingServer({ idleTimeoutMs: 300, frameDeadlineMs: 0, sweepIntervalMs: 20 });
    const trickler = await rawConnect(recording.server.port);
    trickler.socket.write(clientHelloThen(framePrefix(1000)));
    const watcher = await ClientConnection.connect(HOST, recording.server.port);
    onCleanup(() => watcher.close());
    // A byte every 40 ms keeps the socket busy, but never completes a frame. The watcher's
    // requests go on for 800 ms, well past the idle bound.
    for (let rounds = 0; rounds < 20; rounds++) {
      if (!trickler.state.closed) trickler.socket.write(new Uint8Array([0]));
      expect(await watcher.request({ op: 'status' })).toMatchObject({ echo: { op: 'status' } });
      await sleep(40);
    }
    expect(trickler.state.closed).toBe(true);
    expect(watcher.closed).toBe(false);
    expect(recording.server.stats()).toMatchObject({ idleClosed: 1, slowFramesClosed: 0, clientConnectionsOpen: 1 });
  });
});
