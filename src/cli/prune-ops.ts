/**
 * `chain prune --below H`: retention on a stopped node's store, the offline twin of
 * `node start --retain-blocks` (src/node/driver.ts). Nothing is dropped unless what is kept
 * checks out: a checkpoint at H-1 or above whose root is its header's state root, every header
 * link from genesis, and every block after the checkpoint replayed and verified.
 */
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { fastSha256 } from '../native/sha256.js';
import { verifyPrunedPlan } from '../host/restore.js';
import { prunePlan } from '../storage/chain-store.js';
import { databasePath, directoryBytes } from '../storage/data-dir.js';
import { runPlan } from '../storage/plan.js';
import { withStore } from './chain-ops.js';

export interface PruneResult {
  readonly dataDir: string;
  /** The store's oldest body above genesis before and after (1: nothing was pruned). */
  readonly oldestBodyBefore: number;
  readonly oldestBody: number;
  readonly bodiesDeleted: number;
  /** The checkpoint that makes the kept part restartable (checked before anything was deleted). */
  readonly checkpoint: number;
  readonly head: number;
  readonly diskBytesBefore: number | null;
  readonly diskBytesAfter: number | null;
  readonly seconds: number;
}

export async function pruneDataDir(dataDir: string, below: number, onProgress?: (height: number, target: number) => void): Promise<PruneResult> {
  const started = performance.now();
  const diskBytesBefore = directoryBytes(databasePath(dataDir));
  const result = await withStore(dataDir, async (store) => {
    const head = store.head;
    if (!head) throw new PaxchainError(ErrorCode.NOT_FOUND, `${dataDir} has no blocks`);
    if (below < 1 || below > head.height) {
      throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `--below ${below} is outside 1..${head.height} (bodies from genesis+1 up to the head can be pruned; genesis always stays)`, { below, head: head.height });
    }
    const before = store.oldestBody;
    const checked = await runPlan(verifyPrunedPlan(head, fastSha256, Math.max(below, store.prunedBelow), { onProgress }), store);
    if (checked.checkpoint === undefined) {
      const why = checked.unusable.length > 0 ? ` (${checked.unusable.join('; ')})` : '';
      throw new PaxchainError(
        ErrorCode.INVALID_ARGUMENT,
        `no checkpoint at height ${below - 1} or above checks out${why}: without one the node could not restart after the prune. Start and stop the node once (a clean stop writes a checkpoint at the head), or prune below a lower height`,
        { below, unusable: checked.unusable },
      );
    }
    if (checked.report.problem) {
      const problem = checked.report.problem;
      throw new PaxchainError(ErrorCode.CORRUPT_DATA, `the chain kept after the prune does not verify, so nothing was pruned: ${problem.reason} at ${problem.height}: ${problem.message}`, { ...problem });
    }
    const deleted = below > before ? await runPlan(prunePlan(below), store) : 0;
    store.pruned(below);
    return { oldestBodyBefore: before, oldestBody: store.oldestBody, bodiesDeleted: deleted, checkpoint: checked.checkpoint, head: head.height };
  });
  return { dataDir, ...result, diskBytesBefore, diskBytesAfter: directoryBytes(databasePath(dataDir)), seconds: (performance.now() - started) / 1000 };
}
