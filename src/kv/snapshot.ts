/**
 * State snapshots: the whole KV state (entries and dedup sessions) at one block, cut into chunks
 * of bounded size that each prove themselves against the state root, and loaded back. What a
 * checkpoint stores (src/storage/checkpoint-store.ts) and what state sync fetches from peers.
 *
 * A chunk is one or more whole subtrees of a state trie (src/kv/state-trie.ts), in key order:
 * the KV trie's first, then the sessions trie's. Each subtree carries its path from the trie's
 * root, so a chunk from an untrusted peer is checked on its own (verifyChunk): the subtree's
 * hash, recomputed from its records (a crit-bit trie's shape depends only on its keys), folded
 * up the path must give the trie root, and the two trie roots hash to the header's state root.
 * That is a range proof: it shows the records are exactly the state's leaves below that point.
 *
 * Chunk (the bytes stored, sent and hashed; integers big-endian):
 *   u8 kind (1 = KV entries, 2 = sessions) || u32 subtree count || subtrees
 *   subtree    u16 step count || steps (u32 crit bit || 32-byte sibling hash), root first
 *              || u32 record count || records
 *   KV record       u32 elementLength || element, element = 0x01 || u16 keyLength || key || revisions || value
 *                   (revisions: REVISION_BYTES, src/kv/table.ts)
 *                   (the trie leaf's element, src/kv/state.ts)
 *   session record  u32 rank || id (16) || u64 seq || u8 result || u64 height
 * A session's rank is its place in the dedup table's activity order (0 = least recently active),
 * which eviction follows and loading rebuilds. The state root does not commit to the order among
 * sessions last active in the same block; a snapshot that reordered those would change which one
 * a later eviction picks, which the next block's state root then shows as divergence (never a
 * silent difference).
 *
 * A snapshot is taken in one synchronous pass (KvState.snapshot()) so that it is the state after
 * exactly one block; writing its chunks happens afterwards, in the background.
 */
import { readU32, readU64, utf8, writeU32 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';
import { KEY_BITS_MAX, type PathStep } from './state-trie.js';
import { foldSubtree } from './state-proof.js';
import { KvState } from './state.js';
import { SESSION_ID_BYTES } from './session.js';
import { REVISION_BYTES } from './table.js';

/** Bytes of one session record in a snapshot (rank included). */
export const SNAPSHOT_SESSION_BYTES = 4 + SESSION_ID_BYTES + 8 + 1 + 8;
/** Record bytes a chunk is cut to (a chunk holds at least one subtree, so one element more at worst). */
export const SNAPSHOT_CHUNK_BYTES = 1 << 20;
/** Most chunks in one snapshot: with SNAPSHOT_CHUNK_BYTES, 4 TiB (far above the state's byte limit). */
export const SNAPSHOT_CHUNKS_MAX = 1 << 22;
/** Largest chunk a peer may send: the budget plus one largest entry and the paths of its subtrees. */
export const SNAPSHOT_CHUNK_BYTES_MAX = SNAPSHOT_CHUNK_BYTES + limits.keyBytesMax + limits.valueBytesMax + (1 << 20);

/**
 * Most subtrees in one chunk: verifying one builds a small trie of its own, so a peer must not be
 * able to send a chunk of a million one-record subtrees. packChunks starts a new chunk at it.
 */
const SUBTREES_PER_CHUNK_MAX = 256;

export const KIND_ENTRIES = 1;
export const KIND_SESSIONS = 2;
const CHUNK_HEADER_BYTES = 5;
const STEP_BYTES = 4 + SHA256_BYTES;
const ELEMENT_HEADER_BYTES = 3;
const ELEMENT_TAG = 0x01;

/**
 * What names a snapshot of the state after block `height`: a checkpoint's manifest
 * (src/storage/checkpoint-store.ts) and a finished state sync's install (src/replica/ready.ts).
 */
export interface SnapshotManifest {
  readonly height: number;
  readonly blockHash: Uint8Array;
  readonly stateRoot: Uint8Array;
  /** The KV and sessions trie roots, whose hash is stateRoot: what each chunk proves against. */
  readonly kvRoot: Uint8Array;
  readonly sessionsRoot: Uint8Array;
  readonly keys: number;
  readonly bytes: number;
  readonly sessions: number;
  /** Chunk i's hash at [32 i, 32 i + 32). */
  readonly chunkHashes: Uint8Array;
}

export interface StateSnapshot {
  /** The state root of the snapshotted state, and the two trie roots it is the hash of. */
  readonly root: Uint8Array;
  readonly kvRoot: Uint8Array;
  readonly sessionsRoot: Uint8Array;
  readonly keys: number;
  /** Bytes of keys plus values. */
  readonly bytes: number;
  readonly sessions: number;
  /** The chunks, in order (KV subtrees, then session subtrees). */
  readonly chunks: readonly Uint8Array[];
}

/**
 * One subtree to encode: its path, how many records and bytes of records it has, and how to
 * write them (in their snapshot encoding) at target[at..]: the state copies its elements straight
 * into the chunk, with no array per record.
 */
export interface SubtreeRecords {
  readonly steps: readonly PathStep[];
  readonly count: number;
  readonly bytes: number;
  write(target: Uint8Array, at: number): void;
}

/** Packs subtrees of one kind, in order, into chunks of about `chunkBytes` record bytes each. */
export function packChunks(kind: number, subtrees: readonly SubtreeRecords[], chunkBytes: number = SNAPSHOT_CHUNK_BYTES): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let first = 0; first < subtrees.length; ) {
    let last = first;
    let bytes = encodedBytes(subtrees[first]!);
    while (last + 1 < subtrees.length && last + 1 - first < SUBTREES_PER_CHUNK_MAX && bytes + encodedBytes(subtrees[last + 1]!) <= chunkBytes) bytes += encodedBytes(subtrees[++last]!);
    chunks.push(encodeChunk(kind, subtrees.slice(first, last + 1)));
    first = last + 1;
  }
  return chunks;
}

function encodedBytes(subtree: SubtreeRecords): number {
  return 2 + subtree.steps.length * STEP_BYTES + 4 + subtree.bytes;
}

function encodeChunk(kind: number, subtrees: readonly SubtreeRecords[]): Uint8Array {
  let size = CHUNK_HEADER_BYTES;
  for (const subtree of subtrees) size += encodedBytes(subtree);
  const out = new Uint8Array(size);
  out[0] = kind;
  writeU32(out, 1, subtrees.length);
  let at = CHUNK_HEADER_BYTES;
  for (const subtree of subtrees) {
    out[at] = subtree.steps.length >>> 8;
    out[at + 1] = subtree.steps.length & 0xff;
    at += 2;
    for (const step of subtree.steps) {
      writeU32(out, at, step.crit);
      out.set(step.sibling, at + 4);
      at += STEP_BYTES;
    }
    writeU32(out, at, subtree.count);
    at += 4;
    subtree.write(out, at);
    at += subtree.bytes;
  }
  return out;
}

/** A parsed chunk: byte ranges into the chunk, nothing copied. */
interface ParsedChunk {
  readonly kind: number;
  readonly subtrees: Array<{ steps: PathStep[]; records: Array<{ start: number; length: number }> }>;
}

const CHUNK_TAG = utf8('paxchain/chunk/1\0');

/** A chunk's hash (a checkpoint's manifest lists them, so a damaged stored chunk is found at once). */
export function chunkHash(sha256: Sha256, chunk: Uint8Array): Uint8Array {
  const out = new Uint8Array(SHA256_BYTES);
  sha256.hashTagged(CHUNK_TAG, [chunk], Uint32Array.of(0), Uint32Array.of(chunk.length), 1, out);
  return out;
}

/** Parses a chunk's framing and every record's shape; why not, if it is not a chunk. */
function parseChunk(bytes: Uint8Array): ParsedChunk | string {
  if (bytes.length < CHUNK_HEADER_BYTES) return 'a chunk shorter than its header';
  const kind = bytes[0]!;
  if (kind !== KIND_ENTRIES && kind !== KIND_SESSIONS) return `a chunk of unknown kind ${kind}`;
  const count = readU32(bytes, 1);
  if (count === 0) return 'a chunk without subtrees';
  if (count > SUBTREES_PER_CHUNK_MAX) return `a chunk of ${count} subtrees (at most ${SUBTREES_PER_CHUNK_MAX})`;
  const subtrees: ParsedChunk['subtrees'] = [];
  let at = CHUNK_HEADER_BYTES;
  for (let s = 0; s < count; s++) {
    if (at + 2 > bytes.length) return 'a chunk cut short';
    const stepCount = (bytes[at]! << 8) | bytes[at + 1]!;
    at += 2;
    if (stepCount > KEY_BITS_MAX || at + stepCount * STEP_BYTES + 4 > bytes.length) return 'a subtree path cut short or too long';
    const steps: PathStep[] = [];
    for (let i = 0; i < stepCount; i++, at += STEP_BYTES) steps.push({ crit: readU32(bytes, at), sibling: bytes.subarray(at + 4, at + STEP_BYTES) });
    const recordCount = readU32(bytes, at);
    at += 4;
    if (recordCount === 0) return 'an empty subtree';
    const records: Array<{ start: number; length: number }> = [];
    for (let r = 0; r < recordCount; r++) {
      let length: number;
      if (kind === KIND_SESSIONS) {
        length = SNAPSHOT_SESSION_BYTES;
      } else {
        if (at + 4 + ELEMENT_HEADER_BYTES > bytes.length) return 'an entries chunk cut short';
        const elementLength = readU32(bytes, at);
        if (elementLength < ELEMENT_HEADER_BYTES + 1 || bytes[at + 4] !== ELEMENT_TAG) return 'an entry with a bad header';
        const keyLength = (bytes[at + 5]! << 8) | bytes[at + 6]!;
        if (keyLength === 0 || ELEMENT_HEADER_BYTES + keyLength + REVISION_BYTES > elementLength) return 'an entry whose key and revisions are longer than the entry';
        length = 4 + elementLength;
      }
      if (at + length > bytes.length) return 'a record longer than its chunk';
      records.push({ start: at, length });
      at += length;
    }
    subtrees.push({ steps, records });
  }
  return at === bytes.length ? { kind, subtrees } : 'bytes after the last subtree of a chunk';
}

/** Adds one parsed record to `state`; why not, if it cannot be one. Sessions are handed to `session` instead. */
function loadRecord(state: KvState, bytes: Uint8Array, kind: number, record: { start: number; length: number }): string | undefined {
  if (kind === KIND_SESSIONS) return state.loadSession(bytes, record.start + 4);
  const element = record.start + 4;
  const keyLength = (bytes[element + 1]! << 8) | bytes[element + 2]!;
  const keyStart = element + ELEMENT_HEADER_BYTES;
  return state.loadEntry(bytes, keyStart, keyLength, record.length - 4 - ELEMENT_HEADER_BYTES - keyLength - REVISION_BYTES);
}

/** The trie key of a record (a KV key, or a session id). */
function recordKey(bytes: Uint8Array, kind: number, record: { start: number; length: number }): Uint8Array {
  if (kind === KIND_SESSIONS) return bytes.subarray(record.start + 4, record.start + 4 + SESSION_ID_BYTES);
  const element = record.start + 4;
  const keyLength = (bytes[element + 1]! << 8) | bytes[element + 2]!;
  return bytes.subarray(element + ELEMENT_HEADER_BYTES, element + ELEMENT_HEADER_BYTES + keyLength);
}

/**
 * Checks one chunk from anyone against the trie roots of a state (themselves checked against a
 * header's state root by the caller): every subtree's hash, recomputed from its records, folded
 * up its path, must give its trie's root. Returns why not, if it does not check out.
 */
export function verifyChunk(sha256: Sha256, bytes: Uint8Array, roots: { kvRoot: Uint8Array; sessionsRoot: Uint8Array }): string | undefined {
  const parsed = parseChunk(bytes);
  if (typeof parsed === 'string') return parsed;
  for (const [index, subtree] of parsed.subtrees.entries()) {
    // The subtree on its own: a state holding exactly its records has it as its trie.
    const alone = new KvState(sha256, limits.dedupClientsMax);
    for (const record of subtree.records) {
      const problem = loadRecord(alone, bytes, parsed.kind, record);
      if (problem) return `subtree ${index}: ${problem}`;
    }
    const tries = alone.trieRoots();
    const hash = parsed.kind === KIND_ENTRIES ? tries.kvRoot : tries.sessionsRoot;
    const folded = foldSubtree(sha256, recordKey(bytes, parsed.kind, subtree.records[0]!), hash, subtree.steps);
    if (typeof folded === 'string') return `subtree ${index}: ${folded}`;
    const root = parsed.kind === KIND_ENTRIES ? roots.kvRoot : roots.sessionsRoot;
    let same = folded.length === SHA256_BYTES;
    for (let i = 0; same && i < SHA256_BYTES; i++) same = folded[i] === root[i];
    if (!same) return `subtree ${index} does not prove against the ${parsed.kind === KIND_ENTRIES ? 'KV' : 'sessions'} root`;
  }
  return undefined;
}

/**
 * Loads a snapshot's chunks, in order, into a fresh KvState (made from the chain's genesis, so its
 * dedup capacity and limits are the chain's). Sessions are kept aside and added in their
 * activity order by finish().
 */
export class SnapshotLoader {
  private sessionsStarted = false;
  /** Session records by rank (bytes and offset), until finish(). */
  private readonly sessions: Array<{ bytes: Uint8Array; at: number } | undefined> = [];
  private sessionCount = 0;

  constructor(private readonly state: KvState) {
    if (state.keyCount !== 0 || state.sessionCount !== 0) throw new TypeError('SnapshotLoader: the state must be empty');
  }

  /** Adds one chunk; returns why it cannot be part of a snapshot, if so (then stop using the state). */
  add(bytes: Uint8Array): string | undefined {
    const parsed = parseChunk(bytes);
    if (typeof parsed === 'string') return parsed;
    if (parsed.kind === KIND_ENTRIES && this.sessionsStarted) return 'an entries chunk after the sessions';
    if (parsed.kind === KIND_SESSIONS) this.sessionsStarted = true;
    for (const subtree of parsed.subtrees) {
      for (const record of subtree.records) {
        if (parsed.kind === KIND_ENTRIES) {
          const problem = loadRecord(this.state, bytes, parsed.kind, record);
          if (problem) return problem;
          continue;
        }
        const rank = readU32(bytes, record.start);
        if (rank >= this.state.dedupCapacity) return `a session ranked ${rank}, beyond the dedup capacity`;
        if (this.sessions[rank] !== undefined) return `two sessions ranked ${rank}`;
        this.sessions[rank] = { bytes, at: record.start + 4 };
        this.sessionCount++;
      }
    }
    return undefined;
  }

  /** Adds the sessions in activity order; whether the loaded state has what the snapshot said it has. */
  finish(expected: { keys: number; bytes: number; sessions: number }): string | undefined {
    const state = this.state;
    if (this.sessionCount !== this.sessions.length) return 'the session ranks have gaps';
    let lastHeight = 0;
    for (const session of this.sessions) {
      if (readU64(session!.bytes, session!.at + SESSION_ID_BYTES) < 0) return 'a session field out of range';
      // Activity order is the order of last activity: a rank cannot put a later session first.
      const height = readU64(session!.bytes, session!.at + SESSION_ID_BYTES + 9);
      if (height < lastHeight) return 'session ranks out of activity order (a later session ranked before an earlier one)';
      lastHeight = height;
      const problem = state.loadSession(session!.bytes, session!.at);
      if (problem) return problem;
    }
    this.sessions.length = 0;
    if (state.keyCount !== expected.keys || state.bytes !== expected.bytes || state.sessionCount !== expected.sessions) {
      return `loaded ${state.keyCount} keys, ${state.bytes} bytes, ${state.sessionCount} sessions; the snapshot says ${expected.keys}, ${expected.bytes}, ${expected.sessions}`;
    }
    return undefined;
  }
}
