/**
 * Proofs that a key has a value, or no value, in a state with a given root (src/kv/state.ts),
 * and their verifier. Pure: a client checks a proof with nothing but a SHA-256 and the root.
 *
 * A key proof is the path the key takes through the KV trie (src/kv/state-trie.ts), root first,
 * plus the leaf it ends at and the sessions trie's root:
 *
 *   key           the key asked about (UTF-8 bytes)
 *   leaf          the key, value and revisions (createHeight, modHeight, version; src/kv/table.ts)
 *                 of the leaf the path ends at; absent only for an empty KV trie
 *   steps         [{ crit, sibling }] from the root down: each node's crit bit and the hash of the
 *                 child the path does not take
 *   sessionsRoot  root of the sessions trie (the proof does not open it)
 *
 * verifyKeyProof recomputes the state root from the leaf up and compares it; along the way it
 * checks that the crit bits strictly increase, that the path takes the side the asked key's bit
 * says at every node, and that the leaf's key has the same bits there (so the leaf is the one the
 * key's search reaches). The key then has the leaf's value if the leaf's key equals it, and no
 * value otherwise: in a crit-bit trie the search for a present key always ends at its own leaf.
 * The proof has one step per node on the path: O(log n) for keys that are not chosen to collide,
 * never more than KEY_BITS_MAX. The JSON form (hex strings) is what `chain prove` writes.
 */
import { bytesEqual, concatBytes, fromHex, isU53, toHex, utf8, writeU64 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';
import { KEY_BITS_MAX, keyBit, NODE_TAG, type PathStep } from './state-trie.js';
import { ELEMENT_TAG, REVISION_BYTES, type Revisions } from './table.js';

/** Domain tag of the state root: stateRoot = SHA-256(STATE_ROOT_TAG || kvRoot || sessionsRoot). */
export const STATE_ROOT_TAG = utf8('paxchain/state/1\0');

export interface KeyProof {
  readonly key: Uint8Array;
  readonly leaf: { readonly key: Uint8Array; readonly value: Uint8Array; readonly revisions: Revisions } | undefined;
  readonly steps: readonly PathStep[];
  readonly sessionsRoot: Uint8Array;
}

/** What a valid proof says: the key's value, or null for absent. */
export type KeyProofVerdict =
  | { readonly ok: true; readonly value: Uint8Array | null; readonly revisions?: Revisions }
  | { readonly ok: false; readonly reason: string };

export interface KeyProofJson {
  key: string;
  leaf: { key: string; value: string; createHeight: number; modHeight: number; version: number } | null;
  steps: Array<{ crit: number; sibling: string }>;
  sessionsRoot: string;
}

/** Checks `proof` against `stateRoot`; on success says what the state holds for proof.key. */
export function verifyKeyProof(sha256: Sha256, proof: KeyProof, stateRoot: Uint8Array): KeyProofVerdict {
  const shape = checkShape(proof);
  if (shape) return { ok: false, reason: shape };
  let kvRoot: Uint8Array;
  if (proof.leaf === undefined) {
    if (proof.steps.length > 0) return { ok: false, reason: 'a proof with steps must name its leaf' };
    kvRoot = new Uint8Array(SHA256_BYTES);
  } else {
    const folded = foldPath(sha256, proof.key, proof.leaf.key, leafHash(sha256, proof.leaf.key, proof.leaf.revisions, proof.leaf.value), proof.steps);
    if (typeof folded === 'string') return { ok: false, reason: folded };
    kvRoot = folded;
  }
  const root = sha256.hash(concatBytes(STATE_ROOT_TAG, kvRoot, proof.sessionsRoot));
  if (!bytesEqual(root, stateRoot)) return { ok: false, reason: `the proof gives state root ${toHex(root.subarray(0, 8))}, expected ${toHex(stateRoot.subarray(0, 8))}` };
  const present = proof.leaf !== undefined && bytesEqual(proof.leaf.key, proof.key);
  return present ? { ok: true, value: proof.leaf!.value, revisions: proof.leaf!.revisions } : { ok: true, value: null };
}

/** The KV trie leaf hash of an entry: SHA-256(0x01 || u16 key length || key || revisions || value). */
function leafHash(sha256: Sha256, key: Uint8Array, revisions: Revisions, value: Uint8Array): Uint8Array {
  const encoded = new Uint8Array(REVISION_BYTES);
  writeU64(encoded, 0, revisions.createHeight);
  writeU64(encoded, 8, revisions.modHeight);
  writeU64(encoded, 16, revisions.version);
  return sha256.hash(concatBytes(Uint8Array.of(ELEMENT_TAG, key.length >>> 8, key.length & 0xff), key, encoded, value));
}

/** Whether `value` is a Revisions of heights and a version a state could hold. */
export function isRevisions(value: unknown): value is Revisions {
  if (typeof value !== 'object' || value === null) return false;
  const { createHeight, modHeight, version } = value as Record<string, unknown>;
  return isU53(createHeight) && isU53(modHeight) && isU53(version) && createHeight >= 1 && modHeight >= createHeight && version >= 1;
}

/**
 * Folds a whole subtree's hash up its path to its trie's root (a snapshot chunk's proof,
 * src/kv/snapshot.ts): the side taken at each step is the one the subtree's keys have (any of
 * them: `key`); a reason if the path is malformed.
 */
export function foldSubtree(sha256: Sha256, key: Uint8Array, hash: Uint8Array, steps: readonly PathStep[]): Uint8Array | string {
  return foldPath(sha256, key, key, hash, steps);
}

/** Folds the path from the leaf up to the KV root, checking each step; a reason if one fails. */
function foldPath(sha256: Sha256, key: Uint8Array, leafKey: Uint8Array, leaf: Uint8Array, steps: readonly PathStep[]): Uint8Array | string {
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]!.crit <= steps[i - 1]!.crit) return `crit bits must increase down the path (step ${i}: ${steps[i]!.crit} after ${steps[i - 1]!.crit})`;
  }
  let hash = leaf;
  const message = new Uint8Array(1 + 4 + 2 * SHA256_BYTES);
  message[0] = NODE_TAG;
  for (let i = steps.length - 1; i >= 0; i--) {
    const { crit, sibling } = steps[i]!;
    const side = keyBit(key, 0, key.length, crit);
    if (keyBit(leafKey, 0, leafKey.length, crit) !== side) return `the leaf's key leaves the key's path at step ${i} (bit ${crit})`;
    message[1] = crit >>> 24;
    message[2] = (crit >>> 16) & 0xff;
    message[3] = (crit >>> 8) & 0xff;
    message[4] = crit & 0xff;
    message.set(side === 0 ? hash : sibling, 5);
    message.set(side === 0 ? sibling : hash, 5 + SHA256_BYTES);
    hash = sha256.hash(message);
  }
  return hash;
}

function checkShape(proof: KeyProof): string | undefined {
  if (!(proof.key instanceof Uint8Array) || proof.key.length === 0 || proof.key.length > limits.keyBytesMax) return `key must be 1..${limits.keyBytesMax} bytes`;
  if (!(proof.sessionsRoot instanceof Uint8Array) || proof.sessionsRoot.length !== SHA256_BYTES) return 'sessionsRoot must be 32 bytes';
  if (!Array.isArray(proof.steps) || proof.steps.length > KEY_BITS_MAX) return `steps must be an array of at most ${KEY_BITS_MAX}`;
  for (const step of proof.steps) {
    if (!Number.isInteger(step.crit) || step.crit < 0 || step.crit >= KEY_BITS_MAX) return `crit bit ${String(step.crit)} out of range`;
    if (!(step.sibling instanceof Uint8Array) || step.sibling.length !== SHA256_BYTES) return 'each sibling must be 32 bytes';
  }
  const leaf = proof.leaf;
  if (leaf !== undefined) {
    if (!(leaf.key instanceof Uint8Array) || leaf.key.length === 0 || leaf.key.length > limits.keyBytesMax) return 'leaf key out of range';
    if (!(leaf.value instanceof Uint8Array) || leaf.value.length > limits.valueBytesMax) return 'leaf value out of range';
    if (!isRevisions(leaf.revisions)) return 'leaf revisions out of range';
  }
  return undefined;
}

export function keyProofToJson(proof: KeyProof): KeyProofJson {
  return {
    key: toHex(proof.key),
    leaf: proof.leaf ? { key: toHex(proof.leaf.key), value: toHex(proof.leaf.value), ...proof.leaf.revisions } : null,
    steps: proof.steps.map((step) => ({ crit: step.crit, sibling: toHex(step.sibling) })),
    sessionsRoot: toHex(proof.sessionsRoot),
  };
}

/** Parses the JSON form; a reason string for anything malformed (the verifier checks the rest). */
export function keyProofFromJson(json: unknown): KeyProof | string {
  if (typeof json !== 'object' || json === null) return 'proof is not an object';
  const { key, leaf, steps, sessionsRoot } = json as Record<string, unknown>;
  const keyBytes = hexField(key);
  const sessions = hexField(sessionsRoot);
  if (!keyBytes || !sessions) return 'proof needs hex key and sessionsRoot';
  if (!Array.isArray(steps) || steps.length > KEY_BITS_MAX) return 'proof steps must be an array';
  const parsedSteps: PathStep[] = [];
  for (const step of steps as unknown[]) {
    const { crit, sibling } = (step ?? {}) as Record<string, unknown>;
    const siblingBytes = hexField(sibling);
    if (typeof crit !== 'number' || !siblingBytes) return 'each step needs a crit number and a hex sibling';
    parsedSteps.push({ crit, sibling: siblingBytes });
  }
  let parsedLeaf: KeyProof['leaf'];
  if (leaf !== null) {
    const { key: leafKey, value, createHeight, modHeight, version } = (leaf ?? {}) as Record<string, unknown>;
    const leafKeyBytes = hexField(leafKey);
    const valueBytes = hexField(value);
    const revisions = { createHeight, modHeight, version };
    if (!leafKeyBytes || !valueBytes || !isRevisions(revisions)) return 'leaf needs hex key and value and its createHeight, modHeight and version (or null)';
    parsedLeaf = { key: leafKeyBytes, value: valueBytes, revisions };
  }
  return { key: keyBytes, leaf: parsedLeaf, steps: parsedSteps, sessionsRoot: sessions };
}

function hexField(value: unknown): Uint8Array | undefined {
  return typeof value === 'string' ? fromHex(value) : undefined;
}
