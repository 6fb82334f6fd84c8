// Block bodies (src/chain/body.ts): genesis versions 2 (default state limits) and 3 (limits set),
// each decoded to what was encoded, and bad limits refused with a reason.
import { describe, expect, it } from 'vitest';
import { checkGenesisConfig, decodeBody, encodeGenesisBody, STATE_BYTES_MAX, STATE_ENTRIES_MAX, stateLimitsOf } from '../../src/chain/body.js';
import { pack, unpackSafe } from '../../src/lib/msgpack.js';

const base = { clusterId: 'c', members: [1, 2, 3], dedupCapacity: 10, createdAtMs: 5 };
const fields = (body: Uint8Array) => {
  const decoded = unpackSafe(body);
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.value as unknown[];
};

describe('genesis bodies and the state limits', () => {
  it('default limits keep version 2 (existing chains unchanged); set limits make version 3', () => {
    const plain = encodeGenesisBody(base);
    expect(fields(plain).slice(0, 2)).toEqual([0, 2]);
    expect(fields(plain)).toHaveLength(7);
    const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
    expect(hex(encodeGenesisBody({ ...base, stateEntriesMax: STATE_ENTRIES_MAX, stateBytesMax: STATE_BYTES_MAX }))).toBe(hex(plain));
    const decodedPlain = decodeBody(plain);
    if (typeof decodedPlain === 'string') throw new Error(decodedPlain);
    expect(stateLimitsOf(decodedPlain as never)).toEqual({ entriesMax: STATE_ENTRIES_MAX, bytesMax: STATE_BYTES_MAX });

    const limited = encodeGenesisBody({ ...base, stateEntriesMax: 1000 });
    expect(fields(limited).slice(0, 2)).toEqual([0, 3]);
    expect(fields(limited)[7]).toEqual([1000, STATE_BYTES_MAX]);
    expect(decodeBody(limited)).toMatchObject({ kind: 'genesis', stateEntriesMax: 1000, stateBytesMax: STATE_BYTES_MAX });
  });

  it('limits out of range or of the wrong shape are refused with a reason', () => {
    expect(checkGenesisConfig({ ...base, stateEntriesMax: 0 })).toMatch(/stateEntriesMax must be in/);
    expect(checkGenesisConfig({ ...base, stateEntriesMax: STATE_ENTRIES_MAX + 1 })).toMatch(/stateEntriesMax/);
    expect(checkGenesisConfig({ ...base, stateBytesMax: 1.5 })).toMatch(/stateBytesMax must be in/);
    expect(() => encodeGenesisBody({ ...base, stateBytesMax: STATE_BYTES_MAX * 2 })).toThrow(/stateBytesMax/);
    const v3 = (limits: unknown) => pack([0, 3, 'c', [1, 2, 3], 10, 5, [], limits]);
    expect(decodeBody(v3('no'))).toMatch(/state limits are not/);
    expect(decodeBody(v3([1]))).toMatch(/state limits are not/);
    expect(decodeBody(v3([0, 10]))).toMatch(/stateEntriesMax must be in/);
    expect(decodeBody(pack([0, 3, 'c', [1, 2, 3], 10, 5, []]))).toMatch(/genesis body is not/);
  });
});
