/**
 * The fastest SHA-256 this process can get, for the edges to inject into the pure core.
 *
 * Order of preference, decided by `paxchain dev bench-hash` on the target machine:
 * 1. the batch addon (src/native/sha256.c): ~8M hashes/s of 120-byte messages in hashMany;
 * 2. node:crypto's one-shot `crypto.hash`: ~1.1M/s, one native call per message;
 * 3. @noble/hashes (pure JS, src/lib/sha256.ts): ~0.4M/s.
 * All three produce identical bytes (test/lib/sha256.test.ts).
 */
import crypto from 'node:crypto';
import { type NativeBinding, nativeAddon } from './addon.js';
import { checkHashManyArguments, placedViaHash, SHA256_BYTES, type Sha256, taggedViaCopy } from '../lib/sha256.js';

const nodeCryptoSha256: Sha256 = {
  name: 'node:crypto',
  hash: (data) => new Uint8Array(crypto.hash('sha256', data, 'buffer')),
  hashMany(data, starts, ends, count, out) {
    checkHashManyArguments(data, starts, ends, count, out);
    for (let i = 0; i < count; i++) out.set(crypto.hash('sha256', data.subarray(starts[i]!, ends[i]!), 'buffer'), i * SHA256_BYTES);
  },
  hashTagged: taggedViaCopy((data) => crypto.hash('sha256', data, 'buffer')),
  hashPlaced: placedViaHash((data) => crypto.hash('sha256', data, 'buffer')),
};

function nativeSha256(binding: NativeBinding): Sha256 {
  // One message through the batch call: ~0.8 us for a 51-byte session-secret message against
  // ~1.4-2.5 us through crypto.hash (its Buffer plus the copy out), and no slower for large ones.
  const start = new Uint32Array(1);
  const end = new Uint32Array(1);
  return {
    name: 'native',
    hash(data) {
      const out = new Uint8Array(SHA256_BYTES);
      end[0] = data.length;
      binding.hashMany(data, start, end, 1, out);
      return out;
    },
    hashMany: (data, starts, ends, count, out) => binding.hashMany(data, starts, ends, count, out),
    hashTagged: (tag, buffers, starts, ends, count, out) => binding.hashTagged(tag, buffers, starts, ends, count, out),
    hashPlaced: (data, starts, ends, targets, count) => binding.hashPlaced(data, starts, ends, targets, count),
  };
}

const binding = nativeAddon;

/** The implementation the node, the CLI and the benchmarks use. */
export const fastSha256: Sha256 = binding ? nativeSha256(binding) : nodeCryptoSha256;

/** Every implementation available in this process, for tests and `dev bench-hash`. */
export function availableSha256(): Sha256[] {
  return binding ? [nativeSha256(binding), nodeCryptoSha256] : [nodeCryptoSha256];
}
