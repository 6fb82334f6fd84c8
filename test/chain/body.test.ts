// Block bodies (src/chain/body.ts): genesis version 2 (no state limits: the chains made before
// them) and version 3 (limits named, as every new cluster's), each decoded to what was encoded,
// and bad limits refused with a reason.
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
  it('no limits named: version 2, as before (no limits); limits named: version 3', () => {
    const plain = encodeGenesisBody(base);
    expect(fields(plain).slice(0, 2)).toEqual([0, 2]);
    expect(fields(plain)).toHaveLength(7);
    const decodedPlain = decodeBody(plain);
    if (typeof decodedPlain === 'string' || decodedPlain.kind !== 'genesis') throw new Error(String(decodedPlain));
    expect(stateLimitsOf(decodedPlain)).toBeUndefined();

    const defaults = encodeGenesisBody({ ...base, stateEntriesMax: STATE_ENTRIES_MAX, stateBytesMax: STATE_BYTES_MAX });
    expect(fields(defaults).slice(0, 2)).toEqual([0, 3]);
    expect(fields(defaults)[7]).toEqual([STATE_ENTRIES_MAX, STATE_BYTES_MAX]);
    const limited = decodeBody(encodeGenesisBody({ ...base, stateEntriesMax: 1000, stateBytesMax: 5000 }));
    expect(limited).toMatchObject({ kind: 'genesis', stateEntriesMax: 1000, stateBytesMax: 5000 });
    expect(stateLimitsOf(limited as never)).toEqual({ entriesMax: 1000, bytesMax: 5000 });
  });

  it('limits out of range, half given or of the wrong shape are refused with a reason', () => {
    const both = { stateEntriesMax: 10, stateBytesMax: 10 };
    expect(checkGenesisConfig({ ...base, ...both, stateEntriesMax: 0 })).toMatch(/stateEntriesMax must be in/);
    expect(checkGenesisConfig({ ...base, ...both, stateEntriesMax: STATE_ENTRIES_MAX + 1 })).toMatch(/stateEntriesMax/);
    expect(checkGenesisConfig({ ...base, ...both, stateBytesMax: 1.5 })).toMatch(/stateBytesMax must be in/);
    expect(checkGenesisConfig({ ...base, stateEntriesMax: 10 })).toMatch(/set together, or neither/);
    expect(() => encodeGenesisBody({ ...base, ...both, stateBytesMax: STATE_BYTES_MAX * 2 })).toThrow(/stateBytesMax/);
    const v3 = (limits: unknown) => pack([0, 3, 'c', [1, 2, 3], 10, 5, [], limits]);
    expect(decodeBody(v3('no'))).toMatch(/state limits are not/);
    expect(decodeBody(v3([1]))).toMatch(/state limits are not/);
    expect(decodeBody(v3([0, 10]))).toMatch(/stateEntriesMax must be in/);
    expect(decodeBody(pack([0, 3, 'c', [1, 2, 3], 10, 5, []]))).toMatch(/genesis body is not/);
  });
});
