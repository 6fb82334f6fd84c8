/**
 * Member keys and head certificates: how a client can believe a head without believing the node
 * that sent it. Each member holds an Ed25519 key (RFC 8032, through @noble/curves); the genesis
 * block lists the members' public keys; a node signs every head it holds as chosen; a client
 * accepts a head only with valid signatures of a majority of those members, so one lying node
 * cannot make it accept a forged state. Pure: no I/O, no clock, no randomness of its own (the
 * caller passes the 32 random bytes of a new key; key files are src/ledger/member-key.ts).
 *
 * What a member signs, the head statement (HEAD_STATEMENT_BYTES = 88 bytes):
 *
 *   offset  size  field
 *   0       16    HEAD_STATEMENT_TAG, "paxchain/head/1\0" (UTF-8)
 *   16      32    clusterId: the block hash of the cluster's genesis block
 *   48      8     height, unsigned big-endian
 *   56      32    blockHash: the block hash at that height
 *
 * The cluster id is inside the signed bytes so that a head signed for one cluster is never
 * accepted for another (immudb's CVE-2022-39199: a client must not take the server's word for
 * which database it is talking to). For the same reason it is not part of a certificate: the
 * verifier always supplies the cluster id it already trusts. The tag keeps a member's signature
 * on a head from ever meaning anything else; signHead signs nothing but head statements.
 *
 * A head certificate is (height, blockHash, signatures[]) with at most
 * HEAD_CERTIFICATE_SIGNATURES_MAX signatures, each { node, signature (64 bytes) }.
 * verifyHeadCertificate runs its checks in this order and returns the first that fails:
 *
 *   1. MALFORMED         the claim or a signature entry has a wrong type, range or length, or
 *                        there are more than HEAD_CERTIFICATE_SIGNATURES_MAX entries;
 *   2. DUPLICATE_SIGNER  a node id appears twice (even with two valid signatures);
 *   3. UNKNOWN_SIGNER    a node id is not in the member list;
 *   4. BAD_SIGNATURE     a signature does not verify under its member's key: the whole
 *                        certificate is refused (a member that signs garbage is named, not
 *                        outvoted), in the order given;
 *   5. NO_MAJORITY       fewer than floor(n/2) + 1 of the n members signed.
 *
 * Checks 1-3 cost no cryptography, so a hostile certificate costs at most
 * HEAD_CERTIFICATE_SIGNATURES_MAX signature verifications. Verification is strict RFC 8032
 * (zip215: false: canonical encodings only, small-order keys refused), and every member key is
 * checked to be a canonical point of large order, so every verifier agrees on member keys.
 *
 * Encodings of a certificate (decoders check the shape only; what the signatures mean is step
 * 2-5 above, done by verifyHeadCertificate):
 *
 *   wire (msgpack):  { version: 1, height, blockHash: bin 32, signatures: [{ node, signature: bin 64 }] }
 *   JSON (proofs):   { "format": "paxchain-head-certificate", "version": 1, "height": N,
 *                      "blockHash": "<64 hex>", "signatures": [{ "node": N, "signature": "<128 hex>" }] }
 *
 * Encoders sort signatures by node id, so one certificate has one encoding.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesEqual, equalAt, fromHex, isU53, toHex, utf8, writeU64 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';

export const HEAD_STATEMENT_TAG = utf8('paxchain/head/1\0');
const CLUSTER_ID_BYTES = 32;
const BLOCK_HASH_BYTES = 32;
const HEAD_STATEMENT_BYTES = HEAD_STATEMENT_TAG.length + CLUSTER_ID_BYTES + 8 + BLOCK_HASH_BYTES;
const HEIGHT_OFFSET = HEAD_STATEMENT_TAG.length + CLUSTER_ID_BYTES;

export const ED25519_PUBLIC_KEY_BYTES = 32;
/** An RFC 8032 secret key is its 32-byte seed. */
export const ED25519_SECRET_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;

/** Node ids of members, as in genesis (src/chain/body.ts) and ballots (NODE_ID_MAX, src/paxos/ballot.ts). */
export const MEMBER_NODE_ID_MAX = 255;
/** Most signatures one certificate may carry: one per member of the largest cluster. */
export const HEAD_CERTIFICATE_SIGNATURES_MAX = limits.membersMax;
const HEAD_CERTIFICATE_VERSION = 1;
const HEAD_CERTIFICATE_JSON_FORMAT = 'paxchain-head-certificate';

/** A member as genesis lists it. Members of one list have distinct node ids and distinct keys. */
export interface Member {
  readonly node: number;
  readonly publicKey: Uint8Array;
}

export interface HeadSignature {
  readonly node: number;
  readonly signature: Uint8Array;
}

export interface HeadCertificate {
  readonly height: number;
  readonly blockHash: Uint8Array;
  readonly signatures: readonly HeadSignature[];
}

export type CertificateRefusal = 'MALFORMED' | 'DUPLICATE_SIGNER' | 'UNKNOWN_SIGNER' | 'BAD_SIGNATURE' | 'NO_MAJORITY';

export type CertificateVerdict =
  /** signers: the node ids whose signatures verified, ascending (a majority of the members). */
  | { readonly ok: true; readonly signers: number[] }
  /** node: the signer a DUPLICATE_SIGNER, UNKNOWN_SIGNER or BAD_SIGNATURE refusal is about. */
  | { readonly ok: false; readonly reason: CertificateRefusal; readonly message: string; readonly node?: number };

/**
 * Ed25519 verification as an injected capability (like Sha256 in src/lib/sha256.ts): noble is
 * the portable default (browsers included); an edge may inject node:crypto's (OpenSSL), which
 * verified ~14x faster on the development machine (~13,000/s against ~920/s). Every
 * implementation must give the default's answers for valid member keys: test/ledger/signing.test.ts
 * checks node:crypto's on the forgery corpus.
 */
export interface Ed25519Verifier {
  readonly name: string;
  /** Whether `signature` (64 bytes) signs `message` under `publicKey` (32 bytes). Never throws for those lengths. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

export const nobleEd25519Verifier: Ed25519Verifier = {
  name: 'noble',
  verify: (publicKey, message, signature) => ed25519.verify(signature, message, publicKey, { zip215: false }),
};

const isBytes = (value: unknown, length: number): value is Uint8Array => value instanceof Uint8Array && value.length === length;
const isMemberNode = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MEMBER_NODE_ID_MAX;

/** The 88 bytes a member signs for the head (height, blockHash) of the cluster clusterId. */
export function headStatement(clusterId: Uint8Array, height: number, blockHash: Uint8Array): Uint8Array {
  if (!isBytes(clusterId, CLUSTER_ID_BYTES)) throw new TypeError(`headStatement: clusterId must be ${CLUSTER_ID_BYTES} bytes`);
  if (!isU53(height)) throw new TypeError(`headStatement: height must be an integer in [0, 2^53), got ${height}`);
  if (!isBytes(blockHash, BLOCK_HASH_BYTES)) throw new TypeError(`headStatement: blockHash must be ${BLOCK_HASH_BYTES} bytes`);
  const statement = new Uint8Array(HEAD_STATEMENT_BYTES);
  statement.set(HEAD_STATEMENT_TAG, 0);
  statement.set(clusterId, HEAD_STATEMENT_TAG.length);
  writeU64(statement, HEIGHT_OFFSET, height);
  statement.set(blockHash, HEIGHT_OFFSET + 8);
  return statement;
}

/**
 * A new member key from 32 bytes the caller drew from a CSPRNG (this module draws no randomness;
 * src/node/member-key-file.ts draws them). The bytes become the secret key; the caller must not
 * reuse them.
 */
export function generateMemberKey(randomBytes32: Uint8Array): { secretKey: Uint8Array; publicKey: Uint8Array } {
  if (!isBytes(randomBytes32, ED25519_SECRET_KEY_BYTES)) throw new TypeError(`generateMemberKey: need ${ED25519_SECRET_KEY_BYTES} random bytes`);
  const secretKey = randomBytes32.slice();
  return { secretKey, publicKey: memberPublicKey(secretKey) };
}

export function memberPublicKey(secretKey: Uint8Array): Uint8Array {
  if (!isBytes(secretKey, ED25519_SECRET_KEY_BYTES)) throw new TypeError(`memberPublicKey: a secret key is ${ED25519_SECRET_KEY_BYTES} bytes`);
  return ed25519.getPublicKey(secretKey);
}

/**
 * Whether `publicKey` may be a member's key: a canonical encoding of a curve point that is not of
 * small order (such a key would let signatures verify for more than one message).
 */
export function isValidMemberPublicKey(publicKey: unknown): boolean {
  if (!isBytes(publicKey, ED25519_PUBLIC_KEY_BYTES)) return false;
  try {
    const point = ed25519.Point.fromBytes(publicKey, false);
    return !point.isSmallOrder() && bytesEqual(point.toBytes(), publicKey);
  } catch {
    return false;
  }
}

/** The 64-byte Ed25519 signature of a head statement (deterministic: same key and statement, same bytes). */
export function signHead(secretKey: Uint8Array, statement: Uint8Array): Uint8Array {
  if (!isBytes(secretKey, ED25519_SECRET_KEY_BYTES)) throw new TypeError(`signHead: a secret key is ${ED25519_SECRET_KEY_BYTES} bytes`);
  if (!isBytes(statement, HEAD_STATEMENT_BYTES) || !equalAt(statement, 0, HEAD_STATEMENT_TAG, 0, HEAD_STATEMENT_TAG.length)) {
    throw new TypeError('signHead: signs only head statements (headStatement())');
  }
  return ed25519.sign(statement, secretKey);
}

/** floor(n/2) + 1: the fewest members whose signatures make a certificate. */
function majorityOf(memberCount: number): number {
  return Math.floor(memberCount / 2) + 1;
}

/**
 * Member keys already found valid (isValidMemberPublicKey costs ~85 us, as much as a node:crypto
 * verification): a client checks its genesis list once, not per certificate. Keys are the
 * caller's and must not be changed in place after they are first used.
 */
const validMemberKeys = new WeakSet<Uint8Array>();

/**
 * The member list is the verifier's trust anchor (from genesis): a bad one is a programming
 * mistake. Keys are checked here, not only when a list is parsed, because OpenSSL (an injectable
 * verifier) accepts a universal forgery under a small-order key such as the identity point.
 */
function checkMembers(members: readonly Member[]): void {
  if (!Array.isArray(members) || members.length === 0 || members.length > limits.membersMax) {
    throw new TypeError(`verifyHeadCertificate: members must list 1 to ${limits.membersMax} members`);
  }
  for (let i = 0; i < members.length; i++) {
    const member = members[i]!;
    if (!isMemberNode(member.node) || !isBytes(member.publicKey, ED25519_PUBLIC_KEY_BYTES)) {
      throw new TypeError(`verifyHeadCertificate: member ${i} is not { node in [1, ${MEMBER_NODE_ID_MAX}], publicKey: 32 bytes }`);
    }
    if (!validMemberKeys.has(member.publicKey)) {
      if (!isValidMemberPublicKey(member.publicKey)) throw new TypeError(`verifyHeadCertificate: the key of node ${member.node} is not a valid member key`);
      validMemberKeys.add(member.publicKey);
    }
    for (let j = 0; j < i; j++) {
      if (members[j]!.node === member.node) throw new TypeError(`verifyHeadCertificate: node ${member.node} is listed twice`);
      if (bytesEqual(members[j]!.publicKey, member.publicKey)) throw new TypeError(`verifyHeadCertificate: nodes ${members[j]!.node} and ${member.node} share a key`);
    }
  }
}

const refuse = (reason: CertificateRefusal, message: string, node?: number): CertificateVerdict =>
  node === undefined ? { ok: false, reason, message } : { ok: false, reason, message, node };

/** Step 1 (MALFORMED) of the order in the file comment. */
function malformation(height: unknown, blockHash: unknown, signatures: unknown): string | undefined {
  if (!isU53(height)) return `height ${String(height)} is not an integer in [0, 2^53)`;
  if (!isBytes(blockHash, BLOCK_HASH_BYTES)) return `blockHash is not ${BLOCK_HASH_BYTES} bytes`;
  if (!Array.isArray(signatures)) return 'signatures is not an array';
  if (signatures.length > HEAD_CERTIFICATE_SIGNATURES_MAX) return `${signatures.length} signatures, more than the ${HEAD_CERTIFICATE_SIGNATURES_MAX} allowed`;
  for (let i = 0; i < signatures.length; i++) {
    const entry: unknown = signatures[i];
    if (typeof entry !== 'object' || entry === null) return `signature ${i} is not an object`;
    const { node, signature } = entry as Record<string, unknown>;
    if (!isMemberNode(node)) return `signature ${i}: node ${String(node)} is not an integer in [1, ${MEMBER_NODE_ID_MAX}]`;
    if (!isBytes(signature, ED25519_SIGNATURE_BYTES)) return `signature ${i} (node ${node}) is not ${ED25519_SIGNATURE_BYTES} bytes`;
  }
  return undefined;
}

/**
 * Whether `signatures` certify (height, blockHash) as a head of the cluster `clusterId` whose
 * genesis lists `members`. Never throws for a bad claim or bad signatures (they come from the
 * server); throws TypeError for a bad member list or cluster id (they are the caller's own).
 */
export function verifyHeadCertificate(
  members: readonly Member[],
  clusterId: Uint8Array,
  height: number,
  blockHash: Uint8Array,
  signatures: readonly HeadSignature[],
  verifier: Ed25519Verifier = nobleEd25519Verifier,
): CertificateVerdict {
  checkMembers(members);
  if (!isBytes(clusterId, CLUSTER_ID_BYTES)) throw new TypeError(`verifyHeadCertificate: clusterId must be ${CLUSTER_ID_BYTES} bytes`);
  const malformed = malformation(height, blockHash, signatures);
  if (malformed !== undefined) return refuse('MALFORMED', malformed);
  const seen = new Set<number>();
  for (const { node } of signatures) {
    if (seen.has(node)) return refuse('DUPLICATE_SIGNER', `node ${node} signed twice`, node);
    seen.add(node);
  }
  const keys = signatures.map(({ node }) => members.find((member) => member.node === node)?.publicKey);
  const unknown = keys.indexOf(undefined);
  if (unknown >= 0) return refuse('UNKNOWN_SIGNER', `node ${signatures[unknown]!.node} is not a member`, signatures[unknown]!.node);
  const statement = headStatement(clusterId, height, blockHash);
  for (let i = 0; i < signatures.length; i++) {
    const { node, signature } = signatures[i]!;
    if (!verifier.verify(keys[i]!, statement, signature)) {
      return refuse('BAD_SIGNATURE', `the signature of node ${node} does not verify for height ${height}`, node);
    }
  }
  const needed = majorityOf(members.length);
  if (signatures.length < needed) {
    return refuse('NO_MAJORITY', `${signatures.length} of ${members.length} members signed; a certificate needs ${needed}`);
  }
  return { ok: true, signers: signatures.map(({ node }) => node).sort((a, b) => a - b) };
}

// ---------------------------------------------------------------------------------------------
// Certificate encodings: msgpack for the wire, JSON (hex) for proof files.

/** The wire form: a plain object msgpack (src/lib/msgpack.ts) encodes as a map. */
export interface HeadCertificateWire {
  readonly version: number;
  readonly height: number;
  readonly blockHash: Uint8Array;
  readonly signatures: readonly { readonly node: number; readonly signature: Uint8Array }[];
}

export interface HeadCertificateJson {
  readonly format: string;
  readonly version: number;
  readonly height: number;
  readonly blockHash: string;
  readonly signatures: readonly { readonly node: number; readonly signature: string }[];
}

const WIRE_KEYS = ['version', 'height', 'blockHash', 'signatures'];
const JSON_KEYS = ['format', ...WIRE_KEYS];
const SIGNATURE_KEYS = ['node', 'signature'];

function sortedSignatures(certificate: HeadCertificate, caller: string): HeadSignature[] {
  const malformed = malformation(certificate.height, certificate.blockHash, certificate.signatures);
  if (malformed !== undefined) throw new TypeError(`${caller}: ${malformed}`);
  return [...certificate.signatures].sort((a, b) => a.node - b.node);
}

export function encodeHeadCertificate(certificate: HeadCertificate): HeadCertificateWire {
  const signatures = sortedSignatures(certificate, 'encodeHeadCertificate');
  return {
    version: HEAD_CERTIFICATE_VERSION,
    height: certificate.height,
    blockHash: certificate.blockHash.slice(),
    signatures: signatures.map(({ node, signature }) => ({ node, signature: signature.slice() })),
  };
}

export function headCertificateToJson(certificate: HeadCertificate): HeadCertificateJson {
  const signatures = sortedSignatures(certificate, 'headCertificateToJson');
  return {
    format: HEAD_CERTIFICATE_JSON_FORMAT,
    version: HEAD_CERTIFICATE_VERSION,
    height: certificate.height,
    blockHash: toHex(certificate.blockHash),
    signatures: signatures.map(({ node, signature }) => ({ node, signature: toHex(signature) })),
  };
}

/** A reason if `value` is not a plain object with exactly `keys`, else undefined. */
function keyProblem(value: unknown, keys: readonly string[], what: string): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return `${what} is not an object`;
  const present = Object.keys(value);
  const missing = keys.find((key) => !present.includes(key));
  if (missing !== undefined) return `${what} has no "${missing}"`;
  const extra = present.find((key) => !keys.includes(key));
  return extra === undefined ? undefined : `${what} has an unknown field "${extra}"`;
}

/** Bytes from the wire (copied: msgpack's are views into the frame) or from hex (JSON). */
type ReadBytes = (value: unknown) => Uint8Array | undefined;
const wireBytes: ReadBytes = (value) => (value instanceof Uint8Array ? new Uint8Array(value) : undefined);
const hexBytes: ReadBytes = (value) => (typeof value === 'string' ? fromHex(value) : undefined);

/** The common part of both decoders: everything but the format field. */
function decodeFields(value: Record<string, unknown>, readBytes: ReadBytes, form: string): HeadCertificate | string {
  if (value.version !== HEAD_CERTIFICATE_VERSION) return `${form}: unknown version ${String(value.version)} (this build reads ${HEAD_CERTIFICATE_VERSION})`;
  const blockHash = readBytes(value.blockHash);
  if (!Array.isArray(value.signatures)) return `${form}: signatures is not an array`;
  if (value.signatures.length > HEAD_CERTIFICATE_SIGNATURES_MAX) {
    return `${form}: ${value.signatures.length} signatures, more than the ${HEAD_CERTIFICATE_SIGNATURES_MAX} allowed`;
  }
  const signatures: HeadSignature[] = [];
  for (let i = 0; i < value.signatures.length; i++) {
    const entry: unknown = value.signatures[i];
    const problem = keyProblem(entry, SIGNATURE_KEYS, `signature ${i}`);
    if (problem !== undefined) return `${form}: ${problem}`;
    const { node, signature } = entry as Record<string, unknown>;
    signatures.push({ node: node as number, signature: readBytes(signature) as Uint8Array });
  }
  const certificate = { height: value.height as number, blockHash: blockHash as Uint8Array, signatures };
  const malformed = malformation(certificate.height, certificate.blockHash, certificate.signatures);
  return malformed === undefined ? certificate : `${form}: ${malformed}`;
}

/** Decodes the wire form (a value msgpack decoded). Never throws: a bad value gives a reason. */
export function decodeHeadCertificate(value: unknown): HeadCertificate | string {
  const problem = keyProblem(value, WIRE_KEYS, 'head certificate');
  if (problem !== undefined) return problem;
  return decodeFields(value as Record<string, unknown>, wireBytes, 'head certificate');
}

/** Decodes the JSON form (a value JSON.parse returned). Never throws: a bad value gives a reason. */
export function headCertificateFromJson(value: unknown): HeadCertificate | string {
  const problem = keyProblem(value, JSON_KEYS, 'head certificate JSON');
  if (problem !== undefined) return problem;
  const fields = value as Record<string, unknown>;
  if (fields.format !== HEAD_CERTIFICATE_JSON_FORMAT) return `head certificate JSON: format is not "${HEAD_CERTIFICATE_JSON_FORMAT}"`;
  return decodeFields(fields, hexBytes, 'head certificate JSON');
}
