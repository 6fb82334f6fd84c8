/** Parsing and checking a node's configuration (flags of `paxchain node start`). */
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { parseEndpoint } from '../lib/endpoint.js';
import { NODE_ID_MAX } from '../paxos/ballot.js';
import type { PeerConfig } from './driver.js';

export const DEFAULT_CLUSTER_ID = 'paxchain';
/** Used when no --secret / PAXCHAIN_SECRET is given: fine on one machine, never in production. */
export const DEVELOPMENT_SECRET = 'paxchain-local-development-secret';

// One endpoint rule for nodes and clients (IPv6 in brackets): src/lib/endpoint.ts.
export { parseEndpoint } from '../lib/endpoint.js';

/** Parses "2=127.0.0.1:7002,3=127.0.0.1:7003". */
export function parsePeers(text: string, self: number): PeerConfig[] {
  if (text.trim() === '') return [];
  const peers: PeerConfig[] = [];
  for (const part of text.split(',')) {
    const match = /^\s*(\d+)=(.+)$/.exec(part);
    if (!match) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `bad --peers entry "${part}" (expected ID=HOST:PORT)`);
    const id = Number(match[1]);
    checkNodeId(id);
    if (id === self) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `--peers lists this node's own id ${id}`);
    if (peers.some((peer) => peer.id === id)) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `--peers lists node ${id} twice`);
    peers.push({ id, ...parseEndpoint(match[2]!, `peer ${id}`) });
  }
  return peers;
}

/**
 * Parses --metrics: HOST:PORT, or a bare PORT on 127.0.0.1. A host that is not a loopback
 * address is returned with `remote` set (the caller warns: /metrics has no authentication).
 */
export function parseMetricsAddress(text: string): { host: string; port: number; remote: boolean } {
  const endpoint = /^\d+$/.test(text.trim()) ? parseEndpoint(`127.0.0.1:${text.trim()}`, '--metrics') : parseEndpoint(text, '--metrics');
  const remote = !(endpoint.host === 'localhost' || endpoint.host === '::1' || /^127\./.test(endpoint.host));
  return { ...endpoint, remote };
}

export function checkNodeId(id: number): void {
  if (!Number.isInteger(id) || id < 1 || id > NODE_ID_MAX) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `node ids are integers in [1, ${NODE_ID_MAX}], got ${id}`);
}

/** 32 key bytes from any passphrase (domain-tagged SHA-256), so any length of secret works. */
export function secretKey(passphrase: string): Uint8Array {
  if (passphrase.length === 0) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'the cluster secret must not be empty');
  return sha256(utf8(`paxchain/secret/1\0${passphrase}`));
}
