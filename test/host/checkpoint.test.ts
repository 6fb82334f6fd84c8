// Checkpoints (src/storage/checkpoint-store.ts) and the restart from one (src/host/restore.ts):
// the state loaded from a checkpoint plus the blocks after it is the state a replay from genesis
// gives; a crash at every step of writing one leaves a store that restores correctly; a damaged or
// tampered checkpoint is dropped and an older one (or a full replay) is used instead.
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/lib/bytes.js';
import { restoreSync } from '../../src/host/restore.js';
import { fastSha256 } from '../../src/native/sha256.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { encodeManifest, decodeManifest, writeCheckpointPlan } from '../../src/storage/checkpoint-store.js';
import { chunkHash } from '../../src/kv/snapshot.js';
import { checkpointKey, chunkKey, headerKey } from '../../src/storage/keys.js';
import type { MemoryBackend } from '../../src/storage/memory-backend.js';
import { SNAPSHOT_CHUNK_BYTES } from '../../src/kv/snapshot.js';
import { appendBlocks, body, chainStore, checkpoint, countSteps, fullReplayRoot, runSteps } from './chain-fixture.js';

describe('checkpoints', () => {
  it('a restart loads the newest checkpoint and replays only the blocks after it, to the state a full replay gives', () => {
    const { backend, ledger } = chainStore(40);
    checkpoint(backend, ledger);
    appendBlocks(backend, ledger, 41, 55);
    const { outcome } = restoreSync(backend, fastSha256);
    expect(outcome.checkpoint).toBe(40);
    expect(outcome.blocks).toBe(15);
    expect(outcome.droppedCheckpoints).toEqual([]);
    const restored = outcome.restored.ledger;
    expect(restored.head).toEqual(ledger.head);
    expect(toHex(restored.state.root())).toBe(toHex(ledger.state.root()));
    expect(toHex(restored.state.root())).toBe(fullReplayRoot(backend));
    expect(restored.state.keyCount).toBe(ledger.state.keyCount);
    expect([...restored.state.allSessions()].map((s) => toHex(s.id))).toEqual([...ledger.state.allSessions()].map((s) => toHex(s.id)));
    expect(toHex(restored.history.root())).toBe(toHex(ledger.history.root()));
    expect(outcome.restored.recentHashes!.at(-1)!.height).toBe(55);
    // The resumed ledger goes on like the original: the next block is byte-identical.
    expect(toHex(restored.append(body(56)).record)).toBe(toHex(ledger.append(body(56)).record));
  });

  it('a state bigger than one chunk is cut into several, and only the newest `kept` checkpoints stay', () => {
    const { backend, ledger } = chainStore(30);
    expect(ledger.state.bytes).toBeGreaterThan(SNAPSHOT_CHUNK_BYTES / 4);
    for (const height of [31, 32, 33]) {
      appendBlocks(backend, ledger, height, height);
      checkpoint(backend, ledger, 2);
    }
    expect(backend.getSync(checkpointKey(31))).toBeUndefined();
    expect(backend.getSync(chunkKey(31, 0))).toBeUndefined();
    expect(backend.getSync(checkpointKey(32))).toBeDefined();
    expect(restoreSync(backend, fastSha256).outcome.checkpoint).toBe(33);
  });

  it('a crash at every step of writing a checkpoint leaves a store that restores to the right state', () => {
    const prepared = (): { backend: MemoryBackend; ledger: Ledger } => {
      const made = chainStore(20);
      checkpoint(made.backend, made.ledger);
      appendBlocks(made.backend, made.ledger, 21, 30);
      return made;
    };
    const plan = ({ backend, ledger }: { backend: MemoryBackend; ledger: Ledger }) => ({ backend, ledger, plan: writeCheckpointPlan(fastSha256, 30, ledger.head!.hash, ledger.state.snapshot(), 1) });
    const counted = plan(prepared());
    const steps = countSteps(counted.plan, counted.backend);
    const expected = toHex(counted.ledger.state.root());
    expect(steps).toBeGreaterThan(3);
    for (let crashAfter = 0; crashAfter <= steps; crashAfter++) {
      const run = plan(prepared());
      runSteps(run.plan, run.backend, crashAfter);
      run.backend.crash();
      const { outcome } = restoreSync(run.backend, fastSha256);
      expect([20, 30], `crash after ${crashAfter} steps`).toContain(outcome.checkpoint);
      expect(toHex(outcome.restored.ledger.state.root()), `crash after ${crashAfter} steps`).toBe(expected);
      expect(outcome.droppedCheckpoints).toEqual([]);
    }
  });

  it('a damaged chunk is caught by its hash: the checkpoint is dropped and the older one used', () => {
    const { backend, ledger } = chainStore(20);
    checkpoint(backend, ledger);
    appendBlocks(backend, ledger, 21, 25);
    checkpoint(backend, ledger);
    backend.crash();
    expect(backend.flipDurableBit(chunkKey(25, 0), 200)).toBe(true);
    const { outcome } = restoreSync(backend, fastSha256);
    expect(outcome.checkpoint).toBe(20);
    expect(outcome.droppedCheckpoints).toEqual([expect.stringContaining('chunk 0 does not match its hash')]);
    expect(toHex(outcome.restored.ledger.state.root())).toBe(toHex(ledger.state.root()));
    expect(backend.getSync(checkpointKey(25))).toBeUndefined();
  });

  it('a tampered checkpoint whose manifest names the new chunk hashes is caught by the state root: replay from genesis', () => {
    const { backend, ledger } = chainStore(20);
    checkpoint(backend, ledger);
    const chunk = backend.getSync(chunkKey(20, 0))!.slice();
    chunk[chunk.length - 1] ^= 1; // the last byte of a value
    const manifest = decodeManifest(20, backend.getSync(checkpointKey(20))!);
    if (typeof manifest === 'string') throw new Error(manifest);
    const chunkHashes = manifest.chunkHashes.slice();
    chunkHashes.set(chunkHash(fastSha256, chunk), 0);
    backend.writeSync([{ type: 'put', key: chunkKey(20, 0), value: chunk }, { type: 'put', key: checkpointKey(20), value: encodeManifest({ ...manifest, chunkHashes }) }], { sync: true });
    const { outcome } = restoreSync(backend, fastSha256);
    expect(outcome.checkpoint).toBeUndefined();
    expect(outcome.blocks).toBe(21);
    expect(outcome.droppedCheckpoints).toEqual([expect.stringContaining('state root')]);
    expect(toHex(outcome.restored.ledger.state.root())).toBe(toHex(ledger.state.root()));
  });

  it('a store without headers (an older build) is replayed in full once and gets them; the next start uses its checkpoint', () => {
    const { backend, ledger } = chainStore(15);
    checkpoint(backend, ledger);
    const dels = [];
    for (let height = 0; height <= 15; height++) dels.push({ type: 'del' as const, key: headerKey(height) });
    backend.writeSync(dels, { sync: true });
    const first = restoreSync(backend, fastSha256).outcome;
    expect(first.checkpoint).toBeUndefined();
    expect(first.headersRebuilt).toBe(16);
    expect(toHex(first.restored.ledger.state.root())).toBe(toHex(ledger.state.root()));
    const second = restoreSync(backend, fastSha256).outcome;
    expect(second.checkpoint).toBe(15);
    expect(second.headersRebuilt).toBe(0);
    expect(toHex(second.restored.ledger.state.root())).toBe(toHex(ledger.state.root()));
  });
});

