// Tampering with a stored chain is always reported at the exact first bad height, with a reason,
// never as a crash or a hang: flipped bytes, deleted, swapped and spliced-in blocks.
import { describe, expect, it } from 'vitest';
import { encodeBatchBody } from '../../src/chain/body.js';
import { Workload } from '../../src/check/workload.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { ChainStore } from '../../src/storage/chain-store.js';
import { blockKey, HEAD_KEY } from '../../src/storage/keys.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';
import { replayStore } from '../../src/storage/replay.js';

const BLOCKS = 20;

function buildRecords(seed: number, clusterId = 'tamper'): Uint8Array[] {
  const ledger = new Ledger(fastSha256);
  const records = [Ledger.genesisRecord(fastSha256, { clusterId, members: [1, 2, 3], dedupCapacity: 100, createdAtMs: 5 })];
  ledger.replay(0, records[0]!);
  const workload = new Workload({ seed, keys: 40, valueBytes: 24, clients: 10, mix: { put: 70, delete: 15, cas: 15 }, duplicateRate: 0.05 });
  for (let height = 1; height <= BLOCKS; height++) records.push(ledger.append(encodeBatchBody(100 + height, workload.batch(3))).record);
  return records;
}

async function storeWith(records: Uint8Array[]): Promise<{ backend: MemoryBackend; store: ChainStore }> {
  const backend = new MemoryBackend();
  const store = await ChainStore.open(backend, fastSha256);
  await store.append(records, { sync: true });
  return { backend, store };
}

async function firstProblem(backend: MemoryBackend) {
  const store = await ChainStore.open(backend, fastSha256);
  return (await replayStore(store, fastSha256)).problem;
}

const records = buildRecords(1);
const foreign = buildRecords(2, 'elsewhere');
const sibling = buildRecords(2);

describe('tamper detection', () => {
  it('an intact chain verifies', async () => {
    const { backend } = await storeWith(records);
    expect(await firstProblem(backend)).toBeUndefined();
  });

  for (const height of [0, 7, BLOCKS]) {
    it(`flipping any single byte of block ${height} is reported at height ${height}`, async () => {
      const { backend } = await storeWith(records);
      const original = records[height]!;
      const reasons = new Set<string>();
      for (let offset = 0; offset < original.length; offset++) {
        const tampered = original.slice();
        tampered[offset] ^= 0x01 << (offset % 8);
        await backend.write([{ type: 'put', key: blockKey(height), value: tampered }], { sync: true });
        const problem = await firstProblem(backend);
        expect(problem, `byte ${offset}`).toBeDefined();
        expect(problem!.height, `byte ${offset}: ${problem!.reason}`).toBe(height);
        reasons.add(problem!.reason);
      }
      await backend.write([{ type: 'put', key: blockKey(height), value: original }], { sync: true });
      expect(await firstProblem(backend)).toBeUndefined();
      // Every header field is covered by its own check, and the body by its hash.
      expect(reasons).toContain('BODY_HASH_MISMATCH');
      expect(reasons).toContain('HEIGHT_MISMATCH');
      expect(reasons).toContain('BAD_HEADER');
      expect(reasons).toContain(height === 0 ? 'BAD_GENESIS' : 'STATE_ROOT_MISMATCH');
    });
  }

  it('a truncated record is reported at its height', async () => {
    const { backend } = await storeWith(records);
    for (const length of [0, 1, 104, 105, records[9]!.length - 1]) {
      await backend.write([{ type: 'put', key: blockKey(9), value: records[9]!.subarray(0, length) }], { sync: true });
      expect((await firstProblem(backend))?.height, `length ${length}`).toBe(9);
    }
  });

  for (const height of [0, 1, 11, BLOCKS]) {
    it(`deleting block ${height} is reported as missing at ${height}`, async () => {
      const { backend } = await storeWith(records);
      await backend.write([{ type: 'del', key: blockKey(height) }], { sync: true });
      expect(await firstProblem(backend)).toMatchObject({ height, reason: height === 0 ? 'MISSING_BLOCK' : 'MISSING_BLOCK' });
    });
  }

  it('swapping two blocks is reported at the lower height', async () => {
    for (const [low, high] of [[3, 4], [2, 15], [0, 1]] as const) {
      const { backend } = await storeWith(records);
      await backend.write(
        [
          { type: 'put', key: blockKey(low), value: records[high]! },
          { type: 'put', key: blockKey(high), value: records[low]! },
        ],
        { sync: true },
      );
      expect(await firstProblem(backend)).toMatchObject({ height: low, reason: 'HEIGHT_MISMATCH' });
    }
  });

  it('splicing in the block of another chain at the same height is reported there', async () => {
    for (const height of [1, 8, BLOCKS]) {
      const { backend } = await storeWith(records);
      await backend.write([{ type: 'put', key: blockKey(height), value: foreign[height]! }], { sync: true });
      expect(await firstProblem(backend)).toMatchObject({ height, reason: 'PREV_HASH_MISMATCH' });
    }
    // Another cluster's genesis is a whole genesis by itself: the chain breaks at block 1's link.
    const { backend } = await storeWith(records);
    await backend.write([{ type: 'put', key: blockKey(0), value: foreign[0]! }], { sync: true });
    expect(await firstProblem(backend)).toMatchObject({ height: 1, reason: 'PREV_HASH_MISMATCH' });
  });

  it('a sibling block that validly extends the same parent is reported where the links break', async () => {
    // Same genesis and the same state before block 1: the sibling's block 1 is a valid successor
    // of genesis, so the first broken link is block 2's prevHash (or the head pointer at the top).
    const { backend } = await storeWith(records);
    await backend.write([{ type: 'put', key: blockKey(1), value: sibling[1]! }], { sync: true });
    expect(await firstProblem(backend)).toMatchObject({ height: 2, reason: 'PREV_HASH_MISMATCH' });
    const top = await storeWith(records);
    await top.backend.write([{ type: 'put', key: blockKey(BLOCKS), value: sibling[BLOCKS]! }], { sync: true });
    expect((await firstProblem(top.backend))?.height).toBe(BLOCKS);
  });

  it('a head pointer that disagrees with the blocks is reported', async () => {
    const { backend, store } = await storeWith(records);
    const head = store.head!;
    const bent = new Uint8Array(40);
    bent.set(new Uint8Array(8).fill(0), 0);
    bent[7] = head.height;
    bent.set(head.hash.map((b) => b ^ 0xff), 8);
    await backend.write([{ type: 'put', key: HEAD_KEY, value: bent }], { sync: true });
    expect(await firstProblem(backend)).toMatchObject({ height: BLOCKS, reason: 'HEAD_MISMATCH' });
    // A head pointer below the stored blocks: the blocks above it are reported.
    bent.set(records.length > 0 ? new Uint8Array(32) : bent.subarray(8), 8);
    const ledger = new Ledger(fastSha256);
    records.slice(0, 6).forEach((record, height) => ledger.replay(height, record));
    const low = new Uint8Array(40);
    low[7] = 5;
    low.set(ledger.head!.hash, 8);
    await backend.write([{ type: 'put', key: HEAD_KEY, value: low }], { sync: true });
    expect(await firstProblem(backend)).toMatchObject({ height: 6, reason: 'BLOCK_AFTER_HEAD' });
  });

  it('a chain checked against a head from elsewhere: contained, or reported at that height', async () => {
    const { backend } = await storeWith(records);
    const ledger = new Ledger(fastSha256);
    records.slice(0, 13).forEach((record, height) => ledger.replay(height, record));
    const store = await ChainStore.open(backend, fastSha256);
    expect((await replayStore(store, fastSha256, { expectHead: ledger.head! })).problem).toBeUndefined();
    const other = new Ledger(fastSha256);
    foreign.slice(0, 13).forEach((record, height) => other.replay(height, record));
    expect((await replayStore(store, fastSha256, { expectHead: other.head! })).problem).toMatchObject({ height: 12, reason: 'EXPECTED_HEAD_MISMATCH' });
    expect((await replayStore(store, fastSha256, { expectHead: { height: 99, hash: new Uint8Array(32) } })).problem).toMatchObject({ height: 99 });
  });
});
