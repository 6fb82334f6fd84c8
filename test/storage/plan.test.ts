// Store plans (src/storage/plan.ts): one plan, two executors. Replay and truncation run as plans
// on LevelDB (runPlan, whose record reads continue one iterator across chunks) and on memory
// (runPlanSync) and must give the same result.
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatchBody } from '../../src/chain/body.js';
import { OP_PUT } from '../../src/kv/command.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { ChainStore, truncatePlan } from '../../src/storage/chain-store.js';
import { blockKey } from '../../src/storage/keys.js';
import { LevelBackend } from '../../src/storage/level-backend.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';
import { runPlan, runPlanSync } from '../../src/storage/plan.js';
import { replayPlan } from '../../src/storage/replay.js';
import { bytes, tempDir } from '../helpers.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Genesis and `blocks` more: more than two replay chunks (limits.replayChunkBlocks = 1024). */
function chain(blocks: number): Uint8Array[] {
  const ledger = new Ledger(fastSha256);
  const records = [Ledger.genesisRecord(fastSha256, { clusterId: 'c', members: [1], dedupCapacity: 10, createdAtMs: 0 })];
  ledger.replay(0, records[0]!);
  for (let h = 1; h <= blocks; h++) records.push(ledger.append(encodeBatchBody(h, [[OP_PUT, 0, 0, `k${h % 7}`, bytes(`v${h}`)]])).record);
  return records;
}

describe('store plans', () => {
  it('replay and truncation give the same result on LevelDB (async) and memory (sync)', async () => {
    const records = chain(2600);
    const dir = tempDir();
    const level = await LevelBackend.open(dir.path + '/db', { create: true });
    cleanups.push(dir.cleanup, () => level.close());
    const memory = new MemoryBackend();
    const levelStore = await ChainStore.open(level, fastSha256);
    const memoryStore = await ChainStore.open(memory, fastSha256);
    await levelStore.append(records, { sync: true });
    await memoryStore.append(records, { sync: true });

    const onLevel = await runPlan(replayPlan(levelStore.head, fastSha256), levelStore);
    const onMemory = runPlanSync(replayPlan(memoryStore.head, fastSha256), memory);
    expect(onLevel.problem).toBeUndefined();
    expect(onLevel.blocks).toBe(2601);
    expect(onMemory.blocks).toBe(2601);
    expect(onMemory.ledger.head).toEqual(onLevel.ledger.head);
    expect(onMemory.ledger.state.root()).toEqual(onLevel.ledger.state.root());

    const below = (await runPlan(replayPlan(levelStore.head, fastSha256, { upTo: 999 }), levelStore)).ledger.head!;
    expect(below.height).toBe(999);
    await runPlan(truncatePlan(1000, below), { backend: level });
    runPlanSync(truncatePlan(1000, below), memory);
    for (const backend of [level, memory]) {
      expect(await backend.get(blockKey(999))).toEqual(records[999]);
      expect(await backend.get(blockKey(1000))).toBeUndefined();
      expect(await backend.get(blockKey(2600))).toBeUndefined();
    }
    const reopened = await ChainStore.open(level, fastSha256);
    expect(reopened.head).toEqual(below);
    expect((await runPlan(replayPlan(reopened.head, fastSha256), reopened)).problem).toBeUndefined();
  });
});
