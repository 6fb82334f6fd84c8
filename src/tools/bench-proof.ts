/**
 * `paxchain dev bench-proof`: what key proofs cost at a given state size. Builds a state of N keys
 * (100-byte values, written in blocks of 1,000 as replay would), then proves random keys (half
 * present, half absent) and verifies the proofs on one core, as a client does (the state root
 * check only; signatures are per head, not per proof).
 */
import { pack } from '../lib/msgpack.js';
import { Prng } from '../lib/prng.js';
import { nobleSha256, type Sha256 } from '../lib/sha256.js';
import { utf8 } from '../lib/bytes.js';
import { OP_PUT } from '../kv/command.js';
import { KvState } from '../kv/state.js';
import { type KeyProof, verifyKeyProof } from '../kv/state-proof.js';
import { MsgpackCursor } from '../lib/msgpack-cursor.js';
import { fastSha256 } from '../native/sha256.js';

export interface ProofBenchResult {
  readonly keys: number;
  readonly buildSeconds: number;
  readonly proofs: number;
  /** Mean and largest encoded proof (msgpack bytes), and mean path length in steps. */
  readonly proofBytesMean: number;
  readonly proofBytesMax: number;
  readonly stepsMean: number;
  readonly provePerSecond: number;
  /** Proofs verified per second on one core, with the native SHA-256 and with @noble/hashes. */
  readonly verifyPerSecond: number;
  readonly verifyPerSecondNoble: number;
}

const BLOCK_COMMANDS = 1000;

function buildState(keys: number, onProgress?: (done: number) => void): KvState {
  const state = new KvState(fastSha256, 100);
  const value = new Uint8Array(100).fill(7);
  const cursor = new MsgpackCursor();
  for (let start = 0, height = 1; start < keys; start += BLOCK_COMMANDS, height++) {
    const count = Math.min(BLOCK_COMMANDS, keys - start);
    const bytes = pack(Array.from({ length: count }, (_, i) => [OP_PUT, null, 0, `key-${start + i}`, value]));
    // applyCommands reads the commands after the array header (1, 3 or 5 bytes).
    cursor.reset(bytes, 0);
    cursor.readArrayLength();
    state.applyCommands(cursor, count, height);
    state.root();
    if (height % 100 === 0) onProgress?.(start + count);
  }
  return state;
}

function verifyRate(sha256: Sha256, proofs: readonly KeyProof[], root: Uint8Array, seconds: number): number {
  let verified = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    for (const proof of proofs) {
      if (!verifyKeyProof(sha256, proof, root).ok) throw new Error('an honest proof failed to verify');
      verified++;
    }
  }
  return Math.round(verified / ((performance.now() - started) / 1000));
}

export function benchProofs(keys: number, proofCount: number, onProgress?: (done: number) => void): ProofBenchResult {
  let started = performance.now();
  const state = buildState(keys, onProgress);
  const root = state.root();
  const buildSeconds = (performance.now() - started) / 1000;
  const prng = new Prng(keys);
  const asked = Array.from({ length: proofCount }, (_, i) => utf8(i % 2 === 0 ? `key-${prng.nextInt(keys)}` : `absent-${prng.nextInt(keys)}`));
  started = performance.now();
  const proofs = asked.map((key) => state.proveKey(key));
  const provePerSecond = Math.round(proofCount / ((performance.now() - started) / 1000));
  const sizes = proofs.map((proof) => pack({ key: proof.key, leaf: proof.leaf ? [proof.leaf.key, proof.leaf.value] : null, steps: proof.steps.map((step) => [step.crit, step.sibling]), sessionsRoot: proof.sessionsRoot }).length);
  return {
    keys,
    buildSeconds,
    proofs: proofCount,
    proofBytesMean: Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length),
    proofBytesMax: Math.max(...sizes),
    stepsMean: proofs.reduce((sum, proof) => sum + proof.steps.length, 0) / proofs.length,
    provePerSecond,
    verifyPerSecond: verifyRate(fastSha256, proofs, root, 1),
    verifyPerSecondNoble: verifyRate(nobleSha256, proofs.slice(0, 2000), root, 1),
  };
}
