// A chain in a memory store for the host tests (checkpoints, retention, scrub): blocks of puts
// over 300 keys (values up to 3 KB, so a state of several chunks), deletes, and 80 clients, more
// than the dedup capacity; and plan runners that stop after a given step (a crash there).
import { toHex } from '../../src/lib/bytes.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { bootstrapSync } from '../../src/host/genesis.js';
import { restoreSync } from '../../src/host/restore.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { writeCheckpointPlan } from '../../src/storage/checkpoint-store.js';
import type { ChainStore } from '../../src/storage/chain-store.js';
import { MemoryBackend } from '../../src/storage/memory-backend.js';
import { runPlanSync, type StoreOp } from '../../src/storage/plan.js';

export const genesis = { clusterId: 'checkpoint', members: [1, 2, 3], dedupCapacity: 50, createdAtMs: 1 };

/** A store of `blocks` blocks: puts over 300 keys (values up to 3 KB, so several chunks), deletes, 80 clients (more than the dedup capacity). */
export function chainStore(blocks: number): { backend: MemoryBackend; ledger: Ledger } {
  const backend = new MemoryBackend();
  bootstrapSync(backend, fastSha256, genesis, true);
  const ledger = new Ledger(fastSha256);
  ledger.replay(0, Ledger.genesisRecord(fastSha256, genesis));
  const { store } = restoreSync(backend, fastSha256);
  for (let height = 1; height <= blocks; height++) append(backend, store, ledger, height);
  return { backend, ledger };
}

export function append(backend: MemoryBackend, store: ChainStore, ledger: Ledger, height: number): void {
  const { ops, head } = store.prepareAppend([ledger.append(body(height)).record]);
  backend.writeSync(ops, { sync: true });
  store.committed(head);
}

export function body(height: number): Uint8Array {
  const commands: unknown[] = [];
  for (let i = 0; i < 20; i++) {
    const n = height * 20 + i;
    const client = new Uint8Array(16).fill(n % 80);
    commands.push(n % 7 === 0 ? [2, client, n, `k${n % 300}`] : [1, client, n, `k${n % 300}`, new Uint8Array((n * 37) % 3000).fill(n & 0xff)]);
  }
  return encodeBatchBody(height, commands);
}

export function appendBlocks(backend: MemoryBackend, ledger: Ledger, from: number, to: number): void {
  const { store } = restoreSync(backend, fastSha256);
  for (let height = from; height <= to; height++) append(backend, store, ledger, height);
}

export function checkpoint(backend: MemoryBackend, ledger: Ledger, kept = 2): void {
  runPlanSync(writeCheckpointPlan(fastSha256, ledger.head!.height, ledger.head!.hash, ledger.state.snapshot(), kept), backend);
}

export function fullReplayRoot(backend: MemoryBackend): string {
  return toHex(restoreSync(backend, fastSha256, { fullReplay: true }).outcome.restored.ledger.state.root());
}

export function countSteps(plan: Generator<StoreOp, unknown, unknown>, backend: MemoryBackend): number {
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
export function runSteps(plan: Generator<StoreOp, unknown, unknown>, backend: MemoryBackend, count: number): void {
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
