// The chain-order check (test/sim/chain-order.ts) on small hand-made chains: it accepts the
// answers the chain implies and refuses a wrong branch, a wrong get, a wrong range, a txn missing
// from the chain and an answer out of real-time order.
import { describe, expect, it } from 'vitest';
import { encodeCommand, type TxnCompare } from '../../src/kv/command.js';
import { checkChainOrder, type ChainCommand, type OrderedOp } from './chain-order.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const S = 'aa'.repeat(16);
const txn = (seq: number, compares: TxnCompare[], success: Array<{ kind: 'put'; key: string; value: Uint8Array } | { kind: 'get'; key: string }>): ChainCommand => ({
  tuple: encodeCommand({ op: 'txn', session: new Uint8Array(16).fill(0xaa), seq, compares, success, failure: [{ kind: 'get', key: 't0' }] }),
  session: S,
});

// Block 1: t0 absent -> put t0 = a (succeeds). Block 2: version(t0) = 0 fails, its failure gets t0.
const chain: ChainCommand[][] = [[txn(1, [{ target: 'version', key: 't0', relation: '=', operand: 0 }], [{ kind: 'put', key: 't0', value: bytes('a') }])], [txn(2, [{ target: 'version', key: 't0', relation: '=', operand: 0 }], [{ kind: 'put', key: 't0', value: bytes('b') }])]];
const good: OrderedOp[] = [
  { kind: 'txn', id: 1, call: 0, return: 5, session: S, seq: 1, result: { height: 1, succeeded: true, gets: [] } },
  { kind: 'txn', id: 2, call: 6, return: 9, session: S, seq: 2, result: { height: 2, succeeded: false, gets: ['a'] } },
  { kind: 'range', id: 3, call: 10, return: 11, prefix: 't', limit: 5, result: { height: 2, entries: [{ key: 't0', value: 'a', revisions: { createHeight: 1, modHeight: 1, version: 1 } }], more: false } },
];
const isT = (key: string) => key.startsWith('t');

describe('chain-order check', () => {
  it('accepts the answers the chain implies', () => {
    expect(checkChainOrder(chain, good, isT)).toEqual({ ok: true, txns: 2, ranges: 1 });
  });

  it('refuses a wrong branch, a wrong get, a wrong range, a txn not in the chain and a real-time inversion', () => {
    const broken = (index: number, op: OrderedOp) => good.map((original, i) => (i === index ? op : original));
    const cases: Array<[OrderedOp[], RegExp]> = [
      [broken(1, { ...good[1]!, result: { height: 2, succeeded: true, gets: ['a'] } } as OrderedOp), /succeeded=true/],
      [broken(1, { ...good[1]!, result: { height: 2, succeeded: false, gets: ['b'] } } as OrderedOp), /read \["b"\]/],
      [broken(2, { ...good[2]!, result: { height: 2, entries: [{ key: 't0', value: 'a', revisions: { createHeight: 1, modHeight: 2, version: 1 } }], more: false } } as OrderedOp), /range "t"/],
      [[...good, { kind: 'txn', id: 4, call: 20, return: 21, session: S, seq: 3, result: { height: 2, succeeded: true, gets: [] } }], /not in the chain/],
      // A range answered at height 1 after the txn of height 2 returned.
      [[...good, { kind: 'range', id: 5, call: 12, return: 13, prefix: 't', limit: 5, result: { height: 1, entries: [{ key: 't0', value: 'a', revisions: { createHeight: 1, modHeight: 1, version: 1 } }], more: false } }], /real time/],
    ];
    for (const [ops, reason] of cases) {
      const verdict = checkChainOrder(chain, ops, isT);
      expect(verdict.ok, String(reason)).toBe(false);
      if (!verdict.ok) expect(verdict.message).toMatch(reason);
    }
  });
});
