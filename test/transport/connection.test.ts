// Connection (src/transport/connection.ts): bounded outgoing queue that respects socket
// backpressure, one socket write per batch of frames queued in a tick, bounded work per event-loop
// turn, and timeouts that close the connection.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { concatBytes, writeU32 } from '../../src/lib/bytes.js';
import { ErrorCode, isPaxchainError } from '../../src/lib/errors.js';
import { Connection, type ConnectionOptions, newCounters } from '../../src/transport/connection.js';
import { encodeFrame } from '../../src/transport/frame.js';
import { FRAMES_PER_PUSH_MAX, WRITE_BATCH_FRAMES_MAX } from '../../src/transport/limits.js';
import { closeAll, HOST, nextTurn, onCleanup, waitFor } from './helpers.js';

afterEach(closeAll);

/** Two connected sockets: `near` (ours) and `far` (the other end), both closed on cleanup. */
async function socketPair(): Promise<{ near: Socket; far: Socket }> {
  const server: Server = createServer();
  const farSocket = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const near = connect({ host: HOST, port: address.port });
  const far = await farSocket;
  server.close();
  far.on('error', () => {});
  onCleanup(() => far.destroy());
  onCleanup(() => near.destroy());
  await new Promise<void>((resolve) => (near.connecting ? near.once('connect', () => resolve()) : resolve()));
  return { near, far };
}

/** A Connection over `socket` that records its messages and close reason. */
function wrap(socket: Socket, options: Partial<ConnectionOptions> = {}) {
  const received: unknown[] = [];
  const outcome: { closed: boolean; reason: Error | undefined } = { closed: false, reason: undefined };
  const connection = new Connection(
    socket,
    (reason) => {
      outcome.closed = true;
      outcome.reason = reason;
    },
    { counters: newCounters(), handshakeTimeoutMs: 0, ...options },
  );
  connection.handshakeDone();
  connection.setMessageHandler((message) => received.push(message));
  onCleanup(() => connection.close());
  return { connection, received, outcome, counters: options.counters };
}

describe('Connection', () => {
  it('frames queued in the same tick leave in one corked write, at most WRITE_BATCH_FRAMES_MAX per write', async () => {
    const { near, far } = await socketPair();
    const receiver = wrap(far);
    let uncorks = 0;
    const uncork = near.uncork.bind(near);
    near.uncork = () => {
      uncorks++;
      uncork();
    };
    const sender = wrap(near);
    for (let i = 0; i < 100; i++) expect(sender.connection.send(i)).toBe(true);
    await waitFor('100 frames', () => receiver.received.length === 100);
    expect(uncorks).toBe(1);
    const many = WRITE_BATCH_FRAMES_MAX * 2 + 1;
    for (let i = 0; i < many; i++) sender.connection.send(i);
    await waitFor('all frames', () => receiver.received.length === 100 + many);
    expect(uncorks).toBe(1 + 3);
    expect(receiver.received.slice(100)).toEqual(Array.from({ length: many }, (_, i) => i));
  });

  it('respects backpressure: a receiver that stops reading fills the queue, send() returns false, then it drains', async () => {
    const { near, far } = await socketPair();
    far.pause();
    const counters = newCounters();
    const sender = wrap(near, { counters, sendQueueBytesMax: 1024 * 1024 });
    const frame = encodeFrame(new Uint8Array(64 * 1024));
    let refused = false;
    // Bounded: kernel buffers plus the socket's own buffer hold a few MiB at most.
    for (let round = 0; round < 4096 && !refused; round++) {
      refused = !sender.connection.sendFrame(frame);
      await nextTurn();
    }
    expect(refused).toBe(true);
    expect(sender.connection.queuedBytes).toBeGreaterThan(1024 * 1024 - frame.length);
    expect(counters.drops).toBe(1);
    far.on('data', () => {});
    far.resume();
    await waitFor('queue drained', () => sender.connection.queuedBytes === 0);
    expect(sender.connection.sendFrame(frame)).toBe(true);
  });

  it('delivers thousands of frames from one chunk in order, at most FRAMES_PER_PUSH_MAX per event-loop turn', async () => {
    const { near, far } = await socketPair();
    const receiver = wrap(far);
    // Frames delivered between two check phases of the event loop: one "run" per turn.
    const runs: number[] = [];
    let run = 0;
    receiver.connection.setMessageHandler((message) => {
      if (run === 0) {
        setImmediate(() => {
          runs.push(run);
          run = 0;
        });
      }
      run++;
      receiver.received.push(message);
    });
    const count = FRAMES_PER_PUSH_MAX * 4 + 3;
    near.write(concatBytes(...Array.from({ length: count }, (_, i) => encodeFrame(i))));
    await waitFor('all frames', () => receiver.received.length === count && run === 0);
    expect(receiver.received).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(Math.max(...runs)).toBeLessThanOrEqual(FRAMES_PER_PUSH_MAX);
    expect(runs.reduce((sum, frames) => sum + frames, 0)).toBe(count);
  });

  it('a protocol error closes the connection, counts it, and stops delivery of later frames', async () => {
    const { near, far } = await socketPair();
    const counters = newCounters();
    const receiver = wrap(far, { counters });
    near.write(concatBytes(encodeFrame('before'), new Uint8Array(4), encodeFrame('after')));
    await waitFor('closed', () => receiver.outcome.closed);
    expect(receiver.received).toEqual(['before']);
    expect(isPaxchainError(receiver.outcome.reason, ErrorCode.BAD_FRAME)).toBe(true);
    expect(counters).toMatchObject({ badFrames: 1, framesIn: 1 });
  });

  it('send() on a closed connection returns false and counts a drop', async () => {
    const { near } = await socketPair();
    const counters = newCounters();
    const sender = wrap(near, { counters });
    sender.connection.close();
    expect(sender.connection.send('late')).toBe(false);
    expect(counters.drops).toBe(1);
  });

  it('closes after idleTimeoutMs without traffic, with a TIMEOUT reason', async () => {
    const { near } = await socketPair();
    const idle = wrap(near, { idleTimeoutMs: 30 });
    await waitFor('idle close', () => idle.outcome.closed);
    expect(isPaxchainError(idle.outcome.reason, ErrorCode.TIMEOUT)).toBe(true);
  });

  it('closes with AUTH_FAILED, counted, when the handshake is not done in time', async () => {
    const { near } = await socketPair();
    const counters = newCounters();
    const outcome: { reason?: Error } = {};
    const connection = new Connection(near, (reason) => (outcome.reason = reason), { counters, handshakeTimeoutMs: 30 });
    onCleanup(() => connection.close());
    await waitFor('handshake timeout', () => outcome.reason !== undefined);
    expect(isPaxchainError(outcome.reason, ErrorCode.AUTH_FAILED)).toBe(true);
    expect(counters.authFailures).toBe(1);
  });

  it('a closed connection releases what it buffered, even while the Connection object is still referenced', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { far } = await socketPair();
    const reports: number[] = [];
    const receiver = wrap(far, { onBufferedBytes: (_connection, bytes) => reports.push(bytes) });
    // A partial frame under the assembly size is kept as the received chunk itself.
    let chunk: Buffer | undefined = Buffer.alloc(32 * 1024);
    writeU32(chunk, 0, 60 * 1024);
    const chunkRef = new WeakRef(chunk);
    far.emit('data', chunk);
    chunk = undefined;
    expect(receiver.connection.bufferedBytes).toBe(32 * 1024);
    receiver.connection.close();
    await receiver.connection.whenClosed();
    // deref() keeps its target alive until the end of the current job, so collect in fresh turns first.
    for (let attempt = 0; attempt < 3; attempt++) {
      await nextTurn();
      gc();
    }
    expect(chunkRef.deref()).toBeUndefined();
    expect(receiver.connection.bufferedBytes).toBe(0);
    expect(reports).toEqual([32 * 1024, 0]);
  });
});
