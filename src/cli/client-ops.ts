/** Shared plumbing of the commands that talk to a running cluster. */
import { PaxchainClient, parseEndpoints, type ReadResult, type WriteResult } from '../client/client.js';
import { toHex } from '../lib/bytes.js';
import type { Revisions } from '../kv/table.js';
import type { WatchEvent } from '../client/watch.js';
import { keyText, shortHash, valueText, viewValue } from './render.js';

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
  /** The key's revisions (etcd's create_revision, mod_revision, version), when found. */
  readonly createHeight?: number;
  readonly modHeight?: number;
  readonly version?: number;
}

export interface RangeRecordEntry {
  readonly key: string;
  readonly value?: string;
  readonly encoding?: 'utf8' | 'base64';
  readonly createHeight: number;
  readonly modHeight: number;
  readonly version: number;
}

/** One entry of a range read for scripts, and its line for people (`KEY VALUE`, or the key alone). */
export function rangeEntryView(entry: { key: string; value: Uint8Array | null; revisions: Revisions }): { record: RangeRecordEntry; line: string } {
  const view = entry.value === null ? null : viewValue(entry.value);
  const key = valueText({ encoding: 'utf8', data: entry.key });
  const record = { key: entry.key, ...(view ? { value: view.data, encoding: view.encoding } : {}), ...entry.revisions };
  return { record, line: view ? `${key}\t${valueText(view)}` : key };
}

/** A read for scripts (the --json record) and for people (one line, stale reads labelled). */
export function readView(key: string, read: ReadResult): { record: ReadRecord; line: string } {
  const view = read.value === null ? null : viewValue(read.value);
  const shown = { value: view?.data ?? null, encoding: view?.encoding ?? 'utf8' };
  const found = read.value !== null;
  const hash = toHex(read.hash);
  const where = read.stale ? `  [stale read at height ${read.height} ${shortHash(hash)} from ${read.endpoint}]` : '';
  const text = valueText(view, '(not found)');
  return { record: { key, found, ...shown, height: read.height, hash, stale: read.stale, node: read.endpoint, ...read.revisions }, line: `${text}${where}` };
}

/** One watch event as `watch --json` prints it (one JSON line each). */
export interface WatchRecord {
  readonly height: number;
  readonly seq: number;
  readonly index: number;
  readonly op: 'put' | 'delete';
  readonly key: string;
  readonly value: string | null;
  readonly encoding: 'utf8' | 'base64';
  readonly createHeight: number | null;
  readonly modHeight: number | null;
  readonly version: number | null;
  readonly node: string;
}

/** A watch event for --json and as the line people see: `12 PUT key value (create 3, mod 12, version 4)`. */
export function watchView(event: WatchEvent): { record: WatchRecord; line: string } {
  const view = event.value === null ? null : viewValue(event.value);
  const revisions = event.revisions;
  const record: WatchRecord = {
    height: event.height,
    seq: event.seq,
    index: event.index,
    op: event.op,
    key: event.key,
    value: view?.data ?? null,
    encoding: view?.encoding ?? 'utf8',
    createHeight: revisions?.createHeight ?? null,
    modHeight: revisions?.modHeight ?? null,
    version: revisions?.version ?? null,
    node: event.endpoint,
  };
  const line = event.op === 'delete'
    ? `${event.height} DELETE ${keyText(event.key)}`
    : `${event.height} PUT ${keyText(event.key)} ${valueText(view)}  (create ${revisions!.createHeight}, mod ${revisions!.modHeight}, version ${revisions!.version})`;
  return { record, line };
}
