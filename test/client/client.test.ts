// PaxchainClient against scripted nodes: how it follows leader hints and what its errors promise.
import { afterEach, describe, expect, it } from 'vitest';
import { PaxchainClient } from '../../src/client/client.js';
import { ErrorCode, type PaxchainError } from '../../src/lib/errors.js';
import { closeAll, HOST, type RecordingServer, startRecordingServer } from '../transport/helpers.js';

afterEach(closeAll);

/** Two nodes that each answer every request NOT_LEADER, naming the other as leader. */
async function pointingAtEachOther(): Promise<[RecordingServer, RecordingServer]> {
  const holder: { a?: RecordingServer; b?: RecordingServer } = {};
  const answer = (self: () => RecordingServer, other: () => RecordingServer) => (connectionId: number, request: { id: number }) => {
    self().clientRequests.push({ connectionId, request: request as never });
    self().server.replyToClient(connectionId, { id: request.id, ok: false, error: 'NOT_LEADER', message: 'stale hint', leader: 9, leaderEndpoint: `${HOST}:${other().server.port}` });
  };
  holder.a = await startRecordingServer({ echo: false, onClientRequest: answer(() => holder.a!, () => holder.b!) });
  holder.b = await startRecordingServer({ echo: false, onClientRequest: answer(() => holder.b!, () => holder.a!) });
  return [holder.a, holder.b];
}

describe('PaxchainClient', () => {
  it('stale leader hints that point at each other are followed a few times, then paced, until the deadline', async () => {
    const [a, b] = await pointingAtEachOther();
    const client = new PaxchainClient({ endpoints: [`${HOST}:${a.server.port}`, `${HOST}:${b.server.port}`], timeoutMs: 800 });
    const started = performance.now();
    const error = (await client.get('k').catch((caught: unknown) => caught)) as PaxchainError;
    const elapsed = performance.now() - started;
    await client.close();
    expect([ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT]).toContain(error.code);
    // It kept trying for its whole deadline instead of burning its attempts in a tight loop.
    expect(elapsed).toBeGreaterThanOrEqual(700);
    const sent = a.clientRequests.length + b.clientRequests.length;
    expect(sent).toBeGreaterThan(4);
    expect(sent).toBeLessThan(200);
  });

  it('a write that gets no definite answer says its outcome is unknown, with its session', async () => {
    const [a, b] = await pointingAtEachOther();
    const client = new PaxchainClient({ endpoints: [`${HOST}:${a.server.port}`, `${HOST}:${b.server.port}`], timeoutMs: 1000 });
    const error = (await client.put('k', 'v').catch((caught: unknown) => caught)) as PaxchainError;
    await client.close();
    // UNAVAILABLE, or TIMEOUT if the loaded machine let an attempt run out of time: either way
    // the write was sent and not answered.
    expect([ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT]).toContain(error.code);
    expect(error.message).toMatch(/may or may not have been applied/);
    expect(error.details).toMatchObject({ outcome: 'unknown', seq: 1 });
    expect(error.details['session']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a read or a status request that gets no answer says so, without any note about writes', async () => {
    const silent = await startRecordingServer({ echo: false }); // accepts requests, never answers
    const endpoint = `${HOST}:${silent.server.port}`;
    const client = new PaxchainClient({ endpoints: [endpoint], timeoutMs: 300 });
    const read = (await client.get('k', { stale: true }).catch((caught: unknown) => caught)) as PaxchainError;
    const status = (await client.status(endpoint).catch((caught: unknown) => caught)) as PaxchainError;
    await client.close();
    for (const error of [read, status]) {
      expect(error.code).toBe(ErrorCode.TIMEOUT);
      expect(error.message).not.toMatch(/write/);
      expect(error.details['outcome']).toBeUndefined();
    }
  });

  it('a deadline that runs out on a silent node, after another node refused, says UNAVAILABLE (no leader reachable), not TIMEOUT', async () => {
    // The shape of a majority outage: a dead member refuses connections while a survivor that
    // still believes it leads holds the request until the client's deadline.
    const silent = await startRecordingServer({ echo: false });
    const refused = await startRecordingServer({ echo: false });
    const deadPort = refused.server.port;
    await refused.server.close();
    const client = new PaxchainClient({ endpoints: [`${HOST}:${deadPort}`, `${HOST}:${silent.server.port}`], timeoutMs: 900, attemptTimeoutMs: 300 });
    const error = (await client.put('k', 'v').catch((caught: unknown) => caught)) as PaxchainError;
    await client.close();
    expect(error.code).toBe(ErrorCode.UNAVAILABLE);
    expect(error.message).toMatch(/no leader with a majority reachable/);
    expect(error.message).toMatch(/may or may not have been applied/);
    expect(silent.clientRequests.length).toBeGreaterThan(0);
  });
});
