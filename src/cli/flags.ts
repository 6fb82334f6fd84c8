/** Flags shared by several commands, defined once. */
import { Flags } from '@oclif/core';
import { fromHex } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import type { BlockRef } from '../chain/block.js';

/** --data DIR for commands that also work online: without it they ask --endpoints. */
export const dataFlag = Flags.directory({
  char: 'd',
  summary: 'Read a stopped node\'s data directory instead of asking a running node.',
  helpValue: 'DIR',
});

/** --data DIR: a node's data directory, read offline (the node must be stopped). */
export const requiredDataFlag = Flags.directory({
  char: 'd',
  summary: 'Data directory of a node (offline: the node must be stopped).',
  helpValue: 'DIR',
  required: true,
});

export function parseHeight(text: string, what = 'height'): number {
  if (!/^\d+$/.test(text)) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${what} must be a non-negative integer, got "${text}"`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${what} is too large: ${text}`);
  return value;
}

const HASH_HEX = /^[0-9a-fA-F]{64}$/;

/** Parses a block hash given as 64 hex digits; `what` names it in the error. */
export function parseHash(text: string, what: string): Uint8Array {
  const bytes = HASH_HEX.test(text) ? fromHex(text) : undefined;
  if (!bytes) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${what} must be 64 hex digits, got "${text}"`);
  return bytes;
}

/** Parses HEIGHT:HASH (hash as 64 hex characters). */
export function parseBlockRef(text: string): BlockRef {
  const match = /^(\d+):([0-9a-fA-F]{64})$/.exec(text.trim());
  if (!match) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `expected HEIGHT:HASH with a 64-hex-digit hash, got "${text}"`);
  return { height: parseHeight(match[1]!), hash: fromHex(match[2]!)! };
}

/**
 * Parses a --mix like "put=90,delete=5,cas=5" over the given operation kinds (missing kinds are
 * 0; the percentages must sum to 100).
 */
export function parseMix<K extends string>(text: string, kinds: readonly K[]): Record<K, number> {
  const mix = Object.fromEntries(kinds.map((kind) => [kind, 0])) as Record<K, number>;
  const part = new RegExp(`^(${kinds.join('|')})=(\\d+)$`);
  for (const piece of text.split(',')) {
    const match = part.exec(piece.trim());
    if (!match) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `bad --mix part "${piece}" (expected ${kinds.map((kind) => `${kind}=N`).join(',')})`);
    mix[match[1] as K] = Number(match[2]);
  }
  if (kinds.reduce((sum, kind) => sum + mix[kind], 0) !== 100) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, '--mix percentages must sum to 100');
  return mix;
}

/** --endpoints: the nodes to talk to (default: the local cluster; env PAXCHAIN_ENDPOINTS). */
export const endpointsFlag = Flags.string({
  char: 'e',
  env: 'PAXCHAIN_ENDPOINTS',
  summary: 'Nodes to talk to, HOST:PORT,... (default 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003).',
  helpValue: 'HOST:PORT,...',
});

export const timeoutFlag = Flags.integer({ default: 5000, min: 1, max: 600_000, summary: 'Deadline of the operation in ms, retries included.' });
