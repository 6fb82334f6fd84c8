/**
 * A watch as the client library runs it (PaxchainClient.watch): the changes of a key, or of the
 * keys with a prefix, from a height on, as an async iterator of events, across the nodes of a
 * cluster.
 *
 * - One dedicated connection to one node at a time (src/node/watch-hub.ts serves it). Every frame
 *   says the height through which the node has sent all changes; the watch resumes from the next
 *   height on another node when its node dies (connection closed), stops answering (no frame for
 *   `silenceMs`: a stopped process sends nothing, a live node sends progress every second), has
 *   followed no leader for `silenceMs` (it may be cut off), no longer holds the height
 *   (COMPACTED), or ended the watch for a slow reader (FELL_BEHIND, after which this watch
 *   resumes from its height too).
 * - No event is delivered twice or out of order: (height, seq) orders every change of the chain
 *   and the watch skips what it has delivered.
 * - Bounded: at most WATCH_QUEUE_EVENTS_MAX events wait for the consumer; past that the
 *   connection is dropped and the watch resumes from its height once the consumer catches up.
 * - Ends with a PaxchainError: COMPACTED when no node holds the asked height any more,
 *   UNAVAILABLE when no node took the watch for `unavailableMs`.
 */
import { utf8 } from '../lib/bytes.js';
import { ErrorCode, isPaxchainError, PaxchainError } from '../lib/errors.js';
import type { Revisions } from '../kv/table.js';
import type { ClientConnection } from '../transport/index.js';
import { decodeWatchFrame, isErrorReply } from '../transport/protocol.js';

/** Events received and not yet taken by the consumer before the watch stops reading. */
const WATCH_QUEUE_EVENTS_MAX = 10_000;
/** No frame (or no leader) for this long: the node is stopped or cut off; resume on another. */
const WATCH_SILENCE_MS = 3_000;
/** How often the watch pings its node (the node closes a connection idle for IDLE_TIMEOUT_MS). */
const WATCH_PING_MS = 15_000;
/** The longest pause between attempts while no node takes the watch. */
const RETRY_PAUSE_MS_MAX = 500;

export interface WatchOptions {
  /** Watch every key that starts with the key given. */
  readonly prefix?: boolean;
  /** First height whose changes are delivered; default: from the next block on. */
  readonly fromHeight?: number;
  /** Default WATCH_SILENCE_MS. */
  readonly silenceMs?: number;
  /** How long no node may take the watch before it fails with UNAVAILABLE; default 30 s. */
  readonly unavailableMs?: number;
  /** Called when the watch moves to another node or resumes, with why (for logs and the CLI). */
  readonly onResume?: (notice: WatchResume) => void;
  /** Called once when the watch ends (for whatever reason). */
  readonly onEnd?: () => void;
}

export interface WatchResume {
  /** The node left, if one was being watched through. */
  readonly from: string | undefined;
  readonly reason: string;
  /** The height the watch resumes from. */
  readonly height: number | undefined;
}

export interface WatchEvent {
  readonly height: number;
  /** Position among the block's changes. */
  readonly seq: number;
  /** Index in its block of the command that made the change. */
  readonly index: number;
  readonly op: 'put' | 'delete';
  readonly key: string;
  readonly value: Uint8Array | null;
  /** After a put; null after a delete. */
  readonly revisions: Revisions | null;
  /** The node it came through. */
  readonly endpoint: string;
}

export interface WatchSource {
  readonly endpoints: readonly string[];
  /** A new connection to `endpoint` (the watch closes it). */
  connect(endpoint: string, timeoutMs: number): Promise<ClientConnection>;
}

interface Attempt {
  readonly endpoint: string;
  readonly connection: ClientConnection;
  id: number;
  lastFrameMs: number;
  leaderlessSinceMs: number | undefined;
}

export class Watch implements AsyncIterableIterator<WatchEvent> {
  private readonly key: Uint8Array;
  private readonly queue: WatchEvent[] = [];
  private head = 0;
  private waiter: { resolve: (result: IteratorResult<WatchEvent>) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  private done = false;
  /** The height to resume from: every change below it was delivered or queued. */
  private nextFrom: number | undefined;
  /** The last change queued, by (height, seq). */
  private lastHeight = -1;
  private lastSeq = -1;
  private attempt: Attempt | undefined;
  private connecting = false;
  private nextEndpoint = 0;
  private readonly compactedAt = new Set<string>();
  private unavailableSinceMs: number | undefined;
  private failures = 0;
  private readonly timer: NodeJS.Timeout;
  private lastPingMs = performance.now();

  constructor(
    private readonly source: WatchSource,
    key: string,
    private readonly options: WatchOptions = {},
  ) {
    this.key = utf8(key);
    this.nextFrom = options.fromHeight;
    this.timer = setInterval(() => this.check(), 250);
    this.timer.unref?.();
    void this.open();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchEvent> {
    return this;
  }

  /**
   * The height to start another watch from to go on where the consumer is: every change below it
   * was taken (when the consumer stopped inside a block, that block's changes it took come again).
   */
  get resumeHeight(): number | undefined {
    return this.head < this.queue.length ? this.queue[this.head]!.height : this.nextFrom;
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    if (this.head < this.queue.length) {
      const event = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      if (!this.attempt && !this.connecting && !this.done && this.queued < WATCH_QUEUE_EVENTS_MAX / 2) void this.open();
      return Promise.resolve({ value: event, done: false });
    }
    if (this.failure) {
      const failure = this.failure;
      this.failure = undefined;
      return Promise.reject(failure);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    if (!this.attempt && !this.connecting) void this.open();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Ends the watch: the node is told, the connection closed, the iterator done. */
  async return(): Promise<IteratorResult<WatchEvent>> {
    this.finish(undefined);
    return { value: undefined, done: true };
  }

  private get queued(): number {
    return this.queue.length - this.head;
  }

  /** Opens the watch on the next endpoint, from `nextFrom`. */
  private async open(): Promise<void> {
    if (this.done || this.connecting || this.attempt) return;
    this.connecting = true;
    const endpoints = this.source.endpoints;
    const endpoint = endpoints[this.nextEndpoint++ % endpoints.length]!;
    try {
      const connection = await this.source.connect(endpoint, 2_000);
      if (this.done) {
        void connection.close();
        return;
      }
      const attempt: Attempt = { endpoint, connection, id: 0, lastFrameMs: performance.now(), leaderlessSinceMs: undefined };
      this.attempt = attempt;
      attempt.id = connection.stream(
        { op: 'watch', key: this.key, prefix: this.options.prefix === true, from: this.nextFrom ?? null },
        (frame) => this.onFrame(attempt, frame),
        (error) => this.drop(attempt, `connection lost: ${error.message}`),
      );
    } catch (error) {
      // The stream was refused on a new connection (its send queue or in-flight bound): close it.
      if (this.attempt?.endpoint === endpoint && this.attempt.id === 0) {
        void this.attempt.connection.close().catch(() => undefined);
        this.attempt = undefined;
      }
      this.unavailableSinceMs ??= performance.now();
      this.failures++;
      this.options.onResume?.({ from: undefined, reason: `${endpoint}: ${isPaxchainError(error) ? error.message : String(error)}`, height: this.nextFrom });
      this.reopenSoon();
    } finally {
      this.connecting = false;
    }
  }

  /** The next attempt: at once after one failure, then backing off up to RETRY_PAUSE_MS_MAX. */
  private reopenSoon(): void {
    if (this.done) return;
    const pause = this.failures <= 1 ? 0 : Math.min(RETRY_PAUSE_MS_MAX, 10 * 2 ** Math.min(this.failures, 6));
    setTimeout(() => void this.open(), pause);
  }

  private onFrame(attempt: Attempt, frame: unknown): void {
    if (this.attempt !== attempt) return;
    const decoded = decodeWatchFrame(frame);
    if (typeof decoded === 'string') return this.drop(attempt, `${attempt.endpoint} sent a bad watch frame: ${decoded}`);
    if (isErrorReply(decoded)) return this.refused(attempt, decoded.error, decoded.message);
    const now = performance.now();
    attempt.lastFrameMs = now;
    if (decoded.leader === 0) attempt.leaderlessSinceMs ??= now;
    else attempt.leaderlessSinceMs = undefined;
    this.unavailableSinceMs = undefined;
    this.failures = 0;
    this.compactedAt.clear();
    for (const event of decoded.events) {
      if (event.height < this.lastHeight || (event.height === this.lastHeight && event.seq <= this.lastSeq)) continue;
      if (this.nextFrom !== undefined && event.height < this.nextFrom) continue;
      this.lastHeight = event.height;
      this.lastSeq = event.seq;
      this.push({ ...event, key: new TextDecoder().decode(event.key), endpoint: attempt.endpoint });
    }
    if (this.nextFrom === undefined || decoded.height + 1 > this.nextFrom) this.nextFrom = decoded.height + 1;
    if (this.queued >= WATCH_QUEUE_EVENTS_MAX) this.drop(attempt, `the consumer has ${this.queued} events to take: paused until it catches up`, false);
  }

  private refused(attempt: Attempt, code: string, message: string): void {
    if (code === ErrorCode.COMPACTED) {
      this.compactedAt.add(attempt.endpoint);
      if (this.compactedAt.size >= new Set(this.source.endpoints).size) {
        this.close(attempt);
        return this.finish(new PaxchainError(ErrorCode.COMPACTED, `no node holds the changes from height ${this.nextFrom} any more (${message})`, { height: this.nextFrom }));
      }
    }
    if (code === ErrorCode.INVALID_ARGUMENT) {
      this.close(attempt);
      return this.finish(new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${attempt.endpoint}: ${message}`));
    }
    this.drop(attempt, `${attempt.endpoint}: ${code}: ${message}`);
  }

  private push(event: WatchEvent): void {
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve({ value: event, done: false });
      return;
    }
    this.queue.push(event);
  }

  /** Silence, leaderless nodes, pings and the overall deadline, four times a second. */
  private check(): void {
    const attempt = this.attempt;
    const now = performance.now();
    const silenceMs = this.options.silenceMs ?? WATCH_SILENCE_MS;
    if (attempt) {
      if (now - attempt.lastFrameMs > silenceMs) return this.drop(attempt, `${attempt.endpoint} sent nothing for ${silenceMs} ms`);
      if (attempt.leaderlessSinceMs !== undefined && now - attempt.leaderlessSinceMs > silenceMs) return this.drop(attempt, `${attempt.endpoint} has followed no leader for ${silenceMs} ms`);
      if (now - this.lastPingMs > WATCH_PING_MS) {
        this.lastPingMs = now;
        attempt.connection.request({ op: 'ping' }).catch(() => undefined);
      }
    } else if (this.unavailableSinceMs !== undefined && now - this.unavailableSinceMs > (this.options.unavailableMs ?? 30_000)) {
      this.finish(new PaxchainError(ErrorCode.UNAVAILABLE, `no node took the watch for ${Math.round(now - this.unavailableSinceMs)} ms`));
    }
  }

  /** Leaves the attempt's node and resumes elsewhere (now, or with `reopen` false when the consumer catches up). */
  private drop(attempt: Attempt, reason: string, reopen = true): void {
    if (this.attempt !== attempt) return;
    this.close(attempt);
    this.attempt = undefined;
    if (!reopen) return;
    this.unavailableSinceMs ??= performance.now();
    this.failures++;
    this.options.onResume?.({ from: attempt.endpoint, reason, height: this.nextFrom });
    this.reopenSoon();
  }

  private close(attempt: Attempt): void {
    attempt.connection.endStream(attempt.id);
    void attempt.connection.close().catch(() => undefined);
  }

  private finish(error: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.timer);
    this.options.onEnd?.();
    if (this.attempt) {
      const attempt = this.attempt;
      this.attempt = undefined;
      attempt.connection.request({ op: 'unwatch', watch: attempt.id }, 500).catch(() => undefined).finally(() => this.close(attempt));
    }
    const waiter = this.waiter;
    this.waiter = undefined;
    if (error && waiter) waiter.reject(error);
    else if (error) this.failure = error;
    else waiter?.resolve({ value: undefined, done: true });
  }
}
