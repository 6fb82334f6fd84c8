/**
 * Persisting a replica's Ready (src/replica/ready.ts) and reading acceptor state back.
 *
 *   0x04            acceptor state: msgpack [2, promised ballot, voting] || u32 CRC-32 of the
 *                   msgpack bytes (a flipped bit is CORRUPT_DATA, never another promise);
 *                   format 1, without the checksum, is still read
 *   0x05 || slot    accepted entry: u64 ballot || value bytes
 *
 * persistOps() turns one Ready into one batch: acceptor state, accepted entries, then blocks
 * with the head pointer (ChainStore.prepareAppend checks they extend the head), then deletes of
 * the accepted entries of slots that became blocks. The host's Ready loop
 * (src/host/ready-loop.ts) merges these batches (group commit) and decides when they need the
 * fsync.
 */
import { readU64, writeU64 } from '../lib/bytes.js';
import { crc32 } from '../lib/crc32.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { pack, unpackSafe } from '../lib/msgpack.js';
import type { BlockRef } from '../chain/block.js';
import { isBallot } from '../paxos/ballot.js';
import type { AcceptorDurableState } from '../paxos/acceptor.js';
import type { AcceptedEntry } from '../paxos/messages.js';
import type { Ready } from '../replica/ready.js';
import { decodeHeadCertificate, encodeHeadCertificate, type HeadCertificate } from '../ledger/signing.js';
import type { BatchOp } from './backend.js';
import type { ChainStore } from './chain-store.js';
import { ACCEPTOR_KEY, acceptedKey, acceptedKeyEnd, acceptedSlotOfKey, CERTIFICATE_KEY, checkpointKey, chunkKey, headerKey } from './keys.js';
import { encodeManifest } from './checkpoint-store.js';

const ACCEPTOR_FORMAT = 2;
const ACCEPTOR_FORMAT_UNCHECKED = 1;
const CHECKSUM_BYTES = 4;

export function encodeAcceptorState(state: AcceptorDurableState): Uint8Array {
  const packed = pack([ACCEPTOR_FORMAT, state.promised, state.voting]);
  const bytes = new Uint8Array(packed.length + CHECKSUM_BYTES);
  bytes.set(packed, 0);
  new DataView(bytes.buffer).setUint32(packed.length, crc32(packed), false);
  return bytes;
}

export function decodeAcceptorState(bytes: Uint8Array): AcceptorDurableState {
  const malformed = new PaxchainError(ErrorCode.CORRUPT_DATA, 'acceptor state record is malformed');
  let body = bytes;
  if (bytes[1] !== ACCEPTOR_FORMAT_UNCHECKED) {
    if (bytes.length <= CHECKSUM_BYTES) throw malformed;
    body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
    const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(body.length, false);
    if (stored !== crc32(body)) throw new PaxchainError(ErrorCode.CORRUPT_DATA, 'acceptor state record fails its checksum');
  }
  const decoded = unpackSafe(body);
  const value = decoded.ok ? decoded.value : undefined;
  const format = body === bytes ? ACCEPTOR_FORMAT_UNCHECKED : ACCEPTOR_FORMAT;
  if (!Array.isArray(value) || value.length !== 3 || value[0] !== format || !isBallot(value[1]) || typeof value[2] !== 'boolean') throw malformed;
  return { promised: value[1], voting: value[2] };
}

function encodeAcceptedEntry(entry: AcceptedEntry): Uint8Array {
  const bytes = new Uint8Array(8 + entry.value.length);
  writeU64(bytes, 0, entry.ballot);
  bytes.set(entry.value, 8);
  return bytes;
}

export function decodeAcceptedEntry(key: Uint8Array, bytes: Uint8Array): AcceptedEntry {
  const slot = acceptedSlotOfKey(key);
  const ballot = bytes.length >= 8 ? readU64(bytes, 0) : -1;
  if (slot < 0 || !isBallot(ballot)) throw new PaxchainError(ErrorCode.CORRUPT_DATA, `accepted entry for slot ${slot} is malformed`);
  return { slot, ballot, value: bytes.subarray(8) };
}

/** The range of all accepted entries, for restore. */
export const acceptedRange = { gte: acceptedKey(0), lt: acceptedKeyEnd };

/**
 * The newest head certificate a store holds (persistOps writes it), undefined if none, or why the
 * stored bytes are not one (a tool reports it; nothing else depends on it).
 */
export async function readCertificate(store: ChainStore): Promise<HeadCertificate | undefined | string> {
  const bytes = await store.backend.get(CERTIFICATE_KEY);
  if (bytes === undefined) return undefined;
  const decoded = unpackSafe(bytes);
  if (!decoded.ok) return `stored head certificate: ${decoded.error}`;
  return decodeHeadCertificate(decoded.value);
}

/** One batch for a Ready; `head` is the new chain head if blocks were appended. */
export function persistOps(store: ChainStore, ready: Ready): { ops: BatchOp[]; head: BlockRef | undefined } {
  const ops: BatchOp[] = [];
  if (ready.acceptor) ops.push({ type: 'put', key: ACCEPTOR_KEY, value: encodeAcceptorState(ready.acceptor) });
  for (const entry of ready.accepted) ops.push({ type: 'put', key: acceptedKey(entry.slot), value: encodeAcceptedEntry(entry) });
  // A state sync's checked headers and chunks, then (once it finished) its install.
  for (const { height, header } of ready.syncWrites?.headers ?? []) ops.push({ type: 'put', key: headerKey(height), value: header });
  for (const { height, index, bytes } of ready.syncWrites?.chunks ?? []) ops.push({ type: 'put', key: chunkKey(height, index), value: bytes });
  let head: BlockRef | undefined;
  const install = ready.install;
  const before = install ? install.blocksBefore : ready.blocks.length;
  if (before > 0) {
    // The common case, no install: the Ready's own arrays (this is the write path of every block).
    const whole = before === ready.blocks.length;
    const appended = store.prepareAppend(whole ? ready.blocks : ready.blocks.slice(0, before), whole ? ready.blockHashes : ready.blockHashes.slice(0, before));
    ops.push(...appended.ops);
    head = appended.head;
    store.committed(head);
  }
  if (install) {
    const { blocksBefore: _, ...manifest } = install;
    ops.push({ type: 'put', key: checkpointKey(install.height), value: encodeManifest(manifest) });
    const height = install.height;
    head = { height, hash: install.blockHash };
    ops.push(...store.prepareInstall(head));
    store.committed(head);
    store.pruned(height + 1);
  }
  if (ready.blocks.length > before) {
    const appended = store.prepareAppend(ready.blocks.slice(before), ready.blockHashes.slice(before));
    ops.push(...appended.ops);
    head = appended.head;
  }
  for (const slot of ready.droppedAccepted) ops.push({ type: 'del', key: acceptedKey(slot) });
  if (ready.certificate) ops.push({ type: 'put', key: CERTIFICATE_KEY, value: pack(encodeHeadCertificate(ready.certificate)) });
  return { ops, head };
}
