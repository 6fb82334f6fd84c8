/**
 * `get KEY --at H` and `get --prefix P --at H`: the state of an older block, rebuilt by replaying
 * (and so verifying: every link, body hash and state root) the chain from genesis to H, from a
 * running node's blocks or a stopped node's store, as `kv dump --at` does. A node that pruned the
 * bodies it would need (retention) cannot give that state: PRUNED says so and where its bodies
 * start; a height above the head is NOT_FOUND.
 */
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import type { KvState } from '../kv/state.js';
import { fastSha256 } from '../native/sha256.js';
import { replayStore } from '../storage/replay.js';
import { type ChainTarget, withSource } from '../cli/chain-ops.js';

export interface StateAt {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly state: KvState;
}

/** The replayed state after block `at` (`onProgress` as replay reports it). */
export async function stateAt(target: ChainTarget, at: number, onProgress?: (height: number, target: number) => void): Promise<StateAt> {
  return withSource(target, async (source) => {
    if (!source.head) throw new PaxchainError(ErrorCode.NOT_FOUND, 'no chain to read');
    if (at > source.head.height) throw new PaxchainError(ErrorCode.NOT_FOUND, `height ${at} is above the head ${source.head.height}`);
    const report = await replayStore(source, fastSha256, { upTo: at, onProgress });
    const problem = report.problem;
    if (problem?.reason === 'PRUNED') throw new PaxchainError(ErrorCode.PRUNED, `cannot rebuild the state at height ${at} here: ${problem.message}`, { height: at });
    if (problem && problem.height <= at) throw new PaxchainError(ErrorCode.CORRUPT_DATA, `chain broken at height ${problem.height}: ${problem.reason}`, { ...problem });
    const head = report.ledger.head!;
    if (head.height !== at) throw new PaxchainError(ErrorCode.UNAVAILABLE, `the replay stopped at height ${head.height}, before ${at}`);
    return { height: head.height, hash: head.hash, state: report.ledger.state };
  });
}
