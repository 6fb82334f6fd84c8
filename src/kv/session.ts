/**
 * Client sessions that a stranger cannot take over.
 *
 * A client keeps a random session secret (SESSION_SECRET_BYTES) and sends it with every write;
 * the node that receives the write derives the session id the chain records:
 *
 *   sessionId = first SESSION_ID_BYTES of SHA-256("paxchain/session/1\0" || secret)
 *
 * What blocks, `chain show` and `kv dump` reveal is the id, and an id is not a secret: sending
 * it (or anything else) as a secret yields another id. Taking over a session means finding a
 * preimage of a 128-bit hash. The chosen value carries the derived id, never the secret, so
 * every replica applies the same bytes; a retry of (secret, seq) at any node derives the same id
 * and is deduplicated there.
 */
import { utf8, writeU64 } from '../lib/bytes.js';
import type { Sha256 } from '../lib/sha256.js';

/** Bytes of a session secret (client side, never stored). */
export const SESSION_SECRET_BYTES = 32;
/** Bytes of a session id as the chain records it (128 bits: preimages are out of reach). */
export const SESSION_ID_BYTES = 16;

const SESSION_TAG = utf8('paxchain/session/1\0');

/** Turns a session secret into its session id (deriveSessionId, maybe memoized: SessionIdCache). */
export interface SessionIds {
  /** The id of a SESSION_SECRET_BYTES secret; the caller must not modify the returned bytes. */
  derive(secret: Uint8Array): Uint8Array;
}

export function deriveSessionId(sha256: Sha256, secret: Uint8Array): Uint8Array {
  if (secret.length !== SESSION_SECRET_BYTES) throw new TypeError(`a session secret is ${SESSION_SECRET_BYTES} bytes`);
  const message = new Uint8Array(SESSION_TAG.length + secret.length);
  message.set(SESSION_TAG);
  message.set(secret, SESSION_TAG.length);
  return sha256.hash(message).slice(0, SESSION_ID_BYTES);
}

/**
 * Session id number `n` (u64 big-endian in the last 8 bytes): a fixed id that is no hash of any
 * known secret, for tools that build chains directly (`dev gen`, bench-core) and for tests.
 */
export function fixedSessionId(n: number): Uint8Array {
  const id = new Uint8Array(SESSION_ID_BYTES);
  writeU64(id, SESSION_ID_BYTES - 8, n);
  return id;
}
