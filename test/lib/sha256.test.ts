// Every SHA-256 implementation must produce the same bytes: the pure core may run with any of
// them (ARCHITECTURE §2, "let a benchmark decide the implementation on the hot path").
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/lib/prng.js';
import { nobleSha256 } from '../../src/lib/sha256.js';
import { availableSha256, fastSha256 } from '../../src/native/sha256.js';

const implementations = [nobleSha256, ...availableSha256()];

function reference(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('sha256 implementations', () => {
  it('hashPlaced writes each digest into the buffer before the next message is read, the same in every implementation', () => {
    // A chain: message i (32 random bytes + the 32-byte slot that message i - 1's digest fills).
    const build = () => {
      const data = new Uint8Array(64 * 11);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
      return data;
    };
    const starts = Uint32Array.from({ length: 10 }, (_, i) => 64 * i);
    const ends = Uint32Array.from({ length: 10 }, (_, i) => 64 * i + 64);
    const targets = Uint32Array.from({ length: 10 }, (_, i) => 64 * (i + 1) + 32);
    const expected = build();
    for (let i = 0; i < 10; i++) expected.set(createHash('sha256').update(expected.subarray(starts[i]!, ends[i]!)).digest(), targets[i]!);
    for (const sha of [nobleSha256, ...availableSha256()]) {
      const data = build();
      sha.hashPlaced(data, starts, ends, targets, 10);
      expect(Buffer.from(data).toString('hex'), sha.name).toBe(Buffer.from(expected).toString('hex'));
      expect(() => sha.hashPlaced(data, starts, ends, Uint32Array.of(data.length - 31), 1), sha.name).toThrow(TypeError);
    }
  });

  it('the build produced the native batch hasher', () => {
    // npm test builds first; a machine without a compiler would fall back (and say so here).
    expect(fastSha256.name).toBe('native');
  });

  for (const sha of implementations) {
    it(`${sha.name}: hash matches node:crypto on inputs of every size up to 300 bytes`, () => {
      const prng = new Prng(7);
      for (let length = 0; length <= 300; length++) {
        const data = Uint8Array.from({ length }, () => prng.nextInt(256));
        expect(Buffer.from(sha.hash(data)).toString('hex')).toBe(reference(data));
      }
    });

    it(`${sha.name}: hashMany hashes arbitrary ranges, including empty and overlapping ones`, () => {
      const prng = new Prng(11);
      const data = Uint8Array.from({ length: 5000 }, () => prng.nextInt(256));
      const count = 200;
      const starts = new Uint32Array(count);
      const ends = new Uint32Array(count);
      for (let i = 0; i < count; i++) {
        starts[i] = prng.nextInt(data.length);
        ends[i] = starts[i]! + prng.nextInt(Math.min(300, data.length - starts[i]!) + 1);
      }
      const out = new Uint8Array(count * 32);
      sha.hashMany(data, starts, ends, count, out);
      for (let i = 0; i < count; i++) {
        expect(Buffer.from(out.subarray(i * 32, i * 32 + 32)).toString('hex')).toBe(reference(data.subarray(starts[i], ends[i])));
      }
    });

    it(`${sha.name}: hashMany rejects out-of-range arguments with a TypeError before hashing`, () => {
      const data = new Uint8Array(10);
      const out = new Uint8Array(64).fill(7);
      expect(() => sha.hashMany(data, Uint32Array.of(0), Uint32Array.of(11), 1, out)).toThrow(TypeError);
      expect(() => sha.hashMany(data, Uint32Array.of(5), Uint32Array.of(4), 1, out)).toThrow(TypeError);
      expect(() => sha.hashMany(data, Uint32Array.of(0, 0), Uint32Array.of(1, 1), 2, new Uint8Array(63))).toThrow(TypeError);
      expect(() => sha.hashMany(data, Uint32Array.of(0), Uint32Array.of(1), 2, out)).toThrow(TypeError);
      expect(out.every((byte) => byte === 7)).toBe(true);
    });
  }
});
