// The host's Ready loop (src/host/ready-loop.ts): persist before sending a vote, group commit,
// and an fsync only when a vote or a waiting message needs it.
import { describe, expect, it } from 'vitest';
import { encodeBatchBody } from '../../src/chain/body.js';
import { bootstrapSync } from '../../src/host/genesis.js';
import { ReadyLoop } from '../../src/host/ready-loop.js';
import { restoreSync } from '../../src/host/restore.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/ledger/ledger.js';
import type { Message } from '../../src/replica/messages.js';
import { emptyReady, type Ready } from '../../src/replica/ready.js';
import { ACCEPTOR_KEY, acceptedKey } from '../../src/storage/keys.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';

const SELF = 1;
const genesis = { clusterId: 'host', members: [1, 2, 3], dedupCapacity: 10, createdAtMs: 0 };
const message = (type: string, to: number): Message => ({ type, from: SELF, to }) as unknown as Message;
const types = (messages: readonly Message[]): string[] => messages.map((m) => `${m.type}>${m.to}`);

function loop(options: { unsafeSendBeforeSync?: boolean } = {}): { host: ReadyLoop; ledger: Ledger } {
  const backend = new MemoryBackend();
  bootstrapSync(backend, fastSha256, genesis, true);
  const { store, outcome } = restoreSync(backend, fastSha256);
  return { host: new ReadyLoop(store, { nodeId: SELF, ...options }), ledger: outcome.restored.ledger };
}

function ready(fields: Partial<Ready>): Ready {
  return { ...emptyReady(), ...fields };
}

describe('ReadyLoop', () => {
  it('a promise, an acceptance and a message to itself leave only after their batch is synced; the rest at once', () => {
    const { host } = loop();
    const now = host.plan(
      ready({
        acceptor: { promised: 7, voting: true },
        accepted: [{ slot: 1, ballot: 7, value: new Uint8Array([1]) }],
        messages: [message('promise', 2), message('prepare', 3), message('accepted', 3), message('accept', SELF), message('heartbeat', 2)],
      }),
    );
    expect(types(now)).toEqual(['prepare>3', 'heartbeat>2']);
    const batch = host.nextBatch()!;
    expect(batch.sync).toBe(true);
    expect(batch.ops.map((op) => op.key[0])).toEqual([ACCEPTOR_KEY[0], acceptedKey(1)[0]]);
    expect(host.writing).toBe(true);
    expect(types(host.batchWritten())).toEqual(['promise>2', 'accepted>3', 'accept>1']);
  });

  it('group commit: Readys planned while a batch is in flight share the next batch and its one fsync', () => {
    const { host } = loop();
    host.plan(ready({ acceptor: { promised: 7, voting: true }, messages: [message('promise', 2)] }));
    const first = host.nextBatch()!;
    host.plan(ready({ accepted: [{ slot: 1, ballot: 7, value: new Uint8Array([1]) }], messages: [message('accepted', 2)] }));
    host.plan(ready({ accepted: [{ slot: 2, ballot: 7, value: new Uint8Array([2]) }], messages: [message('accepted', 3)] }));
    expect(host.nextBatch()).toBeUndefined();
    expect(first.ops).toHaveLength(1);
    expect(types(host.batchWritten())).toEqual(['promise>2']);
    const second = host.nextBatch()!;
    expect(second.ops).toHaveLength(2);
    expect(second.sync).toBe(true);
    expect(types(host.batchWritten())).toEqual(['accepted>2', 'accepted>3']);
    expect(host.nextBatch()).toBeUndefined();
  });

  it('blocks alone need no fsync, and the blocks of later Readys are planned on top of earlier ones', () => {
    const { host, ledger } = loop();
    const one = ledger.append(encodeBatchBody(1, []));
    const two = ledger.append(encodeBatchBody(2, []));
    host.plan(ready({ blocks: [one.record], blockHashes: [one.ref.hash], droppedAccepted: [1] }));
    host.plan(ready({ blocks: [two.record], blockHashes: [two.ref.hash] }));
    const batch = host.nextBatch()!;
    expect(batch.sync).toBe(false);
    // two blocks with their headers, two head pointers, one delete of the accepted entry block 1 replaced
    expect(batch.ops.map((op) => op.type)).toEqual(['put', 'put', 'put', 'del', 'put', 'put', 'put']);
    expect(host.batchWritten()).toEqual([]);
  });

  it('the test-only unsafe switch (the planted bug reply-before-persist) sends votes at once', () => {
    const { host } = loop({ unsafeSendBeforeSync: true });
    const now = host.plan(ready({ acceptor: { promised: 7, voting: true }, messages: [message('promise', 2)] }));
    expect(types(now)).toEqual(['promise>2']);
    expect(host.nextBatch()!.sync).toBe(true);
  });
});
