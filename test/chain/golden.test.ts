// Golden vectors pin the block format (ARCHITECTURE §2): if any byte of the header encoding, the
// body encoding, a domain tag, the hash or the state root definition changes, these fail.
// A change that is meant must bump BLOCK_FORMAT_VERSION (or, when only the state root's definition
// changes and the bytes of blocks do not, STORE_FORMAT_VERSION) and update the vectors on purpose.
import { describe, expect, it } from 'vitest';
import { nobleSha256 } from '../../src/lib/sha256.js';
import { hashRecord } from '../../src/chain/block.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { OP_CAS, OP_DELETE, OP_NOOP, OP_PUT, ResultCode } from '../../src/kv/command.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { bytes, hex, referenceRoot, sid } from '../helpers.js';

// Format 3: the header's state digest became the Merkle state root (src/kv/state.ts) and a
// history root (src/ledger/history.ts) follows it; genesis (body version 2) lists the members'
// public keys and carries the empty state's root and the empty history's, SHA-256(""); block 1's
// history root is the one-leaf tree over the genesis hash. The batch body is as in format 2.
// Store format 4: a KV entry's leaf covers its revisions (createHeight, modHeight, version), so
// block 1's state root (and hash) changed; its bytes are otherwise as in store format 3.
const GENESIS_RECORD =
  '03' + '0000000000000000' + '00'.repeat(32) +
  'e60bf50d95147414004b2b8aed0f4f00c26d947199ec00f5aa5378239215f0fa' +
  '0b4d1a13a45240adbfacbd7331cb2cb4b29321925408cb9a9583ba78797c5d7e' +
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' +
  '970002a6676f6c64656e93010203cd03e8cb4278bcfe56800000' +
  '93c420' + '11'.repeat(32) + 'c420' + '22'.repeat(32) + 'c420' + '33'.repeat(32);
const GENESIS_HASH = 'e8e201855f8548e4766174cd38532744d24ebc9a93721b3189ed24e238c7dca1';
const BLOCK1_RECORD =
  '03' + '0000000000000001' + GENESIS_HASH +
  '21a02fea747b97dcdd53f8974491d4dc0869730749e866bc94a16e8e5bf0dc86' +
  'c7e47e1f2738d34be616431bfae0f94e167928f549a1cd817151faa3a4e36e91' +
  'f4512b21addfd463b86189dc08b1b29b2a0cb867e4366fb11f824f2a766e7c45' +
  '9301cb4278bcfe56801000949501c4100000000000000000000000000000000701ab66727569742f6170706c65c404312e3230' +
  '9603c4100000000000000000000000000000000702ab66727569742f6170706c65c404312e3230c404312e3235' +
  '9402c4100000000000000000000000000000000801aa66727569742f6b697769' + '9300c000';
const BLOCK1_HASH = '918b8ff51baa7cd08bad0c393f160926cee66f72ff4a738a47c84e11687e2547';

const genesisConfig = { clusterId: 'golden', members: [1, 2, 3], dedupCapacity: 1000, createdAtMs: 1_700_000_000_000, memberKeys: [0x11, 0x22, 0x33].map((b) => new Uint8Array(32).fill(b)) };
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
      // The history root is RFC 6962's one-leaf tree over the genesis hash, with the 0x04 leaf tag.
      expect(BLOCK1_RECORD.slice(2 * 105, 2 * 137)).toBe(hex(nobleSha256.hash(Buffer.from('04' + GENESIS_HASH, 'hex'))));
    });
  }
});
