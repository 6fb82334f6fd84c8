/**
 * `paxchain history KEY`: every change of one key, from the chain. The chain is replayed (and so
 * verified: every link, body hash, history root and state root) from a stopped node's store or a
 * running node's blocks; each block whose commands name the key is decoded, and a command that
 * changed it (a put or a cas that wrote, a delete or a cas that deleted) is listed with its height
 * and the block's hash. Commands that changed nothing (a cas mismatch, a delete of an absent key,
 * a duplicate, whose result carries DUPLICATE_FLAG) are listed only with `all`.
 */
import { toHex, utf8 } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { HEADER_BYTES } from '../chain/block.js';
import { decodeBody } from '../chain/body.js';
import { decodeCommand, describeResult, ResultCode } from '../kv/command.js';
import { fastSha256 } from '../native/sha256.js';
import { replayStore } from '../storage/replay.js';
import { type ChainTarget, withSource } from '../cli/chain-ops.js';
import { viewValue } from '../cli/render.js';

export interface KeyChange {
  readonly height: number;
  /** The block's hash: the change is in the state whose root that header carries. */
  readonly hash: string;
  readonly op: 'put' | 'delete' | 'cas';
  readonly result: string;
  readonly changed: boolean;
  /** The value after the command (null: the key is absent), when it changed. */
  readonly value: string | null;
  readonly encoding: 'utf8' | 'base64';
}

export interface KeyHistory {
  readonly key: string;
  readonly head: { readonly height: number; readonly hash: string };
  readonly changes: KeyChange[];
}

/** Most changes listed (a key rewritten more often than this shows the newest ones). */
const CHANGES_MAX = 100_000;

export async function keyHistory(target: ChainTarget, key: string, options: { all?: boolean; onProgress?: (height: number, target: number) => void } = {}): Promise<KeyHistory> {
  const needle = utf8(key);
  const changes: KeyChange[] = [];
  return withSource(target, async (source) => {
    if (!source.head) throw new PaxchainError(ErrorCode.NOT_FOUND, 'no chain to read');
    const report = await replayStore(source, fastSha256, {
      onProgress: options.onProgress,
      onBlock: (height, record, results, hash) => {
        // A cheap filter first: most blocks do not hold the key's bytes at all.
        if (height === 0 || indexOf(record, needle, HEADER_BYTES) < 0) return;
        const body = decodeBody(record.subarray(HEADER_BYTES));
        if (typeof body === 'string' || body.kind !== 'batch') return;
        body.commands.forEach((tuple, i) => {
          const command = decodeCommand(tuple);
          if (typeof command === 'string' || command.op === 'noop' || command.key !== key) return;
          const result = results[i]!;
          // OK wrote the value (put, cas); DELETED removed the key (delete, cas to nothing).
          const changed = result === ResultCode.OK || result === ResultCode.DELETED;
          if (!changed && !options.all) return;
          const after = result === ResultCode.OK && command.op !== 'delete' ? command.value : null;
          const view = after === null ? null : viewValue(after);
          changes.push({ height, hash: toHex(hash), op: command.op, result: describeResult(result).code, changed, value: view?.data ?? null, encoding: view?.encoding ?? 'utf8' });
          if (changes.length > CHANGES_MAX) changes.shift();
        });
      },
    });
    if (report.problem) throw new PaxchainError(ErrorCode.CORRUPT_DATA, `chain broken at height ${report.problem.height}: ${report.problem.reason}`, { ...report.problem });
    const head = report.ledger.head!;
    return { key, head: { height: head.height, hash: toHex(head.hash) }, changes };
  });
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
