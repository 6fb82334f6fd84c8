/**
 * Range reads over the state's keys, in key (byte) order: the query a node answers one page at a
 * time and the page it answers with. Pure: the KV trie (src/kv/state-trie.ts) walks the keys from
 * the lower bound; this file says what a query is, how a prefix becomes a range, and the bounds
 * of one page, so that a huge range never builds one huge reply (the client library asks for the
 * next page after the last key it got: src/client/client.ts).
 */
import { limits } from '../lib/limits.js';
import type { Revisions } from './table.js';

/** Most entries in one range page (a reply). */
export const RANGE_PAGE_ENTRIES_MAX = 1_000;
/**
 * Most key plus value bytes in one range page: a page ends after the entry that reaches it (so
 * one entry of the largest size still fits: a page is never empty while keys remain).
 */
export const RANGE_PAGE_BYTES_MAX = 1024 * 1024;

export interface RangeQuery {
  /** Lower bound (UTF-8 key bytes; empty = from the first key). */
  readonly start: Uint8Array;
  /** Whether the lower bound itself is excluded (the next page after key `start`). */
  readonly after: boolean;
  /** Upper bound, excluded; null = to the last key. */
  readonly end: Uint8Array | null;
  /** Most entries in this page, in [1, RANGE_PAGE_ENTRIES_MAX]. */
  readonly limit: number;
  /** Leave the values out (keys and revisions only). */
  readonly keysOnly: boolean;
  /** Only count the keys in the range (every one of them, not one page); no entries. */
  readonly countOnly: boolean;
}

export interface RangeEntry {
  readonly key: Uint8Array;
  /** null when the query was keysOnly. */
  readonly value: Uint8Array | null;
  readonly revisions: Revisions;
}

export interface RangePage {
  readonly entries: RangeEntry[];
  /** Whether keys of the range remain after this page (ask again after the last entry's key). */
  readonly more: boolean;
  /** countOnly: how many keys the range holds. */
  readonly count: number;
}

/**
 * The exclusive end of the keys that start with `prefix`: the prefix with its last byte below 0xff
 * incremented and what follows dropped (etcd's GetPrefixRangeEnd); null when every byte is 0xff
 * (the range then runs to the last key).
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i]! += 1;
      return end;
    }
  }
  return null;
}

/** Byte order of a[aStart, +aLength) against b: negative, 0 or positive. */
export function compareBytes(a: Uint8Array, aStart: number, aLength: number, b: Uint8Array): number {
  const common = Math.min(aLength, b.length);
  for (let i = 0; i < common; i++) {
    const difference = a[aStart + i]! - b[i]!;
    if (difference !== 0) return difference;
  }
  return aLength - b.length;
}

/** Why a query cannot be asked (a reason), or undefined. The bounds may be any bytes up to a key's length. */
export function checkRangeQuery(query: RangeQuery): string | undefined {
  if (query.start.length > limits.keyBytesMax) return `range start longer than ${limits.keyBytesMax} bytes`;
  if (query.end !== null && query.end.length > limits.keyBytesMax) return `range end longer than ${limits.keyBytesMax} bytes`;
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > RANGE_PAGE_ENTRIES_MAX) return `range limit must be in [1, ${RANGE_PAGE_ENTRIES_MAX}]`;
  return undefined;
}
