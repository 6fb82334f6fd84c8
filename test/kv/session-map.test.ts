import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/lib/prng.js';
import { SESSION_ID_CACHE_MAX, SessionIdCache, SessionMap } from '../../src/kv/session-map.js';
import { deriveSessionId, SESSION_ID_BYTES, SESSION_SECRET_BYTES } from '../../src/kv/session.js';
import type { Sha256 } from '../../src/lib/sha256.js';
import { fastSha256 } from '../../src/native/sha256.js';

function randomId(prng: Prng): Uint8Array {
  const id = new Uint8Array(SESSION_ID_BYTES);
  for (let i = 0; i < id.length; i++) id[i] = prng.between(0, 255);
  return id;
}

const keyOf = (id: Uint8Array, n: number): string => `${Buffer.from(id).toString('hex')}:${n}`;

describe('SessionMap', () => {
  it('keys by all 16 id bytes and the number, read at an offset of a larger buffer', () => {
    const map = new SessionMap<string>();
    const frame = new Uint8Array(40);
    frame.fill(9, 4, 4 + SESSION_ID_BYTES);
    map.set(frame, 4, 7, 'a');
    const id = frame.slice(4, 4 + SESSION_ID_BYTES);
    expect(map.get(id, 0, 7)).toBe('a');
    expect(map.get(id, 0, 8)).toBeUndefined();
    for (let i = 0; i < SESSION_ID_BYTES; i++) {
      const other = id.slice();
      other[i] ^= 1;
      expect(map.get(other, 0, 7)).toBeUndefined();
    }
    // The map keeps no view of the caller's bytes.
    frame.fill(0);
    expect(map.get(id, 0, 7)).toBe('a');
    map.set(id, 0, 7, 'b');
    expect(map.size).toBe(1);
    expect(map.delete(id, 0, 7)).toBe('b');
    expect(map.delete(id, 0, 7)).toBeUndefined();
    expect(map.size).toBe(0);
  });

  it('tells apart numbers above 2^32 that share their low 32 bits', () => {
    const map = new SessionMap<number>();
    const id = new Uint8Array(SESSION_ID_BYTES);
    map.set(id, 0, 5, 1);
    map.set(id, 0, 5 + 2 ** 32, 2);
    map.set(id, 0, Number.MAX_SAFE_INTEGER, 3);
    expect([map.get(id, 0, 5), map.get(id, 0, 5 + 2 ** 32), map.get(id, 0, Number.MAX_SAFE_INTEGER)]).toEqual([1, 2, 3]);
  });

  it('agrees with a string-keyed Map through sets, deletes and hash collisions', () => {
    const prng = new Prng(11);
    // 60k keys in 2^30 hash values share a few chains (birthday bound), which the check below
    // insists on, so collisions are exercised.
    const map = new SessionMap<number>(prng.nextU32());
    const model = new Map<string, number>();
    const keys: Array<[Uint8Array, number]> = [];
    for (let i = 0; i < 60_000; i++) {
      const id = keys.length > 0 && prng.chance(0.3) ? keys[prng.between(0, keys.length - 1)]![0] : randomId(prng);
      const n = prng.between(0, 3);
      keys.push([id, n]);
      map.set(id, 0, n, i);
      model.set(keyOf(id, n), i);
      if (prng.chance(0.2)) {
        const [gone, m] = keys[prng.between(0, keys.length - 1)]!;
        expect(map.delete(gone, 0, m)).toBe(model.get(keyOf(gone, m)));
        model.delete(keyOf(gone, m));
      }
    }
    expect(map.size).toBe(model.size);
    for (const [id, n] of keys) expect(map.get(id, 0, n)).toBe(model.get(keyOf(id, n)));
    expect([...map.values()].sort((a, b) => a - b)).toEqual([...model.values()].sort((a, b) => a - b));
    const chains = (map as unknown as { index: Map<number, unknown> }).index.size;
    expect(chains).toBeLessThan(map.size);
    map.clear();
    expect(map.size).toBe(0);
    expect([...map.values()]).toEqual([]);
  });
});

describe('SessionIdCache', () => {
  /** fastSha256 that counts its single hashes. */
  const counting = (): Sha256 & { calls: number } => {
    const sha = { ...fastSha256, calls: 0, hash: (data: Uint8Array) => (sha.calls++, fastSha256.hash(data)) };
    return sha;
  };
  const secretOf = (fill: number, last = fill): Uint8Array => {
    const secret = new Uint8Array(SESSION_SECRET_BYTES).fill(fill);
    secret[SESSION_SECRET_BYTES - 1] = last;
    return secret;
  };

  it('derives what deriveSessionId does, hashing a secret once while it is cached', () => {
    const sha = counting();
    const cache = new SessionIdCache(sha, 5);
    const secret = secretOf(1);
    const want = Buffer.from(deriveSessionId(fastSha256, secret)).toString('hex');
    for (let i = 0; i < 3; i++) expect(Buffer.from(cache.derive(secret.slice())).toString('hex')).toBe(want);
    expect(sha.calls).toBe(1);
  });

  it('checks the whole secret: one that shares the first half gets its own id', () => {
    const sha = counting();
    const cache = new SessionIdCache(sha, 5);
    const a = secretOf(1, 1);
    const b = secretOf(1, 2);
    cache.derive(a);
    expect(Buffer.from(cache.derive(b)).toString('hex')).toBe(Buffer.from(deriveSessionId(fastSha256, b)).toString('hex'));
    expect(Buffer.from(cache.derive(a)).toString('hex')).toBe(Buffer.from(deriveSessionId(fastSha256, a)).toString('hex'));
    expect(cache.size).toBe(1);
  });

  it('stays within SESSION_ID_CACHE_MAX secrets and refuses a secret of the wrong size', () => {
    const cache = new SessionIdCache(fastSha256, 5);
    const secret = new Uint8Array(SESSION_SECRET_BYTES);
    for (let i = 0; i < SESSION_ID_CACHE_MAX + 10; i++) {
      new DataView(secret.buffer).setUint32(0, i);
      cache.derive(secret);
      expect(cache.size).toBeLessThanOrEqual(SESSION_ID_CACHE_MAX);
    }
    expect(() => cache.derive(new Uint8Array(16))).toThrow(/32 bytes/);
  });
});
