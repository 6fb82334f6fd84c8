// Frames (src/transport/frame.ts): 4-byte big-endian length N, version byte, N - 1 bytes of
// msgpack. A decoder must yield exactly the encoded messages however the stream is split, refuse an
// oversized frame from its length prefix alone, and turn any garbage into a PaxchainError.
import { describe, expect, it } from 'vitest';
import { concatBytes, writeU32 } from '../../src/lib/bytes.js';
import { ErrorCode, isPaxchainError, PaxchainError } from '../../src/lib/errors.js';
import { Prng } from '../../src/lib/prng.js';
import { encodeFrame, FRAME_VERSION, FrameDecoder, NO_FRAME } from '../../src/transport/frame.js';
import { FRAME_BYTES_MAX, FRAMES_PER_PUSH_MAX } from '../../src/transport/limits.js';
import { rawFrame } from './helpers.js';

function sampleMessages(prng: Prng): unknown[] {
  const messages: unknown[] = [
    { kind: 'accept', slot: 7, ballot: [3, 2], value: new Uint8Array([1, 2, 3]) },
    [0, 'x', null, true, -1, 2 ** 40],
    'plain string',
    42,
    { nested: { deeper: [{ a: 1 }, { b: new Uint8Array(0) }] } },
    { big: Uint8Array.from({ length: 200_000 }, () => prng.nextInt(256)) },
  ];
  for (let i = 0; i < 50; i++) messages.push({ seq: i, text: 'y'.repeat(prng.nextInt(300)) });
  return messages;
}

/** Decoded byte strings are Buffers, encoded ones Uint8Arrays: compare bytes, not classes. */
function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Array.from(value) };
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, normalise(field)]));
  }
  return value;
}

function decodeAll(stream: Uint8Array, chunkSizes: () => number, maxFrameBytes = FRAME_BYTES_MAX): unknown[] {
  const decoder = new FrameDecoder(maxFrameBytes);
  const out: unknown[] = [];
  for (let offset = 0; offset < stream.length; ) {
    const size = Math.min(chunkSizes(), stream.length - offset);
    out.push(...decoder.push(stream.subarray(offset, offset + size)));
    offset += size;
  }
  for (let frames = decoder.push(new Uint8Array(0)); frames.length > 0; frames = decoder.push(new Uint8Array(0))) out.push(...frames);
  expect(decoder.bufferedBytes).toBe(0);
  return out;
}

function expectPaxchainError(action: () => unknown, code: ErrorCode): PaxchainError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(isPaxchainError(caught, code), `expected ${code}, got ${String(caught)}`).toBe(true);
  return caught as PaxchainError;
}

describe('frame round trip', () => {
  it('decodes exactly the encoded messages from 1-byte chunks', () => {
    const messages = sampleMessages(new Prng(1)).slice(0, 20);
    const stream = concatBytes(...messages.map((message) => encodeFrame(message)));
    expect(decodeAll(stream, () => 1).map(normalise)).toEqual(messages.map(normalise));
  });

  it('decodes exactly the encoded messages across arbitrary chunk splits (seeded)', () => {
    for (const seed of [2, 3, 4, 5]) {
      const prng = new Prng(seed);
      const messages = sampleMessages(prng);
      const stream = concatBytes(...messages.map((message) => encodeFrame(message)));
      const decoded = decodeAll(stream, () => 1 + prng.nextInt(prng.chance(0.5) ? 16 : 70_000));
      expect(decoded.map(normalise), `seed ${seed}`).toEqual(messages.map(normalise));
    }
  });

  it('decodes many frames from one chunk, at most FRAMES_PER_PUSH_MAX per push, in order', () => {
    const count = FRAMES_PER_PUSH_MAX * 3 + 17;
    const stream = concatBytes(...Array.from({ length: count }, (_, i) => encodeFrame(i)));
    const decoder = new FrameDecoder();
    const first = decoder.push(stream);
    expect(first.length).toBe(FRAMES_PER_PUSH_MAX);
    const all = [...first];
    for (let frames = decoder.push(new Uint8Array(0)); frames.length > 0; frames = decoder.push(new Uint8Array(0))) {
      expect(frames.length).toBeLessThanOrEqual(FRAMES_PER_PUSH_MAX);
      all.push(...frames);
    }
    expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('byte strings handed out stay intact while later chunks arrive (no buffer reuse)', () => {
    const decoder = new FrameDecoder();
    const first = encodeFrame({ value: new Uint8Array([9, 9, 9, 9]) });
    const decoded: unknown[] = [];
    for (const byte of first) decoded.push(...decoder.push(Uint8Array.of(byte)));
    for (let i = 0; i < 2000; i++) {
      const frame = encodeFrame({ value: new Uint8Array([i & 0xff, 1, 2, 3]) });
      for (const byte of frame) decoder.push(Uint8Array.of(byte));
    }
    expect(Array.from((decoded[0] as { value: Uint8Array }).value)).toEqual([9, 9, 9, 9]);
  });

  it('next() returns NO_FRAME until a frame is complete, and a frame whose msgpack is nil decodes to null', () => {
    const decoder = new FrameDecoder();
    const frame = encodeFrame(null);
    decoder.append(frame.subarray(0, frame.length - 1));
    expect(decoder.next()).toBe(NO_FRAME);
    decoder.append(frame.subarray(frame.length - 1));
    expect(decoder.next()).toBeNull();
    expect(decoder.next()).toBe(NO_FRAME);
  });
});

describe('frame limits and garbage', () => {
  it('refuses an oversized length prefix with FRAME_TOO_LARGE before any body byte arrives', () => {
    const decoder = new FrameDecoder(1024);
    const prefix = new Uint8Array(4);
    writeU32(prefix, 0, 1025);
    const error = expectPaxchainError(() => decoder.push(prefix), ErrorCode.FRAME_TOO_LARGE);
    expect(error.details).toMatchObject({ frameBytes: 1025, maxFrameBytes: 1024 });
  });

  it('the default limit is FRAME_BYTES_MAX: N = FRAME_BYTES_MAX + 1 is refused from the prefix', () => {
    const prefix = new Uint8Array(4);
    writeU32(prefix, 0, FRAME_BYTES_MAX + 1);
    expectPaxchainError(() => new FrameDecoder().push(prefix), ErrorCode.FRAME_TOO_LARGE);
    expect(FRAME_BYTES_MAX).toBe(16 * 1024 * 1024);
  });

  it('accepts a frame of exactly maxFrameBytes', () => {
    const frame = encodeFrame('z'.repeat(1000));
    const frameLength = frame.length - 4;
    expect(new FrameDecoder(frameLength).push(frame)).toEqual(['z'.repeat(1000)]);
    expectPaxchainError(() => new FrameDecoder(frameLength - 1).push(frame), ErrorCode.FRAME_TOO_LARGE);
  });

  it('encodeFrame refuses a message over the limit with FRAME_TOO_LARGE', () => {
    expectPaxchainError(() => encodeFrame(new Uint8Array(2000), 1024), ErrorCode.FRAME_TOO_LARGE);
  });

  it('zero length, unknown version, empty payload and undecodable msgpack are BAD_FRAME', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['zero length', new Uint8Array(4)],
      ['version 2', rawFrame(Uint8Array.of(0x01), { version: FRAME_VERSION + 1 })],
      ['version 0', rawFrame(Uint8Array.of(0x01), { version: 0 })],
      ['no payload', rawFrame(new Uint8Array(0))],
      ['truncated msgpack array', rawFrame(Uint8Array.of(0x92, 0x01))],
      ['trailing bytes after a value', rawFrame(Uint8Array.of(0x01, 0x02))],
      ['truncated str32', rawFrame(Uint8Array.of(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61))],
    ];
    for (const [name, bytes] of cases) {
      const error = expectPaxchainError(() => new FrameDecoder().push(bytes), ErrorCode.BAD_FRAME);
      expect(error.message.length, name).toBeGreaterThan(0);
    }
  });

  it('after a protocol error the decoder keeps throwing the same error', () => {
    const decoder = new FrameDecoder();
    const error = expectPaxchainError(() => decoder.push(new Uint8Array(4)), ErrorCode.BAD_FRAME);
    let again: unknown;
    try {
      decoder.push(encodeFrame('fine'));
    } catch (caught) {
      again = caught;
    }
    expect(again).toBe(error);
  });

  it('random garbage yields frames or a PaxchainError, never another exception (seeded fuzz)', () => {
    const prng = new Prng(99);
    let errors = 0;
    for (let round = 0; round < 3000; round++) {
      const length = 1 + prng.nextInt(64);
      const garbage = Uint8Array.from({ length }, () => prng.nextInt(256));
      // Small plausible lengths so that bodies are actually decoded, not just refused as too large.
      if (prng.chance(0.7)) writeU32(garbage, 0, prng.nextInt(length));
      if (prng.chance(0.7) && length > 4) garbage[4] = FRAME_VERSION;
      try {
        new FrameDecoder(4096).push(garbage);
      } catch (error) {
        expect(isPaxchainError(error, ErrorCode.BAD_FRAME) || isPaxchainError(error, ErrorCode.FRAME_TOO_LARGE), String(error)).toBe(true);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
  });
});
