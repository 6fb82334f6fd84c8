// The client wire contract (src/transport/protocol.ts): what a node accepts from a client, how
// a write's session id is derived, and that both sides build and read replies through one typed
// codec that refuses a frame of the wrong shape.
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../src/kv/command.js';
import { deriveSessionId, SESSION_ID_BYTES, SESSION_SECRET_BYTES } from '../../src/kv/session.js';
import { SessionIdCache } from '../../src/kv/session-map.js';
import { limits } from '../../src/lib/limits.js';
import { nobleSha256 } from '../../src/lib/sha256.js';
import { fastSha256 } from '../../src/native/sha256.js';
import {
  type ClientRequestBody,
  decodeBlocksReply,
  decodeReadReply,
  decodeWriteReply,
  encodeReply,
  isErrorReply,
  parseClientRequest,
  writeReply,
} from '../../src/transport/protocol.js';
import { pack, unpackSafe } from '../../src/lib/msgpack.js';
import { bytes, hex } from '../helpers.js';

const fast = new SessionIdCache(fastSha256);
const secret = (fill: number) => new Uint8Array(SESSION_SECRET_BYTES).fill(fill);
const put = (session: unknown, seq: number, key = 'k') => ({ op: 'write', command: [1, session, seq, key, bytes('v')] });
const sealed = (body: ClientRequestBody | string) => {
  if (typeof body === 'string' || body.op !== 'write') throw new Error(`not a write: ${JSON.stringify(body)}`);
  // The decoded form the replica is handed is the tuple's, read once.
  expect(body.command.command.session).toEqual(body.command.tuple[1]);
  return body.command.tuple;
};

describe('client requests', () => {
  it('a write records the session id derived from its secret, never the secret, the same at every node', () => {
    const first = sealed(parseClientRequest(put(secret(7), 1), fast));
    const elsewhere = sealed(parseClientRequest(put(secret(7), 1), { derive: (s: Uint8Array) => deriveSessionId(nobleSha256, s) }));
    const other = sealed(parseClientRequest(put(secret(8), 1), fast));
    expect(first[1]).toHaveLength(SESSION_ID_BYTES);
    expect(hex(first[1] as Uint8Array)).toBe(hex(deriveSessionId(nobleSha256, secret(7))));
    // A retry at another node (another hash implementation, too) lands in the same session.
    expect(hex(elsewhere[1] as Uint8Array)).toBe(hex(first[1] as Uint8Array));
    expect(hex(other[1] as Uint8Array)).not.toBe(hex(first[1] as Uint8Array));
    // The rest of the tuple is the command as sent.
    expect(first.slice(2)).toEqual([1, 'k', bytes('v')]);
  });

  it('a write naming a session id (what the chain shows) or an integer client id is refused', () => {
    const id = deriveSessionId(fastSha256, secret(7));
    for (const session of [id, 42, null, secret(7).subarray(1)]) {
      const refused = parseClientRequest(put(session, 1_000_000), fast);
      expect(refused, String(session)).toMatch(/32-byte session secret/);
    }
    expect(parseClientRequest({ op: 'write', command: 'no tuple' }, fast)).toMatch(/command tuple/);
    // The sealed tuple still has to be a valid command.
    expect(parseClientRequest(put(secret(7), 0), fast)).toMatch(/seq must start at 1/);
  });

  it('keys follow one rule everywhere: UTF-8 bytes, well-formed (a read key is checked like a write key)', () => {
    const long = 'é'.repeat(600); // 600 UTF-16 units, 1,200 UTF-8 bytes
    expect(long.length).toBeLessThan(limits.keyBytesMax);
    expect(parseClientRequest({ op: 'read', key: long }, fast)).toMatch(/longer than 1024 bytes/);
    expect(parseClientRequest(put(secret(1), 1, long), fast)).toMatch(/longer than 1024 bytes/);
    // A lone surrogate would be stored as U+FFFD: two strings, one key. Refused on both paths.
    expect(parseClientRequest({ op: 'read', key: 'bin/\ud800' }, fast)).toMatch(/well-formed/);
    expect(parseClientRequest(put(secret(1), 1, 'bin/\udfff'), fast)).toMatch(/well-formed/);
    expect(parseClientRequest({ op: 'read', key: 'é'.repeat(512) }, fast)).toEqual({ op: 'read', key: 'é'.repeat(512), stale: false });
  });

  it('a write may ask to be verified, with the same verify field as a read', () => {
    const body = parseClientRequest({ ...put(secret(5), 1), verify: { trusted: 7, genesis: true } }, fast);
    expect(body).toMatchObject({ op: 'write', verify: { trustedHeight: 7, genesis: true } });
    expect(parseClientRequest(put(secret(5), 1), fast)).not.toHaveProperty('verify');
    expect(parseClientRequest({ ...put(secret(5), 1), verify: 'yes' }, fast)).toMatch(/write: verify must be a map/);
    expect(parseClientRequest({ ...put(secret(5), 1), verify: { trusted: -1 } }, fast)).toMatch(/verify.trusted must be a height/);
  });
});

describe('client replies', () => {
  const roundTrip = (frame: unknown): unknown => {
    const decoded = unpackSafe(pack(frame));
    if (!decoded.ok) throw new Error(decoded.error);
    return decoded.value;
  };

  it('what the node encodes the client decodes, field for field, through msgpack', () => {
    const write = decodeWriteReply(roundTrip(encodeReply(3, writeReply(0x10 | 2, 9))));
    expect(write).toEqual({ ok: true, result: 'NOT_FOUND', code: 0x12, duplicate: true, height: 9 });
    const read = decodeReadReply(roundTrip(encodeReply(4, { ok: true, value: null, height: 2, hash: new Uint8Array(32), stale: false })));
    expect(read).toMatchObject({ ok: true, value: null, height: 2, stale: false });
    const error = decodeWriteReply(roundTrip(encodeReply(5, { ok: false, error: 'NOT_LEADER', message: 'ask 2', leader: 2, leaderEndpoint: undefined })));
    expect(isErrorReply(error)).toBe(true);
    expect(error).toEqual({ ok: false, error: 'NOT_LEADER', message: 'ask 2', leader: 2 });
  });

  it('a verified write reply carries its proofs or the reason it has none, through msgpack', () => {
    const unproven = decodeWriteReply(roundTrip(encodeReply(6, { ...writeReply(0, 4), unprovable: 'no majority signed head 4 in time' })));
    expect(unproven).toEqual({ ok: true, result: 'OK', code: 0, duplicate: false, height: 4, unprovable: 'no majority signed head 4 in time' });
    expect(decodeWriteReply({ id: 1, ok: true, result: 'OK', code: 0, duplicate: false, height: 1, unprovable: 5 })).toMatch(/malformed write reply/);
    expect(decodeWriteReply({ id: 1, ok: true, result: 'OK', code: 0, duplicate: false, height: 1, verified: { header: 'x' } })).toMatch(/malformed write reply/);
    // Name, code and duplicate flag must agree: a node cannot say OK while its code says CAS_MISMATCH.
    expect(decodeWriteReply({ id: 1, ok: true, result: 'OK', code: 3, duplicate: false, height: 1 })).toMatch(/malformed write reply/);
    expect(decodeWriteReply({ id: 1, ok: true, result: 'OK', code: 0x10, duplicate: false, height: 1 })).toMatch(/malformed write reply/);
    expect(decodeWriteReply({ id: 1, ok: true, result: 'OK', code: 0, duplicate: true, height: 1 })).toMatch(/malformed write reply/);
    expect(decodeWriteReply({ id: 1, ok: true, result: 'OK', code: 0x10, duplicate: true, height: 1 })).toMatchObject({ ok: true, duplicate: true });
  });

  it('a reply of the wrong shape is refused with a reason, not cast', () => {
    expect(decodeWriteReply({ id: 1, ok: true, result: 'OK', code: 0, duplicate: false })).toMatch(/malformed write reply/);
    expect(decodeWriteReply({ id: 1, ok: true, result: 'SURE', code: 0, duplicate: false, height: 1 })).toMatch(/malformed write reply/);
    expect(decodeReadReply({ id: 1, ok: true, value: 'text', height: 1, hash: new Uint8Array(32), stale: false })).toMatch(/malformed read reply/);
    expect(decodeBlocksReply({ id: 1, ok: true, from: 0, records: ['x'], head: null })).toMatch(/malformed blocks reply/);
    expect(decodeWriteReply({ id: 1, ok: false, error: 'WHATEVER', message: 'm' })).toMatch(/malformed error reply/);
    expect(decodeWriteReply([1, 2])).toMatch(/not a map/);
    expect(() => writeReply(99, 1)).toThrow(TypeError);
  });

  it('the client library builds the wire tuple through the command codec', () => {
    const tuple = encodeCommand({ op: 'cas', session: secret(3), seq: 4, key: 'k', expect: null, value: bytes('v') });
    expect(sealed(parseClientRequest({ op: 'write', command: tuple }, fast)).slice(2)).toEqual([4, 'k', null, bytes('v')]);
  });
});
