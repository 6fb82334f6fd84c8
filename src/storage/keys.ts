/**
 * THE key schema of a paxchain store. Every key the node writes is built here; nothing else
 * makes keys. One-byte prefixes keep namespaces apart; heights and slots are 8-byte big-endian so
 * LevelDB's byte order is numeric order.
 *
 *   prefix  key                      value
 *   0x01    0x01 || name (ASCII)     meta values (see MetaName): 'format' (u8 store format),
 *                                    'node-id', 'pruned-below' (u64 P: the bodies of blocks
 *                                    1..P-1 were dropped by retention, their headers kept;
 *                                    written, synced, before the bodies are deleted)
 *   0x02    0x02 || u64 height       block record: header || body (src/chain/block.ts)
 *   0x03    0x03                     head pointer: u64 height || 32-byte block hash; written in
 *                                    the same atomic batch as the block it points to
 *   0x04    0x04                     acceptor state (src/paxos): promised ballot and voting rights
 *   0x05    0x05 || u64 slot         accepted Paxos value of an unchosen slot: ballot || value
 *   0x06    0x06                     the newest head certificate this node made (a majority's
 *                                    signatures of one of its blocks, src/ledger/signing.ts wire
 *                                    form, msgpack); overwritten by newer ones, checked by tools
 *   0x07    0x07 || u64 height       the header of block `height` (HEADER_BYTES), written in the
 *                                    same batch as the block: restart checks the header chain
 *                                    without reading bodies (a store without them, made by an
 *                                    older build, is replayed in full once and gets them)
 *   0x08    0x08 || u64 height       checkpoint manifest of the state after block `height`
 *                                    (src/storage/checkpoint-store.ts); written, synced, only
 *                                    after all its chunks, so a manifest means a whole checkpoint
 *   0x09    0x09 || u64 height       chunk `index` of that checkpoint's state snapshot
 *           || u32 index             (src/kv/snapshot.ts)
 *
 * Block records are never rewritten in place: a repair deletes from a height up and appends;
 * retention deletes the bodies below a height (never genesis), keeping 0x07 headers of all.
 */
import { assert } from '../lib/assert.js';
import { readU64, writeU32, writeU64 } from '../lib/bytes.js';

/**
 * 4: state entries carry their revisions (createHeight, modHeight, version) in the state root;
 * 3: block format 3 (Merkle state root and history root in every header); 2: block format 2
 * (commands carry 16-byte session ids). A store of another version is refused at open (NO_STORE).
 */
export const STORE_FORMAT_VERSION = 4;

const Prefix = {
  META: 0x01,
  BLOCK: 0x02,
  HEAD: 0x03,
  ACCEPTOR: 0x04,
  ACCEPTED: 0x05,
  CERTIFICATE: 0x06,
  HEADER: 0x07,
  CHECKPOINT: 0x08,
  CHUNK: 0x09,
} as const;

export type MetaName = 'format' | 'node-id' | 'pruned-below';

export function metaKey(name: MetaName): Uint8Array {
  const key = new Uint8Array(1 + name.length);
  key[0] = Prefix.META;
  for (let i = 0; i < name.length; i++) key[1 + i] = name.charCodeAt(i);
  return key;
}

function heightKey(prefix: number, height: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = prefix;
  writeU64(key, 1, height);
  return key;
}

function heightOfKey(prefix: number, key: Uint8Array): number {
  assert(key.length === 9 && key[0] === prefix, 'key of the wrong namespace');
  return readU64(key, 1);
}

export const blockKey = (height: number): Uint8Array => heightKey(Prefix.BLOCK, height);
export const blockHeightOfKey = (key: Uint8Array): number => heightOfKey(Prefix.BLOCK, key);
/** Upper bound (exclusive) of the block namespace. */
export const blockKeyEnd: Uint8Array = Uint8Array.of(Prefix.BLOCK + 1);

export const HEAD_KEY: Uint8Array = Uint8Array.of(Prefix.HEAD);
export const ACCEPTOR_KEY: Uint8Array = Uint8Array.of(Prefix.ACCEPTOR);
export const CERTIFICATE_KEY: Uint8Array = Uint8Array.of(Prefix.CERTIFICATE);

export const acceptedKey = (slot: number): Uint8Array => heightKey(Prefix.ACCEPTED, slot);
export const acceptedSlotOfKey = (key: Uint8Array): number => heightOfKey(Prefix.ACCEPTED, key);
export const acceptedKeyEnd: Uint8Array = Uint8Array.of(Prefix.ACCEPTED + 1);

export const headerKey = (height: number): Uint8Array => heightKey(Prefix.HEADER, height);
export const headerHeightOfKey = (key: Uint8Array): number => heightOfKey(Prefix.HEADER, key);
export const headerKeyEnd: Uint8Array = Uint8Array.of(Prefix.HEADER + 1);

export const checkpointKey = (height: number): Uint8Array => heightKey(Prefix.CHECKPOINT, height);
export const checkpointHeightOfKey = (key: Uint8Array): number => heightOfKey(Prefix.CHECKPOINT, key);
export const checkpointKeyEnd: Uint8Array = Uint8Array.of(Prefix.CHECKPOINT + 1);

export function chunkKey(height: number, index: number): Uint8Array {
  assert(Number.isInteger(index) && index >= 0 && index <= 0xffff_ffff, 'chunk index out of range');
  const key = new Uint8Array(13);
  key[0] = Prefix.CHUNK;
  writeU64(key, 1, height);
  writeU32(key, 9, index);
  return key;
}

/** The checkpoint height of a chunk key. */
export function chunkHeightOfKey(key: Uint8Array): number {
  assert(key.length === 13 && key[0] === Prefix.CHUNK, 'key of the wrong namespace');
  return readU64(key, 1);
}

/** The first chunk key of the checkpoint at `height` (inclusive), and the first after it. */
export const chunkRange = (height: number): { gte: Uint8Array; lt: Uint8Array } => ({ gte: chunkKey(height, 0), lt: heightKey(Prefix.CHUNK, height + 1) });
export const chunkKeyStart: Uint8Array = Uint8Array.of(Prefix.CHUNK);
export const chunkKeyEnd: Uint8Array = Uint8Array.of(Prefix.CHUNK + 1);
