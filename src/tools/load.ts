/**
 * `paxchain load FILE`: imports a JSON object of key -> value, with a bounded number of writes
 * in flight (the leader batches what arrives together into blocks) and progress on stderr.
 */
import { readFileSync, statSync } from 'node:fs';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import type { PaxchainClient } from '../client/client.js';

/** Largest file `load` reads (it is parsed in memory). */
const LOAD_FILE_BYTES_MAX = 256 * 1024 * 1024;

export interface LoadResult {
  readonly file: string;
  readonly keys: number;
  readonly seconds: number;
  readonly keysPerSecond: number;
  /** Highest block height that applied one of the writes. */
  readonly height: number;
}

export function readEntries(file: string, prefix: string): Array<[string, string]> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new PaxchainError(ErrorCode.NOT_FOUND, `no file ${file}`);
  }
  if (size > LOAD_FILE_BYTES_MAX) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${file} is larger than ${LOAD_FILE_BYTES_MAX} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${file} must hold a JSON object of key -> value`);
  }
  // Strings are stored as they are; any other JSON value as its JSON text.
  return Object.entries(parsed).map(([key, value]) => [`${prefix}${key}`, typeof value === 'string' ? value : JSON.stringify(value)]);
}

export async function loadEntries(
  client: PaxchainClient,
  entries: ReadonlyArray<[string, string]>,
  options: { concurrency: number; file: string; onProgress?: (done: number, total: number) => void },
): Promise<LoadResult> {
  const started = performance.now();
  let next = 0;
  let done = 0;
  let height = 0;
  const worker = async (): Promise<void> => {
    while (next < entries.length) {
      const [key, value] = entries[next++]!;
      const result = await client.put(key, value);
      height = Math.max(height, result.height);
      done++;
      if (done % 100 === 0 || done === entries.length) options.onProgress?.(done, entries.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, Math.max(1, entries.length)) }, () => worker()));
  const seconds = (performance.now() - started) / 1000;
  return { file: options.file, keys: entries.length, seconds: Math.round(seconds * 1000) / 1000, keysPerSecond: Math.round(entries.length / Math.max(seconds, 1e-6)), height };
}
