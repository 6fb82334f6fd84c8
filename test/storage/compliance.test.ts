// One compliance suite for every Backend (abstract-level's approach): the LevelDB store nodes use
// and the memory store the simulator uses must behave the same, and so must a ChainStore on each.
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { OP_PUT } from '../../src/kv/command.js';
import { fastSha256 } from '../../src/native/sha256.js';
import type { Backend } from '../../src/storage/backend.js';
import { ChainStore } from '../../src/storage/chain-store.js';
import { blockKey, blockKeyEnd } from '../../src/storage/keys.js';
import { LevelBackend } from '../../src/storage/level-backend.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';
import { isPaxchainError } from '../../src/lib/errors.js';
import { bytes, hex, tempDir } from '../helpers.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const backends: Record<string, () => Promise<Backend>> = {
  level: async () => {
    const dir = tempDir();
    const backend = await LevelBackend.open(dir.path + '/db', { create: true });
    cleanups.push(dir.cleanup, () => backend.close());
    return backend;
  },
  memory: async () => new MemoryBackend(),
};

const key = (...values: number[]) => Uint8Array.from(values);

async function collect(backend: Backend, gte: Uint8Array, lt: Uint8Array, chunk: number): Promise<string[]> {
  const out: string[] = [];
  for await (const entries of backend.entries({ gte, lt }, chunk)) {
    expect(entries.length).toBeLessThanOrEqual(chunk);
    for (const [k, v] of entries) out.push(`${hex(k)}=${hex(v)}`);
  }
  return out;
}

function chain(blocks: number, tag = 'v'): Uint8Array[] {
  const ledger = new Ledger(fastSha256);
  const records = [Ledger.genesisRecord(fastSha256, { clusterId: 'c', members: [1], dedupCapacity: 10, createdAtMs: 0 })];
  ledger.replay(0, records[0]!);
  for (let h = 1; h <= blocks; h++) records.push(ledger.append(encodeBatchBody(h, [[OP_PUT, null, 0, `k${h}`, bytes(`${tag}${h}`)]])).record);
  return records;
}

for (const [name, open] of Object.entries(backends)) {
  describe(`Backend compliance: ${name}`, () => {
    it('get returns undefined for a missing key and the value after a put', async () => {
      const backend = await open();
      expect(await backend.get(key(1))).toBeUndefined();
      await backend.write([{ type: 'put', key: key(1), value: key(9, 9) }], { sync: true });
      expect(await backend.get(key(1))).toEqual(key(9, 9));
    });

    it('a batch applies in order: later ops win, deletes remove', async () => {
      const backend = await open();
      await backend.write(
        [
          { type: 'put', key: key(1), value: key(1) },
          { type: 'put', key: key(2), value: key(2) },
          { type: 'put', key: key(1), value: key(3) },
          { type: 'del', key: key(2) },
        ],
        { sync: false },
      );
      expect(await backend.get(key(1))).toEqual(key(3));
      expect(await backend.get(key(2))).toBeUndefined();
    });

    it('iterates [gte, lt) in unsigned byte order, in chunks, as a snapshot', async () => {
      const backend = await open();
      const keys = [key(0x02, 0xff), key(0x02, 0x00, 0x01), key(0x01), key(0x02), key(0x03), key(0x02, 0x80)];
      await backend.write(keys.map((k, i) => ({ type: 'put' as const, key: k, value: key(i) })), { sync: true });
      const seen = await collect(backend, key(0x02), key(0x03), 2);
      expect(seen.map((entry) => entry.split('=')[0])).toEqual(['02', '020001', '0280', '02ff']);
    });

    it('iteration of block keys is numeric height order (fixed-width big-endian)', async () => {
      const backend = await open();
      const heights = [0, 1, 255, 256, 65_536, 2 ** 32, 2 ** 40 + 3];
      await backend.write([...heights].reverse().map((h) => ({ type: 'put' as const, key: blockKey(h), value: key(1) })), { sync: true });
      const seen = await collect(backend, blockKey(0), blockKeyEnd, 3);
      expect(seen.map((entry) => entry.split('=')[0])).toEqual(heights.map((h) => hex(blockKey(h))));
    });

    it('ChainStore appends only blocks that extend the head, atomically with the head pointer', async () => {
      const backend = await open();
      const records = chain(5);
      const store = await ChainStore.open(backend, fastSha256);
      expect(store.head).toBeUndefined();
      await store.append(records.slice(0, 3), { sync: true });
      expect(store.head!.height).toBe(2);
      // Wrong height (skips 3), and a replayed block (height 2 again): refused, nothing written.
      for (const bad of [[records[4]!], [records[2]!]]) {
        const error = await store.append(bad, { sync: true }).catch((e: unknown) => e);
        expect(isPaxchainError(error, 'CHAIN_MISMATCH')).toBe(true);
      }
      expect(await backend.get(blockKey(4))).toBeUndefined();
      await store.append(records.slice(3), { sync: true });
      const reopened = await ChainStore.open(backend, fastSha256);
      expect(reopened.head!.height).toBe(5);
      expect(hex(reopened.head!.hash)).toBe(hex(store.head!.hash));
      const heights: number[] = [];
      for await (const chunk of reopened.records(0, 5, 2)) heights.push(...chunk.heights);
      expect(heights).toEqual([0, 1, 2, 3, 4, 5]);
    });

    it('ChainStore refuses a block from another chain at the right height (prevHash)', async () => {
      const backend = await open();
      const store = await ChainStore.open(backend, fastSha256);
      const mine = chain(2);
      const theirs = chain(3, 'other'); // same genesis, different blocks from height 1 on
      await store.append(mine, { sync: true });
      const foreign = theirs[3]!;
      const error = await store.append([foreign], { sync: true }).catch((e: unknown) => e);
      expect(isPaxchainError(error, 'CHAIN_MISMATCH')).toBe(true);
    });

    it('truncateFrom drops a suffix and moves the head below it', async () => {
      const backend = await open();
      const store = await ChainStore.open(backend, fastSha256);
      const records = chain(6);
      await store.append(records, { sync: true });
      const ledger = new Ledger(fastSha256);
      records.slice(0, 4).forEach((record, height) => ledger.replay(height, record));
      await store.truncateFrom(4, ledger.head!);
      expect(store.head!.height).toBe(3);
      expect(await store.getRecord(4)).toBeUndefined();
      expect(await store.getRecord(6)).toBeUndefined();
      await store.append(records.slice(4), { sync: true });
      expect(store.head!.height).toBe(6);
    });
  });
}

describe('MemoryBackend crash model', () => {
  it('a crash loses exactly the writes not yet synced', async () => {
    const backend = new MemoryBackend();
    await backend.write([{ type: 'put', key: key(1), value: key(1) }], { sync: true });
    await backend.write([{ type: 'put', key: key(2), value: key(2) }], { sync: false });
    await backend.write([{ type: 'del', key: key(1) }], { sync: false });
    expect(await backend.get(key(2))).toEqual(key(2));
    backend.crash();
    expect(await backend.get(key(1))).toEqual(key(1));
    expect(await backend.get(key(2))).toBeUndefined();
  });

  it('a synced write makes earlier unsynced writes durable too (one log, in order)', async () => {
    const backend = new MemoryBackend();
    await backend.write([{ type: 'put', key: key(1), value: key(1) }], { sync: false });
    await backend.write([{ type: 'put', key: key(2), value: key(2) }], { sync: true });
    backend.crash();
    expect(await backend.get(key(1))).toEqual(key(1));
    expect(await backend.get(key(2))).toEqual(key(2));
  });
});
