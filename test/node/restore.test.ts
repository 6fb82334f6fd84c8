// Opening a data directory after corruption or a crash during repair: the node gives up its vote
// durably before it drops any block, and keeps the hashes it compares peers' heads with.
import { describe, expect, it } from 'vitest';
import { hashRecord } from '../../src/chain/block.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { restoreNode } from '../../src/node/restore.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { decodeAcceptorState, encodeAcceptorState } from '../../src/storage/acceptor-store.js';
import type { BatchOp, WriteOptions } from '../../src/storage/backend.js';
import { ChainStore } from '../../src/storage/chain-store.js';
import { ACCEPTOR_KEY, blockKey, HEAD_KEY } from '../../src/storage/keys.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';
import { sid } from '../helpers.js';

/** Records which keys each write touched, in order. */
class RecordingBackend extends MemoryBackend {
  readonly log: Array<{ keys: string[]; sync: boolean; voting?: boolean }> = [];
  override async write(ops: readonly BatchOp[], options: WriteOptions): Promise<void> {
    const keys = ops.map((op) => (op.key[0] === ACCEPTOR_KEY[0] && op.key.length === 1 ? 'acceptor' : op.key[0] === HEAD_KEY[0] && op.key.length === 1 ? 'head' : 'other'));
    const acceptor = ops.find((op) => op.type === 'put' && op.key.length === 1 && op.key[0] === ACCEPTOR_KEY[0]);
    this.log.push({ keys, sync: options.sync, voting: acceptor?.type === 'put' ? decodeAcceptorState(acceptor.value).voting : undefined });
    return super.write(ops, options);
  }
}

async function votingNode(blocks: number): Promise<{ backend: RecordingBackend; records: Uint8Array[] }> {
  const ledger = new Ledger(fastSha256);
  const records = [Ledger.genesisRecord(fastSha256, { clusterId: 'restore', members: [1, 2, 3], dedupCapacity: 100, createdAtMs: 1 })];
  ledger.replay(0, records[0]!);
  for (let height = 1; height <= blocks; height++) records.push(ledger.append(encodeBatchBody(height, [[1, sid(9), height, `k${height}`, new Uint8Array([height])]])).record);
  const backend = new RecordingBackend();
  const store = await ChainStore.open(backend, fastSha256);
  await store.append(records, { sync: true });
  await backend.write([{ type: 'put', key: ACCEPTOR_KEY, value: encodeAcceptorState({ promised: 513, voting: true }) }], { sync: true });
  backend.log.length = 0;
  return { backend, records };
}

describe('restoreNode', () => {
  it('a corrupt block: the vote is given up (synced) before the head moves, blocks below are kept', async () => {
    const { backend, records } = await votingNode(30);
    const bad = records[20]!.slice();
    bad[bad.length - 1] ^= 1;
    await backend.write([{ type: 'put', key: blockKey(20), value: bad }], { sync: true });
    backend.log.length = 0;
    const report = await restoreNode(await ChainStore.open(backend, fastSha256), fastSha256);
    expect(report.repaired).toMatchObject({ height: 20 });
    expect(report.restored.ledger.head!.height).toBe(19);
    expect(report.restored.acceptor).toEqual({ promised: 513, voting: false });
    const giveUp = backend.log.findIndex((write) => write.voting === false && write.sync);
    const headMove = backend.log.findIndex((write) => write.keys.includes('head'));
    expect(giveUp).toBeGreaterThanOrEqual(0);
    expect(headMove).toBeGreaterThan(giveUp);
    expect(decodeAcceptorState((await backend.get(ACCEPTOR_KEY))!).voting).toBe(false);
  });

  it('a crash that left no genesis but a voting acceptor (repair at height 0 cut short) restarts as a non-voter', async () => {
    const { backend } = await votingNode(5);
    const store = await ChainStore.open(backend, fastSha256);
    await store.truncateFrom(0, undefined);
    const report = await restoreNode(await ChainStore.open(backend, fastSha256), fastSha256);
    expect(report.restored.ledger.hasGenesis).toBe(false);
    expect(report.restored.acceptor.voting).toBe(false);
    expect(decodeAcceptorState((await backend.get(ACCEPTOR_KEY))!)).toEqual({ promised: 513, voting: false });
  });

  it('an intact chain keeps its vote and brings back the recent block hashes', async () => {
    const { backend, records } = await votingNode(12);
    const report = await restoreNode(await ChainStore.open(backend, fastSha256), fastSha256);
    expect(report.repaired).toBeUndefined();
    expect(report.restored.acceptor).toEqual({ promised: 513, voting: true });
    const recent = new Map(report.restored.recentHashes!.map((entry) => [entry.height, entry.hash]));
    for (let height = 0; height <= 12; height++) expect(recent.get(height)).toEqual(hashRecord(fastSha256, records[height]!));
    expect(backend.log.filter((write) => write.keys.includes('acceptor'))).toHaveLength(0);
  });
});
