/**
 * Member key files on disk (formats and checks: src/ledger/member-key.ts). A secret key file is
 * created with mode 0600 and never overwritten: a node that lost its key file must get a new key
 * and a new member list, and a second `write` over a live key would silently change the node's
 * identity. The random bytes of a new key come from node:crypto (the pure ledger draws none).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { assert } from '../lib/assert.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import {
  encodeMemberKeyFile,
  MEMBER_KEY_FILE_BYTES_MAX,
  MEMBER_LIST_FILE_BYTES_MAX,
  type MemberKey,
  parseMemberKeyFile,
  parseMemberListFile,
} from '../ledger/member-key.js';
import { ED25519_SECRET_KEY_BYTES, generateMemberKey, type Member, MEMBER_NODE_ID_MAX } from '../ledger/signing.js';
import { NODE_ID_MAX } from '../paxos/ballot.js';
import { checkNodeId } from './config.js';

assert(MEMBER_NODE_ID_MAX === NODE_ID_MAX, 'member node ids and ballot node ids must have one range');

const SECRET_FILE_MODE = 0o600;

/** A fresh key for node `node`, from 32 bytes of node:crypto's CSPRNG. */
export function createMemberKey(node: number): MemberKey {
  checkNodeId(node);
  return { node, ...generateMemberKey(new Uint8Array(randomBytes(ED25519_SECRET_KEY_BYTES))) };
}

/** Creates `path` (mode 0600) holding `key`, flushed to disk. An existing file is ALREADY_EXISTS and is left alone. */
export function writeMemberKeyFile(path: string, key: MemberKey): void {
  const text = encodeMemberKeyFile(key);
  let descriptor: number;
  try {
    descriptor = openSync(path, 'wx', SECRET_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new PaxchainError(ErrorCode.ALREADY_EXISTS, `${path} exists; a member key file is never overwritten`, { path });
    }
    throw error;
  }
  try {
    fchmodSync(descriptor, SECRET_FILE_MODE); // the umask may have cleared bits; make it exactly 0600
    writeSync(descriptor, text);
    fsyncSync(descriptor);
  } catch (error) {
    closeSync(descriptor);
    rmSync(path, { force: true }); // no half-written key file stays behind
    throw error;
  }
  closeSync(descriptor);
}

/** The text of a file of at most `bytesMax` bytes: NOT_FOUND if missing, INVALID_ARGUMENT if longer. */
function readBounded(path: string, bytesMax: number, what: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new PaxchainError(ErrorCode.NOT_FOUND, `${path}: no such ${what} file`, { path });
    throw error;
  }
  if (size > bytesMax) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${path}: ${size} bytes, longer than any ${what} file (${bytesMax})`, { path });
  return readFileSync(path, 'utf8');
}

export function readMemberKeyFile(path: string): MemberKey {
  return parseMemberKeyFile(readBounded(path, MEMBER_KEY_FILE_BYTES_MAX, 'member key'), path);
}

export function readMemberListFile(path: string): Member[] {
  return parseMemberListFile(readBounded(path, MEMBER_LIST_FILE_BYTES_MAX, 'member list'), path);
}
