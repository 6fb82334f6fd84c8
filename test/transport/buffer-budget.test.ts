// BufferBudget (src/transport/buffer-budget.ts) and its use by TransportServer: the bytes of partial
// frames that unauthenticated connections hold are bounded per node; going over closes the
// connection holding the most (ties: the oldest partial frame) first, and a closed connection's
// bytes come back.
import { afterEach, describe, expect, it } from 'vitest';
import { BufferBudget } from '../../src/transport/buffer-budget.js';
import { ClientConnection } from '../../src/transport/client-connection.js';
import { clientHelloThen, closeAll, framePrefix, HOST, onCleanup, rawConnect, type RawSocket, startRecordingServer, waitFor } from './helpers.js';

afterEach(closeAll);

const MiB = 1024 * 1024;

describe('BufferBudget bookkeeping', () => {
  it('within the bound it names nobody; over it, the largest holder, then the oldest among equals', () => {
    const budget = new BufferBudget<{ partialFrameSinceMs: number; name: string }>(100);
    const older = { partialFrameSinceMs: 1, name: 'older' };
    const newer = { partialFrameSinceMs: 2, name: 'newer' };
    const small = { partialFrameSinceMs: 0, name: 'small' };
    expect(budget.update(small, 10)).toEqual([]);
    expect(budget.update(newer, 45)).toEqual([]);
    expect(budget.update(older, 45)).toEqual([]);
    expect(budget.update(small, 20).map(({ name }) => name)).toEqual(['older']);
    expect(budget.update(older, 0)).toEqual([]);
    expect(budget.totalBytes).toBe(65);
    expect(budget.update(newer, 200).map(({ name }) => name)).toEqual(['newer']);
  });
});

describe('TransportServer: bytes of partial client frames per node', () => {
  /** A raw client that sent ClientHello, announced a `frameBytes` frame and sent `sentBytes` of it. */
  async function stalledClient(port: number, frameBytes: number, sentBytes: number): Promise<RawSocket> {
    const raw = await rawConnect(port);
    raw.socket.write(clientHelloThen(framePrefix(frameBytes), new Uint8Array(sentBytes)));
    return raw;
  }

  it('going over clientBufferedBytesMax closes the largest stalled connection first; an honest client keeps working', async () => {
    const recording = await startRecordingServer({ clientBufferedBytesMax: 3 * MiB });
    const port = recording.server.port;
    const honest = await ClientConnection.connect(HOST, port);
    onCleanup(() => honest.close());
    const largest = await stalledClient(port, 2 * MiB, 1.5 * MiB);
    await waitFor('largest buffered', () => recording.server.stats().clientBufferedBytes >= 1.5 * MiB);
    const smaller = await stalledClient(port, 2 * MiB, 1 * MiB);
    await waitFor('smaller buffered', () => recording.server.stats().clientBufferedBytes >= 2.5 * MiB);
    const newest = await stalledClient(port, 2 * MiB, 1 * MiB);
    await waitFor('largest closed', () => largest.state.closed);
    await waitFor('newest buffered', () => recording.server.stats().clientBufferedBytes >= 2 * MiB);
    expect([smaller.state.closed, newest.state.closed]).toEqual([false, false]);
    const stats = recording.server.stats();
    expect(stats.bufferBudgetClosed).toBe(1);
    expect(stats.clientBufferedBytes).toBeLessThanOrEqual(3 * MiB);
    expect(stats.clientBufferedBytesPeak).toBeGreaterThan(3 * MiB - 1);
    expect(await honest.request({ tag: 'honest' })).toMatchObject({ echo: { tag: 'honest' } });
    // Closing the stalled ones gives their bytes back to the budget.
    smaller.socket.destroy();
    newest.socket.destroy();
    await waitFor('budget empty', () => recording.server.stats().clientBufferedBytes === 0);
    expect(recording.server.stats()).toMatchObject({ clientConnectionsOpen: 1, connectionsOpen: 1 });
  });
});
