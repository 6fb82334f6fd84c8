// Ranges and transactions of the state machine against a plain model (a Map and sorting), over
// random operation sequences: every page, count, txn result, get and the revisions they show.
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/lib/prng.js';
import { OP_CAS, OP_PUT, OP_TXN, ResultCode, type TxnCompare, type TxnOp, decodeCommand, encodeCommand } from '../../src/kv/command.js';
import { prefixEnd, RANGE_PAGE_BYTES_MAX, type RangeQuery } from '../../src/kv/range.js';
import { KvState } from '../../src/kv/state.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { bytes, hex, referenceRoot, sid } from '../helpers.js';

interface ModelEntry {
  value: string;
  createHeight: number;
  modHeight: number;
  version: number;
}

class Model {
  readonly entries = new Map<string, ModelEntry>();

  put(key: string, value: string, height: number): void {
    const old = this.entries.get(key);
    this.entries.set(key, old ? { value, createHeight: old.createHeight, modHeight: height, version: old.version + 1 } : { value, createHeight: height, modHeight: height, version: 1 });
  }

  /** Keys in byte order (UTF-8), as the trie orders them. */
  sortedKeys(): string[] {
    return [...this.entries.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }

  inRange(key: string, start: Uint8Array, after: boolean, end: Uint8Array | null): boolean {
    const k = Buffer.from(key);
    const low = Buffer.compare(k, Buffer.from(start));
    return (after ? low > 0 : low >= 0) && (end === null || Buffer.compare(k, Buffer.from(end)) < 0);
  }

  holds(compare: TxnCompare): boolean {
    const entry = this.entries.get(compare.key);
    let order: number;
    if (compare.target === 'value') {
      if (!entry) return compare.relation === '!=';
      order = Buffer.compare(Buffer.from(entry.value), Buffer.from(compare.operand as Uint8Array));
    } else {
      order = Math.sign((entry ? entry[compare.target] : 0) - (compare.operand as number));
    }
    return { '=': order === 0, '!=': order !== 0, '<': order < 0, '>': order > 0 }[compare.relation];
  }
}

const ALPHABET = ['a', 'b', 'ab', 'a/', 'b/c', 'é', 'z'];
function randomKey(prng: Prng): string {
  let key = '';
  for (let n = 1 + prng.nextInt(3); n > 0; n--) key += ALPHABET[prng.nextInt(ALPHABET.length)];
  return key;
}

function randomCompare(prng: Prng, model: Model): TxnCompare {
  const key = randomKey(prng);
  const relation = (['=', '!=', '<', '>'] as const)[prng.nextInt(4)]!;
  const target = (['value', 'version', 'modHeight', 'createHeight'] as const)[prng.nextInt(4)]!;
  if (target === 'value') return { target, key, relation, operand: bytes(model.entries.get(key)?.value ?? `v${prng.nextInt(3)}`) };
  return { target, key, relation, operand: prng.chance(0.5) ? (model.entries.get(key)?.[target] ?? 0) : prng.nextInt(40) };
}

/** A branch whose writes do not overlap (what decodeCommand accepts). */
function randomBranch(prng: Prng, height: number): TxnOp[] {
  const ops: TxnOp[] = [];
  const written = new Set<string>();
  for (let n = prng.nextInt(5); n > 0; n--) {
    const kind = prng.nextInt(10);
    const key = randomKey(prng);
    if (kind < 2) ops.push({ kind: 'get', key });
    else if (kind === 2 && ![...written].some((other) => other.startsWith(key) || key.startsWith(other))) {
      ops.push({ kind: 'delete-prefix', prefix: key });
      written.add(key);
    } else if (![...written].some((other) => key.startsWith(other) || other === key)) {
      ops.push(kind < 7 ? { kind: 'put', key, value: bytes(`t${height}.${n}`) } : { kind: 'delete', key });
      written.add(key);
    }
  }
  return typeof decodeCommand([OP_TXN, null, 0, [], ops.map((op) => encodeOpForCheck(op)), []]) === 'string' ? [] : ops;
}

function encodeOpForCheck(op: TxnOp): unknown[] {
  const tuple = encodeCommand({ op: 'txn', session: null, seq: 0, compares: [], success: [op], failure: [] }) as unknown[];
  return (tuple[4] as unknown[][])[0]!;
}

function applyModelTxn(model: Model, compares: TxnCompare[], success: TxnOp[], failure: TxnOp[], height: number) {
  const holds = compares.every((compare) => model.holds(compare));
  const gets: Array<{ key: string; value: string | null }> = [];
  let deleted = 0;
  for (const op of holds ? success : failure) {
    if (op.kind === 'get') gets.push({ key: op.key, value: model.entries.get(op.key)?.value ?? null });
    else if (op.kind === 'put') model.put(op.key, Buffer.from(op.value).toString(), height);
    else if (op.kind === 'delete') deleted += model.entries.delete(op.key) ? 1 : 0;
    else for (const key of model.sortedKeys()) if (Buffer.from(key).subarray(0, Buffer.byteLength(op.prefix)).equals(Buffer.from(op.prefix)) && model.entries.delete(key)) deleted++;
  }
  return { holds, gets, deleted };
}

describe('range reads against a model', () => {
  it('pages, counts and keys-only reads equal the sorted model for random bounds and states', () => {
    const prng = new Prng(41);
    const state = new KvState(fastSha256, 100);
    const model = new Model();
    for (let height = 1; height <= 300; height++) {
      const key = randomKey(prng);
      if (prng.chance(0.7)) {
        state.apply([OP_PUT, null, 0, key, bytes(`v${height}`)], height);
        model.put(key, `v${height}`, height);
      } else {
        state.apply([2, null, 0, key], height);
        model.entries.delete(key);
      }
      if (height % 10 !== 0) continue;
      for (let q = 0; q < 20; q++) {
        const prefix = prng.chance(0.3);
        const start = prng.chance(0.1) ? new Uint8Array(0) : bytes(randomKey(prng));
        const end = prefix ? prefixEnd(start) : prng.chance(0.3) ? null : bytes(randomKey(prng));
        const after = !prefix && prng.chance(0.3);
        const limit = 1 + prng.nextInt(6);
        const expected = model.sortedKeys().filter((k) => model.inRange(k, start, after, end));
        const query: RangeQuery = { start, after, end, limit, keysOnly: prng.chance(0.3), countOnly: false };
        const page = state.range(query);
        expect(page.entries.map((entry) => Buffer.from(entry.key).toString())).toEqual(expected.slice(0, limit));
        expect(page.more).toBe(expected.length > limit);
        for (const entry of page.entries) {
          const want = model.entries.get(Buffer.from(entry.key).toString())!;
          expect(entry.value === null ? null : Buffer.from(entry.value).toString()).toBe(query.keysOnly ? null : want.value);
          expect(entry.revisions).toEqual({ createHeight: want.createHeight, modHeight: want.modHeight, version: want.version });
        }
        expect(state.range({ ...query, countOnly: true }).count).toBe(expected.length);
      }
    }
  });

  it('a page stops at RANGE_PAGE_BYTES_MAX bytes but never returns an empty page while keys remain', () => {
    const state = new KvState(fastSha256, 10);
    const big = new Uint8Array(300 * 1024);
    for (let i = 0; i < 10; i++) state.apply([OP_PUT, null, 0, `big/${i}`, big], 1);
    const page = state.range({ start: bytes('big/'), after: false, end: prefixEnd(bytes('big/')), limit: 1000, keysOnly: false, countOnly: false });
    expect(page.entries.length).toBe(Math.ceil(RANGE_PAGE_BYTES_MAX / (big.length + 5)));
    expect(page.more).toBe(true);
    const rest = state.range({ start: page.entries.at(-1)!.key, after: true, end: null, limit: 1000, keysOnly: false, countOnly: false });
    expect(page.entries.length + rest.entries.length + (rest.more ? 1 : 0)).toBeGreaterThan(page.entries.length);
  });
});

describe('the change log (what watches stream) against a model', () => {
  it('lists exactly what each put, delete, cas and txn changed, in order, with the revisions after it', () => {
    const prng = new Prng(47);
    const state = new KvState(fastSha256, 100);
    state.enableChangeLog();
    const model = new Model();
    let seq = 0;
    let changes = 0;
    const view = (list: ReturnType<KvState['takeChanges']>) => list.map((change) => [Buffer.from(change.key).toString(), change.value === null ? null : Buffer.from(change.value).toString(), change.revisions]);
    const revisionsOf = (key: string) => { const m = model.entries.get(key)!; return { createHeight: m.createHeight, modHeight: m.modHeight, version: m.version }; };
    for (let height = 1; height <= 800; height++) {
      const roll = prng.nextInt(10);
      const key = randomKey(prng);
      const expected: unknown[][] = [];
      if (roll < 3) {
        state.apply([OP_PUT, null, 0, key, bytes(`p${height}`)], height);
        model.put(key, `p${height}`, height);
        expected.push([key, `p${height}`, revisionsOf(key)]);
      } else if (roll < 5) {
        state.apply([2, null, 0, key], height);
        if (model.entries.delete(key)) expected.push([key, null, null]);
      } else if (roll < 6) {
        const expect = model.entries.get(key)?.value ?? null;
        const matching = prng.chance(0.5);
        state.apply([OP_CAS, null, 0, key, matching && expect !== null ? bytes(expect) : bytes('nope'), bytes(`c${height}`)], height);
        if (matching && expect !== null) {
          model.put(key, `c${height}`, height);
          expected.push([key, `c${height}`, revisionsOf(key)]);
        }
      } else {
        const compares = Array.from({ length: prng.nextInt(3) }, () => randomCompare(prng, model));
        const success = randomBranch(prng, height);
        const failure = randomBranch(prng, height);
        state.apply(encodeCommand({ op: 'txn', session: sid(4), seq: ++seq, compares, success, failure }), height);
        const holds = compares.every((compare) => model.holds(compare));
        for (const op of holds ? success : failure) {
          if (op.kind === 'put') {
            model.put(op.key, Buffer.from(op.value).toString(), height);
            expected.push([op.key, Buffer.from(op.value).toString(), revisionsOf(op.key)]);
          } else if (op.kind === 'delete') {
            if (model.entries.delete(op.key)) expected.push([op.key, null, null]);
          } else if (op.kind === 'delete-prefix') {
            for (const k of model.sortedKeys()) if (Buffer.from(k).subarray(0, Buffer.byteLength(op.prefix)).equals(Buffer.from(op.prefix)) && model.entries.delete(k)) expected.push([k, null, null]);
          }
        }
        (state as unknown as { txnOutputs: unknown[] }).txnOutputs = [];
      }
      const got = state.takeChanges();
      changes += got.length;
      expect(view(got), `height ${height}`).toEqual(expected);
    }
    expect(changes).toBeGreaterThan(500);
  });
});

describe('transactions against a model', () => {
  it('random txns (compares on value, version, mod and create heights; put, delete, delete-prefix, get) match the model', () => {
    const prng = new Prng(43);
    const state = new KvState(fastSha256, 100);
    const model = new Model();
    let seq = 0;
    for (let height = 1; height <= 600; height++) {
      const compares = Array.from({ length: prng.nextInt(4) }, () => randomCompare(prng, model));
      const success = randomBranch(prng, height);
      const failure = randomBranch(prng, height);
      const tuple = encodeCommand({ op: 'txn', session: sid(3), seq: ++seq, compares, success, failure });
      const result = state.apply(tuple, height);
      const outputs = [...(state as unknown as { txnOutputs: Array<{ gets: Array<{ key: string; value: Uint8Array | null }>; deleted: number }> }).txnOutputs];
      const expected = applyModelTxn(model, compares, success, failure, height);
      expect(result).toBe(expected.holds ? ResultCode.OK : ResultCode.COMPARE_FAILED);
      const output = outputs.at(-1);
      if (expected.gets.length > 0 || expected.deleted > 0) {
        expect(output!.gets.map((get) => ({ key: get.key, value: get.value === null ? null : Buffer.from(get.value).toString() }))).toEqual(expected.gets);
        expect(output!.deleted).toBe(expected.deleted);
      }
      (state as unknown as { txnOutputs: unknown[] }).txnOutputs = [];
      if (height % 25 === 0) {
        const all = state.range({ start: new Uint8Array(0), after: false, end: null, limit: 1000, keysOnly: false, countOnly: false });
        expect(all.entries.map((e) => [Buffer.from(e.key).toString(), Buffer.from(e.value!).toString(), e.revisions])).toEqual(
          model.sortedKeys().map((k) => { const m = model.entries.get(k)!; return [k, m.value, { createHeight: m.createHeight, modHeight: m.modHeight, version: m.version }]; }),
        );
        expect(hex(state.root())).toBe(referenceRoot(state));
      }
    }
  });

  it('is atomic under the state limits: a branch that would overflow changes nothing (STATE_FULL)', () => {
    const state = new KvState(fastSha256, 10, { limits: { entriesMax: 3, bytesMax: 1000 } });
    state.apply([OP_PUT, null, 0, 'a', bytes('1')], 1);
    state.apply([OP_PUT, null, 0, 'b', bytes('2')], 1);
    const before = hex(state.root());
    const tooMany = encodeCommand({ op: 'txn', session: null, seq: 0, compares: [], success: [{ kind: 'put', key: 'c', value: bytes('3') }, { kind: 'put', key: 'd', value: bytes('4') }], failure: [] });
    expect(state.apply(tooMany, 2)).toBe(ResultCode.STATE_FULL);
    expect(hex(state.root())).toBe(before);
    // Deleting as many as it adds fits, whatever the order of the ops.
    const swap = encodeCommand({ op: 'txn', session: null, seq: 0, compares: [], success: [{ kind: 'put', key: 'c', value: bytes('3') }, { kind: 'put', key: 'd', value: bytes('4') }, { kind: 'delete-prefix', prefix: 'a' }], failure: [] });
    expect(state.apply(swap, 3)).toBe(ResultCode.OK);
    expect(state.keyCount).toBe(3);
  });

  it('refuses malformed and overlapping txns with a reason, and applies them as INVALID', () => {
    const put = (key: string) => [0, key, bytes('x')];
    for (const [success, reason] of [
      [[put('a'), put('a')], /written twice/],
      [[put('ab'), [2, 'a']], /deleted by prefix/],
      [[[2, 'a'], [2, 'ab']], /overlap/],
      [[[9, 'a']], /unknown txn op/],
      [Array.from({ length: 129 }, (_, i) => put(`k${i}`)), /at most 128 ops/],
    ] as const) {
      const tuple = [OP_TXN, null, 0, [], success, []];
      expect(decodeCommand(tuple)).toMatch(reason);
      expect(new KvState(fastSha256, 10).apply(tuple, 1)).toBe(ResultCode.INVALID);
    }
    expect(decodeCommand([OP_TXN, null, 0, [[7, 'a', 0, 1]], [], []])).toMatch(/unknown compare target/);
    expect(decodeCommand([OP_TXN, null, 0, [[1, 'a', 0, bytes('x')]], [], []])).toMatch(/needs an integer/);
  });

  it('cas is the one-compare txn: the same commands in either form give the same results, state and revisions', () => {
    const prng = new Prng(47);
    const viaCas = new KvState(fastSha256, 10);
    const viaTxn = new KvState(fastSha256, 10);
    for (let height = 1; height <= 500; height++) {
      const key = `k${prng.nextInt(4)}`;
      const expect_ = prng.chance(0.3) ? null : bytes(`v${prng.nextInt(4)}`);
      const value = prng.chance(0.2) ? null : bytes(`v${prng.nextInt(4)}`);
      const casResult = viaCas.apply([OP_CAS, null, 0, key, expect_, value], height);
      const compare: TxnCompare = expect_ === null ? { target: 'version', key, relation: '=', operand: 0 } : { target: 'value', key, relation: '=', operand: expect_ };
      const op: TxnOp = value === null ? { kind: 'delete', key } : { kind: 'put', key, value };
      const txnResult = viaTxn.apply(encodeCommand({ op: 'txn', session: null, seq: 0, compares: [compare], success: [op], failure: [] }), height);
      expect(txnResult === ResultCode.OK).toBe(casResult === ResultCode.OK || casResult === ResultCode.DELETED || casResult === ResultCode.NOT_FOUND);
      expect(hex(viaTxn.root())).toBe(hex(viaCas.root()));
    }
  });
});
