// Command validation messages say what was wrong (src/kv/command.ts).
import { describe, expect, it } from 'vitest';
import { decodeCommand } from '../../src/kv/command.js';
import { sid } from '../helpers.js';

describe('decodeCommand', () => {
  it('an unknown opcode is named as such, not reported as a bad key', () => {
    expect(decodeCommand([7, sid(1), 1, 'k', new Uint8Array(1)])).toBe('unknown opcode 7 (known: 0 noop, 1 put, 2 delete, 3 cas)');
    expect(decodeCommand([7, sid(1), 1])).toMatch(/^unknown opcode 7/);
    expect(decodeCommand(['put', sid(1), 1, 'k', new Uint8Array(1)])).toMatch(/^unknown opcode "put"/);
  });

  it('known opcodes still check their key and arity', () => {
    expect(decodeCommand([1, sid(1), 1, '', new Uint8Array(1)])).toBe('key must be a non-empty string');
    expect(decodeCommand([2, sid(1), 1, 'k', 'extra'])).toBe('delete is [2, session, seq, key]');
    expect(decodeCommand([3, sid(1), 1, 'k', null, null])).toMatchObject({ op: 'cas', expect: null, value: null });
  });
});
