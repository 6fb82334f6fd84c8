/** Shared plumbing of the commands that talk to a running cluster. */
import { PaxchainClient, parseEndpoints, type ReadResult, type WriteResult } from '../client/client.js';
import { toHex } from '../lib/bytes.js';
import { shortHash } from './render.js';

/** Runs `work` with a client for the --endpoints flag (parsed once, also handed to `work`). */
export async function withClient<T>(
  flags: { endpoints?: string; timeout?: number },
  work: (client: PaxchainClient, endpoints: readonly string[]) => Promise<T>,
): Promise<T> {
  const endpoints = parseEndpoints(flags.endpoints);
  const client = new PaxchainClient({ endpoints, timeoutMs: flags.timeout });
  try {
    return await work(client, endpoints);
  } finally {
    await client.close();
  }
}

const strict = new TextDecoder('utf-8', { fatal: true });

/** A value for people: the UTF-8 text, or base64 for bytes that are not text. */
export function displayValue(value: Uint8Array | null): { value: string | null; encoding: 'utf8' | 'base64' } {
  if (value === null) return { value: null, encoding: 'utf8' };
  try {
    return { value: strict.decode(value), encoding: 'utf8' };
  } catch {
    return { value: Buffer.from(value).toString('base64'), encoding: 'base64' };
  }
}

/** The one line a write prints: `OK (height 12)`, `CAS_MISMATCH (height 13, duplicate)`. */
export function writeLine(write: WriteResult): string {
  return `${write.result} (height ${write.height}${write.duplicate ? ', duplicate' : ''})`;
}

export interface ReadRecord {
  readonly key: string;
  readonly found: boolean;
  readonly value: string | null;
  readonly encoding: 'utf8' | 'base64';
  readonly height: number;
  readonly hash: string;
  readonly stale: boolean;
  readonly node: string;
}

/** A read for scripts (the --json record) and for people (one line, stale reads labelled). */
export function readView(key: string, read: ReadResult): { record: ReadRecord; line: string } {
  const shown = displayValue(read.value);
  const found = read.value !== null;
  const hash = toHex(read.hash);
  const where = read.stale ? `  [stale read at height ${read.height} ${shortHash(hash)} from ${read.endpoint}]` : '';
  const text = !found ? '(not found)' : shown.encoding === 'base64' ? `base64:${shown.value}` : shown.value;
  return { record: { key, found, ...shown, height: read.height, hash, stale: read.stale, node: read.endpoint }, line: `${text}${where}` };
}
