// Shared by the signing and key-file tests: seeded member keys, a node:crypto verifier to inject.
import { createPublicKey, verify } from 'node:crypto';
import { Prng } from '../../src/lib/prng.js';
import { type Ed25519Verifier, generateMemberKey, type Member } from '../../src/ledger/signing.js';

export function randomBytes(prng: Prng, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => prng.nextInt(256));
}

export interface TestKey extends Member {
  readonly secretKey: Uint8Array;
}

/** `count` keys for nodes first, first + 1, ...; the same seed gives the same keys. */
export function testKeys(seed: number, count: number, first = 1): TestKey[] {
  const prng = new Prng(seed);
  return Array.from({ length: count }, (_, i) => ({ node: first + i, ...generateMemberKey(randomBytes(prng, 32)) }));
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** OpenSSL's Ed25519 through node:crypto, as an edge would inject it. */
export const nodeCryptoVerifier: Ed25519Verifier = {
  name: 'node:crypto',
  verify(publicKey, message, signature) {
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
    return verify(null, message, key, signature);
  },
};
