// The linearizability checker: each test names the rule it checks. A key is a register that starts
// absent; operations occupy closed intervals [call, return]; an operation without a response may
// take effect once at any time after its call, or never (Herlihy & Wing 1990; Wing & Gong 1993).
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/lib/prng.js';
import { checkLinearizability, type HistoryOp } from '../../src/check/linearizability.js';

let ids = 0;

/** A put; `returned` undefined = no response (timed out). */
function put(process: number, value: string, call: number, returned?: number, key = 'k'): HistoryOp {
  const done = returned === undefined ? {} : { return: returned, result: { ok: true } };
  return { id: ++ids, process, kind: 'put', key, value, call, ...done };
}

function get(process: number, value: string | null, call: number, returned?: number, key = 'k'): HistoryOp {
  const done = returned === undefined ? {} : { return: returned, result: { value } };
  return { id: ++ids, process, kind: 'get', key, call, ...done };
}

function remove(process: number, deleted: boolean, call: number, returned?: number, key = 'k'): HistoryOp {
  const done = returned === undefined ? {} : { return: returned, result: { deleted } };
  return { id: ++ids, process, kind: 'delete', key, call, ...done };
}

function cas(process: number, expect: string | null, value: string | null, ok: boolean, call: number, returned?: number, key = 'k'): HistoryOp {
  const done = returned === undefined ? {} : { return: returned, result: { ok } };
  return { id: ++ids, process, kind: 'cas', key, expect, value, call, ...done };
}

function verdictOf(history: HistoryOp[], statesMax?: number): string {
  return checkLinearizability(history, statesMax === undefined ? {} : { statesMax }).verdict;
}

describe('linearizability: histories that must pass', () => {
  it('a sequential history passes when every read returns the latest write', () => {
    const history = [
      get(1, null, 0, 1),
      put(1, 'a', 2, 3),
      get(2, 'a', 4, 5),
      put(2, 'b', 6, 7),
      get(1, 'b', 8, 9),
      remove(1, true, 10, 11),
      get(2, null, 12, 13),
      remove(2, false, 14, 15),
    ];
    const result = checkLinearizability(history);
    expect(result).toEqual({ ok: true, verdict: 'linearizable', keys: 1, operations: 8 });
  });

  it('concurrent writes may take effect in either order', () => {
    const aFirst = [put(1, 'a', 0, 10), put(2, 'b', 0, 10), get(3, 'b', 11, 12)];
    const bFirst = [put(1, 'a', 0, 10), put(2, 'b', 0, 10), get(3, 'a', 11, 12)];
    expect(verdictOf(aFirst)).toBe('linearizable');
    expect(verdictOf(bFirst)).toBe('linearizable');
  });

  it('a read overlapping a write may return the old value or the new value', () => {
    const base = [put(1, 'old', 0, 1), put(1, 'new', 2, 10)];
    expect(verdictOf([...base, get(2, 'old', 3, 5)])).toBe('linearizable');
    expect(verdictOf([...base, get(2, 'new', 3, 5)])).toBe('linearizable');
    // Two overlapping reads may see new then old only if they overlap each other too.
    expect(verdictOf([...base, get(2, 'new', 3, 6), get(3, 'old', 4, 8)])).toBe('linearizable');
  });

  it('touching intervals (one returns at t, the next is called at t) count as concurrent', () => {
    expect(verdictOf([put(1, 'a', 0, 1), put(1, 'b', 2, 5), get(2, 'a', 5, 6)])).toBe('linearizable');
  });

  it('cas semantics: expect null means absent, value null deletes on match, a mismatch changes nothing', () => {
    const history = [
      cas(1, null, 'a', true, 0, 1),
      cas(1, null, 'b', false, 2, 3),
      cas(2, 'zzz', 'b', false, 4, 5),
      get(2, 'a', 6, 7),
      cas(1, 'a', null, true, 8, 9),
      get(1, null, 10, 11),
    ];
    expect(verdictOf(history)).toBe('linearizable');
  });

  it('operations of one process need not be sequential (the check orders by real time only)', () => {
    expect(verdictOf([put(1, 'a', 0, 10), put(1, 'b', 1, 9), get(1, 'a', 11, 12)])).toBe('linearizable');
  });

  it('an empty history is linearizable', () => {
    expect(checkLinearizability([])).toEqual({ ok: true, verdict: 'linearizable', keys: 0, operations: 0 });
  });
});

describe('linearizability: violations', () => {
  it('rejects a stale read: a read called after a write returned cannot return an older value', () => {
    const stale = get(2, 'a', 4, 5);
    const result = checkLinearizability([put(1, 'a', 0, 1), put(1, 'b', 2, 3), stale]);
    expect(result.ok).toBe(false);
    expect(result.verdict).toBe('violation');
    expect(result.violation?.key).toBe('k');
    expect(result.violation?.operations).toContain(stale);
    expect(result.violation?.message).toContain(`op ${stale.id}`);
  });

  it('rejects a lost write: an acknowledged put must be visible to reads that start after it returned', () => {
    const history = [put(1, 'a', 0, 1), put(2, 'b', 2, 3), get(3, 'a', 4, 5), get(1, 'a', 6, 7)];
    expect(verdictOf(history)).toBe('violation');
    // The same reads are fine if the put never got a response (it may never have happened).
    const maybe = [put(1, 'a', 0, 1), put(2, 'b', 2), get(3, 'a', 4, 5), get(1, 'a', 6, 7)];
    expect(verdictOf(maybe)).toBe('linearizable');
  });

  it('rejects a read of a value never written', () => {
    expect(verdictOf([put(1, 'a', 0, 1), get(2, 'x', 0, 5)])).toBe('violation');
  });

  it('rejects a read of a present value on a key never written (registers start absent)', () => {
    expect(verdictOf([get(1, 'a', 0, 1)])).toBe('violation');
  });

  it('rejects a cas that succeeded against a value never written', () => {
    expect(verdictOf([put(1, 'a', 0, 1), cas(2, 'zzz', 'b', true, 2, 3)])).toBe('violation');
  });

  it('rejects a cas whose result contradicts the state (mismatch reported while the expected value is current)', () => {
    expect(verdictOf([put(1, 'a', 0, 1), cas(2, 'a', 'b', false, 2, 3)])).toBe('violation');
    // ... and a successful cas must change the value.
    expect(verdictOf([put(1, 'a', 0, 1), cas(2, 'a', 'b', true, 2, 3), get(1, 'a', 4, 5)])).toBe('violation');
  });

  it('rejects a delete reporting deleted:true on an absent key', () => {
    expect(verdictOf([remove(1, true, 0, 1)])).toBe('violation');
    expect(verdictOf([put(1, 'a', 0, 1), remove(1, true, 2, 3), remove(2, true, 4, 5)])).toBe('violation');
    expect(verdictOf([put(1, 'a', 0, 1), remove(2, false, 2, 3)])).toBe('violation');
  });

  it('rejects non-monotonic reads: sequential readers cannot see the new value and then the old one', () => {
    const history = [put(1, 'a', 0, 1), put(1, 'b', 2, 100), get(2, 'b', 3, 4), get(3, 'a', 5, 6)];
    expect(verdictOf(history)).toBe('violation');
  });

  it('the violation report names the key and quotes the operations around the offending one', () => {
    const history: HistoryOp[] = [];
    for (let i = 0; i < 200; i++) history.push(put(1, `v${i}`, 2 * i, 2 * i + 1));
    const stale = get(2, 'v10', 1000, 1001);
    history.push(stale, put(3, 'other', 0, 1, 'other-key'));
    const result = checkLinearizability(history);
    expect(result.verdict).toBe('violation');
    expect(result.keys).toBe(2);
    expect(result.violation!.key).toBe('k');
    expect(result.violation!.operations).toContain(stale);
    expect(result.violation!.operations.length).toBeLessThan(10);
    expect(result.violation!.message).toMatch(/"v199"/);
  });
});

describe('linearizability: operations without a response', () => {
  it('a timed-out write may have taken effect: later reads may observe it', () => {
    const history = [put(1, 'a', 0, 1), put(2, 'b', 2), get(3, 'b', 10, 11), get(3, 'b', 12, 13)];
    expect(verdictOf(history)).toBe('linearizable');
  });

  it('a timed-out write may never take effect: later reads may never observe it', () => {
    const history = [put(1, 'a', 0, 1), put(2, 'b', 2), get(3, 'a', 10, 11), get(3, 'a', 1000, 1001)];
    expect(verdictOf(history)).toBe('linearizable');
  });

  it('a timed-out write takes effect at one point only: reads cannot see it, lose it, then see it again', () => {
    const history = [put(1, 'a', 0, 1), put(2, 'b', 2), get(3, 'b', 10, 11), get(3, 'a', 12, 13), get(3, 'b', 14, 15)];
    expect(verdictOf(history)).toBe('violation');
  });

  it('a timed-out write cannot take effect before it was called', () => {
    expect(verdictOf([get(1, 'b', 0, 1), put(2, 'b', 2)])).toBe('violation');
  });

  it('a timed-out cas or delete accepts any outcome the state allows', () => {
    expect(verdictOf([put(1, 'a', 0, 1), cas(2, 'a', 'b', false, 2), get(3, 'b', 5, 6)])).toBe('linearizable');
    expect(verdictOf([put(1, 'a', 0, 1), remove(2, false, 2), get(3, null, 5, 6)])).toBe('linearizable');
  });

  it('reads without a response are dropped, whatever result they carry', () => {
    const unanswered: HistoryOp = { id: ++ids, process: 1, kind: 'get', key: 'k', call: 0, result: { value: 'never' } };
    const result = checkLinearizability([unanswered, put(2, 'a', 0, 1)]);
    expect(result).toEqual({ ok: true, verdict: 'linearizable', keys: 1, operations: 1 });
  });
});

describe('linearizability: budget and keys', () => {
  /** Twelve concurrent puts then a read of a value none wrote: the search must try every order. */
  function expensiveViolation(key = 'k'): HistoryOp[] {
    const history = Array.from({ length: 12 }, (_, i) => put(i, `v${i}`, 0, 100, key));
    history.push(get(99, 'never', 101, 102, key));
    return history;
  }

  it('budget exhaustion gives unknown, never violation, and lists the key', () => {
    const result = checkLinearizability(expensiveViolation(), { statesMax: 100 });
    expect(result).toEqual({ ok: true, verdict: 'unknown', keys: 1, operations: 13, unknownKeys: ['k'] });
    expect(checkLinearizability(expensiveViolation()).verdict).toBe('violation');
  });

  it('a violation past the budget of the whole history is proven on a window that ends where the search got stuck', () => {
    // 14 concurrent puts of which a3 must be last: about 2^14 orders to rule out before the
    // search of the whole history could prove the stale read at the end.
    const history = Array.from({ length: 14 }, (_, i) => put(i, `a${i}`, 0, 100));
    history.push(get(20, 'a3', 101, 102));
    for (let i = 0; i < 40; i++) history.push(put(30, `b${i}`, 200 + 2 * i, 201 + 2 * i));
    const stale = get(31, 'b5', 300, 301);
    history.push(stale);
    const result = checkLinearizability(history, { statesMax: 5000 });
    expect(result.verdict).toBe('violation');
    expect(result.violation!.message).toContain('whatever it held at time');
    expect(result.violation!.operations).toContain(stale);
    // The same history with the stale read fixed stays unknown: a window never proves success.
    const fixed = [...history.slice(0, -1), get(31, 'b39', 300, 301)];
    expect(checkLinearizability(fixed, { statesMax: 5000 }).verdict).not.toBe('violation');
  });

  it('keys are independent registers: a write to one key is invisible on another', () => {
    const history = [put(1, 'a', 0, 1, 'x'), get(2, null, 2, 3, 'y'), put(2, 'b', 4, 5, 'y'), get(1, 'a', 6, 7, 'x')];
    expect(checkLinearizability(history)).toEqual({ ok: true, verdict: 'linearizable', keys: 2, operations: 4 });
  });

  it('a violation on one key is reported with that key and wins over an unknown key', () => {
    const history = [...expensiveViolation('slow'), put(1, 'a', 0, 1, 'fast'), get(2, null, 2, 3, 'fast')];
    const result = checkLinearizability(history, { statesMax: 100 });
    expect(result.verdict).toBe('violation');
    expect(result.ok).toBe(false);
    expect(result.violation!.key).toBe('fast');
    expect(result.unknownKeys).toEqual(['slow']);
  });
});

describe('linearizability: misuse is a TypeError', () => {
  it('rejects an operation that returns before it is called, an unknown kind, duplicate ids and missing results', () => {
    expect(() => checkLinearizability([put(1, 'a', 5, 4)])).toThrow(TypeError);
    const unknownKind = { id: ++ids, process: 1, kind: 'increment', key: 'k', call: 0, return: 1 } as unknown as HistoryOp;
    expect(() => checkLinearizability([unknownKind])).toThrow(/unknown kind/);
    const first = put(1, 'a', 0, 1);
    expect(() => checkLinearizability([first, { ...first }])).toThrow(/duplicate/);
    expect(() => checkLinearizability([{ id: ++ids, process: 1, kind: 'get', key: 'k', call: 0, return: 1 }])).toThrow(TypeError);
    expect(() => checkLinearizability([{ id: ++ids, process: 1, kind: 'cas', key: 'k', value: 'b', call: 0 }])).toThrow(/expect/);
    expect(() => checkLinearizability([], { statesMax: 0 })).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized: histories from a real sequential execution must pass; a corrupted read must fail.

interface GenerateOptions {
  readonly operations: number;
  readonly processes: number;
  readonly keys: number;
  /** Probability an operation gets no response (then it takes effect or not, 50/50). */
  readonly timeoutRate: number;
}

/**
 * Runs a real register per key: every operation gets a linearization point inside its interval,
 * operations take effect in point order, and results are what that execution returned. Values
 * written are unique, so a read names its writer.
 */
function generateLinearizable(prng: Prng, options: GenerateOptions): HistoryOp[] {
  const clocks = new Array<number>(options.processes).fill(0);
  const drafts: Array<{ operation: Omit<HistoryOp, 'id'>; point: number; timedOut: boolean; applied: boolean }> = [];
  for (let i = 0; i < options.operations; i++) {
    const process = prng.nextInt(options.processes);
    const call = clocks[process]! + prng.nextInt(3);
    const point = call + prng.nextInt(6);
    const returned = point + prng.nextInt(6);
    clocks[process] = returned + 1;
    const timedOut = prng.chance(options.timeoutRate);
    const operation = randomCommand(prng, process, `k${prng.nextInt(options.keys)}`, call, i);
    drafts.push({ operation: { ...operation, ...(timedOut ? {} : { return: returned }) }, point, timedOut, applied: !timedOut || prng.chance(0.5) });
  }
  const order = drafts.map((_, index) => index).sort((a, b) => drafts[a]!.point - drafts[b]!.point || a - b);
  const registers = new Map<string, string>();
  const history: HistoryOp[] = new Array(drafts.length);
  for (const index of order) {
    const draft = drafts[index]!;
    const result = draft.applied ? apply(registers, draft.operation) : undefined;
    history[index] = { id: index, ...draft.operation, ...(draft.timedOut ? {} : { result }) };
  }
  return history;
}

function randomCommand(prng: Prng, process: number, key: string, call: number, index: number): Omit<HistoryOp, 'id'> {
  const roll = prng.nextInt(100);
  if (roll < 40) return { process, kind: 'get', key, call };
  if (roll < 75) return { process, kind: 'put', key, value: `v${index}`, call };
  if (roll < 85) return { process, kind: 'delete', key, call };
  const recent = index - 1 - prng.nextInt(Math.min(index, 8) + 1);
  return { process, kind: 'cas', key, expect: recent < 0 || prng.chance(0.2) ? null : `v${recent}`, value: prng.chance(0.1) ? null : `v${index}`, call };
}

function apply(registers: Map<string, string>, operation: Omit<HistoryOp, 'id'>): NonNullable<HistoryOp['result']> {
  const current = registers.get(operation.key) ?? null;
  const write = (value: string | null | undefined): void => {
    if (value === null || value === undefined) registers.delete(operation.key);
    else registers.set(operation.key, value);
  };
  switch (operation.kind) {
    case 'get':
      return { value: current };
    case 'put':
      write(operation.value);
      return { ok: true };
    case 'delete':
      write(null);
      return { deleted: current !== null };
    case 'cas': {
      const ok = current === operation.expect;
      if (ok) write(operation.value);
      return { ok };
    }
  }
}

/**
 * Makes one read stale on purpose: read G returns the value of put W although another put X (of a
 * different, unique value) returned after W returned and before G was called. Only W writes that
 * value, and W precedes X precedes G in real time, so no linearization exists. Undefined if the
 * history has no such triple.
 */
function corruptOneRead(prng: Prng, history: HistoryOp[]): HistoryOp[] | undefined {
  const completedPuts = history.filter((op) => op.kind === 'put' && op.return !== undefined);
  const reads = history.filter((op) => op.kind === 'get' && op.return !== undefined);
  const start = prng.nextInt(Math.max(1, reads.length));
  for (let attempt = 0; attempt < reads.length; attempt++) {
    const read = reads[(start + attempt) % reads.length]!;
    const overwrite = completedPuts.findLast((op) => op.key === read.key && op.return! < read.call);
    const stale = overwrite && completedPuts.find((op) => op.key === read.key && op.return! < overwrite.call);
    if (stale === undefined) continue;
    return history.map((op) => (op === read ? { ...op, result: { value: stale.value! } } : op));
  }
  return undefined;
}

/** Reference: tries every real-time-respecting order, no memoization. Only for tiny histories. */
function bruteForceLinearizable(history: readonly HistoryOp[]): boolean {
  const keys = new Set(history.map((op) => op.key));
  return [...keys].every((key) => searchOrders(history.filter((op) => op.key === key), null));
}

function searchOrders(remaining: readonly HistoryOp[], state: string | null): boolean {
  if (remaining.every((op) => op.return === undefined)) return true;
  for (const candidate of remaining) {
    if (remaining.some((other) => other.return !== undefined && other.return < candidate.call)) continue;
    const next = referenceStep(candidate, state);
    if (next === 'rejected') continue;
    if (searchOrders(remaining.filter((op) => op !== candidate), next)) return true;
  }
  return false;
}

function referenceStep(op: HistoryOp, state: string | null): string | null | 'rejected' {
  const known = op.return !== undefined;
  switch (op.kind) {
    case 'get':
      return !known || op.result!.value === state ? state : 'rejected';
    case 'put':
      return op.value!;
    case 'delete':
      return !known || op.result!.deleted === (state !== null) ? null : 'rejected';
    case 'cas': {
      const matches = state === op.expect;
      if (known && op.result!.ok !== matches) return 'rejected';
      return matches ? op.value! : state;
    }
  }
}

/** A tiny history with random times and random (often wrong) results. */
function randomSmallHistory(prng: Prng): HistoryOp[] {
  const values = ['a', 'b', null];
  const count = prng.between(2, 7);
  return Array.from({ length: count }, (_, id): HistoryOp => {
    const call = prng.nextInt(8);
    const returned = prng.chance(0.2) ? undefined : call + prng.nextInt(5);
    const base = { id, process: prng.nextInt(3), key: prng.chance(0.85) ? 'k' : 'j', call, ...(returned === undefined ? {} : { return: returned }) };
    switch (prng.nextInt(4)) {
      case 0:
        return { ...base, kind: 'get', result: { value: prng.pick(values) } };
      case 1:
        return { ...base, kind: 'put', value: prng.pick(['a', 'b']), result: { ok: true } };
      case 2:
        return { ...base, kind: 'delete', result: { deleted: prng.chance(0.5) } };
      default:
        return { ...base, kind: 'cas', expect: prng.pick(values), value: prng.pick(values), result: { ok: prng.chance(0.5) } };
    }
  });
}

describe('linearizability: randomized', () => {
  it('histories generated from a real sequential execution with random overlaps and timeouts pass', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const history = generateLinearizable(new Prng(seed), { operations: 200, processes: 5, keys: 3, timeoutRate: 0.05 });
      const result = checkLinearizability(history);
      expect(result.verdict, `seed ${seed}: ${result.violation?.message}`).toBe('linearizable');
    }
  });

  it('corrupting one read of such a history into a stale read is caught', () => {
    let corrupted = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const prng = new Prng(seed);
      const history = generateLinearizable(prng, { operations: 200, processes: 5, keys: 3, timeoutRate: 0.05 });
      const broken = corruptOneRead(prng, history);
      if (broken === undefined) continue;
      corrupted++;
      expect(checkLinearizability(broken).verdict, `seed ${seed}`).toBe('violation');
    }
    expect(corrupted).toBeGreaterThan(150);
  });

  it('a small budget never turns a linearizable history into a violation (local proofs are sound)', () => {
    let provenOnWindow = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const prng = new Prng(seed);
      const history = generateLinearizable(prng, { operations: 300, processes: 6, keys: 2, timeoutRate: 0.1 });
      for (const statesMax of [3, 30, 300]) {
        const result = checkLinearizability(history, { statesMax });
        expect(result.verdict, `seed ${seed}, statesMax ${statesMax}: ${result.violation?.message}`).not.toBe('violation');
      }
      const broken = corruptOneRead(prng, history);
      const result = broken === undefined ? undefined : checkLinearizability(broken, { statesMax: 300 });
      if (result?.violation?.message.includes('whatever it held')) provenOnWindow++;
    }
    // Windows do prove violations that the budget of the whole history does not reach.
    expect(provenOnWindow).toBeGreaterThan(10);
  });

  it('agrees with a brute-force search over all orders on small random histories', () => {
    const prng = new Prng(7);
    const counts = { linearizable: 0, violation: 0 };
    for (let i = 0; i < 3000; i++) {
      const history = randomSmallHistory(prng);
      const expected = bruteForceLinearizable(history);
      const result = checkLinearizability(history);
      expect(result.ok, JSON.stringify(history)).toBe(expected);
      counts[expected ? 'linearizable' : 'violation']++;
    }
    // Both outcomes must be well represented, or the comparison proves little.
    expect(counts.linearizable).toBeGreaterThan(500);
    expect(counts.violation).toBeGreaterThan(500);
  });

  it('checks 2000 operations from 8 processes on one key in well under a second', () => {
    const history = generateLinearizable(new Prng(2024), { operations: 2000, processes: 8, keys: 1, timeoutRate: 0.01 });
    const started = performance.now();
    const result = checkLinearizability(history);
    const elapsedMs = performance.now() - started;
    expect(result.verdict).toBe('linearizable');
    expect(result.operations).toBeGreaterThan(1900);
    expect(elapsedMs).toBeLessThan(1000);
  });
});
