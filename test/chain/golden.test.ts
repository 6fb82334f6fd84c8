// Golden vectors pin the block format (ARCHITECTURE §2): if any byte of the header encoding, the
// body encoding, a domain tag, the hash or the state root definition changes, these fail.
// A change that is meant must bump BLOCK_FORMAT_VERSION and update the vectors on purpose.
import { describe, expect, it } from 'vitest';
import { nobleSha256 } from '../../src/lib/sha256.js';
import { hashRecord } from '../../src/chain/block.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { OP_CAS, OP_DELETE, OP_NOOP, OP_PUT, ResultCode } from '../../src/kv/command.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { bytes, hex, referenceRoot, sid } from '../helpers.js';

// Format 3 (the header's state digest became the Merkle state root, src/kv/state.ts): genesis
// carries the empty state's root instead of zeros, and block 1's root covers its entries and
// sessions, so both hashes changed; the bodies are as in format 2.
const GENESIS_RECORD =
  '03' + '0000000000000000' + '00'.repeat(32) +
  '2a0d2b08b998930dfe9b9686e5cbc27553c2f4b9071f1d0f43720975a7bc8e20' +
  '0b4d1a13a45240adbfacbd7331cb2cb4b29321925408cb9a9583ba78797c5d7e' +
  '960001a6676f6c64656e93010203cd03e8cb4278bcfe56800000';
const GENESIS_HASH = '52b4acec05484a25c038ab755814bdd564d840b53e4811b6ba124d2e9d20a583';
const BLOCK1_RECORD =
  '03' + '0000000000000001' + GENESIS_HASH +
  '21a02fea747b97dcdd53f8974491d4dc0869730749e866bc94a16e8e5bf0dc86' +
  '836377cc6a1e86945bd2a575e69fd56d2454ebc00db174f1ae33734e46f3d25f' +
  '9301cb4278bcfe56801000949501c4100000000000000000000000000000000701ab66727569742f6170706c65c404312e3230' +
  '9603c4100000000000000000000000000000000702ab66727569742f6170706c65c404312e3230c404312e3235' +
  '9402c4100000000000000000000000000000000801aa66727569742f6b697769' + '9300c000';
const BLOCK1_HASH = '60bd4b21ed6e2157787aabf1fa4faf35af72e2c3b543d2133138528422a368f5';

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
      // The header's state root is the from-scratch root of the state after the block.
      expect(BLOCK1_RECORD.slice(2 * 73, 2 * 105)).toBe(referenceRoot(ledger.state));
    });
  }
});
