/**
 * Verified answers: what a node attaches to a read (or write) so that a client can check it
 * without believing the node, and the client's check. Pure; the client library and the CLI's
 * offline `chain verify-proof` run the same verifyAnswer.
 *
 * An answer about key K at height h carries:
 *   header       block h's header (its stateRoot is what the proof is against)
 *   proof        K's presence or absence in that state (src/kv/state-proof.ts)
 *   certificate  a head H >= h: its header and a majority of the members' signatures of
 *                (genesis hash, H, hash(header H)) (src/ledger/signing.ts)
 *   inclusion    block h's hash at index h of the history tree whose root header H carries
 *                (src/ledger/history.ts); empty when h = H
 *   trusted      when the client said it trusts head m < H: block m's hash at index m of the
 *                same tree (so H extends the head the client already verified)
 *   genesis      the genesis record, when the client asked for it (its first answer)
 *
 * The client's trust state is the pinned genesis hash (the cluster's identity, never taken from
 * a node), the member keys read from the genesis record that hashes to it, and the newest head it
 * verified. verifyAnswer checks every link in this order and names the first that fails, with
 * the height: GENESIS_MISMATCH, UNSIGNED_CLUSTER, BAD_HEADER, BAD_CERTIFICATE (with the
 * certificate's own reason), ROLLBACK (H is below the trusted head), FORK (the trusted head is not
 * in H's history), NOT_IN_HISTORY (block h is not), KEY_MISMATCH, BAD_PROOF, VALUE_MISMATCH.
 *
 * A verified write (verifyWrite) is the same answer about the written key, captured at the block
 * that applied the write: on top of every check above, that block must be above the trusted head
 * the write was sent after, the proof must be at that block (WRONG_BLOCK otherwise; for a retry
 * answered from the dedup table, at that block or later) and the proven state must hold what the
 * write's result says (VALUE_MISMATCH otherwise: a put's value, a delete's absence, a failed
 * cas's "not the expected value"). What it does not prove: that this write, and not another
 * command in a block between the trusted head and that block, made the state so (the session
 * trie, which records each session's last seq and result, is in the root; no proof opens it yet).
 */
import { bytesEqual, equalAt, fromHex, toHex } from '../lib/bytes.js';
import type { Sha256 } from '../lib/sha256.js';
import { decodeHeader, hashRecord, HEADER_BYTES, HISTORY_ROOT_OFFSET, STATE_ROOT_OFFSET } from '../chain/block.js';
import { decodeBody } from '../chain/body.js';
import { isRevisions, type KeyProof, keyProofFromJson, keyProofToJson, verifyKeyProof } from '../kv/state-proof.js';
import { effectHolds, type WriteEffect } from '../kv/command.js';
import { KEY_BITS_MAX, type PathStep } from '../kv/state-trie.js';
import { verifyInclusion } from './history.js';
import {
  type Ed25519Verifier,
  HEAD_CERTIFICATE_SIGNATURES_MAX,
  type HeadCertificate,
  type HeadSignature,
  type Member,
  nobleEd25519Verifier,
  verifyHeadCertificate,
} from './signing.js';

/** What a client asks of a verified read: the head it trusts, and whether it needs genesis. */
export interface VerifyRequest {
  readonly trustedHeight?: number;
  readonly genesis: boolean;
}

export interface VerifiedAnswer {
  readonly header: Uint8Array;
  readonly proof: KeyProof;
  readonly certificate: { readonly header: Uint8Array; readonly signatures: readonly HeadSignature[] };
  readonly inclusion: readonly Uint8Array[];
  readonly trusted: readonly Uint8Array[] | null;
  readonly genesis: Uint8Array | null;
}

export interface TrustedHead {
  readonly height: number;
  readonly hash: Uint8Array;
}

export interface TrustState {
  /** The pinned cluster identity: the hash of block 0. */
  readonly genesisHash: Uint8Array;
  /** Member keys from the genesis record (undefined until the first answer brought it). */
  readonly members: readonly Member[] | undefined;
  /** The newest head verified so far. */
  readonly head: TrustedHead | undefined;
}

export type VerificationReason =
  | 'GENESIS_MISMATCH'
  | 'UNSIGNED_CLUSTER'
  | 'BAD_HEADER'
  | 'BAD_CERTIFICATE'
  | 'ROLLBACK'
  | 'FORK'
  | 'NOT_IN_HISTORY'
  | 'KEY_MISMATCH'
  | 'BAD_PROOF'
  | 'VALUE_MISMATCH'
  | 'WRONG_BLOCK';

export type Verdict =
  | { readonly ok: true; readonly value: Uint8Array | null; readonly height: number; readonly certified: TrustedHead; readonly trust: TrustState }
  | { readonly ok: false; readonly reason: VerificationReason; readonly height: number | undefined; readonly message: string };

/** Most heads a CertifiedHeads remembers (cleared when full). */
const CERTIFIED_HEADS_MAX = 4096;

/**
 * Heads already found signed by a majority of one cluster's members, so a client does not verify
 * the same certificate's signatures again for every answer (an authentic head stays authentic,
 * whatever signatures a later answer carries with it). One instance per cluster (genesis hash).
 */
export class CertifiedHeads {
  private readonly heads = new Set<string>();

  constructor(readonly genesisHash: Uint8Array) {}

  has(height: number, hash: Uint8Array): boolean {
    return this.heads.has(`${height}:${toHex(hash)}`);
  }

  add(height: number, hash: Uint8Array): void {
    if (this.heads.size >= CERTIFIED_HEADS_MAX) this.heads.clear();
    this.heads.add(`${height}:${toHex(hash)}`);
  }
}

function fail(reason: VerificationReason, height: number | undefined, message: string): Verdict {
  return { ok: false, reason, height, message };
}

/** The member list of a genesis record that hashes to `genesisHash`, or a failed verdict. */
function genesisMembers(sha256: Sha256, genesisHash: Uint8Array, record: Uint8Array): readonly Member[] | Verdict {
  if (record.length < HEADER_BYTES || !bytesEqual(hashRecord(sha256, record), genesisHash)) {
    return fail('GENESIS_MISMATCH', 0, 'the genesis record the node sent does not hash to the pinned genesis hash (another cluster?)');
  }
  const body = decodeBody(record.subarray(HEADER_BYTES));
  if (typeof body === 'string' || body.kind !== 'genesis') return fail('GENESIS_MISMATCH', 0, `the pinned genesis record does not decode: ${typeof body === 'string' ? body : 'not a genesis body'}`);
  const keys = body.memberKeys ?? [];
  if (keys.length === 0) return fail('UNSIGNED_CLUSTER', 0, 'the cluster\'s genesis lists no member keys, so no head of it can be verified');
  return body.members.map((node, i) => ({ node, publicKey: keys[i]! }));
}

/**
 * Checks `answer` about `key` (and, if the node sent one, its `value`) against `trust`. On success
 * returns the proven value and the trust state advanced to the certified head.
 */
export function verifyAnswer(
  sha256: Sha256,
  trust: TrustState,
  key: Uint8Array,
  answer: VerifiedAnswer,
  claimedValue?: Uint8Array | null,
  verifier: Ed25519Verifier = nobleEd25519Verifier,
  certifiedHeads?: CertifiedHeads,
): Verdict {
  let members = trust.members;
  if (answer.genesis) {
    const fromGenesis = genesisMembers(sha256, trust.genesisHash, answer.genesis);
    if (!Array.isArray(fromGenesis)) return fromGenesis as Verdict;
    members = fromGenesis;
  }
  if (!members) return fail('UNSIGNED_CLUSTER', undefined, 'no member keys known: the first verified answer must carry the genesis record');
  const cache = certifiedHeads && bytesEqual(certifiedHeads.genesisHash, trust.genesisHash) ? certifiedHeads : undefined;
  const certified = checkCertificate(sha256, trust.genesisHash, members, answer, verifier, cache);
  if ('reason' in certified) return certified;
  const linked = checkLinks(sha256, trust.head, certified, answer);
  if (typeof linked !== 'number') return linked;
  const height = linked;
  if (!bytesEqual(answer.proof.key, key)) return fail('KEY_MISMATCH', height, 'the proof is about another key');
  const proven = verifyKeyProof(sha256, answer.proof, answer.header.subarray(STATE_ROOT_OFFSET, STATE_ROOT_OFFSET + 32));
  if (!proven.ok) return fail('BAD_PROOF', height, `the state proof does not check out: ${proven.reason}`);
  if (claimedValue !== undefined && !sameValue(claimedValue, proven.value)) return fail('VALUE_MISMATCH', height, 'the value the node sent is not the one its proof proves');
  const advanced = !trust.head || certified.height > trust.head.height ? { height: certified.height, hash: certified.hash } : trust.head;
  return { ok: true, value: proven.value, height, certified, trust: { genesisHash: trust.genesisHash, members, head: advanced } };
}

/** What the node said of a write: its effect on the key, and the block that applied it. */
export interface WriteClaim {
  readonly effect: WriteEffect;
  readonly height: number;
  /** Answered from the dedup table (applied earlier): the proof may be at a later block. */
  readonly duplicate: boolean;
}

/**
 * Checks a verified write's `answer` about `key` (see the header): every check of verifyAnswer,
 * then that the proof is at the write's block and the state there holds the write's effect.
 */
export function verifyWrite(
  sha256: Sha256,
  trust: TrustState,
  key: Uint8Array,
  answer: VerifiedAnswer,
  claim: WriteClaim,
  verifier: Ed25519Verifier = nobleEd25519Verifier,
  certifiedHeads?: CertifiedHeads,
): Verdict {
  // The write was sent after the trusted head was verified, so the block that applied it (even a
  // retry's first attempt's) is above that head; without this a node could name any old block
  // whose state happens to hold the effect (the key absent at genesis, for a delete it never made).
  const verdict = verifyAnswer(sha256, trust, key, answer, undefined, verifier, certifiedHeads);
  if (!verdict.ok) return verdict;
  const floor = trust.head?.height ?? 0;
  if (!Number.isSafeInteger(claim.height) || claim.height <= floor) {
    return fail('WRONG_BLOCK', claim.height, `the write is said to be applied at block ${claim.height}, not above the trusted head ${floor} it was sent after`);
  }
  if (claim.duplicate ? verdict.height < claim.height : verdict.height !== claim.height) {
    return fail('WRONG_BLOCK', verdict.height, `the proof is at block ${verdict.height}, the write was applied at block ${claim.height}`);
  }
  if (!effectHolds(claim.effect, verdict.value)) {
    return fail('VALUE_MISMATCH', verdict.height, `the proven state of block ${verdict.height} does not hold what the write's result says`);
  }
  return verdict;
}

/** What a chain tool found of a stored head certificate (checkChainCertificate). */
export interface CertificateCheck {
  readonly ok: boolean;
  readonly height: number;
  readonly blockHash: string;
  /** Members whose signatures it carries. */
  readonly signers: readonly number[];
  /** When not ok: BAD_CERTIFICATE (not a majority of genesis's keys), NOT_IN_CHAIN, or genesis's reason. */
  readonly reason?: string;
  readonly message?: string;
}

/**
 * Checks a head certificate a node stored against its chain: a majority of the members the
 * genesis record lists signed it, and the block it certifies is the chain's block at that height
 * (`blockHashAt`, undefined when the chain is shorter). A majority-signed block outside the chain
 * is evidence of a fork that a majority signed, or of a store that lost blocks.
 */
export function checkChainCertificate(
  sha256: Sha256,
  genesisRecord: Uint8Array,
  certificate: HeadCertificate,
  blockHashAt: Uint8Array | undefined,
  verifier: Ed25519Verifier = nobleEd25519Verifier,
): CertificateCheck {
  const base = { height: certificate.height, blockHash: toHex(certificate.blockHash), signers: certificate.signatures.map((signature) => signature.node) };
  const genesisHash = hashRecord(sha256, genesisRecord);
  const members = genesisMembers(sha256, genesisHash, genesisRecord);
  if (!Array.isArray(members)) {
    const failed = members as Verdict & { ok: false };
    return { ...base, ok: false, reason: failed.reason, message: failed.message };
  }
  const verdict = verifyHeadCertificate(members, genesisHash, certificate.height, certificate.blockHash, certificate.signatures, verifier);
  if (!verdict.ok) return { ...base, ok: false, reason: 'BAD_CERTIFICATE', message: `${verdict.reason}: ${verdict.message}` };
  if (blockHashAt === undefined) return { ...base, ok: false, reason: 'NOT_IN_CHAIN', message: `the certified block ${certificate.height} is above the chain's head` };
  if (!bytesEqual(blockHashAt, certificate.blockHash)) {
    return { ...base, ok: false, reason: 'NOT_IN_CHAIN', message: `a majority signed block ${certificate.height} ${base.blockHash.slice(0, 16)}, the chain holds ${toHex(blockHashAt).slice(0, 16)} there` };
  }
  return { ...base, ok: true };
}

/** Block H's header decodes and a majority of the members signed it. */
function checkCertificate(
  sha256: Sha256,
  genesisHash: Uint8Array,
  members: readonly Member[],
  answer: VerifiedAnswer,
  verifier: Ed25519Verifier,
  cache: CertifiedHeads | undefined,
): TrustedHead | (Verdict & { ok: false }) {
  const header = answer.certificate.header;
  const decoded = header.length === HEADER_BYTES ? decodeHeader(header) : 'not a header';
  if (typeof decoded === 'string') return fail('BAD_HEADER', undefined, `certified header: ${decoded}`) as Verdict & { ok: false };
  const hash = hashRecord(sha256, header);
  if (cache?.has(decoded.height, hash)) return { height: decoded.height, hash };
  const verdict = verifyHeadCertificate(members, genesisHash, decoded.height, hash, answer.certificate.signatures, verifier);
  if (!verdict.ok) return fail('BAD_CERTIFICATE', decoded.height, `head ${decoded.height}: ${verdict.reason}: ${verdict.message}`) as Verdict & { ok: false };
  cache?.add(decoded.height, hash);
  return { height: decoded.height, hash };
}

/** The trusted head and block h are both in the certified head's history; returns h. */
function checkLinks(sha256: Sha256, trusted: TrustedHead | undefined, certified: TrustedHead, answer: VerifiedAnswer): Verdict | number {
  const historyRoot = answer.certificate.header.subarray(HISTORY_ROOT_OFFSET, HISTORY_ROOT_OFFSET + 32);
  if (trusted) {
    if (trusted.height > certified.height) return fail('ROLLBACK', certified.height, `the certified head ${certified.height} is older than the trusted head ${trusted.height}`);
    if (trusted.height === certified.height) {
      if (!bytesEqual(trusted.hash, certified.hash)) return fail('FORK', certified.height, `head ${certified.height} differs from the trusted head at that height`);
    } else {
      const included = verifyInclusion(sha256, trusted.hash, trusted.height, certified.height, answer.trusted ?? [], historyRoot);
      if (included !== true) return fail('FORK', certified.height, `the trusted head ${trusted.height} is not in the history of head ${certified.height}: ${included}`);
    }
  }
  const decoded = answer.header.length === HEADER_BYTES ? decodeHeader(answer.header) : 'not a header';
  if (typeof decoded === 'string') return fail('BAD_HEADER', undefined, `answer header: ${decoded}`);
  const hash = hashRecord(sha256, answer.header);
  if (decoded.height > certified.height) return fail('NOT_IN_HISTORY', decoded.height, `the answer's block ${decoded.height} is above the certified head ${certified.height}`);
  if (decoded.height === certified.height) {
    if (!bytesEqual(hash, certified.hash)) return fail('NOT_IN_HISTORY', decoded.height, 'the answer\'s block is not the certified one');
    return decoded.height;
  }
  const included = verifyInclusion(sha256, hash, decoded.height, certified.height, answer.inclusion, historyRoot);
  return included === true ? decoded.height : fail('NOT_IN_HISTORY', decoded.height, `block ${decoded.height} is not in the history of head ${certified.height}: ${included}`);
}

function sameValue(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && equalAt(a, 0, b, 0, a.length);
}

// -------------------------------------------------------------------------------------------------
// Wire form (msgpack): the answer as plain maps and arrays, every byte string a bin.
//
//   { header: bin, proof: { key: bin, leaf: [key: bin, value: bin, createHeight, modHeight, version] | nil, steps: [[crit, bin]...],
//     sessionsRoot: bin }, certificate: { header: bin, signatures: [[node, bin 64]...] },
//     inclusion: [bin...], trusted: [bin...] | nil, genesis: bin | nil }

/** Most hashes in a history proof (a tree of 2^40 blocks), and most steps in a key proof. */
const HISTORY_PROOF_HASHES_MAX = 40;

export function encodeVerifiedAnswer(answer: VerifiedAnswer): Record<string, unknown> {
  const proof = answer.proof;
  return {
    header: answer.header,
    proof: {
      key: proof.key,
      leaf: proof.leaf ? [proof.leaf.key, proof.leaf.value, proof.leaf.revisions.createHeight, proof.leaf.revisions.modHeight, proof.leaf.revisions.version] : null,
      steps: proof.steps.map((step) => [step.crit, step.sibling]),
      sessionsRoot: proof.sessionsRoot,
    },
    certificate: { header: answer.certificate.header, signatures: answer.certificate.signatures.map((entry) => [entry.node, entry.signature]) },
    inclusion: answer.inclusion,
    trusted: answer.trusted,
    genesis: answer.genesis,
  };
}

const isBin = (value: unknown): value is Uint8Array => value instanceof Uint8Array;
const isHashList = (value: unknown): value is Uint8Array[] =>
  Array.isArray(value) && value.length <= HISTORY_PROOF_HASHES_MAX && value.every((hash) => isBin(hash) && hash.length === 32);

/** Checks the shape of a wire answer (what the values mean is verifyAnswer's job). */
export function decodeVerifiedAnswer(wire: unknown): VerifiedAnswer | string {
  if (typeof wire !== 'object' || wire === null) return 'verified answer is not a map';
  const { header, proof, certificate, inclusion, trusted, genesis } = wire as Record<string, unknown>;
  if (!isBin(header) || !isHashList(inclusion) || (trusted !== null && !isHashList(trusted)) || (genesis !== null && !isBin(genesis))) return 'verified answer has a malformed header or history proof';
  if (typeof proof !== 'object' || proof === null) return 'verified answer has no proof';
  const { key, leaf, steps, sessionsRoot } = proof as Record<string, unknown>;
  if (!isBin(key) || !isBin(sessionsRoot) || !Array.isArray(steps) || steps.length > KEY_BITS_MAX) return 'malformed key proof';
  const revisions = Array.isArray(leaf) ? { createHeight: leaf[2] as number, modHeight: leaf[3] as number, version: leaf[4] as number } : undefined;
  if (leaf !== null && !(Array.isArray(leaf) && leaf.length === 5 && isBin(leaf[0]) && isBin(leaf[1]) && isRevisions(revisions))) return 'malformed proof leaf';
  const parsedSteps: PathStep[] = [];
  for (const step of steps as unknown[]) {
    if (!Array.isArray(step) || step.length !== 2 || typeof step[0] !== 'number' || !isBin(step[1])) return 'malformed proof step';
    parsedSteps.push({ crit: step[0], sibling: step[1] });
  }
  if (typeof certificate !== 'object' || certificate === null) return 'verified answer has no certificate';
  const { header: certifiedHeader, signatures } = certificate as Record<string, unknown>;
  if (!isBin(certifiedHeader) || !Array.isArray(signatures) || signatures.length > HEAD_CERTIFICATE_SIGNATURES_MAX) return 'malformed certificate';
  const parsedSignatures: HeadSignature[] = [];
  for (const entry of signatures as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'number' || !isBin(entry[1])) return 'malformed certificate signature';
    parsedSignatures.push({ node: entry[0], signature: entry[1] });
  }
  return {
    header,
    proof: { key, leaf: leaf === null ? undefined : { key: (leaf as Uint8Array[])[0]!, value: (leaf as Uint8Array[])[1]!, revisions: revisions! }, steps: parsedSteps, sessionsRoot },
    certificate: { header: certifiedHeader, signatures: parsedSignatures },
    inclusion,
    trusted: trusted as Uint8Array[] | null,
    genesis: genesis as Uint8Array | null,
  };
}

// -------------------------------------------------------------------------------------------------
// Proof files (`paxchain chain prove` writes, `chain verify-proof` checks offline):
//
//   { "format": "paxchain-proof", "version": 1, "key": hex, "genesisHash": hex,
//     "answer": { "header": hex, "proof": <src/kv/state-proof.ts JSON>,
//                 "certificate": { "header": hex, "signatures": [{ "node": N, "signature": hex }] },
//                 "inclusion": [hex], "trusted": [hex] | null, "genesis": hex | null } }

const PROOF_FORMAT = 'paxchain-proof';
const PROOF_VERSION = 1;

export interface ProofFile {
  readonly key: Uint8Array;
  /** The genesis hash the prover trusted (a verifier should pin its own). */
  readonly genesisHash: Uint8Array;
  readonly answer: VerifiedAnswer;
}

export function proofFileToJson(file: ProofFile): Record<string, unknown> {
  const { answer } = file;
  return {
    format: PROOF_FORMAT,
    version: PROOF_VERSION,
    key: toHex(file.key),
    genesisHash: toHex(file.genesisHash),
    answer: {
      header: toHex(answer.header),
      proof: keyProofToJson(answer.proof),
      certificate: { header: toHex(answer.certificate.header), signatures: answer.certificate.signatures.map((entry) => ({ node: entry.node, signature: toHex(entry.signature) })) },
      inclusion: answer.inclusion.map(toHex),
      trusted: answer.trusted ? answer.trusted.map(toHex) : null,
      genesis: answer.genesis ? toHex(answer.genesis) : null,
    },
  };
}

/** Parses a proof file's JSON; a reason string for anything malformed (verifyAnswer checks the rest). */
export function proofFileFromJson(json: unknown): ProofFile | string {
  if (typeof json !== 'object' || json === null) return 'not a JSON object';
  const { format, version, key, genesisHash, answer } = json as Record<string, unknown>;
  if (format !== PROOF_FORMAT || version !== PROOF_VERSION) return `not a ${PROOF_FORMAT} version ${PROOF_VERSION} file`;
  const keyBytes = hexOf(key);
  const genesis = hexOf(genesisHash);
  if (!keyBytes || !genesis || genesis.length !== 32 || typeof answer !== 'object' || answer === null) return 'key, genesisHash and answer are required';
  const fields = answer as Record<string, unknown>;
  const proof = keyProofFromJson(fields.proof);
  if (typeof proof === 'string') return `proof: ${proof}`;
  const certificate = fields.certificate as Record<string, unknown> | undefined;
  const header = hexOf(fields.header);
  const certifiedHeader = hexOf(certificate?.header);
  if (!header || !certifiedHeader || !Array.isArray(certificate?.signatures)) return 'answer needs header and certificate';
  const signatures: HeadSignature[] = [];
  for (const entry of certificate.signatures as unknown[]) {
    const { node, signature } = (entry ?? {}) as Record<string, unknown>;
    const bytes = hexOf(signature);
    if (typeof node !== 'number' || !bytes) return 'each signature needs a node and a hex signature';
    signatures.push({ node, signature: bytes });
  }
  const hashes = (value: unknown): Uint8Array[] | undefined => (Array.isArray(value) && value.length <= HISTORY_PROOF_HASHES_MAX ? value.map(hexOf).filter((hash): hash is Uint8Array => hash !== undefined) : undefined);
  const inclusion = hashes(fields.inclusion);
  const trusted = fields.trusted === null ? null : hashes(fields.trusted);
  if (!inclusion || inclusion.length !== (fields.inclusion as unknown[]).length || trusted === undefined) return 'inclusion and trusted must be lists of hex hashes';
  const genesisRecord = fields.genesis === null ? null : hexOf(fields.genesis);
  if (genesisRecord === undefined) return 'genesis must be hex or null';
  return { key: keyBytes, genesisHash: genesis, answer: { header, proof, certificate: { header: certifiedHeader, signatures }, inclusion, trusted, genesis: genesisRecord } };
}

function hexOf(value: unknown): Uint8Array | undefined {
  return typeof value === 'string' ? fromHex(value) : undefined;
}
