/**
 * Opening a node's data directory: runs the host's restore (src/host/restore.ts, the same plan
 * the simulator runs) on the LevelDB store, and records the head it leaves. A lost head pointer
 * with intact blocks (NO_HEAD_POINTER) takes the repair path of a corrupt block: the blocks are
 * verified, the pointer is written above the last good one, and the node rejoins before it votes.
 */
import type { Sha256 } from '../lib/sha256.js';
import type { ChainProblem } from '../ledger/ledger.js';
import type { RestoredState } from '../replica/replica.js';
import { restorePlan, type RestoreOptions } from '../host/restore.js';
import type { ChainStore } from '../storage/chain-store.js';
import { runPlan } from '../storage/plan.js';

export interface RestoreReport {
  readonly restored: RestoredState;
  /** The corruption found and cut off, if any. */
  readonly repaired: ChainProblem | undefined;
  /** Whether the acceptor record was unreadable (the node then votes only after rejoining). */
  readonly acceptorRepaired: boolean;
  readonly blocks: number;
  readonly seconds: number;
  /** Height of the checkpoint the state was loaded from (undefined: replayed from genesis). */
  readonly checkpoint: number | undefined;
  readonly droppedCheckpoints: readonly string[];
}

export async function restoreNode(store: ChainStore, sha256: Sha256, options: RestoreOptions = {}): Promise<RestoreReport> {
  const started = performance.now();
  const outcome = await runPlan(restorePlan(store.head, sha256, options), store);
  store.committed(outcome.head);
  store.pruned(outcome.prunedBelow);
  return { restored: outcome.restored, repaired: outcome.repaired, acceptorRepaired: outcome.acceptorRepaired, blocks: outcome.blocks, seconds: (performance.now() - started) / 1000, checkpoint: outcome.checkpoint, droppedCheckpoints: outcome.droppedCheckpoints };
}
