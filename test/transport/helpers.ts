/** Helpers for transport tests: bounded polling, raw sockets, servers that record what they got. */
import { connect, type Socket } from 'node:net';
import { concatBytes, writeU32 } from '../../src/lib/bytes.js';
import { encodeFrame, FRAME_VERSION } from '../../src/transport/frame.js';
import { buildClientHello, type ClusterCredentials } from '../../src/transport/handshake.js';
import { type ClientRequest, TransportServer, type TransportServerOptions } from '../../src/transport/server.js';

export const HOST = '127.0.0.1';
export const CLUSTER_ID = 'test-cluster';
export const SECRET = new TextEncoder().encode('the cluster secret, 32 bytes ok!');
export const WRONG_SECRET = new TextEncoder().encode('not the cluster secret, 32 bytes');

/** Longest a test waits for something that should happen in a few milliseconds. */
const WAIT_MS_MAX = 5_000;
const POLL_INTERVAL_MS = 2;

/** Polls `condition` until it holds; fails the test after WAIT_MS_MAX. */
export async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/** Lets pending I/O callbacks and timers of zero delay run once. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function credentials(nodeId: number, overrides: Partial<ClusterCredentials> = {}): ClusterCredentials {
  return { clusterId: CLUSTER_ID, nodeId, secret: SECRET, ...overrides };
}

/** Closers run by `closeAll()` in afterEach, newest first. */
const closers: Array<() => unknown> = [];

export function onCleanup(close: () => unknown): void {
  closers.push(close);
}

export async function closeAll(): Promise<void> {
  while (closers.length > 0) await closers.pop()!();
}

export interface RecordingServer {
  readonly server: TransportServer;
  readonly peerMessages: Array<{ from: number; message: unknown }>;
  readonly clientRequests: Array<{ connectionId: number; request: ClientRequest }>;
}

/**
 * A server for node 2 of a cluster {1, 2, 3} on an ephemeral port that records every delivered
 * message; by default it echoes client requests as `{ id, echo: request }`.
 */
export async function startRecordingServer(
  overrides: Partial<TransportServerOptions> & { echo?: boolean } = {},
): Promise<RecordingServer> {
  const peerMessages: RecordingServer['peerMessages'] = [];
  const clientRequests: RecordingServer['clientRequests'] = [];
  const echo = overrides.echo ?? true;
  const holder: { server?: TransportServer } = {};
  const server = await TransportServer.start({
    ...credentials(2),
    port: 0,
    peerIds: [1, 3],
    onPeerMessage: (from, message) => {
      peerMessages.push({ from, message });
    },
    onClientRequest: (connectionId, request) => {
      clientRequests.push({ connectionId, request });
      if (echo) holder.server!.replyToClient(connectionId, { id: request.id, echo: request });
    },
    ...overrides,
  });
  holder.server = server;
  onCleanup(() => server.close());
  return { server, peerMessages, clientRequests };
}

/** A plain TCP socket that records what it receives and whether it was closed. */
export interface RawSocket {
  readonly socket: Socket;
  readonly received: Buffer[];
  readonly state: { closed: boolean };
}

/** `localAddress` picks the source address (any of 127.0.0.0/8 works on loopback). */
export async function rawConnect(port: number, localAddress?: string): Promise<RawSocket> {
  const socket = connect({ host: HOST, port, ...(localAddress === undefined ? {} : { localAddress }) });
  const raw: RawSocket = { socket, received: [], state: { closed: false } };
  socket.on('data', (chunk: Buffer) => raw.received.push(chunk));
  socket.on('error', () => {});
  socket.on('close', () => {
    raw.state.closed = true;
  });
  onCleanup(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return raw;
}

/** Bytes of a frame with an arbitrary length prefix, version byte and payload. */
export function rawFrame(payload: Uint8Array, options: { length?: number; version?: number } = {}): Uint8Array {
  const frame = new Uint8Array(5 + payload.length);
  writeU32(frame, 0, options.length ?? payload.length + 1);
  frame[4] = options.version ?? FRAME_VERSION;
  frame.set(payload, 5);
  return frame;
}

/** Bytes of a raw client that sent ClientHello and then `request` frames (each `{ id, ... }`). */
export function clientHelloThen(...requests: Uint8Array[]): Uint8Array {
  return concatBytes(encodeFrame(buildClientHello()), ...requests);
}

/** Just a length prefix announcing a frame of `length` bytes (the body is up to the caller). */
export function framePrefix(length: number): Uint8Array {
  const prefix = new Uint8Array(4);
  writeU32(prefix, 0, length);
  return prefix;
}
