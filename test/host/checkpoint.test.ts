// Checkpoints (src/storage/checkpoint-store.ts) and the restart from one (src/host/restore.ts):
// the state loaded from a checkpoint plus the blocks after it is the state a replay from genesis
// gives; a crash at every step of writing one leaves a store that restores correctly; a damaged or
// tampered checkpoint is dropped and an older one (or a full replay) is used instead.
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/lib/bytes.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { bootstrapSync } from '../../src/host/genesis.js';
import { restoreSync } from '../../src/host/restore.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { encodeManifest, chunkHash, decodeManifest, writeCheckpointPlan } from '../../src/storage/checkpoint-store.js';
import { checkpointKey, chunkKey, headerKey } from '../../src/storage/keys.js';
import type { ChainStore } from '../../src/storage/chain-store.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';
import { runPlanSync, type StoreOp } from '../../src/storage/plan.js';
import { SNAPSHOT_CHUNK_BYTES } from '../../src/kv/snapshot.js';

const genesis = { clusterId: 'checkpoint', members: [1, 2, 3], dedupCapacity: 50, createdAtMs: 1 };

/** A store of `blocks` blocks: puts over 300 keys (values up to 3 KB, so several chunks), deletes, 80 clients (more than the dedup capacity). */
function chainStore(blocks: number): { backend: MemoryBackend; ledger: Ledger } {
  const backend = new MemoryBackend();
  bootstrapSync(backend, fastSha256, genesis, true);
  const ledger = new Ledger(fastSha256);
  ledger.replay(0, Ledger.genesisRecord(fastSha256, genesis));
  const { store } = restoreSync(backend, fastSha256);
  for (let height = 1; height <= blocks; height++) append(backend, store, ledger, height);
  return { backend, ledger };
}

function append(backend: MemoryBackend, store: ChainStore, ledger: Ledger, height: number): void {
  const { ops, head } = store.prepareAppend([ledger.append(body(height)).record]);
  backend.writeSync(ops, { sync: true });
  store.committed(head);
}

function body(height: number): Uint8Array {
  const commands: unknown[] = [];
  for (let i = 0; i < 20; i++) {
    const n = height * 20 + i;
    const client = new Uint8Array(16).fill(n % 80);
    commands.push(n % 7 === 0 ? [2, client, n, `k${n % 300}`] : [1, client, n, `k${n % 300}`, new Uint8Array((n * 37) % 3000).fill(n & 0xff)]);
  }
  return encodeBatchBody(height, commands);
}

function appendBlocks(backend: MemoryBackend, ledger: Ledger, from: number, to: number): void {
  const { store } = restoreSync(backend, fastSha256);
  for (let height = from; height <= to; height++) append(backend, store, ledger, height);
}

function checkpoint(backend: MemoryBackend, ledger: Ledger, kept = 2): void {
  runPlanSync(writeCheckpointPlan(fastSha256, ledger.head!.height, ledger.head!.hash, ledger.state.snapshot(), kept), backend);
}

function fullReplayRoot(backend: MemoryBackend): string {
  return toHex(restoreSync(backend, fastSha256, { fullReplay: true }).outcome.restored.ledger.state.root());
}

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

function countSteps(plan: Generator<StoreOp, unknown, unknown>, backend: MemoryBackend): number {
  let steps = 0;
  const counting = (function* () {
    let step = plan.next();
    while (!step.done) {
      steps++;
      step = plan.next(yield step.value);
    }
    return step.value;
  })();
  runPlanSync(counting, backend);
  return steps;
}

/** Runs the first `count` operations of `plan` on `backend` and abandons it (a crash there). */
function runSteps(plan: Generator<StoreOp, unknown, unknown>, backend: MemoryBackend, count: number): void {
  let done = 0;
  const cut = (function* () {
    let step = plan.next();
    while (!step.done && done < count) {
      done++;
      step = plan.next(yield step.value);
    }
    return undefined;
  })();
  runPlanSync(cut, backend);
}
