/**
 * Frames on the wire:
 *
 * | offset | size  | field                                   |
 * |--------|-------|-----------------------------------------|
 * | 0      | 4     | N = length of what follows, big-endian  |
 * | 4      | 1     | frame version (FRAME_VERSION)           |
 * | 5      | N - 1 | one msgpack value (src/lib/msgpack.ts)  |
 *
 * N is at least 2 (a version byte and a msgpack value of at least one byte) and at most the
 * decoder's `maxFrameBytes`. Anything else is a protocol error of the sending side.
 */
import { readU32, writeU32 } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { pack, unpackSafe } from '../lib/msgpack.js';
import { FRAME_BYTES_MAX, FRAME_PREFIX_BYTES, FRAMES_PER_PUSH_MAX, SMALL_CHUNKS_BUFFER_BYTES } from './limits.js';

export const FRAME_VERSION = 1;

/** Returned by `FrameDecoder.next()` when no complete frame is buffered. */
export const NO_FRAME: unique symbol = Symbol('NO_FRAME');

/** Incoming chunks up to this size are copied into a shared buffer instead of kept one by one. */
const SMALL_CHUNK_BYTES_MAX = 1024;
/**
 * A frame at least this long that is not complete when its prefix is read is assembled in one
 * buffer of its own as its bytes arrive, instead of as a list of received chunks: a partial large
 * frame then pins one allocation (released whole), not hundreds of socket chunks.
 */
const ASSEMBLY_FRAME_BYTES_MIN = 64 * 1024;
/** Consumed chunk slots tolerated at the front of the chunk list before it is compacted. */
const CONSUMED_CHUNKS_MAX = 1024;

/**
 * Encodes one message as a frame. Throws PaxchainError FRAME_TOO_LARGE if the frame would exceed
 * `maxFrameBytes` (the receiver would refuse it and close the connection).
 */
export function encodeFrame(value: unknown, maxFrameBytes: number = FRAME_BYTES_MAX): Uint8Array {
  const payload = pack(value);
  const frameLength = 1 + payload.length;
  if (frameLength > maxFrameBytes) {
    throw new PaxchainError(ErrorCode.FRAME_TOO_LARGE, `frame of ${frameLength} bytes exceeds ${maxFrameBytes}`, {
      frameBytes: frameLength,
      maxFrameBytes,
    });
  }
  // One copy: msgpackr returns a view into its own scratch buffer.
  const frame = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + frameLength);
  writeU32(frame, 0, frameLength);
  frame[FRAME_PREFIX_BYTES] = FRAME_VERSION;
  frame.set(payload, FRAME_PREFIX_BYTES + 1);
  return frame;
}

function checkMaxFrameBytes(maxFrameBytes: number): void {
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 2 || maxFrameBytes > 0xffff_ffff) {
    throw new TypeError(`maxFrameBytes must be an integer in [2, 2^32 - 1], got ${maxFrameBytes}`);
  }
}

/**
 * Turns a byte stream into messages. Each byte is copied at most once: a frame that lies inside
 * one received chunk is decoded in place, a frame spread over several chunks is assembled once
 * when its last byte arrives (a large one is assembled as it arrives, see ASSEMBLY_FRAME_BYTES_MIN).
 * The length prefix is checked as soon as its 4 bytes are here, so an oversized frame is refused
 * before its body is buffered.
 *
 * Decoded byte strings are views into the received bytes (src/lib/msgpack.ts copyBuffers: false);
 * the decoder never writes to bytes it has handed out.
 *
 * After a decoder has thrown, it throws the same error again: the stream is out of sync.
 */
export class FrameDecoder {
  /** Unread chunks; live ones are `chunks[chunksHead..]`, reading starts at `offset` in the first. */
  #chunks: Uint8Array[] = [];
  #chunksHead = 0;
  #offset = 0;
  /** Unread bytes over all live chunks. */
  #bufferedBytes = 0;
  /** N of the frame whose prefix was consumed, or -1 when the next bytes are a prefix. */
  #frameLength = -1;
  /** The frame being assembled (length #frameLength), holding #assembled bytes; chunks are then empty. */
  #assembly: Buffer | undefined;
  #assembled = 0;
  #smallChunks: Buffer | undefined;
  #smallChunksUsed = 0;
  #maxFrameBytes: number;
  #failure: PaxchainError | undefined;

  constructor(maxFrameBytes: number = FRAME_BYTES_MAX) {
    checkMaxFrameBytes(maxFrameBytes);
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Largest N accepted; applies to length prefixes read from now on. */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  set maxFrameBytes(value: number) {
    checkMaxFrameBytes(value);
    this.#maxFrameBytes = value;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.#bufferedBytes + this.#assembled + (this.#frameLength >= 0 ? FRAME_PREFIX_BYTES : 0);
  }

  /**
   * Drops every buffered byte and the small-chunk slab, so nothing received stays reachable from
   * this decoder (a closed connection may be referenced a while longer). Later calls throw CLOSED.
   */
  release(): void {
    this.#chunks = [];
    this.#chunksHead = 0;
    this.#offset = 0;
    this.#bufferedBytes = 0;
    this.#frameLength = -1;
    this.#assembly = undefined;
    this.#assembled = 0;
    this.#smallChunks = undefined;
    this.#smallChunksUsed = 0;
    this.#failure ??= new PaxchainError(ErrorCode.UNAVAILABLE, 'frame decoder released (connection closed)');
  }

  /**
   * Appends `chunk` and returns the frames now complete, at most `framesMax`. Frames beyond that
   * stay buffered: call `push(new Uint8Array(0))` or `next()` to get them. Throws PaxchainError
   * FRAME_TOO_LARGE or BAD_FRAME on a protocol error.
   */
  push(chunk: Uint8Array, framesMax: number = FRAMES_PER_PUSH_MAX): unknown[] {
    this.append(chunk);
    const frames: unknown[] = [];
    while (frames.length < framesMax) {
      const value = this.next();
      if (value === NO_FRAME) break;
      frames.push(value);
    }
    return frames;
  }

  /** Buffers `chunk` without decoding; the caller must not modify it afterwards. */
  append(chunk: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    if (this.#assembly !== undefined) chunk = this.#assemble(chunk);
    if (chunk.length === 0) return;
    if (chunk.length <= SMALL_CHUNK_BYTES_MAX) this.#appendSmall(chunk);
    else this.#chunks.push(chunk);
    this.#bufferedBytes += chunk.length;
  }

  /**
   * Decodes the next complete frame, or returns NO_FRAME. One call decodes at most one frame, so
   * an owner may change `maxFrameBytes` between frames (e.g. once a handshake completes).
   */
  next(): unknown {
    if (this.#failure) throw this.#failure;
    if (this.#assembly !== undefined) {
      if (this.#assembled < this.#frameLength) return NO_FRAME;
      const assembled = this.#assembly;
      this.#assembly = undefined;
      this.#assembled = 0;
      this.#frameLength = -1;
      return this.#decodeBody(assembled);
    }
    if (this.#frameLength < 0) {
      if (this.#bufferedBytes < FRAME_PREFIX_BYTES) return NO_FRAME;
      this.#frameLength = this.#readPrefix();
    }
    if (this.#bufferedBytes < this.#frameLength) {
      if (this.#frameLength >= ASSEMBLY_FRAME_BYTES_MIN) this.#startAssembly();
      return NO_FRAME;
    }
    const body = this.#take(this.#frameLength);
    this.#frameLength = -1;
    return this.#decodeBody(body);
  }

  /** Moves the buffered part of the current (incomplete) frame into a buffer of its full length. */
  #startAssembly(): void {
    // allocUnsafeSlow: pages are only touched (resident) as bytes arrive, so a prefix alone costs
    // address space, not memory; the buffer is not from the shared pool, so it is freed whole.
    const assembly = Buffer.allocUnsafeSlow(this.#frameLength);
    const buffered = this.#bufferedBytes;
    if (buffered > 0) assembly.set(this.#take(buffered), 0);
    this.#assembly = assembly;
    this.#assembled = buffered;
  }

  /** Copies the bytes of `chunk` that belong to the frame being assembled; returns the rest. */
  #assemble(chunk: Uint8Array): Uint8Array {
    const count = Math.min(this.#frameLength - this.#assembled, chunk.length);
    this.#assembly!.set(chunk.subarray(0, count), this.#assembled);
    this.#assembled += count;
    return chunk.subarray(count);
  }

  #readPrefix(): number {
    const prefix = this.#take(FRAME_PREFIX_BYTES);
    const frameLength = readU32(prefix, 0);
    if (frameLength === 0) throw this.#fail(ErrorCode.BAD_FRAME, 'frame length 0');
    if (frameLength > this.#maxFrameBytes) {
      throw this.#fail(ErrorCode.FRAME_TOO_LARGE, `frame length ${frameLength} exceeds ${this.#maxFrameBytes}`, {
        frameBytes: frameLength,
        maxFrameBytes: this.#maxFrameBytes,
      });
    }
    return frameLength;
  }

  #decodeBody(body: Uint8Array): unknown {
    if (body[0] !== FRAME_VERSION) throw this.#fail(ErrorCode.BAD_FRAME, `unknown frame version ${body[0]}`);
    if (body.length < 2) throw this.#fail(ErrorCode.BAD_FRAME, 'frame has no payload');
    const decoded = unpackSafe(body.subarray(1));
    if (!decoded.ok) throw this.#fail(ErrorCode.BAD_FRAME, `undecodable frame payload: ${decoded.error}`);
    return decoded.value;
  }

  #fail(code: ErrorCode, message: string, details: Record<string, unknown> = {}): PaxchainError {
    this.#failure = new PaxchainError(code, message, details);
    // Drop what is buffered: nothing after a bad frame can be trusted.
    this.#chunks = [];
    this.#chunksHead = 0;
    this.#offset = 0;
    this.#bufferedBytes = 0;
    this.#assembly = undefined;
    this.#assembled = 0;
    return this.#failure;
  }

  /** Removes `length` buffered bytes (the caller checked they are there) and returns them. */
  #take(length: number): Uint8Array {
    const first = this.#chunks[this.#chunksHead]!;
    if (first.length - this.#offset >= length) {
      const bytes = first.subarray(this.#offset, this.#offset + length);
      this.#advance(length);
      return bytes;
    }
    const bytes = Buffer.allocUnsafe(length);
    let written = 0;
    while (written < length) {
      const chunk = this.#chunks[this.#chunksHead]!;
      const count = Math.min(length - written, chunk.length - this.#offset);
      bytes.set(chunk.subarray(this.#offset, this.#offset + count), written);
      written += count;
      this.#advance(count);
    }
    return bytes;
  }

  /** Moves the read position by `count` bytes, all within the first live chunk. */
  #advance(count: number): void {
    this.#offset += count;
    this.#bufferedBytes -= count;
    if (this.#offset < this.#chunks[this.#chunksHead]!.length) return;
    this.#chunks[this.#chunksHead] = EMPTY;
    this.#chunksHead++;
    this.#offset = 0;
    if (this.#chunksHead === this.#chunks.length) {
      this.#chunks = [];
      this.#chunksHead = 0;
    } else if (this.#chunksHead >= CONSUMED_CHUNKS_MAX && this.#chunksHead * 2 >= this.#chunks.length) {
      // Compact now and then so a long run of chunks does not make every shift O(n).
      this.#chunks = this.#chunks.slice(this.#chunksHead);
      this.#chunksHead = 0;
    }
  }

  /** Copies a small chunk into the shared buffer, extending the last chunk view when adjacent. */
  #appendSmall(chunk: Uint8Array): void {
    let buffer = this.#smallChunks;
    if (buffer === undefined || this.#smallChunksUsed + chunk.length > buffer.length) {
      buffer = Buffer.allocUnsafeSlow(SMALL_CHUNKS_BUFFER_BYTES);
      this.#smallChunks = buffer;
      this.#smallChunksUsed = 0;
    }
    const start = this.#smallChunksUsed;
    buffer.set(chunk, start);
    this.#smallChunksUsed += chunk.length;
    const lastIndex = this.#chunks.length - 1;
    const last = lastIndex >= this.#chunksHead ? this.#chunks[lastIndex]! : undefined;
    if (last !== undefined && last.buffer === buffer.buffer && last.byteOffset + last.length === buffer.byteOffset + start) {
      this.#chunks[lastIndex] = buffer.subarray(last.byteOffset - buffer.byteOffset, this.#smallChunksUsed);
    } else {
      this.#chunks.push(buffer.subarray(start, this.#smallChunksUsed));
    }
  }
}

const EMPTY = new Uint8Array(0);
