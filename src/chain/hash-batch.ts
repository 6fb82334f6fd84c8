/**
 * Hashes the headers and bodies of many block records with two batch calls
 * (Sha256.hashTagged), for replay, verify and catch-up. Per-call overhead dominates SHA-256 of
 * small inputs, so this is where verify gets its blocks/s.
 */
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';
import { BODY_TAG, HEADER_BYTES, HEADER_TAG } from './block.js';

export interface RecordHashes {
  /** Block hash of record i at [32i, 32i + 32) (zeros for a record shorter than a header). */
  readonly blockHashes: Uint8Array;
  /** Body hash computed over record i's stored body at [32i, 32i + 32). */
  readonly bodyHashes: Uint8Array;
}

export function hashRecords(sha256: Sha256, records: readonly Uint8Array[]): RecordHashes {
  const count = records.length;
  const headerStarts = new Uint32Array(count);
  const headerEnds = new Uint32Array(count);
  const bodyStarts = new Uint32Array(count);
  const bodyEnds = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const length = records[i]!.length;
    // A record too short for a header hashes as empty ranges; decodeHeader reports it.
    const whole = length >= HEADER_BYTES;
    headerEnds[i] = whole ? HEADER_BYTES : 0;
    bodyStarts[i] = whole ? HEADER_BYTES : 0;
    bodyEnds[i] = whole ? length : 0;
  }
  const blockHashes = new Uint8Array(count * SHA256_BYTES);
  const bodyHashes = new Uint8Array(count * SHA256_BYTES);
  sha256.hashTagged(HEADER_TAG, records, headerStarts, headerEnds, count, blockHashes);
  sha256.hashTagged(BODY_TAG, records, bodyStarts, bodyEnds, count, bodyHashes);
  return { blockHashes, bodyHashes };
}
