// Admission (src/transport/admission.ts) and its use by TransportServer: peers never compete with
// clients for slots, clients are bounded per source address, and a flood of pending sockets
// costs the oldest pending socket its slot, never a newcomer's.
import { afterEach, describe, expect, it } from 'vitest';
import { Admission } from '../../src/transport/admission.js';
import { ClientConnection } from '../../src/transport/client-connection.js';
import { concatBytes } from '../../src/lib/bytes.js';
import { encodeFrame, FrameDecoder } from '../../src/transport/frame.js';
import { PeerLinks } from '../../src/transport/peer-links.js';
import { clientHelloThen, closeAll, credentials, HOST, onCleanup, rawConnect, startRecordingServer, waitFor } from './helpers.js';

afterEach(closeAll);

function decodeSingle(received: Buffer[]): unknown {
  const frames = new FrameDecoder().push(concatBytes(...received));
  expect(frames).toHaveLength(1);
  return frames[0];
}

const limits = { pendingMax: 3, pendingPerAddressMax: 2, clientsMax: 3, clientsPerAddressMax: 2 };

describe('Admission bookkeeping', () => {
  it('a pending connection beyond the per-address bound evicts that address’s oldest, not another address’s', () => {
    const admission = new Admission<string>(limits);
    expect(admission.admitPending('a1', 'A')).toEqual([]);
    expect(admission.admitPending('b1', 'B')).toEqual([]);
    expect(admission.admitPending('a2', 'A')).toEqual([]);
    expect(admission.admitPending('a3', 'A')).toEqual(['a1']);
    expect(admission.pendingOpen).toBe(3);
  });

  it('a pending connection beyond the total bound evicts the oldest of all', () => {
    const admission = new Admission<string>(limits);
    for (const [handle, address] of [['a', 'A'], ['b', 'B'], ['c', 'C']] as const) admission.admitPending(handle, address);
    expect(admission.admitPending('d', 'D')).toEqual(['a']);
  });

  it('clients are refused beyond the per-address and the total bound; peers leave the counts', () => {
    const admission = new Admission<string>({ ...limits, pendingMax: 10, pendingPerAddressMax: 10 });
    for (const handle of ['a1', 'a2', 'a3']) admission.admitPending(handle, 'A');
    expect([admission.admitClient('a1'), admission.admitClient('a2'), admission.admitClient('a3')]).toEqual(['admitted', 'admitted', 'address-full']);
    admission.admitPending('b1', 'B');
    admission.admitPending('c1', 'C');
    expect([admission.admitClient('b1'), admission.admitClient('c1')]).toEqual(['admitted', 'clients-full']);
    admission.admitPeer('c1');
    expect([admission.pendingOpen, admission.clientsOpen]).toEqual([1, 3]);
    admission.forget('a1');
    expect(admission.admitClient('a3')).toBe('admitted');
  });
});

describe('TransportServer admission', () => {
  it('clients beyond the per-address bound are refused and counted; another address still gets in', async () => {
    const recording = await startRecordingServer({ clientConnectionsPerAddressMax: 2 });
    const admitted = [await rawConnect(recording.server.port), await rawConnect(recording.server.port)];
    for (const raw of admitted) raw.socket.write(clientHelloThen());
    await waitFor('two clients', () => recording.server.stats().clientConnectionsOpen === 2);
    const third = await rawConnect(recording.server.port);
    third.socket.write(clientHelloThen(encodeFrame({ id: 1, tag: 'third' })));
    await waitFor('third closed', () => third.state.closed);
    const other = await rawConnect(recording.server.port, '127.0.0.2');
    other.socket.write(clientHelloThen(encodeFrame({ id: 2, tag: 'other-address' })));
    await waitFor('echo to the other address', () => other.received.length > 0);
    expect(decodeSingle(other.received)).toMatchObject({ id: 2, echo: { tag: 'other-address' } });
    expect(recording.server.stats()).toMatchObject({ clientsRefusedPerAddress: 1, clientConnectionsOpen: 3 });
    expect(recording.clientRequests.map(({ request }) => request.tag)).toEqual(['other-address']);
  });

  it('a peer authenticates while every client slot and every pending slot is taken', async () => {
    const logs: string[] = [];
    const recording = await startRecordingServer({
      clientConnectionsMax: 2,
      pendingConnectionsMax: 3,
      pendingConnectionsPerAddressMax: 3,
      // The silent sockets would hold their pending slots this long: longer than the test.
      handshakeTimeoutMs: 30_000,
      refusalLogIntervalMs: 60_000,
      onLog: (_level, message) => logs.push(message),
    });
    const port = recording.server.port;
    for (let i = 0; i < 2; i++) {
      const client = await ClientConnection.connect(HOST, port);
      onCleanup(() => client.close());
    }
    await waitFor('client slots full', () => recording.server.stats().clientConnectionsOpen === 2);
    const refused = await rawConnect(port);
    refused.socket.write(clientHelloThen());
    await waitFor('a third client refused', () => refused.state.closed);
    // Silent sockets from another address fill the pending slots (they would sit out the handshake timeout).
    for (let i = 0; i < 3; i++) await rawConnect(port, '127.0.0.2');
    await waitFor('pending full', () => recording.server.stats().pendingConnectionsOpen === 3);
    const links = new PeerLinks({ ...credentials(1), peers: [{ nodeId: 2, host: HOST, port }] });
    onCleanup(() => links.close());
    await waitFor('peer link connected', () => links.status()[0]!.state === 'connected');
    expect(links.send(2, { tag: 'peer-through' })).toBe(true);
    await waitFor('peer message', () => recording.peerMessages.some(({ message }) => (message as { tag?: string }).tag === 'peer-through'));
    expect(recording.server.connectedPeers()).toEqual([1]);
    expect(recording.server.stats()).toMatchObject({ clientsRefusedFull: 1, pendingEvicted: 1, peerConnectionsOpen: 1, clientConnectionsOpen: 2 });
    // The first refusal is logged at once, with its count and source.
    expect(logs[0]).toMatch(/refused or closed 1 unauthenticated connection\(s\): 1 clients-full; busiest sources 127\.0\.0\.1 \(1\)/);
  });
});
