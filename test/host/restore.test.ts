// The host's restore (src/host/restore.ts), one plan for LevelDB and memory: corruption at rest
// in the acceptor record is found (its CRC-32) and repaired by giving up the vote, and the
// memory run (the simulator's) gives what the node's async run gives.
import { describe, expect, it } from 'vitest';
import { encodeBatchBody } from '../../src/chain/body.js';
import { bootstrapSync } from '../../src/host/genesis.js';
import { restoreSync } from '../../src/host/restore.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { restoreNode } from '../../src/node/restore.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { decodeAcceptorState, encodeAcceptorState } from '../../src/storage/acceptor-store.js';
import { ChainStore } from '../../src/storage/chain-store.js';
import { ACCEPTOR_KEY, blockKey } from '../../src/storage/keys.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';

const genesis = { clusterId: 'restore', members: [1, 2, 3], dedupCapacity: 100, createdAtMs: 1 };

/** A voting member with `blocks` blocks after genesis and a promise of ballot 513. */
function votingStore(blocks: number): MemoryBackend {
  const backend = new MemoryBackend();
  bootstrapSync(backend, fastSha256, genesis, true);
  const ledger = new Ledger(fastSha256);
  ledger.replay(0, Ledger.genesisRecord(fastSha256, genesis));
  const records: Uint8Array[] = [];
  for (let height = 1; height <= blocks; height++) records.push(ledger.append(encodeBatchBody(height, [[1, 9, height, `k${height}`, new Uint8Array([height])]])).record);
  const { store } = restoreSync(backend, fastSha256);
  backend.writeSync(store.prepareAppend(records).ops, { sync: true });
  backend.writeSync([{ type: 'put', key: ACCEPTOR_KEY, value: encodeAcceptorState({ promised: 513, voting: true }) }], { sync: true });
  return backend;
}

describe('restore (host)', () => {
  it('every flipped bit of the acceptor record is caught: the node keeps its chain and stops voting, durably', () => {
    const length = encodeAcceptorState({ promised: 513, voting: true }).length;
    for (let bit = 0; bit < length * 8; bit++) {
      const backend = votingStore(3);
      backend.crash();
      expect(backend.flipDurableBit(ACCEPTOR_KEY, bit)).toBe(true);
      const { outcome } = restoreSync(backend, fastSha256);
      expect(outcome.acceptorRepaired, `bit ${bit}`).toBe(true);
      expect(outcome.restored.acceptor.voting).toBe(false);
      expect(outcome.head!.height).toBe(3);
      backend.crash();
      expect(decodeAcceptorState(backend.getSync(ACCEPTOR_KEY)!)).toEqual({ promised: 0, voting: false });
    }
  });

  it('the memory run and the node run of the same store give the same repair', async () => {
    const corrupt = (): MemoryBackend => {
      const backend = votingStore(20);
      backend.flipDurableBit(blockKey(14), 800);
      return backend;
    };
    const memory = corrupt();
    const sync = restoreSync(memory, fastSha256).outcome;
    const other = corrupt();
    const async = await restoreNode(await ChainStore.open(other, fastSha256), fastSha256);
    expect(sync.repaired).toEqual(async.repaired);
    expect(sync.repaired).toMatchObject({ height: 14 });
    expect(sync.head!.height).toBe(13);
    expect(sync.restored.acceptor).toEqual(async.restored.acceptor);
    expect(sync.restored.acceptor).toEqual({ promised: 513, voting: false });
    expect(sync.restored.recentHashes).toEqual(async.restored.recentHashes);
    expect(memory.getSync(blockKey(14))).toBeUndefined();
    expect(other.getSync(blockKey(14))).toBeUndefined();
  });

  it('the test-only switch (the planted bug repair-keeps-vote) truncates without giving up the vote', () => {
    const backend = votingStore(10);
    backend.flipDurableBit(blockKey(8), 30);
    const { outcome } = restoreSync(backend, fastSha256, { unsafeRepairKeepsVote: true });
    expect(outcome.repaired).toMatchObject({ height: 8 });
    expect(outcome.restored.acceptor).toEqual({ promised: 513, voting: true });
  });
});
