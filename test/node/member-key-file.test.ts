// Member key files on disk (src/node/member-key-file.ts): a secret key is created 0600, never
// overwritten, and read back through the checks of src/ledger/member-key.ts.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPaxchainError } from '../../src/lib/errors.js';
import { encodeMemberListFile, MEMBER_KEY_FILE_BYTES_MAX } from '../../src/ledger/member-key.js';
import { headStatement, signHead, verifyHeadCertificate } from '../../src/ledger/signing.js';
import { createMemberKey, readMemberKeyFile, readMemberListFile, writeMemberKeyFile } from '../../src/node/member-key-file.js';
import { hex, tempDir } from '../helpers.js';

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir('paxchain-member-key-');
});
afterEach(() => dir.cleanup());

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (isPaxchainError(error)) return error.code;
    throw error;
  }
  return 'no error';
}

describe('member key files', () => {
  it('a written key file is mode 0600 and reads back as the same key', () => {
    const key = createMemberKey(3);
    const path = join(dir.path, 'member-key.json');
    writeMemberKeyFile(path, key);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const read = readMemberKeyFile(path);
    expect([read.node, hex(read.publicKey), hex(read.secretKey)]).toEqual([3, hex(key.publicKey), hex(key.secretKey)]);
  });

  it('the mode is 0600 whatever the umask would have given', () => {
    const previous = process.umask(0o000);
    try {
      const path = join(dir.path, 'open-umask.json');
      writeMemberKeyFile(path, createMemberKey(1));
      expect(statSync(path).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('an existing file is ALREADY_EXISTS and keeps its bytes and mode', () => {
    const path = join(dir.path, 'member-key.json');
    writeFileSync(path, 'precious');
    chmodSync(path, 0o644);
    expect(codeOf(() => writeMemberKeyFile(path, createMemberKey(1)))).toBe('ALREADY_EXISTS');
    expect(readFileSync(path, 'utf8')).toBe('precious');
    expect(statSync(path).mode & 0o777).toBe(0o644);
  });

  it('createMemberKey draws fresh keys and refuses a bad node id', () => {
    expect(hex(createMemberKey(1).secretKey)).not.toBe(hex(createMemberKey(1).secretKey));
    expect(codeOf(() => createMemberKey(0))).toBe('INVALID_ARGUMENT');
  });

  it('reading: a missing file is NOT_FOUND, a damaged one CORRUPT_DATA, an oversized one INVALID_ARGUMENT, each with the path', () => {
    const path = join(dir.path, 'member-key.json');
    expect(codeOf(() => readMemberKeyFile(path))).toBe('NOT_FOUND');
    writeMemberKeyFile(path, createMemberKey(2));
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.slice(0, 60));
    expect(codeOf(() => readMemberKeyFile(path))).toBe('CORRUPT_DATA');
    writeFileSync(path, text + ' '.repeat(MEMBER_KEY_FILE_BYTES_MAX));
    expect(codeOf(() => readMemberKeyFile(path))).toBe('INVALID_ARGUMENT');
    try {
      readMemberKeyFile(path);
    } catch (error) {
      expect(isPaxchainError(error) && error.details.path).toBe(path);
    }
  });

  it('three key files and a member list from disk certify a head end to end', () => {
    const keys = [1, 2, 3].map((node) => {
      writeMemberKeyFile(join(dir.path, `node${node}.json`), createMemberKey(node));
      return readMemberKeyFile(join(dir.path, `node${node}.json`));
    });
    const listPath = join(dir.path, 'members.json');
    writeFileSync(listPath, encodeMemberListFile(keys.map(({ node, publicKey }) => ({ node, publicKey }))));
    const members = readMemberListFile(listPath);
    const clusterId = new Uint8Array(32).fill(4);
    const blockHash = new Uint8Array(32).fill(5);
    const signatures = keys.slice(1).map(({ node, secretKey }) => ({ node, signature: signHead(secretKey, headStatement(clusterId, 10, blockHash)) }));
    expect(verifyHeadCertificate(members, clusterId, 10, blockHash, signatures)).toEqual({ ok: true, signers: [2, 3] });
    expect(codeOf(() => readMemberListFile(join(dir.path, 'none.json')))).toBe('NOT_FOUND');
  });
});
