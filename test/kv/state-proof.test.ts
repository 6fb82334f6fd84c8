// Key proofs against the state root (src/kv/state-proof.ts): presence and absence proofs for
// random keys of random states verify with the right answer, and fail after any single-bit
// change of the proof or the root; plus golden vectors that pin the format.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nobleSha256 } from '../../src/lib/sha256.js';
import { Prng } from '../../src/lib/prng.js';
import { OP_DELETE, OP_PUT } from '../../src/kv/command.js';
import { KvState } from '../../src/kv/state.js';
import { type KeyProof, keyProofFromJson, keyProofToJson, verifyKeyProof } from '../../src/kv/state-proof.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { bytes, hex, referenceRoot, sid } from '../helpers.js';

const encoder = new TextEncoder();

function randomState(prng: Prng, keys: number): { state: KvState; present: Map<string, Uint8Array> } {
  const state = new KvState(fastSha256, 64);
  const present = new Map<string, Uint8Array>();
  let seq = 0;
  for (let i = 0; i < keys * 2; i++) {
    const key = `k${prng.nextInt(keys * 2)}${prng.chance(0.2) ? '/x' : ''}`;
    if (prng.chance(0.25)) {
      state.apply([OP_DELETE, sid(1 + prng.nextInt(5)), ++seq, key], 1);
      present.delete(key);
    } else {
      const value = bytes(`v${i}`);
      state.apply([OP_PUT, sid(1 + prng.nextInt(5)), ++seq, key, value], 1);
      present.set(key, value);
    }
  }
  return { state, present };
}

/** Every proof variant with exactly one bit flipped somewhere in its hashed contents. */
function* singleBitFlips(proof: KeyProof): Generator<KeyProof> {
  const flip = (bytes: Uint8Array, bit: number) => {
    const copy = bytes.slice();
    copy[bit >> 3]! ^= 1 << (bit & 7);
    return copy;
  };
  for (let bit = 0; bit < 256; bit++) yield { ...proof, sessionsRoot: flip(proof.sessionsRoot, bit) };
  for (let i = 0; i < proof.steps.length; i++) {
    for (let bit = 0; bit < 256; bit++) {
      const steps = proof.steps.map((step, j) => (j === i ? { crit: step.crit, sibling: flip(step.sibling, bit) } : step));
      yield { ...proof, steps };
    }
    for (let bit = 0; bit < 14; bit++) yield { ...proof, steps: proof.steps.map((step, j) => (j === i ? { ...step, crit: step.crit ^ (1 << bit) } : step)) };
  }
  if (proof.leaf) {
    const leaf = proof.leaf;
    for (let bit = 0; bit < leaf.key.length * 8; bit++) yield { ...proof, leaf: { ...leaf, key: flip(leaf.key, bit) } };
    for (let bit = 0; bit < leaf.value.length * 8; bit++) yield { ...proof, leaf: { ...leaf, value: flip(leaf.value, bit) } };
    // A lie about the revisions (the key's heights or version) is as detectable as one about its value.
    for (const field of ['createHeight', 'modHeight', 'version'] as const) {
      for (const delta of [1, 2, 1 << 20]) yield { ...proof, leaf: { ...leaf, revisions: { ...leaf.revisions, [field]: leaf.revisions[field] + delta } } };
    }
  }
}

describe('key proofs', () => {
  it('presence and absence proofs for random keys of random states verify with the right answer', () => {
    const prng = new Prng(9);
    for (const size of [0, 1, 2, 5, 50, 500]) {
      const { state, present } = randomState(prng, size);
      const root = state.root();
      expect(hex(root)).toBe(referenceRoot(state));
      const asked = [...present.keys(), ...Array.from({ length: 50 }, () => `k${prng.nextInt(size * 3 + 1)}`), 'k', 'k1/', 'z', `${[...present.keys()][0] ?? 'q'}0`];
      for (const key of asked) {
        const proof = state.proveKey(encoder.encode(key));
        const verdict = verifyKeyProof(nobleSha256, proof, root);
        expect(verdict.ok && verdict.value, key).toEqual(present.get(key) ?? null);
        if (verdict.ok && verdict.value !== null) expect(verdict.revisions, key).toEqual(state.entry(encoder.encode(key))!.revisions);
        expect(proof.steps.length).toBeLessThanOrEqual(Math.max(0, 2 * Math.ceil(Math.log2(present.size + 1)) + 8));
      }
    }
  });

  it('fails after any single-bit change of the proof or of the root', () => {
    const prng = new Prng(10);
    const { state, present } = randomState(prng, 300);
    const root = state.root();
    const keys = [[...present.keys()][3]!, 'absent-key', [...present.keys()][7]!];
    let refused = 0;
    for (const key of keys) {
      const proof = state.proveKey(encoder.encode(key));
      expect(verifyKeyProof(fastSha256, proof, root).ok).toBe(true);
      for (const forged of singleBitFlips(proof)) {
        const verdict = verifyKeyProof(fastSha256, forged, root);
        expect(verdict.ok, JSON.stringify(keyProofToJson(forged))).toBe(false);
        refused++;
      }
      for (let bit = 0; bit < 256; bit++) {
        const otherRoot = root.slice();
        otherRoot[bit >> 3]! ^= 1 << (bit & 7);
        expect(verifyKeyProof(fastSha256, proof, otherRoot).ok).toBe(false);
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });

  it('a changed question gets a refusal or a true answer, never a false one', () => {
    const prng = new Prng(11);
    const { state, present } = randomState(prng, 200);
    const root = state.root();
    for (const key of [...present.keys()].slice(0, 20)) {
      const proof = state.proveKey(encoder.encode(key));
      for (let bit = 0; bit < proof.key.length * 8; bit++) {
        const asked = proof.key.slice();
        asked[bit >> 3]! ^= 1 << (bit & 7);
        const verdict = verifyKeyProof(fastSha256, { ...proof, key: asked }, root);
        if (!verdict.ok) continue;
        const name = new TextDecoder().decode(asked);
        expect(verdict.value).toEqual(present.get(name) ?? null);
      }
    }
  });

  it('refuses malformed proofs with a reason', () => {
    const { state } = randomState(new Prng(12), 20);
    const root = state.root();
    const proof = state.proveKey(encoder.encode('k1'));
    const cases: KeyProof[] = [
      { ...proof, key: new Uint8Array(0) },
      { ...proof, sessionsRoot: new Uint8Array(31) },
      { ...proof, steps: [...proof.steps].reverse() },
      { ...proof, steps: proof.steps.slice(1) },
      { ...proof, steps: [...proof.steps, proof.steps[0]!] },
      { ...proof, leaf: undefined },
    ];
    for (const forged of cases) {
      const verdict = verifyKeyProof(fastSha256, forged, root);
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) expect(verdict.reason.length).toBeGreaterThan(0);
    }
    expect(typeof keyProofFromJson({ key: 'zz' })).toBe('string');
    expect(keyProofFromJson(keyProofToJson(proof))).toEqual(proof);
  });

  it('golden vectors: a fixed state, its root and proofs', () => {
    const golden = JSON.parse(readFileSync(new URL('./state-golden.json', import.meta.url), 'utf8'));
    const state = new KvState(nobleSha256, 10);
    let seq = 0;
    for (const [key, value] of golden.entries as Array<[string, string]>) state.apply([OP_PUT, sid(1), ++seq, key, bytes(value)], 1);
    expect(hex(state.root())).toBe(golden.root);
    expect(referenceRoot(state)).toBe(golden.root);
    for (const { key, proof, value } of golden.proofs as Array<{ key: string; proof: unknown; value: string | null }>) {
      expect(keyProofToJson(state.proveKey(encoder.encode(key)))).toEqual(proof);
      const parsed = keyProofFromJson(proof);
      if (typeof parsed === 'string') throw new Error(parsed);
      const verdict = verifyKeyProof(nobleSha256, parsed, Buffer.from(golden.root, 'hex'));
      expect(verdict.ok && verdict.value).toEqual(value === null ? null : bytes(value));
      if (value !== null) expect(verdict.ok && verdict.revisions).toEqual({ createHeight: 1, modHeight: 1, version: 1 });
    }
  });
});
