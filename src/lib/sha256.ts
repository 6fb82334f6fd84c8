/**
 * SHA-256 as an injected capability. The pure core (chain, kv, paxos, replica) hashes only
 * through this interface, so the simulator and production run the same code while the edge picks
 * the fastest implementation available (see src/native/sha256.ts and `paxchain dev bench-hash`).
 * Every implementation must produce identical bytes; test/lib/sha256.test.ts checks that.
 */
import { sha256 as nobleDigest } from '@noble/hashes/sha2.js';

export const SHA256_BYTES = 32;

export interface Sha256 {
  readonly name: string;
  /** SHA-256 of `data`. The result is a fresh array the caller owns. */
  hash(data: Uint8Array): Uint8Array;
  /**
   * Hashes `count` ranges of `data`: message i is `data[starts[i], ends[i])`. Writes digest i to
   * `out[32 * i, 32 * i + 32)`. Throws TypeError (before hashing anything) if a range is not
   * within `data` or `out` is too short.
   */
  hashMany(data: Uint8Array, starts: Uint32Array, ends: Uint32Array, count: number, out: Uint8Array): void;
  /**
   * Like hashMany, but message i is `tag || buffers[i][starts[i], ends[i])`: ranges of separate
   * buffers behind a common domain tag (block headers and bodies, hashed where they lie). Throws
   * TypeError for a bad buffer or range; `out` is then unspecified.
   */
  hashTagged(tag: Uint8Array, buffers: readonly Uint8Array[], starts: Uint32Array, ends: Uint32Array, count: number, out: Uint8Array): void;
  /**
   * Hashes `count` ranges of `data` in order, writing digest i to `data[targets[i], targets[i] +
   * 32)` before message i + 1 is read, so a message may contain an earlier digest: a Merkle path
   * hashed children first in one call (src/kv/state-trie.ts). Throws TypeError (before hashing
   * anything) if a range or target is not within `data`.
   */
  hashPlaced(data: Uint8Array, starts: Uint32Array, ends: Uint32Array, targets: Uint32Array, count: number): void;
}

function checkHashTaggedArguments(buffers: readonly Uint8Array[], starts: Uint32Array, ends: Uint32Array, count: number, out: Uint8Array): void {
  if (!Number.isSafeInteger(count) || count < 0 || count > buffers.length || count > ends.length || count > starts.length) {
    throw new TypeError(`hashTagged: count ${count} exceeds buffers, starts or ends`);
  }
  if (out.length < count * SHA256_BYTES) throw new TypeError('hashTagged: out is too short');
  for (let i = 0; i < count; i++) {
    const buffer = buffers[i];
    if (!(buffer instanceof Uint8Array) || starts[i]! > ends[i]! || ends[i]! > buffer.length) {
      throw new TypeError(`hashTagged: bad buffer or range at ${i}`);
    }
  }
}

/** hashTagged built from any single-message hash (copies tag and range into one message). */
export function taggedViaCopy(hash: (data: Uint8Array) => Uint8Array): Sha256['hashTagged'] {
  return (tag, buffers, starts, ends, count, out) => {
    checkHashTaggedArguments(buffers, starts, ends, count, out);
    for (let i = 0; i < count; i++) {
      const range = buffers[i]!.subarray(starts[i]!, ends[i]!);
      const message = new Uint8Array(tag.length + range.length);
      message.set(tag);
      message.set(range, tag.length);
      out.set(hash(message), i * SHA256_BYTES);
    }
  };
}

export function checkHashManyArguments(data: Uint8Array, starts: Uint32Array, ends: Uint32Array, count: number, out: Uint8Array): void {
  if (!Number.isSafeInteger(count) || count < 0 || count > ends.length || count > starts.length) {
    throw new TypeError(`hashMany: count ${count} exceeds starts or ends`);
  }
  if (out.length < count * SHA256_BYTES) throw new TypeError('hashMany: out is too short');
  for (let i = 0; i < count; i++) {
    if (starts[i]! > ends[i]! || ends[i]! > data.length) throw new TypeError(`hashMany: bad range ${starts[i]}..${ends[i]} at ${i}`);
  }
}

/** hashPlaced built from any single-message hash. */
export function placedViaHash(hash: (data: Uint8Array) => Uint8Array): Sha256['hashPlaced'] {
  return (data, starts, ends, targets, count) => {
    if (!Number.isSafeInteger(count) || count < 0 || count > starts.length || count > ends.length || count > targets.length) {
      throw new TypeError(`hashPlaced: count ${count} exceeds starts, ends or targets`);
    }
    for (let i = 0; i < count; i++) {
      if (starts[i]! > ends[i]! || ends[i]! > data.length || targets[i]! + SHA256_BYTES > data.length) throw new TypeError(`hashPlaced: bad range or target at ${i}`);
    }
    for (let i = 0; i < count; i++) data.set(hash(data.subarray(starts[i]!, ends[i]!)), targets[i]!);
  };
}

/** Pure JavaScript (@noble/hashes): the portable default, used where nothing faster is wired in. */
export const nobleSha256: Sha256 = {
  name: 'noble',
  hash: (data) => nobleDigest(data),
  hashMany(data, starts, ends, count, out) {
    checkHashManyArguments(data, starts, ends, count, out);
    for (let i = 0; i < count; i++) out.set(nobleDigest(data.subarray(starts[i]!, ends[i]!)), i * SHA256_BYTES);
  },
  hashTagged: taggedViaCopy((data) => nobleDigest(data)),
  hashPlaced: placedViaHash((data) => nobleDigest(data)),
};
