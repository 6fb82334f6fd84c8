// Golden vectors pin the block format (ARCHITECTURE §2): if any byte of the header encoding, the
// body encoding, a domain tag, the hash or the state digest definition changes, these fail.
// A change that is meant must bump BLOCK_FORMAT_VERSION and update the vectors on purpose.
import { describe, expect, it } from 'vitest';
import { nobleSha256 } from '../../src/lib/sha256.js';
import { hashRecord } from '../../src/chain/block.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { OP_CAS, OP_DELETE, OP_NOOP, OP_PUT, ResultCode } from '../../src/kv/command.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { bytes, hex, sid } from '../helpers.js';

// Format 2 (commands carry 16-byte session ids instead of integer client ids): only the version
// byte of genesis changed; block 1's body now holds bin16 session ids (c410...) and nil for "no
// session", so its body hash, state digest (session elements hash the id) and hash changed.
const GENESIS_RECORD =
  '02' + '0000000000000000' + '00'.repeat(32) +
  '2a0d2b08b998930dfe9b9686e5cbc27553c2f4b9071f1d0f43720975a7bc8e20' + '00'.repeat(32) +
  '960001a6676f6c64656e93010203cd03e8cb4278bcfe56800000';
const GENESIS_HASH = '4bef35d0945d687af9ac748d0a2c0a60636997bc2bc0a21218a4693ee465508c';
const BLOCK1_RECORD =
  '02' + '0000000000000001' + GENESIS_HASH +
  '21a02fea747b97dcdd53f8974491d4dc0869730749e866bc94a16e8e5bf0dc86' +
  '294d21b64f9a6f2838b627f3abb81418b5c7f476ce391b9d18946711b638b50d' +
  '9301cb4278bcfe56801000949501c4100000000000000000000000000000000701ab66727569742f6170706c65c404312e3230' +
  '9603c4100000000000000000000000000000000702ab66727569742f6170706c65c404312e3230c404312e3235' +
  '9402c4100000000000000000000000000000000801aa66727569742f6b697769' + '9300c000';
const BLOCK1_HASH = '4c685b89568f90a11c259232b4cd8d821827f961da1f8ffaa3a8df75780fb2f1';

const genesisConfig = { clusterId: 'golden', members: [1, 2, 3], dedupCapacity: 1000, createdAtMs: 1_700_000_000_000 };
const block1Body = () =>
  encodeBatchBody(1_700_000_000_001, [
    [OP_PUT, sid(7), 1, 'fruit/apple', bytes('1.20')],
    [OP_CAS, sid(7), 2, 'fruit/apple', bytes('1.20'), bytes('1.25')],
    [OP_DELETE, sid(8), 1, 'fruit/kiwi'],
    [OP_NOOP, null, 0],
  ]);

describe('golden vectors', () => {
  for (const sha of [nobleSha256, fastSha256]) {
    it(`genesis record and hash (${sha.name})`, () => {
      const record = Ledger.genesisRecord(sha, genesisConfig);
      expect(hex(record)).toBe(GENESIS_RECORD);
      expect(hex(hashRecord(sha, record))).toBe(GENESIS_HASH);
    });

    it(`a sample block built by append(): record, hash, results (${sha.name})`, () => {
      const ledger = new Ledger(sha);
      expect(ledger.replay(0, Ledger.genesisRecord(sha, genesisConfig))).toEqual({ results: [] });
      const block = ledger.append(block1Body());
      expect(hex(block.record)).toBe(BLOCK1_RECORD);
      expect(hex(block.ref.hash)).toBe(BLOCK1_HASH);
      expect(block.results).toEqual([ResultCode.OK, ResultCode.OK, ResultCode.NOT_FOUND, ResultCode.OK]);
    });
  }
});
