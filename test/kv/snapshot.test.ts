// Snapshot chunks (src/kv/snapshot.ts): whole trie subtrees with their paths. Each chunk proves
// itself against the trie roots on its own (a range proof), any change to a record, a path or the
// kind is refused, the cut respects the byte budget, and loading every chunk rebuilds the state:
// same root, same keys, and the sessions in their activity order.
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/lib/bytes.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { OP_DELETE, OP_PUT } from '../../src/kv/command.js';
import { KIND_ENTRIES, KIND_SESSIONS, SnapshotLoader, verifyChunk } from '../../src/kv/snapshot.js';
import { KvState } from '../../src/kv/state.js';
import { sid } from '../helpers.js';

const v = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A state of `keys` puts (values of varied length) by 40 clients, some deleted again. */
function stateOf(keys: number, seed = 1): KvState {
  const state = new KvState(fastSha256, 30);
  for (let i = 0; i < keys; i++) state.apply([OP_PUT, sid((i * seed) % 40), i + 1, `key/${(i * 7919 * seed) % 100_003}`, v('x'.repeat((i * 13) % 300))], 1 + Math.floor(i / 10));
  for (let i = 0; i < keys; i += 9) state.apply([OP_DELETE, sid(i % 40), keys + i + 1, `key/${(i * 7919 * seed) % 100_003}`], 1 + Math.floor(keys / 10));
  return state;
}

describe('state snapshots', () => {
  it('cuts the state into chunks of whole subtrees within the budget, each proving itself against the trie roots', () => {
    const state = stateOf(3000);
    const snapshot = state.snapshot(8 * 1024);
    expect(snapshot.chunks.length).toBeGreaterThan(20);
    expect(toHex(snapshot.root)).toBe(toHex(state.root()));
    const kinds = snapshot.chunks.map((chunk) => chunk[0]);
    // Entries first, then sessions.
    expect(kinds.indexOf(KIND_SESSIONS)).toBeGreaterThan(0);
    expect(kinds.slice(kinds.indexOf(KIND_SESSIONS)).every((kind) => kind === KIND_SESSIONS)).toBe(true);
    for (const [index, chunk] of snapshot.chunks.entries()) {
      expect(verifyChunk(fastSha256, chunk, snapshot), `chunk ${index}`).toBeUndefined();
      // A subtree may exceed the budget only by its one element; paths add a little.
      if (chunk[0] === KIND_ENTRIES) expect(chunk.length, `chunk ${index}`).toBeLessThan(8 * 1024 + 1024);
    }
  });

  it('refuses a chunk with one byte changed anywhere, or one checked against another state', () => {
    const state = stateOf(500);
    const snapshot = state.snapshot(4 * 1024);
    const other = stateOf(500, 3).snapshot(4 * 1024);
    const chunk = snapshot.chunks[1]!;
    expect(verifyChunk(fastSha256, chunk, other)).toMatch(/does not prove against the KV root/);
    // Every byte position of the chunk: a value, a key, a length, a crit bit, a sibling hash.
    let refused = 0;
    for (let at = 0; at < chunk.length; at++) {
      const changed = chunk.slice();
      changed[at] ^= 0x20;
      if (verifyChunk(fastSha256, changed, snapshot) !== undefined) refused++;
    }
    expect(refused).toBe(chunk.length);
    const sessions = snapshot.chunks.find((bytes) => bytes[0] === KIND_SESSIONS)!;
    const forged = sessions.slice();
    forged[forged.length - 1] ^= 1; // a session's height
    expect(verifyChunk(fastSha256, forged, snapshot)).toMatch(/does not prove against the sessions root/);
  });

  it('loading every chunk rebuilds the same state: root, keys, values, and the sessions in activity order', () => {
    const state = stateOf(2000);
    const snapshot = state.snapshot(16 * 1024);
    const loaded = new KvState(fastSha256, 30);
    const loader = new SnapshotLoader(loaded);
    for (const chunk of snapshot.chunks) expect(loader.add(chunk)).toBeUndefined();
    expect(loader.finish(snapshot)).toBeUndefined();
    expect(toHex(loaded.root())).toBe(toHex(state.root()));
    expect(loaded.keyCount).toBe(state.keyCount);
    expect(loaded.get('key/7919')).toEqual(state.get('key/7919'));
    expect([...loaded.allSessions()].map((s) => toHex(s.id))).toEqual([...state.allSessions()].map((s) => toHex(s.id)));
    // The next command evicts the same session on both.
    for (const each of [state, loaded]) each.apply([OP_PUT, sid(99), 1, 'new', v('n')], 500);
    expect(toHex(loaded.root())).toBe(toHex(state.root()));
  });

  it('refuses session ranks that put a later session before an earlier one (the activity order eviction follows)', () => {
    const state = new KvState(fastSha256, 30);
    for (let i = 0; i < 10; i++) state.apply([OP_PUT, sid(i), 1, `k${i}`, v('x')], 1 + i);
    const snapshot = state.snapshot();
    const sessions = snapshot.chunks.findIndex((bytes) => bytes[0] === KIND_SESSIONS);
    const chunk = snapshot.chunks[sessions]!.slice();
    // Swap the ranks of the first two session records (ranks are not in the hash: the proof passes).
    const first = chunk.indexOf(0, 0) >= 0 ? findRecords(chunk) : [];
    const [a, b] = [first[0]!, first[1]!];
    const rankA = chunk.slice(a, a + 4);
    chunk.set(chunk.slice(b, b + 4), a);
    chunk.set(rankA, b);
    expect(verifyChunk(fastSha256, chunk, snapshot)).toBeUndefined();
    const loader = new SnapshotLoader(new KvState(fastSha256, 30));
    for (const [index, bytes] of snapshot.chunks.entries()) expect(loader.add(index === sessions ? chunk : bytes)).toBeUndefined();
    expect(loader.finish(snapshot)).toMatch(/session ranks out of activity order/);
  });

  it('an empty state has no chunks, and a state of one key one chunk with an empty path', () => {
    expect(new KvState(fastSha256, 10).snapshot().chunks).toEqual([]);
    const one = new KvState(fastSha256, 10);
    one.apply([OP_PUT, sid(1), 1, 'only', v('1')], 1);
    const snapshot = one.snapshot();
    expect(snapshot.chunks.length).toBe(2); // the key, and the session
    for (const chunk of snapshot.chunks) expect(verifyChunk(fastSha256, chunk, snapshot)).toBeUndefined();
  });
});

/** Offsets of the session records of a one-subtree sessions chunk (header 5, step count 2, steps, count 4). */
function findRecords(chunk: Uint8Array): number[] {
  const steps = (chunk[5]! << 8) | chunk[6]!;
  let at = 7 + steps * 36;
  const count = (chunk[at]! << 24) | (chunk[at + 1]! << 16) | (chunk[at + 2]! << 8) | chunk[at + 3]!;
  at += 4;
  return Array.from({ length: count }, (_, i) => at + i * 37);
}
