/** Flags shared by several commands, defined once. */
import { Flags } from '@oclif/core';
import { fromHex } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import type { BlockRef } from '../chain/block.js';

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

/** Parses HEIGHT:HASH (hash as 64 hex characters). */
export function parseBlockRef(text: string): BlockRef {
  const match = /^(\d+):([0-9a-fA-F]{64})$/.exec(text.trim());
  if (!match) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `expected HEIGHT:HASH with a 64-hex-digit hash, got "${text}"`);
  return { height: parseHeight(match[1]!), hash: fromHex(match[2]!)! };
}
