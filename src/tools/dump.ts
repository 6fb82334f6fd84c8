/**
 * `paxchain kv dump`: the key-value state as of a height, rebuilt by replaying (and thereby
 * verifying) the chain from a stopped node's store or from a running node, with the height,
 * block hash and state root it corresponds to.
 */
import { toHex } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { fastSha256 } from '../native/sha256.js';
import { replayStore } from '../storage/replay.js';
import { type ChainTarget, withSource } from '../cli/chain-ops.js';
import { viewValue } from '../cli/render.js';

export interface DumpEntry {
  readonly key: string;
  readonly value: string;
  readonly encoding: 'utf8' | 'base64';
}

export interface DumpResult {
  readonly height: number;
  readonly hash: string;
  readonly stateRoot: string;
  readonly keys: number;
  readonly entries: DumpEntry[];
}

export async function dumpState(
  target: ChainTarget,
  options: { at?: number; prefix?: string; onProgress?: (height: number, target: number) => void },
): Promise<DumpResult> {
  return withSource(target, async (source) => {
    if (!source.head) throw new PaxchainError(ErrorCode.NOT_FOUND, 'no chain to dump');
    if (options.at !== undefined && options.at > source.head.height) {
      throw new PaxchainError(ErrorCode.NOT_FOUND, `height ${options.at} is above the head ${source.head.height}`);
    }
    const report = await replayStore(source, fastSha256, { upTo: options.at, onProgress: options.onProgress });
    if (report.problem && (options.at === undefined || report.problem.height <= options.at)) {
      throw new PaxchainError(ErrorCode.CORRUPT_DATA, `chain broken at height ${report.problem.height}: ${report.problem.reason}`, { ...report.problem });
    }
    const head = report.ledger.head!;
    const state = report.ledger.state;
    const prefix = options.prefix ?? '';
    const entries = [...state.allEntries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => {
        const view = viewValue(value);
        return { key, value: view.data, encoding: view.encoding };
      });
    return { height: head.height, hash: toHex(head.hash), stateRoot: toHex(state.root()), keys: state.keyCount, entries };
  });
}
