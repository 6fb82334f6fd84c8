// Verified answers (src/ledger/verified.ts) against lying nodes: honest answers are never refused,
// and 1,200 randomized forgeries of every kind the issue names are refused with the exact reason:
// a forged value, a forged proof, an old head (rollback), a fork whose headers link correctly, a
// head signed by a minority or by keys not in genesis, a history proof whose middle nodes differ
// (CVE-2022-36111), another cluster's identity (CVE-2022-39199).
import { describe, expect, it } from 'vitest';
import { hashRecord } from '../../src/chain/block.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { OP_DELETE, OP_PUT, type WriteEffect } from '../../src/kv/command.js';
import { Prng } from '../../src/lib/prng.js';
import { utf8 } from '../../src/lib/bytes.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { headStatement, type HeadSignature } from '../../src/ledger/signing.js';
import { decodeVerifiedAnswer, encodeVerifiedAnswer, type TrustState, type VerifiedAnswer, type VerificationReason, checkChainCertificate, verifyAnswer, verifyWrite } from '../../src/ledger/verified.js';
import { fastEd25519Signer, fastEd25519Verifier } from '../../src/native/ed25519.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { bytes } from '../helpers.js';
import { type TestKey, testKeys } from './signing-fixtures.js';

const sha = fastSha256;

interface Cluster {
  readonly ledger: Ledger;
  readonly keys: TestKey[];
  readonly genesisHash: Uint8Array;
  readonly genesisRecord: Uint8Array;
  /** Every header so far, by height. */
  readonly headers: Uint8Array[];
}

function cluster(name: string, keys: TestKey[]): Cluster {
  const ledger = new Ledger(sha);
  const record = Ledger.genesisRecord(sha, { clusterId: name, members: keys.map((key) => key.node), dedupCapacity: 100, createdAtMs: 1, memberKeys: keys.map((key) => key.publicKey) });
  expect(ledger.replay(0, record)).toEqual({ results: [] });
  return { ledger, keys, genesisHash: ledger.genesisHash!, genesisRecord: record, headers: [record.slice(0, 137)] };
}

function grow(c: Cluster, prng: Prng, blocks: number, keys = 40): void {
  for (let i = 0; i < blocks; i++) {
    const commands = Array.from({ length: 1 + prng.nextInt(5) }, () => [OP_PUT, null, 0, `k${prng.nextInt(keys)}`, bytes(`v${prng.nextInt(1_000_000)}`)]);
    const block = c.ledger.append(encodeBatchBody(i, commands));
    c.headers.push(block.record.slice(0, 137));
  }
}

function signatures(c: Cluster, height: number, signers: readonly TestKey[], genesisHash = c.genesisHash): HeadSignature[] {
  const hash = hashRecord(sha, c.headers[height]!);
  return signers.map((key) => ({ node: key.node, signature: fastEd25519Signer(key.secretKey, key.publicKey)(headStatement(genesisHash, height, hash)) }));
}

/** What an honest node sends for `key` captured at the head now, certified `later` blocks on. */
function honest(c: Cluster, prng: Prng, key: string, trustedHeight: number | undefined, later: number): { answer: VerifiedAnswer; value: Uint8Array | null } {
  const h = c.ledger.head!.height;
  const proof = c.ledger.state.proveKey(utf8(key));
  const value = c.ledger.state.get(key) ?? null;
  grow(c, prng, later);
  const H = c.ledger.head!.height;
  const majority = c.keys.slice(0, Math.floor(c.keys.length / 2) + 1);
  return {
    value,
    answer: {
      header: c.headers[h]!,
      proof,
      certificate: { header: c.headers[H]!, signatures: signatures(c, H, majority) },
      inclusion: h < H ? c.ledger.history.inclusionProof(h, H) : [],
      trusted: trustedHeight !== undefined && trustedHeight < H ? c.ledger.history.inclusionProof(trustedHeight, H) : null,
      genesis: c.genesisRecord,
    },
  };
}

function flip(bytes: Uint8Array, prng: Prng): Uint8Array {
  const copy = bytes.slice();
  const bit = prng.nextInt(copy.length * 8);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

function check(trust: TrustState, key: string, answer: VerifiedAnswer, claimed?: Uint8Array | null) {
  return verifyAnswer(sha, trust, utf8(key), answer, claimed, fastEd25519Verifier);
}

interface World {
  readonly c: Cluster;
  readonly fork: Cluster;
  readonly other: Cluster;
  readonly keys: TestKey[];
  readonly outsiders: TestKey[];
}

interface ForgeryContext {
  readonly world: World;
  readonly prng: Prng;
  readonly answer: VerifiedAnswer;
  readonly value: Uint8Array | null;
  readonly trust: TrustState;
  readonly trustedHeight: number;
  /** The certified height of the honest answer. */
  readonly H: number;
}

interface Forgery {
  readonly answer?: VerifiedAnswer;
  /** The value the lying node claims (undefined: the honest one). */
  readonly claimed?: Uint8Array | null;
  readonly trust?: TrustState;
  readonly expected: VerificationReason;
}

/** One forger per kind of lie; each returns the lie and the reason it must be refused with. */
const forgers: Array<(context: ForgeryContext) => Forgery> = [
  // A forged value.
  ({ prng }) => ({ claimed: bytes(`forged-${prng.nextInt(1e9)}`), expected: 'VALUE_MISMATCH' }),
  // A forged proof: one bit of a sibling, the leaf's value or the sessions root.
  ({ answer, prng }) => {
    const proof = answer.proof;
    const target = prng.nextInt(3);
    if (target === 0 && proof.steps.length > 0) {
      const i = prng.nextInt(proof.steps.length);
      return { answer: { ...answer, proof: { ...proof, steps: proof.steps.map((step, j) => (j === i ? { ...step, sibling: flip(step.sibling, prng) } : step)) } }, expected: 'BAD_PROOF' };
    }
    if (target === 1 && proof.leaf && proof.leaf.value.length > 0) {
      return { answer: { ...answer, proof: { ...proof, leaf: { ...proof.leaf, value: flip(proof.leaf.value, prng) } } }, expected: 'BAD_PROOF' };
    }
    return { answer: { ...answer, proof: { ...proof, sessionsRoot: flip(proof.sessionsRoot, prng) } }, expected: 'BAD_PROOF' };
  },
  // An old head: the client already trusts a head above the certified one (a rollback).
  ({ trust, H, prng }) => ({ trust: { ...trust, head: { height: H + 1 + prng.nextInt(5), hash: new Uint8Array(32).fill(7) } }, expected: 'ROLLBACK' }),
  // A fork whose headers link, signed by a colluding majority, from below the trusted head.
  ({ world, answer, trustedHeight, prng }) => {
    const F = trustedHeight + 1 + prng.nextInt(10);
    const { fork, keys, c } = world;
    return {
      answer: { header: fork.headers[F]!, proof: answer.proof, certificate: { header: fork.headers[F]!, signatures: signatures(fork, F, keys.slice(0, 3)) }, inclusion: [], trusted: fork.ledger.history.inclusionProof(trustedHeight, F), genesis: c.genesisRecord },
      expected: 'FORK',
    };
  },
  // A head signed by a minority.
  ({ answer }) => ({ answer: { ...answer, certificate: { ...answer.certificate, signatures: answer.certificate.signatures.slice(0, 2) } }, expected: 'BAD_CERTIFICATE' }),
  // A head signed by keys not in genesis (under the members' node ids).
  ({ answer, world, H }) => ({ answer: { ...answer, certificate: { ...answer.certificate, signatures: signatures(world.c, H, world.outsiders.slice(0, 3)) } }, expected: 'BAD_CERTIFICATE' }),
  // A history proof whose middle nodes differ while its ends match (CVE-2022-36111).
  ({ answer, prng }) => {
    const proof = answer.trusted!;
    const i = proof.length > 2 ? 1 + prng.nextInt(proof.length - 2) : 0;
    return { answer: { ...answer, trusted: proof.map((hash, j) => (j === i ? flip(hash, prng) : hash)) }, expected: 'FORK' };
  },
  // Another cluster's identity: its genesis record against our pin (CVE-2022-39199).
  ({ answer, world }) => ({ answer: { ...answer, genesis: world.other.genesisRecord }, expected: 'GENESIS_MISMATCH' }),
  // Another cluster's head, signed by its own majority.
  ({ answer, world, prng }) => {
    const O = 25 + prng.nextInt(5);
    const { other, c } = world;
    return { answer: { ...answer, header: other.headers[O]!, certificate: { header: other.headers[O]!, signatures: signatures(other, O, other.keys.slice(0, 3)) }, inclusion: [], genesis: c.genesisRecord }, expected: 'BAD_CERTIFICATE' };
  },
  // A forged header of the answer's block (its state root); the certificate untouched.
  ({ answer, prng }) => {
    const header = answer.header.slice();
    header[73 + prng.nextInt(32)]! ^= 1 << prng.nextInt(8);
    return { answer: { ...answer, header }, expected: 'NOT_IN_HISTORY' };
  },
];

describe('verified answers', () => {
  it('honest answers verify with the right value, advance the trusted head, and survive the wire encoding', () => {
    const prng = new Prng(1);
    const c = cluster('honest', testKeys(1, 3));
    grow(c, prng, 20);
    let trust: TrustState = { genesisHash: c.genesisHash, members: undefined, head: undefined };
    for (let i = 0; i < 200; i++) {
      const key = `k${prng.nextInt(60)}`;
      const { answer, value } = honest(c, prng, key, trust.head?.height, prng.nextInt(3));
      const wire = decodeVerifiedAnswer(encodeVerifiedAnswer(answer));
      if (typeof wire === 'string') throw new Error(wire);
      const verdict = check(trust, key, wire, value);
      if (!verdict.ok) throw new Error(`${verdict.reason}: ${verdict.message}`);
      expect(verdict.value).toEqual(value);
      expect(verdict.certified.height).toBe(c.ledger.head!.height);
      trust = verdict.trust;
    }
    expect(trust.head!.height).toBe(c.ledger.head!.height);
  });

  it('refuses 1,200 randomized forgeries, each with the exact reason', () => {
    const prng = new Prng(2);
    const keys = testKeys(2, 5);
    const c = cluster('victim', keys);
    grow(c, prng, 30);
    // A fork: same genesis, other blocks, headers that link correctly.
    const fork = cluster('victim', keys);
    grow(fork, new Prng(99), 40);
    const other = cluster('other', testKeys(3, 5));
    grow(other, prng, 30);
    const world: World = { c, fork, other, keys, outsiders: testKeys(4, 5, 1) };
    const counts = new Map<VerificationReason, number>();
    for (let trial = 0; trial < 1200; trial++) {
      const key = `k${prng.nextInt(50)}`;
      const trustedHeight = 5 + prng.nextInt(20);
      const trust: TrustState = { genesisHash: c.genesisHash, members: undefined, head: { height: trustedHeight, hash: hashRecord(sha, c.headers[trustedHeight]!) } };
      const { answer, value } = honest(c, prng, key, trustedHeight, prng.nextInt(2));
      const kind = prng.nextInt(forgers.length);
      const forgery = forgers[kind]!({ world, prng, answer, value, trust, trustedHeight, H: c.ledger.head!.height });
      const verdict = check(forgery.trust ?? trust, key, forgery.answer ?? answer, forgery.claimed === undefined ? value : forgery.claimed);
      expect(verdict.ok, `trial ${trial} kind ${kind}`).toBe(false);
      if (!verdict.ok) {
        expect(verdict.reason, `trial ${trial} kind ${kind}: ${verdict.message}`).toBe(forgery.expected);
        expect(verdict.message.length).toBeGreaterThan(10);
        counts.set(verdict.reason, (counts.get(verdict.reason) ?? 0) + 1);
      }
    }
    // Every kind was drawn often.
    for (const reason of ['VALUE_MISMATCH', 'BAD_PROOF', 'ROLLBACK', 'FORK', 'BAD_CERTIFICATE', 'GENESIS_MISMATCH', 'NOT_IN_HISTORY'] as const) expect(counts.get(reason) ?? 0).toBeGreaterThan(50);
  });

  it('a cluster whose genesis lists no keys cannot be verified', () => {
    const ledger = new Ledger(sha);
    const record = Ledger.genesisRecord(sha, { clusterId: 'unsigned', members: [1, 2, 3], dedupCapacity: 10, createdAtMs: 1 });
    ledger.replay(0, record);
    const answer: VerifiedAnswer = { header: record.slice(0, 137), proof: ledger.state.proveKey(utf8('a')), certificate: { header: record.slice(0, 137), signatures: [] }, inclusion: [], trusted: null, genesis: record };
    const verdict = check({ genesisHash: ledger.genesisHash!, members: undefined, head: undefined }, 'a', answer);
    expect(verdict).toMatchObject({ ok: false, reason: 'UNSIGNED_CLUSTER' });
  });

  it('verified writes: the block that applied the write must hold its effect, at that block (or later for a retry)', () => {
    const prng = new Prng(5);
    const c = cluster('writes', testKeys(5, 3));
    grow(c, prng, 10);
    const trust: TrustState = { genesisHash: c.genesisHash, members: undefined, head: undefined };
    const write = (command: unknown[]) => c.ledger.append(encodeBatchBody(100 + c.ledger.head!.height, [command])).ref.height;
    const writeCheck = (key: string, answer: VerifiedAnswer, effect: WriteEffect, height: number, duplicate = false) =>
      verifyWrite(sha, trust, utf8(key), answer, { effect, height, duplicate }, fastEd25519Verifier);
    let checked = 0;
    // The CVE-style lie for a write: "your delete was applied", with genesis's empty state as proof.
    const genesisAnswer: VerifiedAnswer = { header: c.headers[0]!, proof: cluster('writes', testKeys(5, 3)).ledger.state.proveKey(utf8('never')), certificate: { header: c.headers[10]!, signatures: signatures(c, 10, c.keys) }, inclusion: c.ledger.history.inclusionProof(0, 10), trusted: null, genesis: c.genesisRecord };
    expect(writeCheck('never', genesisAnswer, { holds: 'absent' }, 0)).toMatchObject({ ok: false, reason: 'WRONG_BLOCK' });
    for (let i = 0; i < 200; i++) {
      const key = `w${prng.nextInt(8)}`;
      const value = bytes(`x${i}`);
      const put = prng.chance(0.7);
      const h = write(put ? [OP_PUT, null, 0, key, value] : [OP_DELETE, null, 0, key]);
      c.headers.push(c.ledger.headHeader!.slice());
      const effect: WriteEffect = put ? { holds: 'value', value } : { holds: 'absent' };
      const { answer } = honest(c, prng, key, undefined, prng.nextInt(3));
      // Honest: proven at the write's block.
      const verdict = writeCheck(key, answer, effect, h);
      if (!verdict.ok) throw new Error(`${verdict.reason}: ${verdict.message}`);
      expect(verdict.height).toBe(h);
      // The claimed block is another one: WRONG_BLOCK (unless it was a retry and the proof is later).
      expect(writeCheck(key, answer, effect, h - 1)).toMatchObject({ ok: false, reason: 'WRONG_BLOCK' });
      expect(writeCheck(key, answer, effect, h - 1, true).ok).toBe(true);
      expect(writeCheck(key, answer, effect, h + 1, true)).toMatchObject({ ok: false, reason: 'WRONG_BLOCK' });
      // The state does not hold what the result says: VALUE_MISMATCH.
      const lie: WriteEffect = put ? { holds: 'value', value: bytes(`y${i}`) } : { holds: 'value', value };
      expect(writeCheck(key, answer, lie, h)).toMatchObject({ ok: false, reason: 'VALUE_MISMATCH' });
      expect(writeCheck(key, answer, { holds: 'not', value: put ? value : null }, h)).toMatchObject({ ok: false, reason: 'VALUE_MISMATCH' });
      // Any lie of a read is refused for a write too (here: a proof about another key).
      expect(writeCheck(`${key}-other`, answer, effect, h)).toMatchObject({ ok: false, reason: 'KEY_MISMATCH' });
      // A block at or below the trusted head (the write was sent after it) is refused, whatever it proves.
      const trusted: TrustState = { ...trust, head: { height: h, hash: hashRecord(sha, c.headers[h]!) } };
      const H = c.ledger.head!.height;
      const linked = { ...answer, trusted: h < H ? c.ledger.history.inclusionProof(h, H) : null };
      expect(verifyWrite(sha, trusted, utf8(key), linked, { effect, height: h, duplicate: false }, fastEd25519Verifier)).toMatchObject({ ok: false, reason: 'WRONG_BLOCK' });
      checked++;
    }
    expect(checked).toBe(200);
  });

  it('a stored head certificate checks out only if a majority of genesis keys signed a block of this chain', () => {
    const prng = new Prng(6);
    const keys = testKeys(6, 3);
    const c = cluster('stored', keys);
    grow(c, prng, 8);
    const fork = cluster('stored', keys);
    grow(fork, new Prng(60), 8);
    const at = 5;
    const hash = hashRecord(sha, c.headers[at]!);
    const certificate = { height: at, blockHash: hash, signatures: signatures(c, at, keys.slice(0, 2)) };
    const ours = c.ledger.history.leaf(at);
    expect(checkChainCertificate(sha, c.genesisRecord, certificate, ours, fastEd25519Verifier)).toMatchObject({ ok: true, height: at, signers: [keys[0]!.node, keys[1]!.node] });
    // A minority, or signatures over another block: BAD_CERTIFICATE.
    expect(checkChainCertificate(sha, c.genesisRecord, { ...certificate, signatures: certificate.signatures.slice(0, 1) }, ours, fastEd25519Verifier)).toMatchObject({ ok: false, reason: 'BAD_CERTIFICATE' });
    expect(checkChainCertificate(sha, c.genesisRecord, { ...certificate, blockHash: new Uint8Array(32) }, ours, fastEd25519Verifier)).toMatchObject({ ok: false, reason: 'BAD_CERTIFICATE' });
    // A majority really signed the fork's block 5: valid signatures, but not of this chain's block.
    const forkCertificate = { height: at, blockHash: hashRecord(sha, fork.headers[at]!), signatures: signatures(fork, at, keys) };
    expect(checkChainCertificate(sha, c.genesisRecord, forkCertificate, ours, fastEd25519Verifier)).toMatchObject({ ok: false, reason: 'NOT_IN_CHAIN' });
    // Above this chain's head (a store that lost blocks), and under another cluster's genesis.
    expect(checkChainCertificate(sha, c.genesisRecord, certificate, undefined, fastEd25519Verifier)).toMatchObject({ ok: false, reason: 'NOT_IN_CHAIN' });
    const other = cluster('other', testKeys(9, 3));
    expect(checkChainCertificate(sha, other.genesisRecord, certificate, ours, fastEd25519Verifier)).toMatchObject({ ok: false, reason: 'BAD_CERTIFICATE' });
  });
});
