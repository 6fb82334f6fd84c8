// The zero-allocation cursor must read what msgpackr writes and skip every valid msgpack value,
// so that the fast replay path and msgpackr never disagree on whether a body is well-formed.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { pack } from '../../src/lib/msgpack.js';
import { MalformedMsgpack, MsgpackCursor } from '../../src/lib/msgpack-cursor.js';
import { Prng } from '../../src/lib/prng.js';

describe('MsgpackCursor', () => {
  it('reads unsigned integers of every width, including msgpackr float64 integers above 2^32', () => {
    const values = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER];
    for (const value of values) {
      const cursor = new MsgpackCursor().reset(pack(value));
      expect(cursor.readUint()).toBe(value);
      expect(cursor.atEnd).toBe(true);
    }
    // uint64 encoding (not what msgpackr writes, but valid msgpack)
    const uint64 = Uint8Array.of(0xcf, 0, 0, 0, 1, 0, 0, 0, 2);
    expect(new MsgpackCursor().reset(uint64).readUint()).toBe(2 ** 32 + 2);
  });

  it('refuses negative, fractional and too-large numbers without moving', () => {
    for (const value of [-1, 1.5, 2 ** 53, -(2 ** 40)]) {
      const cursor = new MsgpackCursor().reset(pack(value));
      expect(cursor.readUint()).toBe(-1);
      expect(cursor.position).toBe(0);
    }
  });

  it('reads str and bin payload ranges of every header size', () => {
    for (const length of [0, 5, 31, 32, 255, 256, 70_000]) {
      const text = 'x'.repeat(length);
      const cursor = new MsgpackCursor().reset(pack([text, new Uint8Array(length).fill(9)]));
      expect(cursor.readArrayLength()).toBe(2);
      expect(cursor.readBin()).toBe(false);
      expect(cursor.readStr()).toBe(true);
      expect(cursor.length).toBe(length);
      expect(cursor.readBin()).toBe(true);
      expect(cursor.length).toBe(length);
      if (length > 0) expect(cursor.bytes[cursor.start + length - 1]).toBe(9);
      expect(cursor.atEnd).toBe(true);
    }
  });

  it('skips every kind of value msgpackr can produce, to the same end', () => {
    const packr = new Packr({ useRecords: false, moreTypes: true });
    const prng = new Prng(3);
    const randomValue = (depth: number): unknown => {
      switch (prng.nextInt(depth > 3 ? 7 : 10)) {
        case 0: return null;
        case 1: return prng.chance(0.5);
        case 2: return prng.nextInt(2 ** 31) - 2 ** 30;
        case 3: return prng.nextFloat() * 1e6;
        case 4: return 'é'.repeat(prng.nextInt(40));
        case 5: return new Uint8Array(prng.nextInt(300));
        case 6: return new Date(prng.nextInt(2 ** 31) * 1000);
        case 7: return Array.from({ length: prng.nextInt(20) }, () => randomValue(depth + 1));
        case 8: return Object.fromEntries(Array.from({ length: prng.nextInt(5) }, (_, i) => [`k${i}`, randomValue(depth + 1)]));
        default: return new Map([[1, randomValue(depth + 1)]]);
      }
    };
    for (let i = 0; i < 500; i++) {
      const encoded = packr.pack([randomValue(0), 42]);
      const cursor = new MsgpackCursor().reset(encoded);
      expect(cursor.readArrayLength()).toBe(2);
      cursor.skipValue();
      expect(cursor.readUint()).toBe(42);
      expect(cursor.atEnd).toBe(true);
    }
  });

  it('throws MalformedMsgpack on every truncation instead of reading past the end', () => {
    const encoded = pack([1, 'key', new Uint8Array(40), [2 ** 40, null]]);
    for (let cut = 0; cut < encoded.length; cut++) {
      const cursor = new MsgpackCursor().reset(encoded.subarray(0, cut));
      expect(() => cursor.skipValue()).toThrow(MalformedMsgpack);
    }
  });

  it('rejects a container whose count exceeds the input without looping over it', () => {
    const hostile = Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff, 0x01);
    expect(() => new MsgpackCursor().reset(hostile).skipValue()).toThrow(/overruns/);
  });

  it('rejects the reserved type byte 0xc1', () => {
    expect(() => new MsgpackCursor().reset(Uint8Array.of(0xc1)).skipValue()).toThrow(MalformedMsgpack);
  });
});
