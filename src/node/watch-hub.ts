/**
 * Watches: a node streams every change of a key, or of the keys with a prefix, as its blocks are
 * applied (the replica's Ready.changes, src/replica/ready.ts), from a height the client names.
 *
 * Frames on the watch's request id (src/transport/protocol.ts encodeWatchFrame):
 *   { ok: true, watch: true, height, leader, events: [[height, seq, index, op, key, value,
 *     createHeight, modHeight, version], ...] }     every event of heights up to `height` is in this or an
 *                                     earlier frame: the client resumes from height + 1
 *   { ok: false, error, message, height } the watch ended: COMPACTED (this node no longer holds
 *                                     the changes from the asked height; `height` is its oldest),
 *                                     FELL_BEHIND (the client did not read fast enough), NOT_READY
 * An idle watch gets an empty frame every WATCH_PROGRESS_MS, so that its client can tell a live
 * node from a stopped one (and a node cut off from its leader: `leader` 0) and resumes elsewhere.
 *
 * History: the changes of the last WATCH_HISTORY_EVENTS_MAX events (WATCH_HISTORY_BYTES_MAX
 * bytes) stay in memory, so a client that lost its node resumes on another from its last height;
 * older ones, or ones from before this node's restart or state sync, are COMPACTED here (another
 * node may still hold them). Events are delivered whole blocks at a time, in height then command
 * order, each at most once per watch.
 *
 * Bounds: WATCHES_MAX watches on a node, WATCHES_PER_CONNECTION_MAX on one connection, a frame of
 * at most WATCH_FRAME_EVENTS_MAX events, and a watcher whose connection holds more than
 * WATCH_BACKLOG_BYTES_MAX unsent bytes is ended with FELL_BEHIND instead of buffering more: a slow
 * reader never makes the node buffer without bound nor slows its writers (sending is a bounded,
 * non-blocking queue append per block).
 */
import type { BlockChanges } from '../replica/ready.js';
import type { KvChange } from '../kv/state.js';
import { WATCH_FRAME_EVENTS_MAX } from '../transport/protocol.js';

export const WATCH_HISTORY_EVENTS_MAX = 100_000;
const WATCH_HISTORY_BYTES_MAX = 64 * 1024 * 1024;
const WATCHES_MAX = 10_000;
export const WATCHES_PER_CONNECTION_MAX = 64;
/** Key plus value bytes after which a frame is sent (one event of the largest size still fits a frame). */
const WATCH_FRAME_BYTES_MAX = 1024 * 1024;
export const WATCH_BACKLOG_BYTES_MAX = 4 * 1024 * 1024;
export const WATCH_PROGRESS_MS = 1_000;

export interface WatchFilter {
  /** The one key watched, or with `prefix` the prefix of the keys watched (UTF-8 bytes). */
  readonly key: Uint8Array;
  readonly prefix: boolean;
}

interface Watcher extends WatchFilter {
  readonly connection: number;
  readonly id: number;
  /** Every change up to this height was sent (or did not match). */
  sentThrough: number;
  lastFrameMs: number;
}

/** What the hub needs from its node: the frames' way out and what a frame tells about the node. */
export interface WatchOutput {
  /** Queues a frame on a client connection; false if the connection is gone. */
  send(connection: number, frame: Record<string, unknown>): boolean;
  /** Bytes queued on a client connection and not yet written. */
  backlog(connection: number): number;
  /** The leader this node follows now (0: none). */
  leader(): number;
  now(): number;
}

export type WatchStart = { readonly ok: true } | { readonly ok: false; readonly error: 'COMPACTED' | 'OVERLOADED'; readonly message: string; readonly height?: number };

export class WatchHub {
  /** Blocks with changes, in height order; every height in [from, through] is covered. */
  private blocks: Array<{ readonly height: number; readonly changes: readonly KvChange[] }> = [];
  private events = 0;
  private bytes = 0;
  private from: number;
  private through: number;
  private readonly watchers = new Map<string, Watcher>();
  /** Watches ended for a slow reader, since start (a status counter). */
  fellBehind = 0;

  /** @param head the height the node's state is at when the hub starts (its history starts after it) */
  constructor(
    private readonly output: WatchOutput,
    head: number,
  ) {
    this.from = head + 1;
    this.through = head;
  }

  get watchCount(): number {
    return this.watchers.size;
  }

  /** Starts a watch from height `fromHeight` (undefined: from the next block on). */
  start(connection: number, id: number, filter: WatchFilter, fromHeight: number | undefined): WatchStart {
    if (this.watchers.size >= WATCHES_MAX) return { ok: false, error: 'OVERLOADED', message: `this node serves ${WATCHES_MAX} watches already` };
    let onConnection = 0;
    for (const watcher of this.watchers.values()) if (watcher.connection === connection) onConnection++;
    if (onConnection >= WATCHES_PER_CONNECTION_MAX) return { ok: false, error: 'OVERLOADED', message: `at most ${WATCHES_PER_CONNECTION_MAX} watches on one connection` };
    const from = fromHeight ?? this.through + 1;
    if (from < this.from) {
      return { ok: false, error: 'COMPACTED', height: this.from, message: `this node holds the changes from height ${this.from} on (the last ${WATCH_HISTORY_EVENTS_MAX} events since it started); height ${from} is older: another node may hold it` };
    }
    const watcher: Watcher = { ...filter, connection, id, sentThrough: from - 1, lastFrameMs: this.output.now() };
    this.watchers.set(`${connection}:${id}`, watcher);
    this.deliver(watcher, true);
    return { ok: true };
  }

  cancel(connection: number, id: number): void {
    this.watchers.delete(`${connection}:${id}`);
  }

  connectionClosed(connection: number): void {
    for (const [key, watcher] of this.watchers) if (watcher.connection === connection) this.watchers.delete(key);
  }

  /** The changes a Ready reported, then every watcher's new events. */
  onChanges(changes: readonly BlockChanges[], reset: number | undefined): void {
    if (reset !== undefined) this.reset(reset);
    for (const block of changes) {
      if (block.height <= this.through) continue;
      this.through = block.height;
      if (block.changes.length === 0) continue;
      // Kept as the Ready gave them (no copy per change): a change's seq is its place in its block.
      this.blocks.push({ height: block.height, changes: block.changes });
      this.events += block.changes.length;
      for (const change of block.changes) this.bytes += change.key.length + (change.value?.length ?? 0) + 64;
    }
    this.trim();
    if (changes.length > 0 || reset !== undefined) for (const watcher of [...this.watchers.values()]) this.deliver(watcher, false);
  }

  /** Empty frames for watches idle for WATCH_PROGRESS_MS (call about that often). */
  progress(): void {
    const now = this.output.now();
    for (const watcher of [...this.watchers.values()]) if (now - watcher.lastFrameMs >= WATCH_PROGRESS_MS) this.deliver(watcher, true);
  }

  /** A state sync moved the state to `height`: the changes below it are not known here. */
  private reset(height: number): void {
    this.blocks = [];
    this.events = 0;
    this.bytes = 0;
    this.from = height + 1;
    this.through = height;
    for (const watcher of [...this.watchers.values()]) {
      if (watcher.sentThrough >= height) continue;
      this.end(watcher, 'COMPACTED', `this node installed a checkpoint at height ${height}: the changes after ${watcher.sentThrough} are not here`, this.from);
    }
  }

  private trim(): void {
    let drop = 0;
    while (drop < this.blocks.length - 1 && (this.events > WATCH_HISTORY_EVENTS_MAX || this.bytes > WATCH_HISTORY_BYTES_MAX)) {
      for (const change of this.blocks[drop]!.changes) this.bytes -= change.key.length + (change.value?.length ?? 0) + 64;
      this.events -= this.blocks[drop]!.changes.length;
      this.from = this.blocks[drop]!.height + 1;
      drop++;
    }
    if (drop > 0) this.blocks = this.blocks.slice(drop);
  }

  /** Sends `watcher` what it has not had, in frames of at most WATCH_FRAME_EVENTS_MAX events (`always`: even none). */
  private deliver(watcher: Watcher, always: boolean): void {
    if (watcher.sentThrough >= this.through) {
      if (always) this.send(watcher, [], Math.max(watcher.sentThrough, 0));
      return;
    }
    if (this.output.backlog(watcher.connection) > WATCH_BACKLOG_BYTES_MAX) {
      this.fellBehind++;
      return this.end(watcher, 'FELL_BEHIND', `the client read too slowly (over ${WATCH_BACKLOG_BYTES_MAX} bytes waiting); resume from height ${watcher.sentThrough + 1}`, watcher.sentThrough);
    }
    let batch: unknown[][] = [];
    let bytes = 0;
    for (let i = this.firstBlockAfter(watcher.sentThrough); i < this.blocks.length; i++) {
      const block = this.blocks[i]!;
      block.changes.forEach((change, seq) => {
        if (!matches(watcher, change.key)) return;
        batch.push(encodeEvent(block.height, seq, change));
        bytes += change.key.length + (change.value?.length ?? 0);
        if (batch.length < WATCH_FRAME_EVENTS_MAX && bytes < WATCH_FRAME_BYTES_MAX) return;
        // A frame ends inside a block only when the block is that large: it then covers the
        // heights before it, and the client skips what it had by (height, seq) on a resume.
        this.send(watcher, batch, seq === block.changes.length - 1 ? block.height : block.height - 1);
        batch = [];
        bytes = 0;
      });
      if (!this.watchers.has(`${watcher.connection}:${watcher.id}`)) return;
    }
    if (batch.length > 0 || always || this.output.now() - watcher.lastFrameMs >= WATCH_PROGRESS_MS) this.send(watcher, batch, this.through);
    else watcher.sentThrough = this.through;
  }

  private firstBlockAfter(height: number): number {
    let low = 0;
    let high = this.blocks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.blocks[middle]!.height <= height) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private send(watcher: Watcher, events: readonly unknown[][], through: number): boolean {
    const frame = { id: watcher.id, ok: true, watch: true, height: through, leader: this.output.leader(), events };
    if (!this.output.send(watcher.connection, frame)) {
      this.watchers.delete(`${watcher.connection}:${watcher.id}`);
      return false;
    }
    watcher.sentThrough = Math.max(watcher.sentThrough, through);
    watcher.lastFrameMs = this.output.now();
    return true;
  }

  private end(watcher: Watcher, error: string, message: string, height: number): void {
    this.watchers.delete(`${watcher.connection}:${watcher.id}`);
    this.output.send(watcher.connection, { id: watcher.id, ok: false, error, message, height });
  }
}

function matches(filter: WatchFilter, key: Uint8Array): boolean {
  const wanted = filter.key;
  if (filter.prefix ? key.length < wanted.length : key.length !== wanted.length) return false;
  for (let i = 0; i < wanted.length; i++) if (key[i] !== wanted[i]) return false;
  return true;
}

/** [height, seq, index, op (0 put, 1 delete), key, value | nil, createHeight, modHeight, version] (0s for a delete). */
function encodeEvent(height: number, seq: number, change: KvChange): unknown[] {
  const revisions = change.revisions;
  return [height, seq, change.index, change.value === null ? 1 : 0, change.key, change.value, revisions?.createHeight ?? 0, revisions?.modHeight ?? 0, revisions?.version ?? 0];
}
