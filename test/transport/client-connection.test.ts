// ClientConnection (src/transport/client-connection.ts): requests carry an id the reply echoes;
// a missing reply is TIMEOUT, a lost connection UNAVAILABLE, too many in flight OVERLOADED.
import { type AddressInfo, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isPaxchainError } from '../../src/lib/errors.js';
import { ClientConnection, type ClientConnectionOptions } from '../../src/transport/client-connection.js';
import { encodeFrame } from '../../src/transport/frame.js';
import type { ClientRequest } from '../../src/transport/server.js';
import { closeAll, HOST, onCleanup, type RecordingServer, startRecordingServer, waitFor } from './helpers.js';

afterEach(closeAll);

async function connectClient(recording: RecordingServer, options: ClientConnectionOptions = {}): Promise<ClientConnection> {
  const client = await ClientConnection.connect(HOST, recording.server.port, options);
  onCleanup(() => client.close());
  return client;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('ClientConnection', () => {
  it('matches replies to requests by id, even when the node answers out of order', async () => {
    const recording = await startRecordingServer({ echo: false });
    const client = await connectClient(recording);
    const replies = [client.request({ op: 'get', key: 'a' }), client.request({ op: 'get', key: 'b' }), client.request({ op: 'get', key: 'c' })];
    await waitFor('three requests', () => recording.clientRequests.length === 3);
    const requests = recording.clientRequests.map(({ request }) => request);
    expect(new Set(requests.map((request) => request.id)).size).toBe(3);
    for (const { connectionId, request } of [...recording.clientRequests].reverse()) {
      recording.server.replyToClient(connectionId, { id: request.id, value: `value of ${String(request['key'])}` });
    }
    expect(await Promise.all(replies)).toEqual([
      { id: requests[0]!.id, value: 'value of a' },
      { id: requests[1]!.id, value: 'value of b' },
      { id: requests[2]!.id, value: 'value of c' },
    ]);
    expect(client.inFlight).toBe(0);
  });

  it('a request without a reply rejects with TIMEOUT; a late reply is ignored and counted', async () => {
    const recording = await startRecordingServer({ echo: false });
    const client = await connectClient(recording);
    const error = await rejection(client.request({ op: 'slow' }, 30));
    expect(isPaxchainError(error, ErrorCode.TIMEOUT)).toBe(true);
    expect(client.inFlight).toBe(0);
    const { connectionId, request } = recording.clientRequests[0]!;
    recording.server.replyToClient(connectionId, { id: request.id, late: true });
    await waitFor('late reply seen', () => client.stats().lateReplies === 1);
    expect(client.closed).toBe(false);
  });

  it('pending requests reject with UNAVAILABLE when the connection drops, and so do later ones', async () => {
    const recording = await startRecordingServer({ echo: false });
    const client = await connectClient(recording);
    const pending = [client.request({ n: 1 }), client.request({ n: 2 })];
    await waitFor('two requests', () => recording.clientRequests.length === 2);
    await recording.server.close();
    for (const request of pending) expect(isPaxchainError(await rejection(request), ErrorCode.UNAVAILABLE)).toBe(true);
    expect(client.closed).toBe(true);
    expect(isPaxchainError(await rejection(client.request({ n: 3 })), ErrorCode.UNAVAILABLE)).toBe(true);
  });

  it('connecting to a port nobody listens on rejects with UNAVAILABLE', async () => {
    const recording = await startRecordingServer();
    const port = recording.server.port;
    await recording.server.close();
    const error = await rejection(ClientConnection.connect(HOST, port));
    expect(isPaxchainError(error, ErrorCode.UNAVAILABLE)).toBe(true);
  });

  it('a request beyond inFlightMax rejects with OVERLOADED; the others complete', async () => {
    const recording = await startRecordingServer({ echo: false });
    const client = await connectClient(recording, { inFlightMax: 2 });
    const first = client.request({ n: 1 });
    const second = client.request({ n: 2 });
    expect(isPaxchainError(await rejection(client.request({ n: 3 })), ErrorCode.OVERLOADED)).toBe(true);
    await waitFor('two requests', () => recording.clientRequests.length === 2);
    for (const { connectionId, request } of recording.clientRequests) recording.server.replyToClient(connectionId, { id: request.id });
    await Promise.all([first, second]);
    expect(client.inFlight).toBe(0);
    const fourth = client.request({ n: 4 });
    await waitFor('fourth request', () => recording.clientRequests.length === 3);
    const { connectionId, request } = recording.clientRequests[2]!;
    recording.server.replyToClient(connectionId, { id: request.id, n: 4 });
    expect(await fourth).toMatchObject({ n: 4 });
  });

  it('a request that brings its own id is a TypeError; so is a reply without one', async () => {
    const recording = await startRecordingServer();
    const client = await connectClient(recording);
    await expect(client.request({ id: 5, op: 'get' })).rejects.toBeInstanceOf(TypeError);
    expect(() => recording.server.replyToClient(1, { answer: 1 } as unknown as ClientRequest)).toThrow(TypeError);
  });

  it('a reply that is not a map with a numeric id closes the connection (BAD_FRAME) and fails pending requests', async () => {
    // A misbehaving node: answers every chunk it receives with a reply that has no id.
    const node = createServer((socket) => {
      socket.on('error', () => {});
      socket.on('data', () => socket.write(encodeFrame({ ok: true })));
    });
    onCleanup(() => new Promise((resolve) => node.close(resolve)));
    await new Promise<void>((resolve) => node.listen(0, HOST, resolve));
    const port = (node.address() as AddressInfo).port;
    const client = await ClientConnection.connect(HOST, port);
    onCleanup(() => client.close());
    const error = await rejection(client.request({ n: 1 }));
    expect(isPaxchainError(error, ErrorCode.UNAVAILABLE)).toBe(true);
    expect(client.stats().badFrames).toBe(1);
    expect(client.closed).toBe(true);
  });

  it('an HTTP server on the address is reported as not a paxchain node, not as a huge frame length', async () => {
    const { createServer: createHttpServer } = await import('node:http');
    const web = createHttpServer((_request, response) => response.end('hello'));
    web.on('clientError', (_error, socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    onCleanup(() => new Promise((resolve) => web.close(resolve)));
    await new Promise<void>((resolve) => web.listen(0, HOST, resolve));
    const client = await ClientConnection.connect(HOST, (web.address() as AddressInfo).port);
    onCleanup(() => client.close());
    const error = await rejection(client.request({ op: 'status' }));
    expect(isPaxchainError(error, ErrorCode.UNAVAILABLE)).toBe(true);
    expect((error as Error).message).toMatch(/not a paxchain node \(got bytes that look like HTTP: "HTTP\/1\.1 400 Bad Request"\)/);
  });
});
