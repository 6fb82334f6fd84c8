/**
 * Hostile connections against one node endpoint, as issue 10 found them: partial large frames,
 * frames announced over the client bound, hello-only floods, and slowloris trickles before and
 * after the Hello. Each kind is a function opening one socket; `openHostile` mixes them.
 */
import { connect, type Socket } from 'node:net';
import { writeU32 } from '../../src/lib/bytes.js';
import { encodeFrame } from '../../src/transport/frame.js';
import { buildClientHello } from '../../src/transport/handshake.js';
import { CLIENT_FRAME_BYTES_MAX, FRAME_BYTES_MAX } from '../../src/transport/limits.js';

export type HostileKind = 'partial-large' | 'oversized' | 'hello-only' | 'slow-frame' | 'slow-hello';

/** Shares of each kind in 1,000 connections (they sum to 1,000). */
export const HOSTILE_MIX: ReadonlyArray<readonly [HostileKind, number]> = [
  ['partial-large', 250],
  ['oversized', 50],
  ['hello-only', 350],
  ['slow-frame', 175],
  ['slow-hello', 175],
];

/** Interval between two trickled bytes of a slowloris socket. */
const TRICKLE_INTERVAL_MS = 2_000;
/** The client frame announced by a partial-large socket; all but the last KiB is sent. */
const PARTIAL_FRAME_BYTES = CLIENT_FRAME_BYTES_MAX - 64;
const HELLO = encodeFrame(buildClientHello());
/** One shared body for every partial-large socket (written, never copied per socket). */
const PARTIAL_BODY = Buffer.alloc(PARTIAL_FRAME_BYTES - 1024, 0x61);

export interface HostileSocket {
  readonly kind: HostileKind;
  readonly socket: Socket;
  /** The node closed it (or it failed) before we did. */
  closedByNode: boolean;
  timer: NodeJS.Timeout | undefined;
}

function prefix(length: number): Buffer {
  const bytes = Buffer.alloc(4);
  writeU32(bytes, 0, length);
  return bytes;
}

function trickle(hostile: HostileSocket, bytes: Uint8Array): void {
  let sent = 0;
  hostile.timer = setInterval(() => {
    if (hostile.socket.destroyed || sent >= bytes.length - 1) return;
    hostile.socket.write(bytes.subarray(sent, sent + 1));
    sent++;
  }, TRICKLE_INTERVAL_MS);
}

function start(hostile: HostileSocket): void {
  const { socket } = hostile;
  switch (hostile.kind) {
    case 'partial-large':
      socket.write(Buffer.concat([HELLO, prefix(PARTIAL_FRAME_BYTES)]));
      socket.write(PARTIAL_BODY);
      break;
    case 'oversized':
      // The old bound: a 16 MiB frame after the Hello, 64 KiB of it sent.
      socket.write(Buffer.concat([HELLO, prefix(FRAME_BYTES_MAX), Buffer.alloc(64 * 1024)]));
      break;
    case 'hello-only':
      socket.write(HELLO);
      break;
    case 'slow-frame':
      socket.write(HELLO);
      trickle(hostile, Buffer.from(encodeFrame({ id: 1, op: 'status', pad: 'x'.repeat(64) })));
      break;
    case 'slow-hello':
      trickle(hostile, HELLO);
      break;
  }
}

/** Opens one hostile socket from `localAddress` to host:port; resolves once connected or failed. */
export function openHostile(kind: HostileKind, host: string, port: number, localAddress: string): Promise<HostileSocket> {
  const socket = connect({ host, port, localAddress });
  const hostile: HostileSocket = { kind, socket, closedByNode: false, timer: undefined };
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.on('close', () => {
    clearInterval(hostile.timer);
    if (!ownClose.has(socket)) hostile.closedByNode = true;
  });
  return new Promise((resolve) => {
    socket.once('connect', () => {
      start(hostile);
      resolve(hostile);
    });
    socket.once('error', () => {
      hostile.closedByNode = true;
      resolve(hostile);
    });
  });
}

const ownClose = new WeakSet<Socket>();

/** Closes a hostile socket from our side. */
export function closeHostile(hostile: HostileSocket): Promise<void> {
  clearInterval(hostile.timer);
  if (hostile.socket.destroyed) return Promise.resolve();
  ownClose.add(hostile.socket);
  return new Promise((resolve) => {
    hostile.socket.once('close', () => resolve());
    hostile.socket.destroy();
  });
}
