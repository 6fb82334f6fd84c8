// KeyValueTable against a Map model: random inserts, overwrites (growing and shrinking values),
// deletes, index growth, arena growth and compaction must never lose or mix up an entry.
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/lib/prng.js';
import { ELEMENT_TAG, KeyValueTable, RECORD_HEADER_BYTES, REVISION_BYTES } from '../../src/kv/table.js';

const encoder = new TextEncoder();

function put(table: KeyValueTable, key: string, value: Uint8Array): number {
  const keyBytes = encoder.encode(key);
  const at = table.find(keyBytes, 0, keyBytes.length);
  if (at < 0) return table.insert(keyBytes, 0, keyBytes.length, value, 0, value.length);
  return table.overwrite(at, value, 0, value.length);
}

function get(table: KeyValueTable, key: string): Uint8Array | undefined {
  const keyBytes = encoder.encode(key);
  const at = table.find(keyBytes, 0, keyBytes.length);
  return at < 0 ? undefined : table.value(at);
}

function del(table: KeyValueTable, key: string): boolean {
  const keyBytes = encoder.encode(key);
  const at = table.find(keyBytes, 0, keyBytes.length);
  if (at < 0) return false;
  table.remove(at);
  return true;
}

describe('KeyValueTable', () => {
  it('matches a Map model through 200k random operations with compactions', () => {
    const prng = new Prng(1234);
    const table = new KeyValueTable(42);
    const model = new Map<string, Uint8Array>();
    let compactions = 0;
    for (let i = 0; i < 200_000; i++) {
      const key = `k${prng.nextInt(5000)}${'ü'.repeat(prng.nextInt(3))}`;
      const roll = prng.nextInt(10);
      if (roll < 6) {
        const value = Uint8Array.from({ length: prng.nextInt(prng.chance(0.1) ? 400 : 60) }, () => prng.nextInt(256));
        put(table, key, value);
        model.set(key, value);
      } else if (roll < 8) {
        expect(del(table, key)).toBe(model.delete(key));
      } else {
        expect(get(table, key)).toEqual(model.get(key));
      }
      if (table.wantsCompaction || (i % 50_000 === 49_999)) {
        table.compact();
        compactions++;
      }
    }
    expect(compactions).toBeGreaterThan(0);
    expect(table.size).toBe(model.size);
    for (const [key, value] of model) expect(get(table, key)).toEqual(value);
    const seen = new Set<string>();
    for (const at of table.records()) seen.add(new TextDecoder().decode(table.key(at)));
    expect(seen).toEqual(new Set(model.keys()));
  });

  it('lays out each live record with the element the digest hashes: 0x01 || u16 length || key || revisions || value', () => {
    const table = new KeyValueTable();
    const at = put(table, 'ab', Uint8Array.of(9, 8, 7));
    table.setRevisions(at, 5, 0x0102_0304_05, 3);
    const element = table.arena.subarray(table.elementStart(at), table.elementStart(at) + table.elementLength(at));
    const revisions = [0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0, 3];
    expect([...element]).toEqual([ELEMENT_TAG, 0, 2, 0x61, 0x62, ...revisions, 9, 8, 7]);
    expect(table.revisions(at)).toEqual({ createHeight: 5, modHeight: 0x0102_0304_05, version: 3 });
    expect(table.value(at)).toEqual(Uint8Array.of(9, 8, 7));
    expect(table.elementStart(at)).toBe(at + RECORD_HEADER_BYTES);
  });

  it('overwrites in place when the value fits and moves the record when it does not', () => {
    const table = new KeyValueTable();
    const first = put(table, 'key', new Uint8Array(40));
    expect(put(table, 'key', new Uint8Array(10))).toBe(first);
    table.setRevisions(first, 7, 9, 2);
    const moved = put(table, 'key', new Uint8Array(100));
    expect(moved).not.toBe(first);
    expect(table.revisions(moved)).toEqual({ createHeight: 7, modHeight: 9, version: 2 });
    expect(get(table, 'key')).toEqual(new Uint8Array(100));
    expect(table.size).toBe(1);
    expect(table.liveBytes).toBe(RECORD_HEADER_BYTES + 3 + 3 + REVISION_BYTES + 100);
  });

  it('keeps probe chains intact across deletions (backward shift) with colliding keys', () => {
    // A tiny index (1024 slots) and many keys: long probe runs that wrap around.
    const table = new KeyValueTable(7);
    const keys = Array.from({ length: 500 }, (_, i) => `collide-${i}`);
    keys.forEach((key, i) => put(table, key, Uint8Array.of(i & 0xff)));
    for (let i = 0; i < keys.length; i += 3) expect(del(table, keys[i]!)).toBe(true);
    keys.forEach((key, i) => expect(get(table, key)).toEqual(i % 3 === 0 ? undefined : Uint8Array.of(i & 0xff)));
  });
});
