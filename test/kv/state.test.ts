// The KV state machine: command semantics, exactly-once via the replicated dedup table, and the
// incremental state root against its from-scratch definition (test/helpers.ts).
import { describe, expect, it } from 'vitest';
import { nobleSha256 } from '../../src/lib/sha256.js';
import { Prng } from '../../src/lib/prng.js';
import { DUPLICATE_FLAG, OP_CAS, OP_DELETE, OP_NOOP, OP_PUT, ResultCode } from '../../src/kv/command.js';
import { KvState } from '../../src/kv/state.js';
import { Workload } from '../../src/check/workload.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { bytes, hex, referenceRoot, sid } from '../helpers.js';

const v = bytes;

describe('KvState commands', () => {
  it('put, overwrite, delete and delete-absent', () => {
    const state = new KvState(fastSha256, 100);
    expect(state.apply([OP_PUT, sid(1), 1, 'a', v('1')], 1)).toBe(ResultCode.OK);
    expect(state.get('a')).toEqual(v('1'));
    expect(state.apply([OP_PUT, sid(1), 2, 'a', v('22')], 2)).toBe(ResultCode.OK);
    expect(state.get('a')).toEqual(v('22'));
    expect(state.apply([OP_DELETE, sid(1), 3, 'a'], 3)).toBe(ResultCode.DELETED);
    expect(state.get('a')).toBeUndefined();
    expect(state.apply([OP_DELETE, sid(1), 4, 'a'], 4)).toBe(ResultCode.NOT_FOUND);
    expect(state.keyCount).toBe(0);
  });

  it('cas: expected value, expected absence, mismatch, and cas to deleted', () => {
    const state = new KvState(fastSha256, 100);
    expect(state.apply([OP_CAS, sid(1), 1, 'k', null, v('x')], 1)).toBe(ResultCode.OK); // absent -> x
    expect(state.apply([OP_CAS, sid(1), 2, 'k', null, v('y')], 1)).toBe(ResultCode.CAS_MISMATCH); // not absent
    expect(state.apply([OP_CAS, sid(1), 3, 'k', v('nope'), v('y')], 1)).toBe(ResultCode.CAS_MISMATCH);
    expect(state.get('k')).toEqual(v('x'));
    expect(state.apply([OP_CAS, sid(1), 4, 'k', v('x'), v('y')], 1)).toBe(ResultCode.OK);
    expect(state.get('k')).toEqual(v('y'));
    expect(state.apply([OP_CAS, sid(1), 5, 'k', v('y'), null], 1)).toBe(ResultCode.DELETED);
    expect(state.get('k')).toBeUndefined();
    expect(state.apply([OP_CAS, sid(1), 6, 'missing', v('y'), null], 1)).toBe(ResultCode.CAS_MISMATCH);
  });

  it('binary values and non-ASCII keys round-trip', () => {
    const state = new KvState(fastSha256, 100);
    const value = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(state.apply([OP_PUT, null, 0, 'ключ/🔑', value], 1)).toBe(ResultCode.OK);
    expect(state.get('ключ/🔑')).toEqual(value);
    expect([...state.allEntries()]).toEqual([['ключ/🔑', value]]);
  });

  it('malformed commands are INVALID and change nothing but their session', () => {
    const state = new KvState(fastSha256, 100);
    const before = hex(state.root());
    const invalid: unknown[] = [
      'not a tuple',
      [OP_PUT, 1],
      [OP_PUT, -1, 1, 'k', v('x')],
      [9, 0, 0, 'k'],
      [OP_PUT, null, 0, '', v('x')],
      [OP_PUT, null, 0, 'k'.repeat(1025), v('x')],
      [OP_PUT, null, 0, 'k', 'a string, not bytes'],
      [OP_PUT, null, 0, 'k', v('x'), 'extra'],
      [OP_DELETE, null, 0],
      [OP_CAS, null, 0, 'k', 5, v('x')],
      [OP_NOOP, null, 0, 'extra'],
      [OP_PUT, sid(7), 0, 'k', v('x')], // seq 0 with a session
    ];
    for (const command of invalid) expect(state.apply(command, 1)).toBe(ResultCode.INVALID);
    expect(hex(state.root())).toBe(before);
    expect(state.keyCount).toBe(0);
    // With a valid (clientId, seq), the INVALID result is remembered like any other.
    expect(state.apply([OP_PUT, sid(5), 1, '', v('x')], 2)).toBe(ResultCode.INVALID);
    expect(state.apply([OP_PUT, sid(5), 1, '', v('x')], 3)).toBe(ResultCode.INVALID | DUPLICATE_FLAG);
  });
});

describe('KvState limits (from genesis)', () => {
  it('a write past the entries or bytes limit is STATE_FULL and changes nothing but its session', () => {
    const state = new KvState(fastSha256, 100, { limits: { entriesMax: 2, bytesMax: 10 } });
    expect(state.apply([OP_PUT, sid(1), 1, 'a', v('1')], 1)).toBe(ResultCode.OK); // 2 bytes
    expect(state.apply([OP_PUT, sid(1), 2, 'b', v('22')], 2)).toBe(ResultCode.OK); // 5 bytes
    const root = hex(state.root());
    // A third key: past entriesMax.
    expect(state.apply([OP_PUT, sid(1), 3, 'c', v('3')], 3)).toBe(ResultCode.STATE_FULL);
    expect(state.get('c')).toBeUndefined();
    expect(state.keyCount).toBe(2);
    // The session records the refusal (a retry gets it again), so only the session trie moved.
    expect(state.apply([OP_PUT, sid(1), 3, 'c', v('3')], 4)).toBe(ResultCode.STATE_FULL | DUPLICATE_FLAG);
    expect(hex(state.root())).not.toBe(root);
    expect(hex(state.root())).toBe(referenceRoot(state));
    // Overwriting within the bytes limit is fine; growing past it is not; shrinking always is.
    expect(state.apply([OP_PUT, sid(1), 4, 'b', v('22222')], 5)).toBe(ResultCode.OK); // 2 + 6 = 8 bytes
    expect(state.bytes).toBe(8);
    expect(state.apply([OP_PUT, sid(1), 5, 'b', v('2222222222')], 6)).toBe(ResultCode.STATE_FULL);
    expect(state.get('b')).toEqual(v('22222'));
    // A matching cas is a write too: 'a' = '1111' would make 5 + 6 = 11 bytes; '11' makes 9.
    expect(state.apply([OP_CAS, sid(1), 6, 'a', v('1'), v('1111')], 7)).toBe(ResultCode.STATE_FULL);
    expect(state.apply([OP_CAS, sid(1), 7, 'a', v('1'), v('11')], 8)).toBe(ResultCode.OK);
    expect(state.bytes).toBe(9);
    expect(state.apply([OP_DELETE, sid(1), 8, 'b'], 9)).toBe(ResultCode.DELETED);
    expect(state.bytes).toBe(3);
    expect(state.apply([OP_PUT, sid(1), 9, 'c', v('3')], 10)).toBe(ResultCode.OK);
  });

  it('deletes free room, and every replica agrees: the same commands give the same results and root', () => {
    const run = () => {
      const state = new KvState(fastSha256, 100, { limits: { entriesMax: 3, bytesMax: 1_000 } });
      const results: number[] = [];
      const prng = new Prng(4);
      for (let i = 1; i <= 500; i++) {
        const key = `k${prng.nextInt(8)}`;
        const command = prng.chance(0.3) ? [OP_DELETE, sid(2), i, key] : [OP_PUT, sid(2), i, key, v('x'.repeat(prng.nextInt(200)))];
        results.push(state.apply(command, i));
        expect(state.keyCount).toBeLessThanOrEqual(3);
        expect(state.bytes).toBeLessThanOrEqual(1_000);
      }
      return { results, root: hex(state.root()), reference: referenceRoot(state) };
    };
    const first = run();
    expect(run()).toEqual(first);
    expect(first.root).toBe(first.reference);
    expect(first.results.filter((result) => result === ResultCode.STATE_FULL).length).toBeGreaterThan(10);
    expect(first.results.filter((result) => result === ResultCode.DELETED).length).toBeGreaterThan(10);
  });
});

describe('KvState exactly-once (dedup table)', () => {
  it('a repeated (clientId, seq) is applied once and answered with its first result', () => {
    const state = new KvState(fastSha256, 100);
    expect(state.apply([OP_CAS, sid(9), 1, 'k', null, v('first')], 10)).toBe(ResultCode.OK);
    const digest = hex(state.root());
    // The retry would now fail the cas; it must instead get the first result, and change nothing.
    expect(state.apply([OP_CAS, sid(9), 1, 'k', null, v('first')], 11)).toBe(ResultCode.OK | DUPLICATE_FLAG);
    expect(hex(state.root())).toBe(digest);
    expect(state.session(sid(9)!)).toMatchObject({ seq: 1, result: ResultCode.OK, height: 10 });
  });

  it('an older seq is STALE and not applied', () => {
    const state = new KvState(fastSha256, 100);
    state.apply([OP_PUT, sid(9), 5, 'k', v('five')], 1);
    expect(state.apply([OP_PUT, sid(9), 4, 'k', v('four')], 2)).toBe(ResultCode.STALE);
    expect(state.get('k')).toEqual(v('five'));
  });

  it('clientId 0 has no session: the same command applies every time', () => {
    const state = new KvState(fastSha256, 100);
    state.apply([OP_PUT, null, 0, 'k', v('a')], 1);
    expect(state.apply([OP_DELETE, null, 0, 'k'], 2)).toBe(ResultCode.DELETED);
    expect(state.apply([OP_DELETE, null, 0, 'k'], 3)).toBe(ResultCode.NOT_FOUND);
    expect(state.sessionCount).toBe(0);
  });

  it('is bounded: past capacity the least recently applied session is evicted, deterministically', () => {
    const state = new KvState(fastSha256, 3);
    for (const client of [1, 2, 3]) state.apply([OP_NOOP, sid(client), 1], 1);
    state.apply([OP_NOOP, sid(1), 2], 2); // client 1 is now the most recent
    state.apply([OP_NOOP, sid(4), 1], 3); // evicts client 2
    expect([...state.allSessions()].map((session) => session.id)).toEqual([3, 1, 4].map(sid));
    expect(state.session(sid(2)!)).toBeUndefined();
    // Evicted: a retry of client 2's command is applied again (documented trade-off).
    expect(state.apply([OP_NOOP, sid(2), 1], 4)).toBe(ResultCode.OK);
    expect(state.sessionCount).toBe(3);
  });
});

describe('KvState root', () => {
  it('the empty state has the root of two empty tries', () => {
    expect(hex(new KvState(fastSha256, 10).root())).toBe(referenceRoot(new KvState(fastSha256, 10)));
    expect(hex(new KvState(fastSha256, 10).root())).toBe(hex(nobleSha256.hash(new Uint8Array([...new TextEncoder().encode('paxchain/state/1\0'), ...new Uint8Array(64)]))));
  });

  it('equals the from-scratch reference after every block of a random workload with evictions', () => {
    const state = new KvState(fastSha256, 50);
    const workload = new Workload({ seed: 3, keys: 300, valueBytes: 40, clients: 80, mix: { put: 60, delete: 20, cas: 20 }, duplicateRate: 0.05 });
    for (let height = 1; height <= 60; height++) {
      for (const command of workload.batch(50)) state.apply(command, height);
      expect(hex(state.root())).toBe(referenceRoot(state));
    }
  });

  it('is order-independent: different histories that reach the same state (values and revisions) have the same root', () => {
    const a = new KvState(fastSha256, 10);
    const b = new KvState(fastSha256, 10);
    a.apply([OP_PUT, null, 0, 'x', v('1')], 1);
    a.apply([OP_PUT, null, 0, 'y', v('2')], 1);
    b.apply([OP_PUT, null, 0, 'z', v('9')], 1);
    b.apply([OP_PUT, null, 0, 'y', v('2')], 1);
    b.apply([OP_PUT, null, 0, 'x', v('1')], 1);
    b.apply([OP_DELETE, null, 0, 'z'], 1);
    expect(hex(a.root())).toBe(hex(b.root()));
    b.apply([OP_PUT, null, 0, 'y', v('3')], 1);
    expect(hex(a.root())).not.toBe(hex(b.root()));
  });

  it('the same commands give the same root whichever SHA-256 implementation runs', () => {
    const run = (sha = fastSha256) => {
      const state = new KvState(sha, 20);
      const workload = new Workload({ seed: 8, keys: 50, valueBytes: 70, clients: 30, mix: { put: 70, delete: 15, cas: 15 }, duplicateRate: 0.1 });
      for (const command of workload.batch(2000)) state.apply(command, 1);
      return hex(state.root());
    };
    expect(run(nobleSha256)).toBe(run(fastSha256));
  });

  it('survives values that grow, shrink and move, and the arena compaction that follows', () => {
    const state = new KvState(fastSha256, 10);
    const prng = new Prng(17);
    for (let i = 0; i < 30_000; i++) {
      const size = prng.chance(0.5) ? 20 : 2000;
      state.apply([OP_PUT, null, 0, `key-${prng.nextInt(200)}`, new Uint8Array(size).fill(i & 0xff)], 1);
      if (i % 1000 === 0) expect(hex(state.root())).toBe(referenceRoot(state));
    }
    expect(hex(state.root())).toBe(referenceRoot(state));
  });
});

describe('KvState revisions', () => {
  it('each key carries the height that created it, the height that last wrote it and its version, against a model', () => {
    const state = new KvState(fastSha256, 1000);
    const prng = new Prng(23);
    const model = new Map<string, { value: Uint8Array; createHeight: number; modHeight: number; version: number }>();
    let seq = 0;
    for (let height = 1; height <= 400; height++) {
      for (let i = prng.nextInt(6); i > 0; i--) {
        const key = `k${prng.nextInt(25)}`;
        const old = model.get(key);
        const value = v(`${height}.${i}`);
        const kind = prng.nextInt(4);
        if (kind < 2) {
          expect(state.apply([OP_PUT, sid(1), ++seq, key, value], height)).toBe(ResultCode.OK);
          model.set(key, old ? { value, createHeight: old.createHeight, modHeight: height, version: old.version + 1 } : { value, createHeight: height, modHeight: height, version: 1 });
        } else if (kind === 2) {
          state.apply([OP_DELETE, sid(1), ++seq, key], height);
          model.delete(key);
        } else {
          // A cas whose expectation holds half the time; a mismatch changes no revision.
          const expect_ = prng.chance(0.5) ? (old?.value ?? null) : v('never');
          const result = state.apply([OP_CAS, sid(1), ++seq, key, expect_, value], height);
          const matches = expect_ === null ? old === undefined : old !== undefined && hex(old.value) === hex(expect_);
          expect(result).toBe(matches ? ResultCode.OK : ResultCode.CAS_MISMATCH);
          if (matches) model.set(key, old ? { value, createHeight: old.createHeight, modHeight: height, version: old.version + 1 } : { value, createHeight: height, modHeight: height, version: 1 });
        }
      }
      if (height % 50 === 0) {
        for (let k = 0; k < 25; k++) {
          const entry = state.entry(bytes(`k${k}`));
          const expected = model.get(`k${k}`);
          expect(entry && { value: hex(entry.value), ...entry.revisions }).toEqual(expected && { ...expected, value: hex(expected.value) });
        }
        expect(hex(state.root())).toBe(referenceRoot(state));
      }
    }
  });

  it('two states with the same keys and values but other revisions have different roots', () => {
    const once = new KvState(fastSha256, 10);
    once.apply([OP_PUT, null, 0, 'a', v('x')], 1);
    const twice = new KvState(fastSha256, 10);
    twice.apply([OP_PUT, null, 0, 'a', v('x')], 1);
    twice.apply([OP_PUT, null, 0, 'a', v('x')], 1);
    expect(twice.entry(bytes('a'))!.revisions).toEqual({ createHeight: 1, modHeight: 1, version: 2 });
    expect(hex(once.root())).not.toBe(hex(twice.root()));
  });
});
