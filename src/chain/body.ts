/**
 * Block bodies: what the cluster agreed on in one Paxos slot, and nothing a learner adds locally.
 *
 *   genesis (height 0):  [0, 2, clusterId, memberIds[], dedupCapacity, createdAtMs, memberKeys[]]
 *                    or  [0, 3, clusterId, memberIds[], dedupCapacity, createdAtMs, memberKeys[],
 *                         [stateEntriesMax, stateBytesMax]]
 *   batch   (height > 0): [1, proposedAtMs, commands[]]
 *
 * A batch's commands are opaque here (src/kv/command.ts gives them meaning); a no-op block is a
 * batch with no commands, which is what a new leader uses to fill holes. `proposedAtMs` is the
 * leader's wall clock when it proposed, informational only: nothing in the state depends on it.
 *
 * memberKeys[i] is the Ed25519 public key (32 bytes) of memberIds[i]: a client accepts a head only
 * with signatures of a majority of these keys (signed heads, README). An empty list makes an
 * unsigned cluster, whose heads no client can verify (`paxchain cluster init` writes keys).
 * GENESIS_VERSION 2 added memberKeys (version 1 had six fields). Version 3 adds the state limits
 * (entries, and key plus value bytes, src/kv/state.ts). A version 2 genesis has no state limits
 * (the rules its chains were made under); a config that names limits is written as version 3,
 * as `node start --bootstrap` does for every new cluster (with the defaults unless told).
 */
import { isU53, toHex, utf8 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { pack, unpackSafe } from '../lib/msgpack.js';
import { MalformedMsgpack, type MsgpackCursor } from '../lib/msgpack-cursor.js';

export const BODY_KIND_GENESIS = 0;
const BODY_KIND_BATCH = 1;
const GENESIS_VERSION = 2;
const GENESIS_VERSION_LIMITS = 3;
/**
 * Largest state limits a genesis may set, and the defaults of a new cluster: 2^24 entries (the
 * state trie holds 2^25 - 1 nodes) and 2^30 bytes of keys plus values (with record headers and
 * the garbage the KV arena may hold before it compacts, under its 4 GiB).
 */
export const STATE_ENTRIES_MAX = 1 << 24;
export const STATE_BYTES_MAX = 2 ** 30;
/** Bytes of a member's Ed25519 public key. */
const MEMBER_KEY_BYTES = 32;

/** Client sessions the dedup table keeps unless genesis says otherwise. */
export const DEFAULT_DEDUP_CAPACITY = 100_000;

export interface GenesisConfig {
  /** Names the cluster; two clusters with the same members still get different chains. */
  readonly clusterId: string;
  /** Node ids, ascending, unique, each in [1, 255]. */
  readonly members: readonly number[];
  /** Bound of the replicated dedup table (client sessions kept); part of the replicated state. */
  readonly dedupCapacity: number;
  readonly createdAtMs: number;
  /** Ed25519 public keys, one per member in `members` order; empty for an unsigned cluster. */
  readonly memberKeys?: readonly Uint8Array[];
  /**
   * Most KV entries the state may hold, in [1, STATE_ENTRIES_MAX]; with stateBytesMax, both or
   * neither (neither: a version 2 genesis, no state limits).
   */
  readonly stateEntriesMax?: number;
  /** Most bytes of keys plus values the state may hold, in [1, STATE_BYTES_MAX]. */
  readonly stateBytesMax?: number;
}

export interface GenesisBody extends GenesisConfig {
  readonly kind: 'genesis';
}

export interface BatchBody {
  readonly kind: 'batch';
  readonly proposedAtMs: number;
  /** Raw command tuples; validate with src/kv/command.ts. */
  readonly commands: readonly unknown[];
}

export type Body = GenesisBody | BatchBody;

/** Returns a reason if the config is not a valid genesis, or undefined. */
export function checkGenesisConfig(config: GenesisConfig): string | undefined {
  if (typeof config.clusterId !== 'string' || config.clusterId.length === 0) return 'clusterId must be a non-empty string';
  if (utf8(config.clusterId).length > limits.clusterIdBytesMax) return `clusterId longer than ${limits.clusterIdBytesMax} bytes`;
  const members = config.members;
  if (!Array.isArray(members) || members.length === 0 || members.length > limits.membersMax) {
    return `members must list 1 to ${limits.membersMax} node ids`;
  }
  for (let i = 0; i < members.length; i++) {
    const id = members[i];
    if (!Number.isInteger(id) || id! < 1 || id! > 255) return `member id ${String(id)} is not an integer in [1, 255]`;
    if (i > 0 && id! <= members[i - 1]!) return 'member ids must be ascending and unique';
  }
  if (!Number.isInteger(config.dedupCapacity) || config.dedupCapacity < 1 || config.dedupCapacity > limits.dedupClientsMax) {
    return `dedupCapacity must be in [1, ${limits.dedupClientsMax}]`;
  }
  if (!isU53(config.createdAtMs)) return 'createdAtMs must be a non-negative integer';
  const keys = config.memberKeys ?? [];
  if (!Array.isArray(keys) || (keys.length !== 0 && keys.length !== members.length)) return 'memberKeys must list one key per member, or none';
  for (const key of keys) {
    if (!(key instanceof Uint8Array) || key.length !== MEMBER_KEY_BYTES) return `each member key must be ${MEMBER_KEY_BYTES} bytes`;
  }
  if (new Set(keys.map((key) => toHex(key))).size !== keys.length) return 'member keys must be distinct';
  if ((config.stateEntriesMax === undefined) !== (config.stateBytesMax === undefined)) return 'stateEntriesMax and stateBytesMax are set together, or neither';
  if (config.stateEntriesMax === undefined) return undefined;
  const entries = config.stateEntriesMax;
  if (!Number.isInteger(entries) || entries < 1 || entries > STATE_ENTRIES_MAX) return `stateEntriesMax must be in [1, ${STATE_ENTRIES_MAX}]`;
  const bytes = config.stateBytesMax!;
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > STATE_BYTES_MAX) return `stateBytesMax must be in [1, ${STATE_BYTES_MAX}]`;
  return undefined;
}

/** The state limits a genesis sets, or undefined for none (a version 2 genesis). */
export function stateLimitsOf(genesis: GenesisConfig): { readonly entriesMax: number; readonly bytesMax: number } | undefined {
  return genesis.stateEntriesMax === undefined ? undefined : { entriesMax: genesis.stateEntriesMax, bytesMax: genesis.stateBytesMax! };
}

export function encodeGenesisBody(config: GenesisConfig): Uint8Array {
  const problem = checkGenesisConfig(config);
  if (problem) throw new TypeError(`invalid genesis: ${problem}`);
  const keys = (config.memberKeys ?? []).map((key) => new Uint8Array(key));
  const stateLimits = stateLimitsOf(config);
  if (!stateLimits) return pack([BODY_KIND_GENESIS, GENESIS_VERSION, config.clusterId, [...config.members], config.dedupCapacity, config.createdAtMs, keys]);
  const fields = [config.clusterId, [...config.members], config.dedupCapacity, config.createdAtMs, keys, [stateLimits.entriesMax, stateLimits.bytesMax]];
  return pack([BODY_KIND_GENESIS, GENESIS_VERSION_LIMITS, ...fields]);
}

export function encodeBatchBody(proposedAtMs: number, commands: readonly unknown[]): Uint8Array {
  if (!isU53(proposedAtMs)) throw new TypeError('proposedAtMs must be a non-negative integer');
  return pack([BODY_KIND_BATCH, proposedAtMs, commands]);
}

/** Decodes a stored body. Never throws: garbage gives a reason string. */
export function decodeBody(bytes: Uint8Array): Body | string {
  if (bytes.length > limits.bodyBytesMax) return `body is ${bytes.length} bytes, over the ${limits.bodyBytesMax}-byte limit`;
  const decoded = unpackSafe(bytes);
  if (!decoded.ok) return `body is not valid msgpack: ${decoded.error}`;
  const value = decoded.value;
  if (!Array.isArray(value) || value.length === 0) return 'body is not a non-empty array';
  if (value[0] === BODY_KIND_BATCH) {
    if (value.length !== 3 || !isU53(value[1]) || !Array.isArray(value[2])) return 'batch body is not [1, proposedAtMs, commands[]]';
    if (value[2].length > limits.bodyCommandsMax) return `batch has more than ${limits.bodyCommandsMax} commands`;
    return { kind: 'batch', proposedAtMs: value[1], commands: value[2] };
  }
  if (value[0] === BODY_KIND_GENESIS) {
    const withLimits = value[1] === GENESIS_VERSION_LIMITS;
    if (!(value.length === 7 && value[1] === GENESIS_VERSION) && !(value.length === 8 && withLimits)) {
      return `genesis body is not [0, ${GENESIS_VERSION}, clusterId, members, dedupCapacity, createdAtMs, memberKeys] or version ${GENESIS_VERSION_LIMITS} with [stateEntriesMax, stateBytesMax]`;
    }
    const stateLimits: unknown = value[7];
    if (withLimits && (!Array.isArray(stateLimits) || stateLimits.length !== 2)) return 'genesis state limits are not [stateEntriesMax, stateBytesMax]';
    const genesis: GenesisBody = {
      kind: 'genesis',
      clusterId: value[2],
      members: value[3],
      dedupCapacity: value[4],
      createdAtMs: value[5],
      memberKeys: value[6],
      ...(withLimits ? { stateEntriesMax: (stateLimits as unknown[])[0] as number, stateBytesMax: (stateLimits as unknown[])[1] as number } : {}),
    };
    const problem = checkGenesisConfig(genesis);
    return problem ? `bad genesis: ${problem}` : genesis;
  }
  return `unknown body kind ${String(value[0])}`;
}

/** Where a batch body's commands are, found without decoding them. */
export interface BatchScan {
  readonly proposedAtMs: number;
  readonly commandCount: number;
  /** Byte offset of the first command (within the bytes given to scanBatchBody). */
  readonly commandsOffset: number;
}

/**
 * Checks that `bytes` is a well-formed batch body (every command a complete msgpack value, no
 * trailing bytes) without building any objects, and says where its commands start. The replay
 * and append paths use this instead of decodeBody(); src/kv/state.ts then reads the commands.
 * Returns a reason string for anything else, including a genesis body. The body may be the
 * range [start, end) of `bytes` (a stored record), and commandsOffset is then within `bytes`.
 */
export function scanBatchBody(bytes: Uint8Array, cursor: MsgpackCursor, start = 0, end = bytes.length): BatchScan | string {
  if (end - start > limits.bodyBytesMax) return `body is ${end - start} bytes, over the ${limits.bodyBytesMax}-byte limit`;
  try {
    cursor.reset(bytes, start, end);
    if (cursor.readArrayLength() !== 3) return 'batch body is not [1, proposedAtMs, commands[]]';
    if (cursor.readUint() !== BODY_KIND_BATCH) return 'not a batch body';
    const proposedAtMs = cursor.readUint();
    if (proposedAtMs < 0) return 'batch body has no valid proposedAtMs';
    const commandCount = cursor.readArrayLength();
    if (commandCount < 0) return 'batch body commands are not an array';
    if (commandCount > limits.bodyCommandsMax) return `batch has more than ${limits.bodyCommandsMax} commands`;
    const commandsOffset = cursor.position;
    for (let i = 0; i < commandCount; i++) cursor.skipValue();
    if (!cursor.atEnd) return `${end - cursor.position} trailing bytes after the commands`;
    return { proposedAtMs, commandCount, commandsOffset };
  } catch (error) {
    if (error instanceof MalformedMsgpack) return `body is not valid msgpack: ${error.message}`;
    throw error;
  }
}

/** The kind of a stored body (first array element), or undefined if unreadable. */
export function bodyKind(bytes: Uint8Array, cursor: MsgpackCursor, start = 0, end = bytes.length): number | undefined {
  try {
    cursor.reset(bytes, start, end);
    if (cursor.readArrayLength() < 1) return undefined;
    const kind = cursor.readUint();
    return kind < 0 ? undefined : kind;
  } catch {
    return undefined;
  }
}
