// Key file formats (src/ledger/member-key.ts): what parses, and the stable code of what does not
// (CORRUPT_DATA for damaged bytes, INVALID_ARGUMENT for a wrong shape), always with the path.
import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/lib/bytes.js';
import { type ErrorCode, isPaxchainError } from '../../src/lib/errors.js';
import { limits } from '../../src/lib/limits.js';
import {
  encodeMemberKeyFile,
  encodeMemberListFile,
  MEMBER_KEY_FILE_BYTES_MAX,
  MEMBER_LIST_FILE_BYTES_MAX,
  parseMemberKeyFile,
  parseMemberListFile,
} from '../../src/ledger/member-key.js';
import { isValidMemberPublicKey } from '../../src/ledger/signing.js';
import { hex } from '../helpers.js';
import { testKeys } from './signing-fixtures.js';

const PATH = '/data/node2/member-key.json';
const [key] = testKeys(31, 1, 2);
const keyText = encodeMemberKeyFile(key!);
const keyJson = JSON.parse(keyText);
const listKeys = testKeys(32, 5);
const listText = encodeMemberListFile(listKeys.map(({ node, publicKey }) => ({ node, publicKey })));
const listJson = JSON.parse(listText);

/** The PaxchainError `parse` throws: its code, and that it names the path in message and details. */
function failure(parse: () => unknown): ErrorCode {
  try {
    parse();
  } catch (error) {
    if (!isPaxchainError(error)) throw error;
    expect(error.details).toEqual({ path: PATH });
    expect(error.message.startsWith(`${PATH}: `)).toBe(true);
    return error.code;
  }
  throw new Error('parsed, but should have failed');
}

const flipHexDigit = (text: string, index: number): string => text.slice(0, index) + (text[index] === '0' ? '1' : '0') + text.slice(index + 1);

describe('member key file', () => {
  it('round trip: encode then parse gives the same node and keys; the text is the documented JSON', () => {
    const parsed = parseMemberKeyFile(keyText, PATH);
    expect({ node: parsed.node, publicKey: hex(parsed.publicKey), secretKey: hex(parsed.secretKey) }).toEqual({
      node: 2,
      publicKey: hex(key!.publicKey),
      secretKey: hex(key!.secretKey),
    });
    expect(Object.keys(keyJson)).toEqual(['format', 'version', 'node', 'publicKey', 'secretKey']);
    expect(keyJson).toMatchObject({ format: 'paxchain-member-key', version: 1, node: 2 });
    expect(keyText.endsWith('}\n')).toBe(true);
  });

  it('CORRUPT_DATA: not JSON (a truncated file), or a public key that is not the secret key\'s (a flipped digit)', () => {
    expect(failure(() => parseMemberKeyFile(keyText.slice(0, keyText.length / 2), PATH))).toBe('CORRUPT_DATA');
    expect(failure(() => parseMemberKeyFile('', PATH))).toBe('CORRUPT_DATA');
    for (const field of ['publicKey', 'secretKey']) {
      for (const index of [0, 31, 63]) {
        const damaged = JSON.stringify({ ...keyJson, [field]: flipHexDigit(keyJson[field], index) });
        expect(failure(() => parseMemberKeyFile(damaged, PATH)), `${field}[${index}]`).toBe('CORRUPT_DATA');
      }
    }
  });

  it('INVALID_ARGUMENT: wrong shape, format, version, node, hex, a missing or unknown field, too long', () => {
    const { secretKey: _secretKey, ...missing } = keyJson;
    const shapes: unknown[] = [
      [],
      'key',
      null,
      { ...keyJson, format: 'paxchain-members' },
      { ...keyJson, version: 2 },
      { ...keyJson, version: '1' },
      { ...keyJson, node: 0 },
      { ...keyJson, node: 256 },
      { ...keyJson, node: '2' },
      { ...keyJson, publicKey: keyJson.publicKey.slice(2) },
      { ...keyJson, secretKey: `${keyJson.secretKey}00` },
      { ...keyJson, secretKey: keyJson.secretKey.replace(/^../, 'zz') },
      { ...keyJson, secretKey: 42 },
      missing,
      { ...keyJson, comment: 'hi' },
    ];
    for (const shape of shapes) expect(failure(() => parseMemberKeyFile(JSON.stringify(shape), PATH)), JSON.stringify(shape)).toBe('INVALID_ARGUMENT');
    expect(failure(() => parseMemberKeyFile(keyText + ' '.repeat(MEMBER_KEY_FILE_BYTES_MAX), PATH))).toBe('INVALID_ARGUMENT');
  });

  it('uppercase hex and other whitespace parse the same', () => {
    const upper = JSON.stringify({ ...keyJson, publicKey: keyJson.publicKey.toUpperCase(), secretKey: keyJson.secretKey.toUpperCase() });
    expect(hex(parseMemberKeyFile(upper, PATH).secretKey)).toBe(hex(key!.secretKey));
  });

  it('encodeMemberKeyFile refuses a key pair that does not match, or a bad node, with a TypeError', () => {
    expect(() => encodeMemberKeyFile({ ...key!, publicKey: listKeys[0]!.publicKey })).toThrow(TypeError);
    expect(() => encodeMemberKeyFile({ ...key!, node: 0 })).toThrow(TypeError);
  });
});

describe('member list file', () => {
  const text = (members: unknown): string => JSON.stringify({ ...listJson, members });
  const entries = listJson.members as Array<{ node: number; publicKey: string }>;

  it('round trip: encode then parse gives the same members in order', () => {
    const parsed = parseMemberListFile(listText, PATH);
    expect(parsed.map(({ node, publicKey }) => [node, hex(publicKey)])).toEqual(listKeys.map(({ node, publicKey }) => [node, hex(publicKey)]));
    expect(listJson).toMatchObject({ format: 'paxchain-members', version: 1 });
  });

  it('CORRUPT_DATA: not JSON, or a listed key that is not a valid member key (damaged or small-order)', () => {
    expect(failure(() => parseMemberListFile(listText.slice(0, 40), PATH))).toBe('CORRUPT_DATA');
    let invalid = '';
    for (let index = 0; invalid === '' && index < 64; index++) {
      const candidate = flipHexDigit(entries[1]!.publicKey, index);
      if (!isValidMemberPublicKey(Uint8Array.from(Buffer.from(candidate, 'hex')))) invalid = candidate;
    }
    expect(invalid).not.toBe('');
    expect(failure(() => parseMemberListFile(text(entries.map((entry, i) => (i === 1 ? { ...entry, publicKey: invalid } : entry))), PATH))).toBe('CORRUPT_DATA');
    const smallOrder = [{ node: 1, publicKey: ED25519_TORSION_SUBGROUP[1] }];
    expect(failure(() => parseMemberListFile(text(smallOrder), PATH))).toBe('CORRUPT_DATA');
  });

  it('INVALID_ARGUMENT: empty, too many, out of order, a node twice, one key twice, bad entries', () => {
    const many = testKeys(33, limits.membersMax + 1).map(({ node, publicKey }) => ({ node, publicKey: toHex(publicKey) }));
    const lists: unknown[] = [
      [],
      many,
      [entries[1], entries[0]],
      [entries[0], { ...entries[1], node: entries[0]!.node }],
      [entries[0], { ...entries[1], publicKey: entries[0]!.publicKey }],
      [{ node: 1 }],
      [{ ...entries[0], extra: true }],
      [{ ...entries[0], node: 300 }],
      'members',
    ];
    for (const list of lists) expect(failure(() => parseMemberListFile(text(list), PATH)), JSON.stringify(list)).toBe('INVALID_ARGUMENT');
    expect(failure(() => parseMemberListFile(JSON.stringify({ ...listJson, format: 'paxchain-member-key' }), PATH))).toBe('INVALID_ARGUMENT');
    expect(failure(() => parseMemberListFile(' '.repeat(MEMBER_LIST_FILE_BYTES_MAX + 1), PATH))).toBe('INVALID_ARGUMENT');
  });

  it('encodeMemberListFile refuses an invalid list with a TypeError', () => {
    const members = listKeys.map(({ node, publicKey }) => ({ node, publicKey }));
    expect(() => encodeMemberListFile([])).toThrow(TypeError);
    expect(() => encodeMemberListFile([members[1]!, members[0]!])).toThrow(TypeError);
    expect(() => encodeMemberListFile([members[0]!, { node: 9, publicKey: members[0]!.publicKey }])).toThrow(TypeError);
  });
});
