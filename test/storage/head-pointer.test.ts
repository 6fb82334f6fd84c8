// A store whose head pointer is gone but whose blocks are intact: reported as such by replay and
// the chain tools (not "has no blocks", not exit 0), and rebuilt from the verified blocks when a
// node starts on it, the vote given up first (blocks above the lost pointer may be gone too).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeBatchBody } from '../../src/chain/body.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { restoreNode } from '../../src/node/restore.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { decodeAcceptorState, encodeAcceptorState } from '../../src/storage/acceptor-store.js';
import { ChainStore } from '../../src/storage/chain-store.js';
import { ACCEPTOR_KEY, HEAD_KEY } from '../../src/storage/keys.js';
import { LevelBackend } from '../../src/storage/level-backend.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';
import { replayStore } from '../../src/storage/replay.js';
import { runCli, tempDir } from '../helpers.js';

async function headlessStore(blocks: number): Promise<MemoryBackend> {
  const ledger = new Ledger(fastSha256);
  const records = [Ledger.genesisRecord(fastSha256, { clusterId: 'headless', members: [1, 2, 3], dedupCapacity: 100, createdAtMs: 1 })];
  ledger.replay(0, records[0]!);
  for (let height = 1; height <= blocks; height++) records.push(ledger.append(encodeBatchBody(height, [[1, 9, height, `k${height}`, new Uint8Array([height])]])).record);
  const backend = new MemoryBackend();
  await (await ChainStore.open(backend, fastSha256)).append(records, { sync: true });
  await backend.write([{ type: 'put', key: ACCEPTOR_KEY, value: encodeAcceptorState({ promised: 513, voting: true }) }, { type: 'del', key: HEAD_KEY }], { sync: true });
  return backend;
}

describe('a lost head pointer', () => {
  it('replay verifies the blocks and reports NO_HEAD_POINTER above the last one', async () => {
    const store = await ChainStore.open(await headlessStore(40), fastSha256);
    expect(store.head).toBeUndefined();
    expect(await store.headPointerMissing()).toBe(true);
    const report = await replayStore(store, fastSha256);
    expect(report.blocks).toBe(41);
    expect(report.ledger.head!.height).toBe(40);
    expect(report.problem).toMatchObject({ height: 41, reason: 'NO_HEAD_POINTER' });
    expect(report.problem!.message).toContain('blocks 0..40 are stored and verify');
  });

  it('restore rebuilds the pointer at the last verified block, after giving up the vote', async () => {
    const backend = await headlessStore(40);
    const report = await restoreNode(await ChainStore.open(backend, fastSha256), fastSha256);
    expect(report.repaired).toMatchObject({ reason: 'NO_HEAD_POINTER' });
    expect(report.restored.ledger.head!.height).toBe(40);
    expect(report.restored.acceptor).toEqual({ promised: 513, voting: false });
    expect(decodeAcceptorState((await backend.get(ACCEPTOR_KEY))!).voting).toBe(false);
    const reopened = await ChainStore.open(backend, fastSha256);
    expect(reopened.head!.height).toBe(40);
    expect((await replayStore(reopened, fastSha256)).problem).toBeUndefined();
  });

  it('chain verify, head and list exit 1 and say the pointer is missing', async () => {
    const temp = tempDir('paxchain-headless-');
    const dir = { path: join(temp.path, 'node'), cleanup: temp.cleanup };
    try {
      expect(runCli(['dev', 'gen', '--data', dir.path, '--blocks', '50', '--commands-per-block', '2']).status).toBe(0);
      const backend = await LevelBackend.open(join(dir.path, 'db'), { create: false });
      await backend.write([{ type: 'del', key: HEAD_KEY }], { sync: true });
      await backend.close();
      const verify = runCli(['chain', 'verify', '--data', dir.path, '--json']);
      expect(verify.status).toBe(1);
      expect(verify.json()).toMatchObject({ ok: false, blocksVerified: 51, problem: { reason: 'NO_HEAD_POINTER', height: 51 } });
      for (const command of ['head', 'list']) {
        const result = runCli(['chain', command, '--data', dir.path, '--json']);
        expect(result.status).toBe(1);
        expect(result.json().error).toMatchObject({ code: 'CORRUPT_DATA', details: { reason: 'NO_HEAD_POINTER' } });
        expect(result.json().error.message).toContain('head pointer is missing');
      }
    } finally {
      dir.cleanup();
    }
  });
});
