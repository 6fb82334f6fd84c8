/**
 * Key files of the signed heads (src/ledger/signing.ts): a node's own key, secret, and the public
 * member list that genesis will carry. Pure: these functions turn text into checked keys and back;
 * reading and writing the files (mode 0600 for a secret key) is src/node/member-key-file.ts.
 *
 * A member key file (one per node, secret, at most MEMBER_KEY_FILE_BYTES_MAX bytes):
 *
 *   { "format": "paxchain-member-key", "version": 1, "node": N,
 *     "publicKey": "<64 hex>", "secretKey": "<64 hex: the RFC 8032 32-byte seed>" }
 *
 * A member list file (public, at most MEMBER_LIST_FILE_BYTES_MAX bytes):
 *
 *   { "format": "paxchain-members", "version": 1,
 *     "members": [{ "node": N, "publicKey": "<64 hex>" }, ...] }
 *
 * Members are listed by ascending node id, 1 to limits.membersMax of them, no two with the same
 * key (one key holder must not count twice towards a majority).
 *
 * Errors are PaxchainErrors whose details carry the path:
 * - CORRUPT_DATA: the bytes are damaged: not JSON, a public key that is not the secret key's, or a
 *   listed public key that is not a valid member key (a flipped bit gives these);
 * - INVALID_ARGUMENT: JSON of the wrong shape: too long, another format or version, a missing or
 *   unknown field, a node id out of range, hex of the wrong length, members out of order.
 */
import { bytesEqual, fromHex, toHex } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { limits } from '../lib/limits.js';
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SECRET_KEY_BYTES,
  isValidMemberPublicKey,
  type Member,
  MEMBER_NODE_ID_MAX,
  memberPublicKey,
} from './signing.js';

const MEMBER_KEY_FORMAT = 'paxchain-member-key';
const MEMBER_LIST_FORMAT = 'paxchain-members';
const KEY_FILE_VERSION = 1;
/** Longest member key file: the fields above take about 230 bytes. */
export const MEMBER_KEY_FILE_BYTES_MAX = 4096;
/** Longest member list file: limits.membersMax entries of about 100 bytes each, with room. */
export const MEMBER_LIST_FILE_BYTES_MAX = 64 * 1024;

/** A node's own key: its node id, the public key genesis lists and the secret key it signs with. */
export interface MemberKey {
  readonly node: number;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

const fail = (code: ErrorCode, path: string, message: string): PaxchainError => new PaxchainError(code, `${path}: ${message}`, { path });

/** Parses JSON text of at most `bytesMax` characters into an object with exactly `keys`. */
function parseObject(text: string, path: string, bytesMax: number, format: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof text !== 'string') throw new TypeError('key file text must be a string');
  if (text.length > bytesMax) throw fail(ErrorCode.INVALID_ARGUMENT, path, `${text.length} bytes, longer than any ${format} file (${bytesMax})`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw fail(ErrorCode.CORRUPT_DATA, path, `not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  return checkFields(value, path, keys, format);
}

function checkFields(value: unknown, path: string, keys: readonly string[], what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(ErrorCode.INVALID_ARGUMENT, path, `${what} is not a JSON object`);
  for (const key of keys) if (!Object.hasOwn(value, key)) throw fail(ErrorCode.INVALID_ARGUMENT, path, `${what} has no "${key}"`);
  for (const key of Object.keys(value)) if (!keys.includes(key)) throw fail(ErrorCode.INVALID_ARGUMENT, path, `${what} has an unknown field "${key}"`);
  return value as Record<string, unknown>;
}

function checkHeader(fields: Record<string, unknown>, path: string, format: string): void {
  if (fields.format !== format) throw fail(ErrorCode.INVALID_ARGUMENT, path, `format is ${JSON.stringify(fields.format)}, not "${format}"`);
  if (fields.version !== KEY_FILE_VERSION) {
    throw fail(ErrorCode.INVALID_ARGUMENT, path, `unknown ${format} version ${JSON.stringify(fields.version)} (this build reads ${KEY_FILE_VERSION})`);
  }
}

function readNode(value: unknown, path: string, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MEMBER_NODE_ID_MAX) {
    throw fail(ErrorCode.INVALID_ARGUMENT, path, `${what} node ${JSON.stringify(value)} is not an integer in [1, ${MEMBER_NODE_ID_MAX}]`);
  }
  return value;
}

function readHex(value: unknown, length: number, path: string, what: string): Uint8Array {
  const bytes = typeof value === 'string' ? fromHex(value) : undefined;
  if (bytes === undefined || bytes.length !== length) throw fail(ErrorCode.INVALID_ARGUMENT, path, `${what} is not ${length * 2} hex digits`);
  return bytes;
}

export function encodeMemberKeyFile(key: MemberKey): string {
  if (!bytesEqual(memberPublicKey(key.secretKey), key.publicKey)) throw new TypeError('encodeMemberKeyFile: publicKey is not the secret key\'s');
  if (!Number.isInteger(key.node) || key.node < 1 || key.node > MEMBER_NODE_ID_MAX) throw new TypeError(`encodeMemberKeyFile: bad node ${key.node}`);
  const file = { format: MEMBER_KEY_FORMAT, version: KEY_FILE_VERSION, node: key.node, publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey) };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Parses a member key file's text; `path` names it in errors. Throws PaxchainError (see the file comment). */
export function parseMemberKeyFile(text: string, path: string): MemberKey {
  const fields = parseObject(text, path, MEMBER_KEY_FILE_BYTES_MAX, MEMBER_KEY_FORMAT, ['format', 'version', 'node', 'publicKey', 'secretKey']);
  checkHeader(fields, path, MEMBER_KEY_FORMAT);
  const node = readNode(fields.node, path, 'the key file\'s');
  const publicKey = readHex(fields.publicKey, ED25519_PUBLIC_KEY_BYTES, path, 'publicKey');
  const secretKey = readHex(fields.secretKey, ED25519_SECRET_KEY_BYTES, path, 'secretKey');
  if (!bytesEqual(memberPublicKey(secretKey), publicKey)) {
    throw fail(ErrorCode.CORRUPT_DATA, path, `publicKey does not belong to secretKey (node ${node}): the file is damaged or was edited`);
  }
  return { node, publicKey, secretKey };
}

/** Throws problem(...) unless `members` is a valid member list (the rules in the file comment); `corrupt` marks a damaged key. */
function checkMemberList(members: readonly Member[], problem: (message: string, corrupt?: boolean) => Error): void {
  if (!Array.isArray(members) || members.length === 0 || members.length > limits.membersMax) throw problem(`must list 1 to ${limits.membersMax} members`);
  for (let i = 0; i < members.length; i++) {
    const { node, publicKey } = members[i]!;
    if (i > 0 && node <= members[i - 1]!.node) throw problem(`members must be listed by ascending node id, once each (node ${node} at ${i})`);
    if (!isValidMemberPublicKey(publicKey)) throw problem(`the publicKey of node ${node} is not a valid Ed25519 member key`, true);
    const twin = members.findIndex((other, j) => j < i && bytesEqual(other.publicKey, publicKey));
    if (twin >= 0) throw problem(`nodes ${members[twin]!.node} and ${node} have the same publicKey`);
  }
}

export function encodeMemberListFile(members: readonly Member[]): string {
  checkMemberList(members, (message) => new TypeError(`encodeMemberListFile: ${message}`));
  const list = members.map(({ node, publicKey }) => ({ node, publicKey: toHex(publicKey) }));
  return `${JSON.stringify({ format: MEMBER_LIST_FORMAT, version: KEY_FILE_VERSION, members: list }, null, 2)}\n`;
}

/** Parses a member list file's text; `path` names it in errors. Throws PaxchainError (see the file comment). */
export function parseMemberListFile(text: string, path: string): Member[] {
  const fields = parseObject(text, path, MEMBER_LIST_FILE_BYTES_MAX, MEMBER_LIST_FORMAT, ['format', 'version', 'members']);
  checkHeader(fields, path, MEMBER_LIST_FORMAT);
  if (!Array.isArray(fields.members) || fields.members.length > limits.membersMax) {
    throw fail(ErrorCode.INVALID_ARGUMENT, path, `members must be an array of 1 to ${limits.membersMax} entries`);
  }
  const members = fields.members.map((entry: unknown, i: number): Member => {
    const member = checkFields(entry, path, ['node', 'publicKey'], `member ${i}`);
    return { node: readNode(member.node, path, `member ${i}:`), publicKey: readHex(member.publicKey, ED25519_PUBLIC_KEY_BYTES, path, `member ${i}: publicKey`) };
  });
  checkMemberList(members, (message, corrupt) => fail(corrupt ? ErrorCode.CORRUPT_DATA : ErrorCode.INVALID_ARGUMENT, path, message));
  return members;
}
