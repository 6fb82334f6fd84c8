/**
 * Checkpoints on disk: the state after block H (a snapshot, src/kv/snapshot.ts) in chunks, and a
 * manifest naming it. Written as store plans (src/storage/plan.ts), so the node and the simulator
 * run the same steps, and a crash can be tested at every one of them.
 *
 * Writing (writeCheckpointPlan): each chunk is one unsynced write of at most ~SNAPSHOT_CHUNK_BYTES;
 * then the manifest, synced. LevelDB's log is written in order, so the synced manifest makes every
 * chunk before it durable; a crash before it leaves chunks without a manifest, which are garbage
 * (removed at the next start) while the previous checkpoint stays whole and valid. Only after the
 * new manifest is durable are checkpoints beyond the newest `kept` dropped (manifest first, then
 * chunks: a crash in between leaves orphan chunks, garbage again).
 *
 * Manifest (msgpack, the value of checkpointKey(H)):
 *   [1, H, blockHash(H), stateRoot(H), keys, bytes, sessions, chunkHashes]
 * chunkHashes: 32 bytes per chunk, chunk i's SHA-256 under CHUNK_TAG. The chunk hashes catch a
 * damaged chunk early, and name it; what makes a checkpoint trustworthy is the state root of the
 * loaded state checked against the header of block H, which the restore does.
 */
import { bytesEqual, isU53 } from '../lib/bytes.js';
import { pack, unpackSafe } from '../lib/msgpack.js';
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';
import { chunkHash, SNAPSHOT_CHUNKS_MAX, SnapshotLoader, type SnapshotManifest, type StateSnapshot } from '../kv/snapshot.js';
import type { KvState } from '../kv/state.js';
import { deleteRange } from './chain-store.js';
import { checkpointHeightOfKey, checkpointKey, checkpointKeyEnd, chunkHeightOfKey, chunkKey, chunkKeyEnd, chunkKeyStart, chunkRange } from './keys.js';
import { entries, get, type StorePlan, write } from './plan.js';

/** 2: chunks are trie subtrees with their paths (range proofs), and the manifest names both trie roots. */
const MANIFEST_VERSION = 2;
/** Checkpoints kept by default: the newest and the one before (a fallback if the newest is damaged). */
export const CHECKPOINTS_KEPT_DEFAULT = 2;
/** Most checkpoints a node keeps (each holds a whole state). */
export const CHECKPOINTS_KEPT_MAX = 16;
/** Most manifests read at once when listing (more than CHECKPOINTS_KEPT_MAX plus leftovers). */
const MANIFESTS_LISTED_MAX = 1024;

/** A checkpoint's manifest, stored at 0x08 || u64 height. */
export type CheckpointManifest = SnapshotManifest;

export function chunkCount(manifest: CheckpointManifest): number {
  return manifest.chunkHashes.length / SHA256_BYTES;
}

export function encodeManifest(manifest: CheckpointManifest): Uint8Array {
  const { height, blockHash, stateRoot, kvRoot, sessionsRoot, keys, bytes, sessions, chunkHashes } = manifest;
  return pack([MANIFEST_VERSION, height, blockHash, stateRoot, kvRoot, sessionsRoot, keys, bytes, sessions, chunkHashes]);
}

/** The manifest stored at `height`, or why the bytes are not one. */
export function decodeManifest(height: number, bytes: Uint8Array): CheckpointManifest | string {
  const decoded = unpackSafe(bytes);
  if (!decoded.ok) return `checkpoint ${height}: manifest is not msgpack (${decoded.error})`;
  const value = decoded.value;
  if (!Array.isArray(value) || value.length !== 10 || value[0] !== MANIFEST_VERSION) return `checkpoint ${height}: not a version ${MANIFEST_VERSION} manifest`;
  const [, stored, blockHash, stateRoot, kvRoot, sessionsRoot, keys, size, sessions, chunkHashes] = value as unknown[];
  const isHash = (x: unknown): x is Uint8Array => x instanceof Uint8Array && x.length === SHA256_BYTES;
  if (stored !== height || !isHash(blockHash) || !isHash(stateRoot) || !isHash(kvRoot) || !isHash(sessionsRoot) || !isU53(keys) || !isU53(size) || !isU53(sessions)) return `checkpoint ${height}: manifest fields are malformed`;
  if (!(chunkHashes instanceof Uint8Array) || chunkHashes.length % SHA256_BYTES !== 0 || chunkHashes.length / SHA256_BYTES > SNAPSHOT_CHUNKS_MAX) {
    return `checkpoint ${height}: manifest chunk list is malformed`;
  }
  return { height, blockHash: blockHash.slice(), stateRoot: stateRoot.slice(), kvRoot: kvRoot.slice(), sessionsRoot: sessionsRoot.slice(), keys, bytes: size, sessions, chunkHashes: chunkHashes.slice() };
}


/**
 * Writes the snapshot of the state after block `height` (hash `blockHash`) as a checkpoint, then
 * drops all but the newest `kept` checkpoints. Returns its manifest.
 */
export function* writeCheckpointPlan(sha256: Sha256, height: number, blockHash: Uint8Array, snapshot: StateSnapshot, kept: number): StorePlan<CheckpointManifest> {
  const chunkHashes = new Uint8Array(snapshot.chunks.length * SHA256_BYTES);
  for (const [index, chunk] of snapshot.chunks.entries()) {
    yield* write([{ type: 'put', key: chunkKey(height, index), value: chunk }], false);
    chunkHashes.set(chunkHash(sha256, chunk), index * SHA256_BYTES);
  }
  const { root: stateRoot, kvRoot, sessionsRoot, keys, bytes, sessions } = snapshot;
  const manifest: CheckpointManifest = { height, blockHash: blockHash.slice(), stateRoot, kvRoot, sessionsRoot, keys, bytes, sessions, chunkHashes };
  yield* write([{ type: 'put', key: checkpointKey(height), value: encodeManifest(manifest) }], true);
  const stored = yield* listCheckpointsPlan();
  for (const old of stored.slice(kept)) yield* dropCheckpointPlan(old.height);
  return manifest;
}

/** Stored checkpoints, newest first: each a manifest or why its manifest is unreadable. */
export function* listCheckpointsPlan(): StorePlan<Array<{ height: number; manifest: CheckpointManifest | string }>> {
  const found = yield* entries({ gte: checkpointKey(0), lt: checkpointKeyEnd }, MANIFESTS_LISTED_MAX);
  return found.map(([key, value]) => {
    const height = checkpointHeightOfKey(key);
    return { height, manifest: decodeManifest(height, value) };
  }).reverse();
}

/** Drops the checkpoint at `height`: its manifest (synced) first, then its chunks. */
export function* dropCheckpointPlan(height: number): StorePlan<void> {
  yield* write([{ type: 'del', key: checkpointKey(height) }], true);
  const range = chunkRange(height);
  yield* deleteRange(range.gte, range.lt);
}

/**
 * Removes chunks that no manifest names (left by a crash while a checkpoint was written or
 * dropped). Looks at one chunk per checkpoint height, so it reads little when there is no garbage.
 */
export function* dropOrphanChunksPlan(): StorePlan<number> {
  let dropped = 0;
  for (let from = chunkKeyStart; ; ) {
    const [first] = yield* entries({ gte: from, lt: chunkKeyEnd }, 1);
    if (!first) return dropped;
    const height = chunkHeightOfKey(first[0]);
    const range = chunkRange(height);
    if ((yield* get(checkpointKey(height))) === undefined) {
      yield* deleteRange(range.gte, range.lt);
      dropped++;
    }
    from = range.lt;
  }
}

/**
 * Loads the checkpoint of `manifest` into `state` (fresh, from the chain's genesis): every chunk's
 * hash, every record's shape, and the counts. Returns why it failed, if so; the caller then checks
 * the state root against block `manifest.height`'s header.
 */
export function* loadCheckpointPlan(sha256: Sha256, manifest: CheckpointManifest, state: KvState): StorePlan<string | undefined> {
  const loader = new SnapshotLoader(state);
  const count = chunkCount(manifest);
  for (let index = 0; index < count; index++) {
    const chunk = yield* get(chunkKey(manifest.height, index));
    if (chunk === undefined) return `checkpoint ${manifest.height}: chunk ${index} of ${count} is missing`;
    if (!bytesEqual(chunkHash(sha256, chunk), manifest.chunkHashes.subarray(index * SHA256_BYTES, (index + 1) * SHA256_BYTES))) {
      return `checkpoint ${manifest.height}: chunk ${index} does not match its hash in the manifest`;
    }
    const problem = loader.add(chunk);
    if (problem) return `checkpoint ${manifest.height}: chunk ${index}: ${problem}`;
  }
  const problem = loader.finish(manifest);
  return problem ? `checkpoint ${manifest.height}: ${problem}` : undefined;
}
