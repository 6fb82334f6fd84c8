/**
 * Gives memory back to the operating system after a flood of connections (issue 10).
 *
 * Why: a flood of hostile connections makes the node read and then drop tens of MB of socket
 * buffers. The transport releases every reference when it closes them (src/transport/server.ts),
 * but the memory stays in the process: V8 frees an old buffer only at its next full collection,
 * which an idle-ish node may not run for minutes, and glibc keeps freed pages in its arenas for the
 * life of the process. So once a flood is over (connections opened plus closed per check interval
 * fall back under RECLAIM_FLOOD_CONNECTIONS_MIN), the reclaimer runs two full collections, waits for V8 to
 * free the buffers' backing stores, and then asks glibc to return free pages (malloc_trim through
 * the native addon, when it was built). The collections are V8's LowMemoryNotification where the
 * memory addon was built (src/native/memory.cc): unlike gc() it also shrinks the young generation,
 * which a flood grows to two 16 MB semi-spaces (measured: a node's V8 heap stayed at ~48 MB after
 * a flood with gc(), against ~30 MB before). One flood costs one collection (tens of ms on a small
 * heap), never one per connection, and at most one per RECLAIM_INTERVAL_MIN_MS.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memoryAddon, nativeAddon } from '../native/addon.js';

/** How often the reclaimer looks at the accepted-connection count. */
export const RECLAIM_CHECK_INTERVAL_MS = 5_000;
/**
 * Connections opened plus closed within one check interval that make it a flood: 10 a second.
 * An ordinary client keeps its few connections open; a flood on a loaded machine was seen at
 * about 40 a second per node.
 */
export const RECLAIM_FLOOD_CONNECTIONS_MIN = 50;
/**
 * Full collections per reclaim, RECLAIM_STEP_DELAY_MS apart, then the trim. Two: what the weak
 * callbacks of the first release (native wrappers of closed sockets) is collected by the second.
 */
const RECLAIM_COLLECTIONS = 2;
/** Between two collections and before the trim: V8 frees dead backing stores on a task after each. */
const RECLAIM_STEP_DELAY_MS = 1_000;
/** Two reclaims are at least this far apart, however many floods come. */
export const RECLAIM_INTERVAL_MIN_MS = 15_000;
/**
 * Reclaims per flood at most: a flood's buffers may still be held when it ends (a slowloris frame
 * waits out its deadline, sockets close later), so while buffers stay above
 * RECLAIM_SETTLED_BUFFER_BYTES the reclaimer tries again, RECLAIM_INTERVAL_MIN_MS apart.
 */
export const RECLAIM_ATTEMPTS_MAX = 3;
/** Buffers outside the heap under which a flood counts as reclaimed (an idle node holds ~4 MB). */
export const RECLAIM_SETTLED_BUFFER_BYTES = 16 * 2 ** 20;

export interface MemorySample {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly arrayBufferBytes: number;
}

export interface ReclaimReport {
  /** Connections opened or closed during the flood that ended. */
  readonly connections: number;
  readonly before: MemorySample;
  readonly after: MemorySample;
  /** Whether glibc gave pages back (false without the addon or on another C library). */
  readonly trimmed: boolean;
}

export interface MemoryReclaimerOptions {
  /** Connections opened and closed so far (each monotonic). */
  readonly connections: () => { readonly accepted: number; readonly closed: number };
  /** Told once per reclaim. Must not throw. */
  readonly onReclaim: (report: ReclaimReport) => void;
  /** Test seams; the defaults are the real collection, trim and memory reading. */
  readonly collect?: () => void;
  readonly trim?: () => boolean;
  readonly sample?: () => MemorySample;
  readonly nowMs?: () => number;
}

export class MemoryReclaimer {
  readonly #options: MemoryReclaimerOptions;
  readonly #collect: () => void;
  readonly #trim: () => boolean;
  readonly #sample: () => MemorySample;
  readonly #nowMs: () => number;
  #timer: NodeJS.Timeout | undefined;
  #trimTimer: NodeJS.Timeout | undefined;
  /** Opened plus closed at the previous check. */
  #eventsAtCheck: number;
  /** Connections opened or closed since the flood began; 0 when no flood is under way. */
  #floodConnections = 0;
  #lastReclaimMs = -Infinity;
  /** Reclaims left for the flood under way or just ended. */
  #attemptsLeft = 0;

  constructor(options: MemoryReclaimerOptions) {
    this.#options = options;
    this.#collect = options.collect ?? fullCollection();
    this.#trim = options.trim ?? (() => nativeAddon?.releaseFreeMemory() ?? false);
    this.#sample = options.sample ?? sampleMemory;
    this.#nowMs = options.nowMs ?? (() => performance.now());
    this.#eventsAtCheck = this.#events();
  }

  start(): void {
    this.#timer ??= setInterval(() => this.check(), RECLAIM_CHECK_INTERVAL_MS).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#trimTimer);
    this.#timer = undefined;
    this.#trimTimer = undefined;
  }

  /** One look at the counts: a flood goes on, begins, or has just ended (then reclaim). */
  check(): void {
    const events = this.#events();
    const recent = events - this.#eventsAtCheck;
    this.#eventsAtCheck = events;
    if (recent >= RECLAIM_FLOOD_CONNECTIONS_MIN) {
      this.#floodConnections += recent;
      this.#attemptsLeft = RECLAIM_ATTEMPTS_MAX;
      return;
    }
    if (this.#attemptsLeft === 0 || this.#trimTimer !== undefined) return;
    if (this.#nowMs() - this.#lastReclaimMs < RECLAIM_INTERVAL_MIN_MS) return;
    this.#floodConnections += recent;
    this.#attemptsLeft--;
    this.#reclaim(this.#floodConnections);
  }

  #events(): number {
    const { accepted, closed } = this.#options.connections();
    return accepted + closed;
  }

  #reclaim(connections: number): void {
    this.#lastReclaimMs = this.#nowMs();
    const before = this.#sample();
    this.#collect();
    this.#step(connections, before, RECLAIM_COLLECTIONS - 1);
  }

  /** After a delay: one more collection while `collectionsLeft` > 0, else the trim and the report. */
  #step(connections: number, before: MemorySample, collectionsLeft: number): void {
    this.#trimTimer = setTimeout(() => {
      this.#trimTimer = undefined;
      if (collectionsLeft > 0) {
        this.#collect();
        this.#step(connections, before, collectionsLeft - 1);
        return;
      }
      const trimmed = this.#trim();
      const after = this.#sample();
      if (after.arrayBufferBytes <= RECLAIM_SETTLED_BUFFER_BYTES) this.#attemptsLeft = 0;
      if (this.#attemptsLeft === 0) this.#floodConnections = 0;
      this.#options.onReclaim({ connections, before, after, trimmed });
    }, RECLAIM_STEP_DELAY_MS).unref();
  }
}

function sampleMemory(): MemorySample {
  const memory = process.memoryUsage();
  return { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, arrayBufferBytes: memory.arrayBuffers };
}

/**
 * V8's full collection: LowMemoryNotification through the memory addon (full collections that
 * also shrink the young generation), else gc() reached without starting node with --expose-gc. Called
 * with no argument on purpose: on Node 20 (V8 11.3) `gc({ type: 'major', execution: 'sync' })`,
 * like any options object, runs only a scavenge (`node --trace-gc` shows it), which never frees a
 * buffer that has reached the old generation, as a flood's frame buffers have by the time it ends.
 */
function fullCollection(): () => void {
  if (memoryAddon) return () => memoryAddon!.lowMemoryNotification();
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => gc();
}
