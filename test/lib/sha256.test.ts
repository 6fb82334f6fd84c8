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
