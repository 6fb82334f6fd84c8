/**
 * Checking watch events without believing the node that sent them (`watch --verify`; the client's
 * side is src/client/verified-watch.ts). Pure.
 *
 * An event says: at block h, command i changed key K (put V with revisions, or delete). The check
 * believes only a head signed by a majority of the members (a verified read brings one) and hashes:
 *
 *   HeaderWindow     block hashes of a run of heights, each header linked to the one before it
 *                    (prevHash) and the run ending at the signed head's hash, so each hash in it is
 *                    the signed chain's block at that height.
 *   commandExplains  block h's body (its header's bodyHash, the header at h's hash in the window)
 *                    holds at index i a command that writes that change: a put of V, a delete, a
 *                    cas whose new value is V (or absent), a txn with such an op in a branch; a put
 *                    is modified at h (modHeight = h, createHeight <= h, version >= 1).
 *   KeyContinuity    the events of a key follow each other as revisions say they must: a put after
 *                    a put of the same incarnation has the next version, a put after a delete is
 *                    version 1 created at its block, a delete follows a put. An event left out
 *                    between two delivered ones (a put, or a delete and a put) breaks this.
 *
 * What it does not prove: that the taken branch of a cas or txn is the one the state implies
 * (that needs the state at h-1), that no put was left out between a put and a delete (a delete
 * carries no revisions), or that no event came after the last delivered one.
 */
import { bytesEqual, toHex } from '../lib/bytes.js';
import type { Sha256 } from '../lib/sha256.js';
import { type BlockRef, decodeHeader, HEADER_BYTES, hashRecord } from '../chain/block.js';
import type { Command } from '../kv/command.js';
import type { Revisions } from '../kv/table.js';

/** The change an event claims (what the watch delivered). */
export interface WatchedChange {
  readonly height: number;
  readonly index: number;
  readonly op: 'put' | 'delete';
  readonly key: string;
  readonly value: Uint8Array | null;
  readonly revisions: Revisions | null;
}

/** Why command `command` of the event's block cannot have made `change`; undefined when it can. */
export function commandExplains(command: Command, change: WatchedChange): string | undefined {
  const revisionsProblem = change.op === 'put' ? putRevisionsProblem(change) : undefined;
  if (revisionsProblem) return revisionsProblem;
  const writes = (value: Uint8Array | null): boolean => (change.op === 'delete' ? value === null : value !== null && change.value !== null && bytesEqual(value, change.value));
  let explained: boolean;
  switch (command.op) {
    case 'noop':
      explained = false;
      break;
    case 'put':
      explained = command.key === change.key && writes(command.value);
      break;
    case 'delete':
      explained = command.key === change.key && change.op === 'delete';
      break;
    case 'cas':
      explained = command.key === change.key && writes(command.value);
      break;
    case 'txn':
      explained = [...command.success, ...command.failure].some((op) => {
        if (op.kind === 'put') return op.key === change.key && writes(op.value);
        if (op.kind === 'delete') return op.key === change.key && change.op === 'delete';
        if (op.kind === 'delete-prefix') return change.key.startsWith(op.prefix) && change.op === 'delete';
        return false;
      });
      break;
  }
  return explained ? undefined : `command ${change.index} of block ${change.height} (${command.op}) does not ${change.op} ${JSON.stringify(change.key)}${change.op === 'put' ? ' with that value' : ''}`;
}

function putRevisionsProblem(change: WatchedChange): string | undefined {
  const revisions = change.revisions;
  if (change.value === null || revisions === null) return `a put of ${JSON.stringify(change.key)} without a value or revisions`;
  if (revisions.modHeight !== change.height) return `a put at block ${change.height} says it was modified at ${revisions.modHeight}`;
  if (revisions.createHeight > change.height || revisions.version < 1) return `a put at block ${change.height} has impossible revisions (created ${revisions.createHeight}, version ${revisions.version})`;
  return undefined;
}

/** Keys whose last event KeyContinuity remembers (past it the oldest is forgotten, and its next event is not checked). */
const WATCH_CONTINUITY_KEYS_MAX = 100_000;

/** The last verified event of each watched key, to check the next one against. */
export class KeyContinuity {
  private readonly last = new Map<string, WatchedChange>();

  /** Why `change` cannot follow the key's previous event; undefined when it can (or none is known). Remembers it. */
  check(change: WatchedChange): string | undefined {
    const before = this.last.get(change.key);
    this.last.delete(change.key);
    this.last.set(change.key, change);
    if (this.last.size > WATCH_CONTINUITY_KEYS_MAX) this.last.delete(this.last.keys().next().value!);
    if (!before) return undefined;
    const key = JSON.stringify(change.key);
    const at = `block ${change.height}`;
    if (change.op === 'delete') return before.op === 'delete' ? `two deletes of ${key} in a row (${before.height}, ${change.height}): the put between was left out` : undefined;
    const revisions = change.revisions!;
    if (before.op === 'delete') {
      return revisions.version === 1 && revisions.createHeight === change.height ? undefined : `${key} was deleted at ${before.height}, but the put at ${at} has version ${revisions.version} created at ${revisions.createHeight}: events were left out`;
    }
    const previous = before.revisions!;
    if (revisions.createHeight !== previous.createHeight) return `${key} was created again at ${revisions.createHeight} without a delete since ${before.height}: the delete was left out`;
    if (revisions.version !== previous.version + 1) return `${key} went from version ${previous.version} (block ${before.height}) to ${revisions.version} (${at}): ${revisions.version - previous.version - 1} puts were left out`;
    return undefined;
  }
}

/** Blocks a HeaderWindow holds at most (32 bytes each: 32 MiB), so at most this far below the signed head a verified watch starts. */
export const WATCH_VERIFY_WINDOW_BLOCKS_MAX = 1 << 20;

/**
 * Verified block hashes of heights [bottom, top], top a majority-signed head. Extended by headers
 * from top + 1 up to a newer signed head: each must link to the one before, and the last must be
 * that head; nothing is taken until the whole run checks out.
 */
export class HeaderWindow {
  private hashes: Uint8Array[] = [];
  private bottom = 0;
  private pending: { from: number; certified: BlockRef; hashes: Uint8Array[]; prev: Uint8Array | undefined; extend: boolean } | undefined;

  constructor(private readonly sha256: Sha256) {}

  /** The signed head the window ends at (-1: empty). */
  get top(): number {
    return this.hashes.length === 0 ? -1 : this.bottom + this.hashes.length - 1;
  }

  hashAt(height: number): Uint8Array | undefined {
    return height >= this.bottom ? this.hashes[height - this.bottom] : undefined;
  }

  /**
   * Starts a run of headers from `from` to `certified`: from top + 1 it extends the window (and
   * must link to its top); from any other height above the top the window starts afresh there
   * (each run ends at a signed head, so it needs no link to an older one).
   */
  begin(from: number, certified: BlockRef): string | undefined {
    if (from <= this.top) return `a run must start above the window's top ${this.top}, not at ${from}`;
    if (certified.height < from) return `the signed head ${certified.height} is below ${from}`;
    const extend = this.top >= 0 && from === this.top + 1;
    const size = certified.height - (extend ? this.bottom : from) + 1;
    if (size > WATCH_VERIFY_WINDOW_BLOCKS_MAX) return `${size} blocks to hold, over the ${WATCH_VERIFY_WINDOW_BLOCKS_MAX}-block window`;
    this.pending = { from, certified, hashes: [], prev: extend ? this.hashAt(this.top) : undefined, extend };
    return undefined;
  }

  /** The next headers of the run (concatenated, HEADER_BYTES each). A reason when one does not link. */
  add(headers: Uint8Array): string | undefined {
    const run = this.pending;
    if (!run) return 'no run begun';
    if (headers.length % HEADER_BYTES !== 0) return `headers are ${headers.length} bytes, not a multiple of ${HEADER_BYTES}`;
    for (let offset = 0; offset < headers.length; offset += HEADER_BYTES) {
      const height = run.from + run.hashes.length;
      if (height > run.certified.height) return `a header above the signed head ${run.certified.height}`;
      const record = headers.subarray(offset, offset + HEADER_BYTES);
      const header = decodeHeader(record);
      if (typeof header === 'string') return `header ${height}: ${header}`;
      if (header.height !== height) return `header ${height} says height ${header.height}`;
      if (run.prev && !bytesEqual(header.prevHash, run.prev)) return `header ${height} does not link to block ${height - 1} ${toHex(run.prev).slice(0, 16)}`;
      run.prev = hashRecord(this.sha256, record);
      run.hashes.push(run.prev);
    }
    return undefined;
  }

  /** The height the run needs next (above the signed head: complete). */
  get nextHeight(): number {
    return this.pending ? this.pending.from + this.pending.hashes.length : this.top + 1;
  }

  /** Takes the run if it ends at the signed head's hash. */
  commit(): string | undefined {
    const run = this.pending;
    this.pending = undefined;
    if (!run) return 'no run begun';
    const { certified } = run;
    if (run.from + run.hashes.length - 1 !== certified.height) return `the run ends at ${run.from + run.hashes.length - 1}, not at the signed head ${certified.height}`;
    if (!bytesEqual(run.hashes.at(-1)!, certified.hash)) return `block ${certified.height} ${toHex(run.hashes.at(-1)!).slice(0, 16)} is not the majority-signed ${toHex(certified.hash).slice(0, 16)}`;
    if (!run.extend) {
      this.hashes = [];
      this.bottom = run.from;
    }
    for (const hash of run.hashes) this.hashes.push(hash);
    return undefined;
  }

  /** Drops the hashes below `height` (the watch has moved past them), in steps of at least half the window. */
  forgetBelow(height: number): void {
    const drop = Math.min(this.hashes.length - 1, height - this.bottom);
    if (drop <= 0 || drop * 2 < this.hashes.length) return;
    this.hashes = this.hashes.slice(drop);
    this.bottom += drop;
  }
}
