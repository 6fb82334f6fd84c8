/**
 * One framed TCP connection: decodes incoming frames, queues outgoing ones (bounded), writes each
 * tick's frames with one corked socket write, respects socket backpressure, and closes itself on
 * any protocol error. It knows nothing about handshakes beyond a deadline and a smaller frame
 * bound until its owner calls `handshakeDone()`. It reports how many bytes of partial frames it
 * holds (`onBufferedBytes`) and since when its current frame is incomplete, so its owner can bound
 * memory across connections and close a connection that trickles a frame (src/transport/server.ts).
 */
import type { Socket } from 'node:net';
import { assert } from '../lib/assert.js';
import { ErrorCode, isPaxchainError, PaxchainError } from '../lib/errors.js';
import { encodeFrame, FrameDecoder, NO_FRAME } from './frame.js';
import {
  FRAME_BYTES_MAX,
  FRAMES_PER_PUSH_MAX,
  HANDSHAKE_FRAME_BYTES_MAX,
  HANDSHAKE_TIMEOUT_MS,
  SEND_QUEUE_BYTES_MAX,
  SEND_QUEUE_FRAMES_MAX,
  WRITE_BATCH_BYTES_MAX,
  WRITE_BATCH_FRAMES_MAX,
} from './limits.js';

/** Running totals; one object is usually shared by all connections of a server or of peer links. */
export interface TransportCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Connections closed for an undecodable frame (zero length, unknown version, bad msgpack). */
  badFrames: number;
  /** Connections closed for a frame over the size limit. */
  oversizedFrames: number;
  /** Connections closed for failing the handshake (bad Hello or proof, timeout, unexpected frame). */
  authFailures: number;
  /** Messages refused by `send()` (queue full or connection closed). */
  drops: number;
}

export function newCounters(): TransportCounters {
  return { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, badFrames: 0, oversizedFrames: 0, authFailures: 0, drops: 0 };
}

export interface ConnectionOptions {
  /** Counters this connection adds to. */
  readonly counters: TransportCounters;
  /** Largest frame sent, and received once the handshake is done. Default FRAME_BYTES_MAX. */
  readonly maxFrameBytes?: number;
  /** Largest frame sent, if smaller than `maxFrameBytes` (a client sends requests only). */
  readonly sendFrameBytesMax?: number;
  /**
   * Called with the bytes of partial frames this connection now holds, whenever that number
   * changed after incoming data, and with 0 once it closed. Must not throw; may close connections.
   */
  readonly onBufferedBytes?: (connection: Connection, bufferedBytes: number) => void;
  /** Largest incoming frame before `handshakeDone()`. Default HANDSHAKE_FRAME_BYTES_MAX. */
  readonly handshakeFrameBytesMax?: number;
  /** Deadline for `handshakeDone()`, from construction; 0 = none. Default HANDSHAKE_TIMEOUT_MS. */
  readonly handshakeTimeoutMs?: number;
  /** Close after this long without traffic either way; 0 = never. Default 0. */
  readonly idleTimeoutMs?: number;
  readonly sendQueueBytesMax?: number;
  readonly sendQueueFramesMax?: number;
}

export type MessageHandler = (message: unknown) => void;
/** `reason` is undefined for a clean close by either side, else what made the connection close. */
export type CloseHandler = (reason: Error | undefined) => void;

const noDelivery: MessageHandler = () => {};
let nextConnectionId = 1;

export class Connection {
  /** Unique in this process. */
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  readonly #socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #counters: TransportCounters;
  readonly #maxFrameBytes: number;
  readonly #sendFrameBytesMax: number;
  readonly #onBufferedBytes: ((connection: Connection, bufferedBytes: number) => void) | undefined;
  /** Last value given to #onBufferedBytes. */
  #reportedBytes = 0;
  /** performance.now() when the current incomplete frame's first byte arrived; -1 = none. */
  #partialFrameSinceMs = -1;
  /** performance.now() of the last complete frame received (construction time before the first). */
  #lastFrameAtMs = performance.now();
  readonly #sendQueueBytesMax: number;
  readonly #sendQueueFramesMax: number;
  /** Encoded frames not yet handed to the socket; bounded by the two send-queue limits. */
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #flushScheduled = false;
  #readScheduled = false;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #onMessage: MessageHandler = noDelivery;
  #onClose: CloseHandler;
  #closeReason: Error | undefined;
  #closed = false;
  readonly #whenClosed: Promise<void>;

  constructor(socket: Socket, onClose: CloseHandler, options: ConnectionOptions) {
    this.#socket = socket;
    this.#onClose = onClose;
    this.#counters = options.counters;
    this.#maxFrameBytes = options.maxFrameBytes ?? FRAME_BYTES_MAX;
    this.#sendFrameBytesMax = Math.min(options.sendFrameBytesMax ?? this.#maxFrameBytes, this.#maxFrameBytes);
    this.#onBufferedBytes = options.onBufferedBytes;
    this.#decoder = new FrameDecoder(Math.min(options.handshakeFrameBytesMax ?? HANDSHAKE_FRAME_BYTES_MAX, this.#maxFrameBytes));
    this.#sendQueueBytesMax = options.sendQueueBytesMax ?? SEND_QUEUE_BYTES_MAX;
    this.#sendQueueFramesMax = options.sendQueueFramesMax ?? SEND_QUEUE_FRAMES_MAX;
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.#whenClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.#attach(options);
  }

  #attach(options: ConnectionOptions): void {
    const socket = this.#socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#flush());
    socket.on('error', (error) => this.#destroy(error));
    socket.on('close', () => this.#finish());
    const handshakeTimeoutMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    if (handshakeTimeoutMs > 0) {
      this.#handshakeTimer = setTimeout(
        () => this.fail(new PaxchainError(ErrorCode.AUTH_FAILED, `handshake not done within ${handshakeTimeoutMs} ms`)),
        handshakeTimeoutMs,
      );
    }
    const idleTimeoutMs = options.idleTimeoutMs ?? 0;
    if (idleTimeoutMs > 0) {
      socket.setTimeout(idleTimeoutMs, () => this.close(new PaxchainError(ErrorCode.TIMEOUT, `idle for ${idleTimeoutMs} ms`)));
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes waiting in the outgoing queue (frames handed to the socket are not counted). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Bytes queued to send and not yet written to the socket (this queue plus the socket's own). */
  get unsentBytes(): number {
    return this.#queuedBytes + this.#socket.writableLength;
  }

  /** Bytes received and not yet delivered as frames (0 once closed). */
  get bufferedBytes(): number {
    return this.#reportedBytes;
  }

  /** performance.now() when the incomplete frame now buffered started arriving, or -1 if none. */
  get partialFrameSinceMs(): number {
    return this.#partialFrameSinceMs;
  }

  /** performance.now() of the last complete frame received, or of construction before the first. */
  get lastFrameAtMs(): number {
    return this.#lastFrameAtMs;
  }

  /** Resolves once the socket has closed. */
  whenClosed(): Promise<void> {
    return this.#whenClosed;
  }

  /** Where incoming messages go from the next frame on. Frames arrive in order, one at a time. */
  setMessageHandler(handler: MessageHandler): void {
    this.#onMessage = handler;
  }

  /**
   * Stops the handshake deadline and admits incoming frames up to `frameBytesMax` (the bound of
   * the class the handshake put this connection in; default and at most `maxFrameBytes`).
   */
  handshakeDone(frameBytesMax: number = this.#maxFrameBytes): void {
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.#decoder.maxFrameBytes = Math.min(frameBytesMax, this.#maxFrameBytes);
  }

  /**
   * Queues `message`; it is written with the other frames of this tick. Returns false (and counts
   * a drop) if the connection is closed or the queue is full: the caller decides whether to retry.
   * Throws PaxchainError FRAME_TOO_LARGE if the message does not fit in one frame.
   */
  send(message: unknown): boolean {
    if (this.#closed) {
      this.#counters.drops++;
      return false;
    }
    return this.sendFrame(encodeFrame(message, this.#sendFrameBytesMax));
  }

  /** `send()` of an already encoded frame (encode once, send to many). */
  sendFrame(frame: Uint8Array): boolean {
    const full = this.#queue.length >= this.#sendQueueFramesMax || this.#queuedBytes + frame.length > this.#sendQueueBytesMax;
    if (this.#closed || full) {
      this.#counters.drops++;
      return false;
    }
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(() => this.#flush());
    }
    return true;
  }

  /** Closes for a protocol error of the other side, counted by its code. */
  fail(error: PaxchainError): void {
    if (this.#closed) return;
    if (error.code === ErrorCode.BAD_FRAME) this.#counters.badFrames++;
    else if (error.code === ErrorCode.FRAME_TOO_LARGE) this.#counters.oversizedFrames++;
    else if (error.code === ErrorCode.AUTH_FAILED) this.#counters.authFailures++;
    this.#destroy(error);
  }

  /** Closes now, dropping queued frames (Paxos tolerates loss). Idempotent. */
  close(reason?: Error): void {
    this.#destroy(reason);
  }

  #destroy(reason: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#dropQueue();
    this.#releaseBuffers();
    this.#socket.destroy();
  }

  /** Runs once, when the socket has closed, whoever closed it. */
  #finish(): void {
    this.#closed = true;
    this.#dropQueue();
    this.#releaseBuffers();
    clearTimeout(this.#handshakeTimer);
    this.#onMessage = noDelivery;
    const onClose = this.#onClose;
    this.#onClose = () => {};
    onClose(this.#closeReason);
  }

  #dropQueue(): void {
    this.#queue = [];
    this.#queuedBytes = 0;
  }

  /** Nothing received stays reachable from a closed connection (it may be referenced a while). */
  #releaseBuffers(): void {
    this.#decoder.release();
    this.#partialFrameSinceMs = -1;
    this.#reportBuffered(0);
  }

  #reportBuffered(bufferedBytes: number): void {
    if (bufferedBytes === this.#reportedBytes) return;
    this.#reportedBytes = bufferedBytes;
    this.#onBufferedBytes?.(this, bufferedBytes);
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#counters.bytesIn += chunk.length;
    try {
      this.#decoder.append(chunk);
    } catch (error) {
      this.#failOn(error);
      return;
    }
    this.#deliver();
  }

  /**
   * Delivers up to FRAMES_PER_PUSH_MAX frames; if more are buffered, pauses reading and continues
   * on the next turn of the event loop, so one busy connection cannot starve the others.
   */
  #deliver(): void {
    let delivered = 0;
    let more = true;
    for (; delivered < FRAMES_PER_PUSH_MAX; delivered++) {
      if (this.#closed) return;
      let message: unknown;
      try {
        message = this.#decoder.next();
      } catch (error) {
        this.#failOn(error);
        return;
      }
      if (message === NO_FRAME) {
        more = false;
        break;
      }
      this.#counters.framesIn++;
      this.#onMessage(message);
    }
    if (this.#closed) return;
    this.#noteProgress(delivered > 0);
    if (more) this.#pauseAndContinue();
  }

  /** Updates the partial-frame clock and the buffered-bytes report after a round of delivery. */
  #noteProgress(deliveredAny: boolean): void {
    const bufferedBytes = this.#decoder.bufferedBytes;
    if (deliveredAny || (bufferedBytes > 0 && this.#partialFrameSinceMs < 0)) {
      const now = performance.now();
      if (deliveredAny) this.#lastFrameAtMs = now;
      // A frame completed in this round, so what is left (if anything) started in this round.
      this.#partialFrameSinceMs = bufferedBytes > 0 ? now : -1;
    } else if (bufferedBytes === 0) {
      this.#partialFrameSinceMs = -1;
    }
    this.#reportBuffered(bufferedBytes);
  }

  #pauseAndContinue(): void {
    if (this.#closed || this.#readScheduled) return;
    this.#readScheduled = true;
    this.#socket.pause();
    setImmediate(() => {
      this.#readScheduled = false;
      if (this.#closed) return;
      this.#socket.resume();
      this.#deliver();
    });
  }

  #failOn(error: unknown): void {
    // The decoder throws only PaxchainErrors; anything else is a bug and must surface.
    if (!isPaxchainError(error)) throw error;
    this.fail(error);
  }

  #flush(): void {
    this.#flushScheduled = false;
    while (!this.#closed && this.#queue.length > 0 && !this.#socket.writableNeedDrain) this.#writeBatch();
  }

  /** Hands the frames at the head of the queue to the socket as one write (cork = one writev). */
  #writeBatch(): void {
    const queue = this.#queue;
    let count = 0;
    let bytes = 0;
    while (count < queue.length && count < WRITE_BATCH_FRAMES_MAX) {
      const length = queue[count]!.length;
      if (count > 0 && bytes + length > WRITE_BATCH_BYTES_MAX) break;
      bytes += length;
      count++;
    }
    assert(count > 0, 'a write batch holds at least one frame');
    this.#socket.cork();
    for (let index = 0; index < count; index++) this.#socket.write(queue[index]!);
    this.#socket.uncork();
    this.#queue = count === queue.length ? [] : queue.slice(count);
    this.#queuedBytes -= bytes;
    this.#counters.framesOut += count;
    this.#counters.bytesOut += bytes;
  }
}
