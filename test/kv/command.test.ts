// Command validation messages say what was wrong (src/kv/command.ts).
import { describe, expect, it } from 'vitest';
import { type Command, decodeCommand, DUPLICATE_FLAG, effectHolds, ResultCode, writeEffect } from '../../src/kv/command.js';
import { sid } from '../helpers.js';

describe('decodeCommand', () => {
  it('an unknown opcode is named as such, not reported as a bad key', () => {
    expect(decodeCommand([7, sid(1), 1, 'k', new Uint8Array(1)])).toBe('unknown opcode 7 (known: 0 noop, 1 put, 2 delete, 3 cas, 4 txn)');
    expect(decodeCommand([7, sid(1), 1])).toMatch(/^unknown opcode 7/);
    expect(decodeCommand(['put', sid(1), 1, 'k', new Uint8Array(1)])).toMatch(/^unknown opcode "put"/);
  });

  it('known opcodes still check their key and arity', () => {
    expect(decodeCommand([1, sid(1), 1, '', new Uint8Array(1)])).toBe('key must be a non-empty string');
    expect(decodeCommand([2, sid(1), 1, 'k', 'extra'])).toBe('delete is [2, session, seq, key]');
    expect(decodeCommand([3, sid(1), 1, 'k', null, null])).toMatchObject({ op: 'cas', expect: null, value: null });
  });
});

describe('write effects (what a verified write checks in its block)', () => {
  const v = (text: string) => new TextEncoder().encode(text);
  const head = { session: null, seq: 1 } as const;
  const put: Command = { op: 'put', ...head, key: 'k', value: v('new') };
  const del: Command = { op: 'delete', ...head, key: 'k' };
  const cas: Command = { op: 'cas', ...head, key: 'k', expect: v('old'), value: v('new') };
  const casDelete: Command = { op: 'cas', ...head, key: 'k', expect: v('old'), value: null };
  const casAbsent: Command = { op: 'cas', ...head, key: 'k', expect: null, value: v('new') };
  const states = { absent: null, old: v('old'), new: v('new'), other: v('other') };

  /** For each (command, result): which of the states agree with it. */
  const table: Array<[Command, number, Array<keyof typeof states>]> = [
    [put, ResultCode.OK, ['new']],
    [put, ResultCode.OK | DUPLICATE_FLAG, ['new']],
    [del, ResultCode.DELETED, ['absent']],
    [del, ResultCode.NOT_FOUND, ['absent']],
    [cas, ResultCode.OK, ['new']],
    [cas, ResultCode.CAS_MISMATCH, ['absent', 'new', 'other']],
    [casDelete, ResultCode.DELETED, ['absent']],
    [casAbsent, ResultCode.OK, ['new']],
    [casAbsent, ResultCode.CAS_MISMATCH, ['old', 'new', 'other']],
  ];

  it('each result holds in exactly the states it says', () => {
    for (const [command, result, agreeing] of table) {
      const effect = writeEffect(command, result);
      expect(effect, `${command.op} ${result}`).toBeDefined();
      for (const [name, value] of Object.entries(states)) {
        expect(effectHolds(effect!, value), `${command.op} ${result} in state ${name}`).toBe(agreeing.includes(name as keyof typeof states));
      }
    }
  });

  it('results that changed nothing provable have no effect', () => {
    expect(writeEffect(put, ResultCode.STALE)).toBeUndefined();
    expect(writeEffect(put, ResultCode.INVALID)).toBeUndefined();
    expect(writeEffect({ op: 'noop', ...head }, ResultCode.OK)).toBeUndefined();
  });
});
