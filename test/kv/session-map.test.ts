import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/lib/prng.js';
import { SessionMap } from '../../src/kv/session-map.js';
import { SESSION_ID_BYTES } from '../../src/kv/session.js';

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
