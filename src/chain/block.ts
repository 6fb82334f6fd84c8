/**
 * Block format, version 3. (Version 1 had integer client ids in commands where version 2 has
 * 16-byte session ids, src/kv/session.ts; version 2's header carried an additive state digest
 * where version 3 carries the Merkle state root, src/kv/state.ts, and the history root.)
 *
 * A stored block record is `header || body`:
 *
 *   offset  size  field
 *   0       1     format version (= 3)
 *   1       8     height, unsigned big-endian (height = Paxos slot; 0 = genesis)
 *   9       32    prevHash: block hash of height - 1 (32 zero bytes for genesis)
 *   41      32    bodyHash: SHA-256(BODY_TAG || body)
 *   73      32    stateRoot: the state root after applying this block (src/kv/state.ts)
 *   105     32    historyRoot: root of the history tree over the block hashes of heights
 *                 0 .. height - 1 (src/ledger/history.ts; genesis: the empty tree's root)
 *   137     ...   body: the chosen Paxos value, msgpack (src/chain/body.ts), hashed as stored
 *
 * blockHash = SHA-256(HEADER_TAG || header). The hash always covers the stored bytes; nothing is
 * re-encoded before hashing, so a replica never "fixes" bytes it read. The domain tags keep a
 * header from ever hashing like a body or a state entry.
 */
import { assert } from '../lib/assert.js';
import { readU64, utf8, writeU64 } from '../lib/bytes.js';
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';

export const BLOCK_FORMAT_VERSION = 3;
export const HEADER_BYTES = 1 + 8 + 4 * SHA256_BYTES;
export const HEADER_TAG = utf8('paxchain/header/1\0');
export const BODY_TAG = utf8('paxchain/body/1\0');
export const ZERO_HASH: Uint8Array = new Uint8Array(SHA256_BYTES);

export interface BlockHeader {
  readonly version: number;
  readonly height: number;
  readonly prevHash: Uint8Array;
  readonly bodyHash: Uint8Array;
  readonly stateRoot: Uint8Array;
  readonly historyRoot: Uint8Array;
}

/** A (height, hash) pair: the head of a chain or any block in it. */
export interface BlockRef {
  readonly height: number;
  readonly hash: Uint8Array;
}

/** Byte offsets of the header fields in a record (height is a u64 at 1, the version at 0). */
export const HEIGHT_OFFSET = 1;
export const PREV_HASH_OFFSET = 9;
export const BODY_HASH_OFFSET = PREV_HASH_OFFSET + SHA256_BYTES;
export const STATE_ROOT_OFFSET = BODY_HASH_OFFSET + SHA256_BYTES;
export const HISTORY_ROOT_OFFSET = STATE_ROOT_OFFSET + SHA256_BYTES;

export function encodeRecord(header: BlockHeader, body: Uint8Array): Uint8Array {
  assert(header.version === BLOCK_FORMAT_VERSION, 'encodeRecord: unknown version');
  assert(header.prevHash.length === SHA256_BYTES, 'encodeRecord: prevHash length');
  assert(header.bodyHash.length === SHA256_BYTES, 'encodeRecord: bodyHash length');
  assert(header.stateRoot.length === SHA256_BYTES, 'encodeRecord: stateRoot length');
  assert(header.historyRoot.length === SHA256_BYTES, 'encodeRecord: historyRoot length');
  const record = new Uint8Array(HEADER_BYTES + body.length);
  record[0] = header.version;
  writeU64(record, HEIGHT_OFFSET, header.height);
  record.set(header.prevHash, PREV_HASH_OFFSET);
  record.set(header.bodyHash, BODY_HASH_OFFSET);
  record.set(header.stateRoot, STATE_ROOT_OFFSET);
  record.set(header.historyRoot, HISTORY_ROOT_OFFSET);
  record.set(body, HEADER_BYTES);
  return record;
}

/**
 * Decodes the header of a stored record. Returns a reason string instead of throwing, because
 * stored bytes are input: verify and replay turn the reason into a report with the height.
 */
export function decodeHeader(record: Uint8Array): BlockHeader | string {
  if (record.length < HEADER_BYTES) return `record is ${record.length} bytes, shorter than a ${HEADER_BYTES}-byte header`;
  const version = record[0]!;
  if (version !== BLOCK_FORMAT_VERSION) return `unknown block format version ${version}`;
  const height = readU64(record, HEIGHT_OFFSET);
  if (height < 0) return 'height does not fit in 53 bits';
  return {
    version,
    height,
    prevHash: record.subarray(PREV_HASH_OFFSET, BODY_HASH_OFFSET),
    bodyHash: record.subarray(BODY_HASH_OFFSET, STATE_ROOT_OFFSET),
    stateRoot: record.subarray(STATE_ROOT_OFFSET, HISTORY_ROOT_OFFSET),
    historyRoot: record.subarray(HISTORY_ROOT_OFFSET, HEADER_BYTES),
  };
}

/** SHA-256 of tag || bytes[start, end), through the injected batch call (no copy where it hashes in place). */
function hashTaggedRange(sha256: Sha256, tag: Uint8Array, bytes: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(SHA256_BYTES);
  sha256.hashTagged(tag, [bytes], Uint32Array.of(start), Uint32Array.of(end), 1, out);
  return out;
}

export function hashBody(sha256: Sha256, body: Uint8Array): Uint8Array {
  return hashTaggedRange(sha256, BODY_TAG, body, 0, body.length);
}

/** The block hash of a record (hashes only its header bytes). */
export function hashRecord(sha256: Sha256, record: Uint8Array): Uint8Array {
  return hashTaggedRange(sha256, HEADER_TAG, record, 0, HEADER_BYTES);
}
