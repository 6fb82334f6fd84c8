/**
 * The handshake every connection starts with, as pure builders and verifiers (no sockets).
 *
 * Clients are not authenticated: they send a ClientHello and then request frames.
 *
 * Peers prove they hold the cluster secret, both ways (HMAC-SHA256 challenge-response). A is the
 * connecting node, B the accepting one:
 *
 *   A -> B  PeerHello     { v: 1, kind: 'peer', clusterId, nodeId: A, nonce: nonceA }
 *   B -> A  PeerChallenge { v: 1, kind: 'challenge', nodeId: B, nonce: nonceB, proof: proofB }
 *   A -> B  PeerProof     { v: 1, kind: 'proof', proof: proofA }
 *
 *   proofB = HMAC(secret, "paxchain/peer-accept/1\0"  || fields)
 *   proofA = HMAC(secret, "paxchain/peer-connect/1\0" || fields)
 *   fields = u16 len(clusterId) || clusterId (UTF-8) || u32 A || u32 B || nonceA || nonceB
 *
 * Each side's proof covers the other side's fresh nonce, so a recorded proof is useless later; the
 * two domain tags keep a proof made by an acceptor from passing as a connector's proof. Nonces
 * are NONCE_BYTES random bytes. What this does not give: confidentiality or integrity of the
 * frames after the handshake (an attacker on the path can read them or hijack the TCP stream;
 * that needs TLS).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, concatBytes, toHex, utf8, writeU32 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { NONCE_HISTORY_MAX } from './limits.js';

const HANDSHAKE_VERSION = 1;
export const NONCE_BYTES = 32;
const PROOF_BYTES = 32;
/** Shortest cluster secret accepted. */
const SECRET_BYTES_MIN = 16;
/** Node ids on the wire are u32; 0 is not a node. */
const NODE_ID_MAX = 0xffff_ffff;

const ACCEPT_TAG = utf8('paxchain/peer-accept/1\0');
const CONNECT_TAG = utf8('paxchain/peer-connect/1\0');

export interface ClientHello {
  readonly v: 1;
  readonly kind: 'client';
}

export interface PeerHello {
  readonly v: 1;
  readonly kind: 'peer';
  readonly clusterId: string;
  readonly nodeId: number;
  readonly nonce: Uint8Array;
}

export interface PeerChallenge {
  readonly v: 1;
  readonly kind: 'challenge';
  readonly nodeId: number;
  readonly nonce: Uint8Array;
  readonly proof: Uint8Array;
}

export interface PeerProof {
  readonly v: 1;
  readonly kind: 'proof';
  readonly proof: Uint8Array;
}

/** What a node knows about itself to take part in peer handshakes. */
export interface ClusterCredentials {
  readonly clusterId: string;
  readonly nodeId: number;
  /** The cluster secret, at least SECRET_BYTES_MIN bytes. */
  readonly secret: Uint8Array;
}

/** A verifier's answer; `reason` is for logs and link status, never sent to the other side. */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export function isNodeId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= NODE_ID_MAX;
}

/** Throws TypeError if the credentials cannot be used (a configuration mistake). */
export function checkCredentials(credentials: ClusterCredentials): void {
  const { clusterId, nodeId, secret } = credentials;
  if (typeof clusterId !== 'string' || clusterId.length === 0 || utf8(clusterId).length > limits.clusterIdBytesMax) {
    throw new TypeError(`clusterId must be a string of 1 to ${limits.clusterIdBytesMax} UTF-8 bytes`);
  }
  if (!isNodeId(nodeId)) throw new TypeError(`nodeId must be an integer in [1, ${NODE_ID_MAX}], got ${nodeId}`);
  if (!(secret instanceof Uint8Array) || secret.length < SECRET_BYTES_MIN) {
    throw new TypeError(`the cluster secret must be at least ${SECRET_BYTES_MIN} bytes`);
  }
}

export function randomNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

export function buildClientHello(): ClientHello {
  return { v: HANDSHAKE_VERSION, kind: 'client' };
}

export function buildPeerHello(local: ClusterCredentials, nonce: Uint8Array): PeerHello {
  return { v: HANDSHAKE_VERSION, kind: 'peer', clusterId: local.clusterId, nodeId: local.nodeId, nonce };
}

/** Acceptor: the first frame of a connection must be a Hello. */
export function readHello(message: unknown): Checked<ClientHello | PeerHello> {
  const fields = handshakeFields(message);
  if (fields === undefined) return failed('first frame is not a version 1 Hello');
  if (fields['kind'] === 'client') return { ok: true, value: buildClientHello() };
  if (fields['kind'] !== 'peer') return failed(`unknown Hello kind ${String(fields['kind'])}`);
  const { clusterId, nodeId, nonce } = fields;
  if (typeof clusterId !== 'string' || clusterId.length > limits.clusterIdBytesMax) return failed('bad clusterId in Hello');
  if (!isNodeId(nodeId)) return failed('bad nodeId in Hello');
  if (!isBytes(nonce, NONCE_BYTES)) return failed(`Hello nonce is not ${NONCE_BYTES} bytes`);
  return { ok: true, value: { v: HANDSHAKE_VERSION, kind: 'peer', clusterId, nodeId, nonce } };
}

/**
 * Acceptor: checks a PeerHello against this node's cluster and its list of peers and builds the
 * Challenge. `nonce` is the acceptor's fresh nonce; keep it and the Hello for `verifyProof`.
 */
export function answerHello(
  local: ClusterCredentials,
  peerIds: readonly number[],
  hello: PeerHello,
  nonce: Uint8Array,
): Checked<PeerChallenge> {
  if (hello.clusterId !== local.clusterId) return failed(`Hello for cluster ${JSON.stringify(hello.clusterId)}`);
  if (hello.nodeId === local.nodeId || !peerIds.includes(hello.nodeId)) return failed(`node ${hello.nodeId} is not a peer`);
  if (bytesEqual(hello.nonce, nonce)) return failed('Hello nonce equals our own');
  const proof = computeProof(local, ACCEPT_TAG, hello.nodeId, local.nodeId, hello.nonce, nonce);
  return { ok: true, value: { v: HANDSHAKE_VERSION, kind: 'challenge', nodeId: local.nodeId, nonce, proof } };
}

/**
 * Connector: checks the Challenge of node `remoteNodeId` (the node it meant to reach) and builds
 * its Proof. `nonce` is the one sent in its Hello.
 */
export function answerChallenge(
  local: ClusterCredentials,
  remoteNodeId: number,
  nonce: Uint8Array,
  message: unknown,
): Checked<PeerProof> {
  const fields = handshakeFields(message);
  if (fields === undefined || fields['kind'] !== 'challenge') return failed('expected a version 1 Challenge');
  if (fields['nodeId'] !== remoteNodeId) return failed(`expected node ${remoteNodeId}, reached node ${String(fields['nodeId'])}`);
  const remoteNonce = fields['nonce'];
  if (!isBytes(remoteNonce, NONCE_BYTES)) return failed(`Challenge nonce is not ${NONCE_BYTES} bytes`);
  if (bytesEqual(remoteNonce, nonce)) return failed('Challenge echoes our nonce');
  const expected = computeProof(local, ACCEPT_TAG, local.nodeId, remoteNodeId, nonce, remoteNonce);
  if (!proofMatches(fields['proof'], expected)) return failed(`node ${remoteNodeId}'s Challenge proof does not match: its cluster secret differs from this node's`);
  const proof = computeProof(local, CONNECT_TAG, local.nodeId, remoteNodeId, nonce, remoteNonce);
  return { ok: true, value: { v: HANDSHAKE_VERSION, kind: 'proof', proof } };
}

/** Acceptor: checks the connector's Proof; returns the authenticated peer's node id. */
export function verifyProof(local: ClusterCredentials, hello: PeerHello, nonce: Uint8Array, message: unknown): Checked<number> {
  const fields = handshakeFields(message);
  if (fields === undefined || fields['kind'] !== 'proof') return failed('expected a version 1 Proof');
  const expected = computeProof(local, CONNECT_TAG, hello.nodeId, local.nodeId, hello.nonce, nonce);
  if (!proofMatches(fields['proof'], expected)) return failed(`the Proof of node ${hello.nodeId} does not match: its cluster secret differs from this node's`);
  return { ok: true, value: hello.nodeId };
}

/** HMAC(secret, tag || fields), see the file comment for the field layout. */
export function computeProof(
  local: ClusterCredentials,
  tag: Uint8Array,
  connectorId: number,
  acceptorId: number,
  connectorNonce: Uint8Array,
  acceptorNonce: Uint8Array,
): Uint8Array {
  const cluster = utf8(local.clusterId);
  const fixed = new Uint8Array(2 + cluster.length + 8);
  fixed[0] = cluster.length >>> 8;
  fixed[1] = cluster.length & 0xff;
  fixed.set(cluster, 2);
  writeU32(fixed, 2 + cluster.length, connectorId);
  writeU32(fixed, 6 + cluster.length, acceptorId);
  return hmac(sha256, local.secret, concatBytes(tag, fixed, connectorNonce, acceptorNonce));
}

/** The domain tags, exported for tests that forge proofs. */
export const proofTags = { accept: ACCEPT_TAG, connect: CONNECT_TAG } as const;

/**
 * Remembers the last NONCE_HISTORY_MAX Hello nonces an acceptor saw, to refuse a replayed Hello
 * (a replay could not complete the handshake anyway, but it is refused early and counted).
 */
export class NonceHistory {
  readonly #seen = new Set<string>();
  readonly #order: string[] = [];
  #nextSlot = 0;

  constructor(readonly capacity: number = NONCE_HISTORY_MAX) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new TypeError('NonceHistory capacity must be a positive integer');
  }

  /** Records `nonce`; returns false if it is already recorded. */
  remember(nonce: Uint8Array): boolean {
    const key = toHex(nonce);
    if (this.#seen.has(key)) return false;
    if (this.#order.length < this.capacity) {
      this.#order.push(key);
    } else {
      this.#seen.delete(this.#order[this.#nextSlot]!);
      this.#order[this.#nextSlot] = key;
      this.#nextSlot = (this.#nextSlot + 1) % this.capacity;
    }
    this.#seen.add(key);
    return true;
  }
}

/** Bytes of a non-paxchain peer's first answer kept to say what it speaks. */
export const FOREIGN_PREVIEW_BYTES = 24;

/**
 * What a node's address answered instead of paxchain frames, for the error: "HTTP" when it starts
 * like an HTTP response, otherwise the first bytes as text or hex. (A paxchain frame never starts
 * with printable text: its first byte is the frame version.)
 */
export function describeForeignBytes(bytes: Uint8Array): string {
  const preview = bytes.subarray(0, FOREIGN_PREVIEW_BYTES);
  const text = String.fromCharCode(...preview);
  const printable = /^[\x20-\x7e\r\n\t]*$/.test(text);
  const shown = printable ? JSON.stringify(text.replace(/[\r\n].*$/s, '')) : `0x${toHex(preview)}`;
  if (/^HTTP\/\d/.test(text)) return `not a paxchain node (got bytes that look like HTTP: ${shown})`;
  if (text.startsWith('SSH-')) return `not a paxchain node (got bytes that look like SSH: ${shown})`;
  return `not a paxchain node (its first bytes are ${shown})`;
}

function handshakeFields(message: unknown): Record<string, unknown> | undefined {
  if (typeof message !== 'object' || message === null || Array.isArray(message) || message instanceof Uint8Array) return undefined;
  const fields = message as Record<string, unknown>;
  return fields['v'] === HANDSHAKE_VERSION ? fields : undefined;
}

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}

/** Constant-time comparison; the length is public (always PROOF_BYTES). */
function proofMatches(received: unknown, expected: Uint8Array): boolean {
  return isBytes(received, PROOF_BYTES) && timingSafeEqual(received, expected);
}

function failed(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
