/**
 * `paxchain history KEY`: every change of one key, from the chain. The chain is replayed (and so
 * verified: every link, body hash, history root and state root) from a stopped node's store or a
 * running node's blocks; the replayed state's change log (src/kv/state.ts, the one watches are
 * served from) says which command changed the key and how (a put or a cas that wrote, a delete or
 * a cas that deleted, each write of a txn's branch, by name or by prefix), and each change is
 * listed with its height and the block's hash. Commands that name the key but changed nothing (a
 * cas mismatch, a delete of an absent key, a duplicate) are listed only with `all`.
 */
import { bytesEqual, toHex, utf8 } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { HEADER_BYTES } from '../chain/block.js';
import { decodeBody } from '../chain/body.js';
import { type Command, decodeCommand, describeResult } from '../kv/command.js';
import { Ledger } from '../ledger/ledger.js';
import { fastSha256 } from '../native/sha256.js';
import { replayStore } from '../storage/replay.js';
import { type ChainTarget, withSource } from '../cli/chain-ops.js';
import { viewValue } from '../cli/render.js';

export interface KeyChange {
  readonly height: number;
  /** The block's hash: the change is in the state whose root that header carries. */
  readonly hash: string;
  readonly op: 'put' | 'delete' | 'cas' | 'txn';
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
  const ledger = new Ledger(fastSha256);
  return withSource(target, async (source) => {
    if (!source.head) throw new PaxchainError(ErrorCode.NOT_FOUND, 'no chain to read');
    const report = await replayStore(source, fastSha256, {
      from: ledger,
      onProgress: options.onProgress,
      onBlock: (height, record, results, hash) => {
        // The replayed state's change log says exactly what each command did to the key (a txn
        // may write it twice, a delete-prefix remove it without naming it); a cheap byte search
        // skips, for `all`, the blocks that do not name it.
        if (height === 0) return ledger.state.enableChangeLog();
        const mine = ledger.state.takeChanges().filter((change) => bytesEqual(change.key, needle));
        if (mine.length === 0 && (!options.all || indexOf(record, needle, HEADER_BYTES) < 0)) return;
        const body = decodeBody(record.subarray(HEADER_BYTES));
        if (typeof body === 'string' || body.kind !== 'batch') return;
        for (const change of mine) {
          const command = decodeCommand(body.commands[change.index]);
          if (typeof command === 'string' || !names(command, key)) throw new PaxchainError(ErrorCode.CORRUPT_DATA, `block ${height} changed ${key} in command ${change.index}, which does not name the key`, { height });
        }
        body.commands.forEach((tuple, i) => {
          const command = decodeCommand(tuple);
          if (typeof command === 'string' || !names(command, key)) return;
          const result = describeResult(results[i]!).code;
          const made = mine.filter((change) => change.index === i);
          if (made.length === 0 && options.all) changes.push({ height, hash: toHex(hash), op: command.op as KeyChange['op'], result, changed: false, value: null, encoding: 'utf8' });
          for (const change of made) {
            const view = change.value === null ? null : viewValue(change.value);
            changes.push({ height, hash: toHex(hash), op: command.op as KeyChange['op'], result, changed: true, value: view?.data ?? null, encoding: view?.encoding ?? 'utf8' });
          }
          if (changes.length > CHANGES_MAX) changes.splice(0, changes.length - CHANGES_MAX);
        });
      },
    });
    if (report.problem) throw new PaxchainError(ErrorCode.CORRUPT_DATA, `chain broken at height ${report.problem.height}: ${report.problem.reason}`, { ...report.problem });
    const head = report.ledger.head!;
    return { key, head: { height: head.height, hash: toHex(head.hash) }, changes };
  });
}

/** Whether a command names `key`: as its key, or for a txn in a compare, an op, or a delete-prefix covering it. */
function names(command: Command, key: string): boolean {
  switch (command.op) {
    case 'noop':
      return false;
    case 'txn':
      return (
        command.compares.some((compare) => compare.key === key) ||
        [...command.success, ...command.failure].some((op) => (op.kind === 'delete-prefix' ? key.startsWith(op.prefix) : op.key === key))
      );
    default:
      return command.key === key;
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
