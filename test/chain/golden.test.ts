// Golden vectors pin the block format (ARCHITECTURE §2): if any byte of the header encoding, the
// body encoding, a domain tag, the hash or the state digest definition changes, these fail.
// A change that is meant must bump BLOCK_FORMAT_VERSION and update the vectors on purpose.
import { describe, expect, it } from 'vitest';
import { nobleSha256 } from '../../src/lib/sha256.js';
import { hashRecord } from '../../src/chain/block.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { OP_CAS, OP_DELETE, OP_NOOP, OP_PUT, ResultCode } from '../../src/kv/command.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/replica/ledger.js';
import { bytes, hex } from '../helpers.js';

const GENESIS_RECORD =
  '01' + '0000000000000000' + '00'.repeat(32) +
  '2a0d2b08b998930dfe9b9686e5cbc27553c2f4b9071f1d0f43720975a7bc8e20' + '00'.repeat(32) +
  '960001a6676f6c64656e93010203cd03e8cb4278bcfe56800000';
const GENESIS_HASH = 'f34ab30719bd80d39f29ba46f29e158bf3e6150fd0278cef0c60cc67c0a27d1a';
const BLOCK1_RECORD =
  '01' + '0000000000000001' + GENESIS_HASH +
  '84768a8853b9f3afdae57e63bd861ba598c206f45bfb203113a8aab7928c22cf' +
  '985dc431509c66c2727c86502980052864222264b7bfd7b9e622ada93f298123' +
  '9301cb4278bcfe568010009495010701ab66727569742f6170706c65c404312e323096030702ab66727569742f6170706c65c404312e3230c404312e323594020801aa66727569742f6b69776993000000';
const BLOCK1_HASH = 'd066323c34e5eeffd42cbf2ad85d623802037da0d6026638dda9d45172062136';

const genesisConfig = { clusterId: 'golden', members: [1, 2, 3], dedupCapacity: 1000, createdAtMs: 1_700_000_000_000 };
const block1Body = () =>
  encodeBatchBody(1_700_000_000_001, [
    [OP_PUT, 7, 1, 'fruit/apple', bytes('1.20')],
    [OP_CAS, 7, 2, 'fruit/apple', bytes('1.20'), bytes('1.25')],
    [OP_DELETE, 8, 1, 'fruit/kiwi'],
    [OP_NOOP, 0, 0],
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
