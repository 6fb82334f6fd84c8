// The acceptor's rules (Lamport, "Paxos Made Simple" §2.2 P1a/P2a, Multi-Paxos with one promise
// for all slots from fromSlot on), one rule per test: init / act / check.
import { describe, expect, it } from 'vitest';
import { ballot, nextBallot, nodeOf, roundOf } from '../../src/paxos/ballot.js';
import { Acceptor } from '../../src/paxos/acceptor.js';
import type { AcceptMessage, PrepareMessage } from '../../src/paxos/messages.js';
import { Phase1 } from '../../src/paxos/phase1.js';

const b = (round: number, node: number) => ballot(round, node);
const prepare = (ballotValue: number, fromSlot = 1, from = 2): PrepareMessage => ({ type: 'prepare', from, to: 1, ballot: ballotValue, fromSlot });
const accept = (ballotValue: number, slot: number, value = 'v', from = 2): AcceptMessage => ({
  type: 'accept',
  from,
  to: 1,
  ballot: ballotValue,
  slot,
  value: new TextEncoder().encode(value),
  chosenThrough: 0,
});

function acceptor(options: { promised?: number; voting?: boolean } = {}): Acceptor {
  return new Acceptor(1, { promised: options.promised ?? 0, voting: options.voting ?? true }, [], 64);
}

describe('ballots', () => {
  it('order by round first, then node id; nextBallot is the smallest higher ballot of a node', () => {
    expect(b(2, 1)).toBeGreaterThan(b(1, 255));
    expect(b(2, 3)).toBeGreaterThan(b(2, 2));
    expect(roundOf(b(7, 9))).toBe(7);
    expect(nodeOf(b(7, 9))).toBe(9);
    expect(nextBallot(b(4, 2), 3)).toBe(b(4, 3));
    expect(nextBallot(b(4, 5), 3)).toBe(b(5, 3));
    expect(nextBallot(0, 1)).toBe(b(0, 1));
  });
});

describe('Acceptor', () => {
  it('P1: promises a ballot at least as high as its promise, and raises the promise', () => {
    const a = acceptor({ promised: b(3, 2) });
    expect(a.onPrepare(prepare(b(3, 2)), 0, undefined).type).toBe('promise'); // same ballot: idempotent
    expect(a.onPrepare(prepare(b(4, 3), 1, 3), 0, undefined).type).toBe('promise');
    expect(a.promised).toBe(b(4, 3));
  });

  it('P1: refuses a lower ballot, naming its promise', () => {
    const a = acceptor({ promised: b(5, 2) });
    const reply = a.onPrepare(prepare(b(4, 3), 1, 3), 0, undefined);
    expect(reply).toMatchObject({ type: 'prepare-reject', reason: 'promised-higher', promised: b(5, 2) });
    expect(a.promised).toBe(b(5, 2));
  });

  it('P2: accepts only ballots >= its promise, and an accept raises the promise', () => {
    const a = acceptor({ promised: b(2, 2) });
    expect(a.onAccept(accept(b(1, 2), 1), 0)).toMatchObject({ type: 'accept-reject', reason: 'promised-higher' });
    expect(a.onAccept(accept(b(6, 3), 1, 'x', 3), 0).type).toBe('accepted');
    expect(a.promised).toBe(b(6, 3));
    expect(a.onPrepare(prepare(b(5, 2)), 0, undefined).type).toBe('prepare-reject');
  });

  it('a promise reports every accepted value from fromSlot on, above the chain head', () => {
    const a = acceptor();
    for (const slot of [3, 4, 5, 6]) a.onAccept(accept(b(1, 2), slot, `v${slot}`), 2);
    const promise = a.onPrepare(prepare(b(2, 3), 4, 3), 2, undefined);
    expect(promise.type).toBe('promise');
    if (promise.type !== 'promise') return;
    expect(promise.accepted.map((entry) => entry.slot)).toEqual([4, 5, 6]);
    expect(promise.chosenThrough).toBe(2);
    expect(promise.complete).toBe(true);
  });

  it('persistence before reply: every promise raise and acceptance is a durable change', () => {
    const a = acceptor();
    a.takeChanges();
    a.onPrepare(prepare(b(1, 2)), 0, undefined);
    expect(a.takeChanges()).toEqual({ state: { promised: b(1, 2), voting: true }, accepted: [] });
    a.onAccept(accept(b(1, 2), 1), 0);
    const changes = a.takeChanges();
    expect(changes.accepted.map((entry) => [entry.slot, entry.ballot])).toEqual([[1, b(1, 2)]]);
    // Nothing changed, nothing to persist: a repeated prepare of the same ballot.
    a.onPrepare(prepare(b(1, 2)), 0, undefined);
    expect(a.takeChanges()).toEqual({ accepted: [] });
  });

  it('a non-voting acceptor (wiped, or without genesis) promises and accepts nothing', () => {
    const a = acceptor({ voting: false });
    expect(a.onPrepare(prepare(b(9, 2)), 0, undefined)).toMatchObject({ type: 'prepare-reject', reason: 'not-voting' });
    expect(a.onAccept(accept(b(9, 2), 1), 0)).toMatchObject({ type: 'accept-reject', reason: 'not-voting' });
    expect(a.promised).toBe(0);
    expect(a.takeChanges()).toEqual({ accepted: [] });
  });

  it('leader stickiness: a veto refuses a higher ballot without raising the promise', () => {
    const a = acceptor({ promised: b(1, 2) });
    expect(a.onPrepare(prepare(b(2, 3), 1, 3), 0, { leader: 2 })).toMatchObject({ type: 'prepare-reject', reason: 'leader-alive', leader: 2 });
    expect(a.promised).toBe(b(1, 2));
  });

  it('flow control: refuses slots further ahead of its chain than acceptAheadMax', () => {
    const a = acceptor();
    expect(a.onAccept(accept(b(1, 2), 65), 0)).toMatchObject({ type: 'accept-reject', reason: 'too-far-ahead' });
    expect(a.onAccept(accept(b(1, 2), 64), 0).type).toBe('accepted');
  });

  it('a big accepted set is sent in pages; the continuation asks from nextSlot', () => {
    const a = new Acceptor(1, { promised: 0, voting: true }, [], 1000);
    for (let slot = 1; slot <= 150; slot++) a.onAccept(accept(b(1, 2), slot), 0);
    const first = a.onPrepare(prepare(b(2, 3), 1, 3), 0, undefined);
    if (first.type !== 'promise') throw new Error('expected a promise');
    expect(first.complete).toBe(false);
    expect(first.accepted).toHaveLength(64);
    const second = a.onPrepare(prepare(b(2, 3), first.nextSlot, 3), 0, undefined);
    if (second.type !== 'promise') throw new Error('expected a promise');
    expect(second.accepted[0]!.slot).toBe(65);
  });
});

describe('Phase1', () => {
  const promise = (from: number, entries: Array<[number, number, string]>, chosenThrough = 0) => ({
    type: 'promise' as const,
    from,
    to: 1,
    ballot: b(5, 1),
    chosenThrough,
    accepted: entries.map(([slot, ballotValue, value]) => ({ slot, ballot: ballotValue, value: new TextEncoder().encode(value) })),
    complete: true,
    nextSlot: 0,
  });

  it('P2c: a leader adopts, per slot, the value of the highest ballot any promise reports', () => {
    const phase1 = new Phase1(b(5, 1), 1, 0, [1, 2, 3], 1);
    phase1.onPromise(promise(2, [[1, b(1, 2), 'old'], [2, b(3, 3), 'mine']]));
    phase1.onPromise(promise(3, [[1, b(4, 3), 'newer']]));
    const outcome = phase1.outcome();
    expect(new TextDecoder().decode(outcome.adopted.get(1))).toBe('newer');
    expect(new TextDecoder().decode(outcome.adopted.get(2))).toBe('mine');
    expect(outcome.highestSlot).toBe(2);
  });

  it('is done only with complete promises from a majority of members', () => {
    const phase1 = new Phase1(b(5, 1), 1, 0, [1, 2, 3, 4, 5], 1);
    phase1.onPromise(promise(1, []));
    phase1.onPromise(promise(2, []));
    expect(phase1.done).toBe(false);
    phase1.onPromise({ ...promise(3, []), complete: false, nextSlot: 9 });
    expect(phase1.done).toBe(false);
    phase1.onPromise(promise(3, []));
    expect(phase1.done).toBe(true);
    expect(phase1.onPromise(promise(9, []))).toBe('ignored'); // not a member
  });

  it('slots an acceptor already holds as blocks are chosen: fetched, not re-proposed', () => {
    const phase1 = new Phase1(b(5, 1), 3, 0, [1, 2, 3], 1);
    phase1.onPromise(promise(2, [[7, b(4, 2), 'x']], 6));
    phase1.onPromise(promise(3, [[5, b(2, 3), 'stale']], 2));
    const outcome = phase1.outcome();
    expect(outcome.chosenThrough).toBe(6);
    expect(outcome.chosenThroughFrom).toBe(2);
    expect([...outcome.adopted.keys()]).toEqual([7]);
  });
});
