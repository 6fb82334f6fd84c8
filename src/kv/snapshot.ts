/**
 * State snapshots: the whole KV state (entries and dedup sessions) at one block, cut into chunks
 * of bounded size, and loaded back. What a checkpoint stores (src/storage/checkpoint-store.ts).
 *
 * A snapshot is taken in one synchronous pass (KvState.snapshot(): two flat buffers, no object per
 * entry) so that it is the state after exactly one block; encoding it into chunks and writing them
 * happens afterwards, in the background, while the live state moves on.
 *
 * Chunk (the bytes stored and hashed):
 *   u8 kind (1 = KV entries, 2 = sessions) || u32 count || count records
 *   KV entry record   u32 elementLength || element, element = 0x01 || u16 keyLength || key || value
 *                     (the state trie's leaf element, src/kv/state.ts)
 *   session record    id (16 bytes) || u64 seq || u8 result || u64 height   (SNAPSHOT_SESSION_BYTES)
 * Entry chunks come first, then session chunks, sessions least recently active first (the dedup
 * table's eviction order, which loading rebuilds). Integers are big-endian.
 *
 * Loading checks every record's shape and that the result has the entries, bytes and sessions the
 * snapshot claimed; whether it is the state of the block it claims to be is the state root's
 * question, which the caller asks (the root of the loaded state against that block's header).
 */
import { readU32, writeU32 } from '../lib/bytes.js';
import type { KvState } from './state.js';
import { SESSION_ID_BYTES } from './session.js';

/** Bytes of one session record in a snapshot. */
export const SNAPSHOT_SESSION_BYTES = SESSION_ID_BYTES + 8 + 1 + 8;
/** Chunk payload bytes a snapshot is cut into (a chunk holds at least one record, so at most one entry more). */
export const SNAPSHOT_CHUNK_BYTES = 1 << 20;
/** Most chunks in one snapshot: with SNAPSHOT_CHUNK_BYTES, 4 TiB (far above the state's byte limit). */
export const SNAPSHOT_CHUNKS_MAX = 1 << 22;

const KIND_ENTRIES = 1;
const KIND_SESSIONS = 2;
const CHUNK_HEADER_BYTES = 5;
const ELEMENT_HEADER_BYTES = 3;
const ELEMENT_TAG = 0x01;

export interface StateSnapshot {
  /** The state root of the snapshotted state. */
  readonly root: Uint8Array;
  readonly keys: number;
  /** Bytes of keys plus values. */
  readonly bytes: number;
  /** KV entry records (u32 length || element), in no particular order. */
  readonly entries: Uint8Array;
  /** Session records, least recently active first. */
  readonly sessions: Uint8Array;
}

/** The snapshot's chunks, in order, each at most ~chunkBytes payload bytes (one record more at worst). */
export function* snapshotChunks(snapshot: StateSnapshot, chunkBytes: number = SNAPSHOT_CHUNK_BYTES): Generator<Uint8Array> {
  const entries = snapshot.entries;
  for (let start = 0; start < entries.length; ) {
    let end = start;
    let count = 0;
    while (end < entries.length && (count === 0 || end - start + 4 + readU32(entries, end) <= chunkBytes)) {
      end += 4 + readU32(entries, end);
      count++;
    }
    yield chunk(KIND_ENTRIES, count, entries.subarray(start, end));
    start = end;
  }
  const perChunk = Math.max(1, Math.floor(chunkBytes / SNAPSHOT_SESSION_BYTES));
  const sessions = snapshot.sessions;
  for (let start = 0; start < sessions.length; start += perChunk * SNAPSHOT_SESSION_BYTES) {
    const end = Math.min(sessions.length, start + perChunk * SNAPSHOT_SESSION_BYTES);
    yield chunk(KIND_SESSIONS, (end - start) / SNAPSHOT_SESSION_BYTES, sessions.subarray(start, end));
  }
}

function chunk(kind: number, count: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(CHUNK_HEADER_BYTES + payload.length);
  bytes[0] = kind;
  writeU32(bytes, 1, count);
  bytes.set(payload, CHUNK_HEADER_BYTES);
  return bytes;
}

/**
 * Loads a snapshot's chunks, in order, into a fresh KvState (made from the chain's genesis, so its
 * dedup capacity and limits are the chain's).
 */
export class SnapshotLoader {
  private sessionsStarted = false;

  constructor(private readonly state: KvState) {
    if (state.keyCount !== 0 || state.sessionCount !== 0) throw new TypeError('SnapshotLoader: the state must be empty');
  }

  /** Adds one chunk; returns why it cannot be part of a snapshot, if so (then stop using the state). */
  add(bytes: Uint8Array): string | undefined {
    if (bytes.length < CHUNK_HEADER_BYTES) return 'a chunk shorter than its header';
    const kind = bytes[0];
    const count = readU32(bytes, 1);
    if (kind === KIND_ENTRIES) {
      if (this.sessionsStarted) return 'an entries chunk after the sessions';
      return this.addEntries(bytes, count);
    }
    if (kind !== KIND_SESSIONS) return `a chunk of unknown kind ${String(kind)}`;
    this.sessionsStarted = true;
    if (bytes.length !== CHUNK_HEADER_BYTES + count * SNAPSHOT_SESSION_BYTES) return 'a sessions chunk of the wrong length';
    for (let i = 0; i < count; i++) {
      const problem = this.state.loadSession(bytes, CHUNK_HEADER_BYTES + i * SNAPSHOT_SESSION_BYTES);
      if (problem) return problem;
    }
    return undefined;
  }

  /** Whether the loaded state has what the snapshot said it has. */
  finish(expected: { keys: number; bytes: number; sessions: number }): string | undefined {
    const state = this.state;
    if (state.keyCount !== expected.keys || state.bytes !== expected.bytes || state.sessionCount !== expected.sessions) {
      return `loaded ${state.keyCount} keys, ${state.bytes} bytes, ${state.sessionCount} sessions; the checkpoint says ${expected.keys}, ${expected.bytes}, ${expected.sessions}`;
    }
    return undefined;
  }

  private addEntries(bytes: Uint8Array, count: number): string | undefined {
    let at = CHUNK_HEADER_BYTES;
    for (let i = 0; i < count; i++) {
      if (at + 4 + ELEMENT_HEADER_BYTES > bytes.length) return 'an entries chunk cut short';
      const length = readU32(bytes, at);
      const element = at + 4;
      if (length < ELEMENT_HEADER_BYTES || element + length > bytes.length) return 'an entry longer than its chunk';
      if (bytes[element] !== ELEMENT_TAG) return 'an entry with the wrong tag';
      const keyLength = (bytes[element + 1]! << 8) | bytes[element + 2]!;
      const valueLength = length - ELEMENT_HEADER_BYTES - keyLength;
      if (valueLength < 0) return 'an entry whose key is longer than the entry';
      const problem = this.state.loadEntry(bytes, element + ELEMENT_HEADER_BYTES, keyLength, element + ELEMENT_HEADER_BYTES + keyLength, valueLength);
      if (problem) return problem;
      at = element + length;
    }
    return at === bytes.length ? undefined : 'bytes after the last entry of a chunk';
  }
}
