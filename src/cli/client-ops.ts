/** Shared plumbing of the commands that talk to a running cluster. */
import { PaxchainClient, parseEndpoints, type ReadResult, type WriteResult } from '../client/client.js';
import { toHex } from '../lib/bytes.js';
import { shortHash, valueText, viewValue } from './render.js';

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

/** The one line a write prints: `OK (height 12)`, `CAS_MISMATCH (height 13, duplicate)`. */
export function writeLine(write: WriteResult): string {
  return `${write.result} (height ${write.height}${write.duplicate ? ', duplicate' : ''})`;
}

export interface ReadRecord {
  readonly key: string;
  readonly found: boolean;
  /** The value's text (encoding utf8) or base64 of its bytes (encoding base64); null if absent. */
  readonly value: string | null;
  readonly encoding: 'utf8' | 'base64';
  readonly height: number;
  readonly hash: string;
  readonly stale: boolean;
  readonly node: string;
}

/** A read for scripts (the --json record) and for people (one line, stale reads labelled). */
export function readView(key: string, read: ReadResult): { record: ReadRecord; line: string } {
  const view = read.value === null ? null : viewValue(read.value);
  const shown = { value: view?.data ?? null, encoding: view?.encoding ?? 'utf8' };
  const found = read.value !== null;
  const hash = toHex(read.hash);
  const where = read.stale ? `  [stale read at height ${read.height} ${shortHash(hash)} from ${read.endpoint}]` : '';
  const text = valueText(view, '(not found)');
  return { record: { key, found, ...shown, height: read.height, hash, stale: read.stale, node: read.endpoint }, line: `${text}${where}` };
}
