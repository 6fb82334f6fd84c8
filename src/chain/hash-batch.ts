/**
 * Hashes the headers and bodies of many block records with two batch calls
 * (Sha256.hashTagged), for replay, verify and catch-up. Per-call overhead dominates SHA-256 of
 * small inputs, so this is where verify gets its blocks/s.
 */
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';
import { BODY_TAG, HEADER_BYTES, HEADER_TAG } from './block.js';

export interface RecordHashes {
  /** Block hash of record i at [32i, 32i + 32). */
  readonly blockHashes: Uint8Array;
  /** Body hash computed over record i's stored body at [32i, 32i + 32). */
  readonly bodyHashes: Uint8Array;
}

/**
 * Header ranges of records (or of bare headers): [0, HEADER_BYTES), or an empty range for one too
 * short to hold a header (decodeHeader reports it; its hash is never trusted).
 */
function headerEnds(records: readonly Uint8Array[]): Uint32Array {
  const ends = new Uint32Array(records.length);
  for (let i = 0; i < records.length; i++) ends[i] = records[i]!.length >= HEADER_BYTES ? HEADER_BYTES : 0;
  return ends;
}

/** Block hashes of records or bare headers, in one batch call: record i's at [32i, 32i + 32). */
export function hashHeaders(sha256: Sha256, records: readonly Uint8Array[]): Uint8Array {
  const count = records.length;
  const blockHashes = new Uint8Array(count * SHA256_BYTES);
  sha256.hashTagged(HEADER_TAG, records, new Uint32Array(count), headerEnds(records), count, blockHashes);
  return blockHashes;
}

/** Block hashes and body hashes of records, in two batch calls. */
export function hashRecords(sha256: Sha256, records: readonly Uint8Array[]): RecordHashes {
  const count = records.length;
  const ends = headerEnds(records);
  const bodyEnds = new Uint32Array(count);
  // A body starts where its header ends (an empty range for a record too short for a header).
  for (let i = 0; i < count; i++) bodyEnds[i] = ends[i] === 0 ? 0 : records[i]!.length;
  const blockHashes = new Uint8Array(count * SHA256_BYTES);
  const bodyHashes = new Uint8Array(count * SHA256_BYTES);
  sha256.hashTagged(HEADER_TAG, records, new Uint32Array(count), ends, count, blockHashes);
  sha256.hashTagged(BODY_TAG, records, ends, bodyEnds, count, bodyHashes);
  return { blockHashes, bodyHashes };
}
