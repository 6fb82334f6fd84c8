/**
 * Client commands as they are stored in block bodies: compact msgpack tuples. This file is the
 * only one that knows the layout; the state machine (src/kv/state.ts), the replica and the client
 * go through its functions.
 *
 *   noop    [0, session, seq]
 *   put     [1, session, seq, key, value]
 *   delete  [2, session, seq, key]
 *   cas     [3, session, seq, key, expect, value]   expect nil = "key absent";
 *                                                    value nil = delete on match
 *   txn     [4, session, seq, compares, success, failure]
 *           compare  [target, key, relation, operand]  target 0 value (operand bin), 1 version,
 *                    2 modHeight, 3 createHeight (operand an integer); relation 0 =, 1 !=, 2 <, 3 >.
 *                    An absent key has version, modHeight and createHeight 0 and no value (a
 *                    value compare on it holds only for !=), so "absent" is version = 0.
 *           op       [0, key, value] put | [1, key] delete | [2, prefix] delete every key that
 *                    starts with prefix | [3, key] get
 *           If every compare holds the success ops run, else the failure ops, in order, as one
 *           command (atomic on every replica). Bounds: TXN_COMPARES_MAX compares, TXN_OPS_MAX ops
 *           per branch; a branch may not write one key twice, nor put a key a delete-prefix of the
 *           same branch removes (so its effect does not depend on the order of its writes, and a
 *           STATE_FULL check before it runs is exact).
 *
 * session is a SESSION_ID_BYTES session id (src/kv/session.ts), or nil for "no session" (tools
 * that build chains; a client write always has one). seq is an integer in [0, 2^53); a session
 * numbers its commands from 1 upwards. Keys are non-empty UTF-8 strings of at most
 * limits.keyBytesMax bytes; values are byte arrays of at most limits.valueBytesMax bytes.
 *
 * On the wire a client sends the same tuple with its 32-byte session secret in place of the id;
 * sealWireCommand() turns it into the tuple the chain records.
 */
import { bytesEqual, isU53 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import type { MsgpackCursor } from '../lib/msgpack-cursor.js';
import { SESSION_ID_BYTES, SESSION_SECRET_BYTES, type SessionIds } from './session.js';

export const OP_NOOP = 0;
export const OP_PUT = 1;
export const OP_DELETE = 2;
export const OP_CAS = 3;
export const OP_TXN = 4;
/** Most fields of any command tuple (cas and txn have 6). */
const COMMAND_FIELDS_MAX = 6;
/** Most compares of one txn, and most ops in each of its two branches. */
const TXN_COMPARES_MAX = 64;
export const TXN_OPS_MAX = 128;
/**
 * Most bytes of one txn (commandBytes' estimate): the largest single write (a cas: one key and two
 * values at their limits), so that every command fits one client frame.
 */
export const TXN_BYTES_MAX = limits.keyBytesMax + 2 * limits.valueBytesMax;

export type CompareTarget = 'value' | 'version' | 'modHeight' | 'createHeight';
export type CompareRelation = '=' | '!=' | '<' | '>';
const COMPARE_TARGETS: readonly CompareTarget[] = ['value', 'version', 'modHeight', 'createHeight'];
const COMPARE_RELATIONS: readonly CompareRelation[] = ['=', '!=', '<', '>'];

/** One compare of a txn: `target` of `key` `relation` `operand` (bytes for value, else an integer). */
export interface TxnCompare {
  readonly target: CompareTarget;
  readonly key: string;
  readonly relation: CompareRelation;
  readonly operand: Uint8Array | number;
}

export type TxnOp =
  | { readonly kind: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'delete-prefix'; readonly prefix: string }
  | { readonly kind: 'get'; readonly key: string };
const TXN_OP_KINDS: readonly TxnOp['kind'][] = ['put', 'delete', 'delete-prefix', 'get'];

interface CommandHeader {
  /** Session id (chain) or session secret (wire); null = no session. */
  readonly session: Uint8Array | null;
  readonly seq: number;
}

export type Command =
  | (CommandHeader & { readonly op: 'noop' })
  | (CommandHeader & { readonly op: 'put'; readonly key: string; readonly value: Uint8Array })
  | (CommandHeader & { readonly op: 'delete'; readonly key: string })
  | (CommandHeader & { readonly op: 'cas'; readonly key: string; readonly expect: Uint8Array | null; readonly value: Uint8Array | null })
  | (CommandHeader & { readonly op: 'txn'; readonly compares: readonly TxnCompare[]; readonly success: readonly TxnOp[]; readonly failure: readonly TxnOp[] });

export type CommandTuple = readonly unknown[];

/**
 * Result codes, part of the replicated state (the dedup table stores them), so their numbers
 * never change. DUPLICATE_FLAG is or-ed in when a result is answered from the dedup table.
 */
export const ResultCode = {
  OK: 0,
  /** delete (or cas to deleted) removed a present key. */
  DELETED: 1,
  /** delete of an absent key: nothing changed. */
  NOT_FOUND: 2,
  /** cas: the current value was not the expected one; nothing changed. */
  CAS_MISMATCH: 3,
  /** malformed command in a chosen block: nothing changed. */
  INVALID: 4,
  /** seq older than this session's last applied seq: not applied, its result is gone. */
  STALE: 5,
  /** the write would take the state past a limit genesis sets (entries or bytes): nothing changed. */
  STATE_FULL: 6,
  /** txn: a compare did not hold, so its failure ops ran (OK: they all held and its success ops ran). */
  COMPARE_FAILED: 7,
} as const;
export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];
export const DUPLICATE_FLAG = 0x10;

const resultNames: Record<number, string> = {
  [ResultCode.OK]: 'OK',
  [ResultCode.DELETED]: 'DELETED',
  [ResultCode.NOT_FOUND]: 'NOT_FOUND',
  [ResultCode.CAS_MISMATCH]: 'CAS_MISMATCH',
  [ResultCode.INVALID]: 'INVALID',
  [ResultCode.STALE]: 'STALE',
  [ResultCode.STATE_FULL]: 'STATE_FULL',
  [ResultCode.COMPARE_FAILED]: 'COMPARE_FAILED',
};

export function describeResult(code: number): { code: string; duplicate: boolean } {
  return { code: resultNames[code & ~DUPLICATE_FLAG] ?? `UNKNOWN_${code}`, duplicate: (code & DUPLICATE_FLAG) !== 0 };
}

/**
 * What a write's result says its key holds right after the write was applied: a value, absence,
 * or "anything but" a value (a cas that did not match; null = anything but absent). A verified
 * write checks this against the proven state of the write's block (src/ledger/verified.ts).
 */
export type WriteEffect =
  | { readonly holds: 'value'; readonly value: Uint8Array }
  | { readonly holds: 'absent' }
  | { readonly holds: 'not'; readonly value: Uint8Array | null };

/** The effect of `command` answered `result` (DUPLICATE_FLAG ignored); undefined where none is known. */
export function writeEffect(command: Command, result: number): WriteEffect | undefined {
  const code = result & ~DUPLICATE_FLAG;
  switch (command.op) {
    case 'put':
      return code === ResultCode.OK ? { holds: 'value', value: command.value } : undefined;
    case 'delete':
      return code === ResultCode.DELETED || code === ResultCode.NOT_FOUND ? { holds: 'absent' } : undefined;
    case 'cas':
      if (code === ResultCode.OK) return command.value === null ? { holds: 'absent' } : { holds: 'value', value: command.value };
      // A matching cas with no new value deletes: DELETED, or NOT_FOUND when it expected absence.
      if (code === ResultCode.DELETED || code === ResultCode.NOT_FOUND) return { holds: 'absent' };
      return code === ResultCode.CAS_MISMATCH ? { holds: 'not', value: command.expect } : undefined;
    case 'noop':
    case 'txn':
      return undefined;
  }
}

/** Whether a key holding `value` (null: absent) agrees with `effect`. */
export function effectHolds(effect: WriteEffect, value: Uint8Array | null): boolean {
  switch (effect.holds) {
    case 'value':
      return value !== null && bytesEqual(value, effect.value);
    case 'absent':
      return value === null;
    case 'not':
      return effect.value === null ? value !== null : value === null || !bytesEqual(value, effect.value);
  }
}

/** UTF-8 length of a string without allocating (a lone surrogate counts as U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) length += 1;
    else if (code < 0x800) length += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * THE key rule, for every path (client library, wire requests, chosen commands): a non-empty,
 * well-formed string of at most limits.keyBytesMax UTF-8 bytes. A lone surrogate is refused: it
 * would be stored as U+FFFD, so two different strings would name one key.
 */
export function checkKey(key: unknown): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'key must be a non-empty string';
  if (key.length > limits.keyBytesMax || utf8Length(key) > limits.keyBytesMax) return `key longer than ${limits.keyBytesMax} bytes`;
  if (LONE_SURROGATE.test(key)) return 'key is not well-formed Unicode (it has a lone surrogate)';
  return undefined;
}

function checkValue(value: unknown): string | undefined {
  if (!(value instanceof Uint8Array)) return 'value must be bytes';
  if (value.length > limits.valueBytesMax) return `value longer than ${limits.valueBytesMax} bytes`;
  return undefined;
}

/** The tuple of a command (its session field as given: id for the chain, secret on the wire). */
export function encodeCommand(command: Command): CommandTuple {
  switch (command.op) {
    case 'noop':
      return [OP_NOOP, command.session, command.seq];
    case 'put':
      return [OP_PUT, command.session, command.seq, command.key, command.value];
    case 'delete':
      return [OP_DELETE, command.session, command.seq, command.key];
    case 'cas':
      return [OP_CAS, command.session, command.seq, command.key, command.expect, command.value];
    case 'txn':
      return [OP_TXN, command.session, command.seq, command.compares.map(encodeCompare), command.success.map(encodeTxnOp), command.failure.map(encodeTxnOp)];
  }
}

function encodeCompare(compare: TxnCompare): unknown[] {
  return [COMPARE_TARGETS.indexOf(compare.target), compare.key, COMPARE_RELATIONS.indexOf(compare.relation), compare.operand];
}

function encodeTxnOp(op: TxnOp): unknown[] {
  const code = TXN_OP_KINDS.indexOf(op.kind);
  switch (op.kind) {
    case 'put':
      return [code, op.key, op.value];
    case 'delete-prefix':
      return [code, op.prefix];
    default:
      return [code, op.key];
  }
}

function decodeCompare(tuple: unknown): TxnCompare | string {
  if (!Array.isArray(tuple) || tuple.length !== 4) return 'a compare is [target, key, relation, operand]';
  const [targetCode, key, relationCode, operand] = tuple as unknown[];
  const target = COMPARE_TARGETS[targetCode as number];
  const relation = COMPARE_RELATIONS[relationCode as number];
  if (target === undefined || !Number.isInteger(targetCode)) return `unknown compare target ${String(targetCode)}`;
  if (relation === undefined || !Number.isInteger(relationCode)) return `unknown compare relation ${String(relationCode)}`;
  const problem = checkKey(key);
  if (problem) return `compare: ${problem}`;
  if (target === 'value' ? checkValue(operand) !== undefined : !isU53(operand)) return `compare of ${target} needs ${target === 'value' ? 'a value (bytes)' : 'an integer'}`;
  return { target, key: key as string, relation, operand: operand as Uint8Array | number };
}

function decodeTxnOp(tuple: unknown): TxnOp | string {
  if (!Array.isArray(tuple) || tuple.length < 2) return 'a txn op is [kind, key, ...]';
  const kind = TXN_OP_KINDS[tuple[0] as number];
  if (kind === undefined || !Number.isInteger(tuple[0])) return `unknown txn op ${String(tuple[0])}`;
  const problem = checkKey(tuple[1]);
  if (problem) return `${kind}: ${problem}`;
  const key = tuple[1] as string;
  if (kind === 'put') {
    if (tuple.length !== 3) return 'a txn put is [0, key, value]';
    return checkValue(tuple[2]) ?? { kind, key, value: tuple[2] as Uint8Array };
  }
  if (tuple.length !== 2) return `a txn ${kind} is [${tuple[0] as number}, ${kind === 'delete-prefix' ? 'prefix' : 'key'}]`;
  return kind === 'delete-prefix' ? { kind, prefix: key } : { kind, key };
}

/**
 * Why a branch's writes could interfere (a key written twice, or a write under a delete-prefix of
 * the same branch), or undefined.
 */
function branchConflict(ops: readonly TxnOp[]): string | undefined {
  const written = new Set<string>();
  const prefixes: string[] = [];
  for (const op of ops) {
    if (op.kind === 'get') continue;
    if (op.kind === 'delete-prefix') {
      prefixes.push(op.prefix);
      continue;
    }
    if (written.has(op.key)) return `key ${JSON.stringify(op.key)} is written twice in one branch`;
    written.add(op.key);
  }
  for (const prefix of prefixes) {
    const bytes = utf8Bytes(prefix);
    for (const key of written) if (startsWith(utf8Bytes(key), bytes)) return `key ${JSON.stringify(key)} is written and deleted by prefix ${JSON.stringify(prefix)} in one branch`;
    for (const other of prefixes) if (other !== prefix && startsWith(utf8Bytes(other), bytes)) return `prefixes ${JSON.stringify(prefix)} and ${JSON.stringify(other)} overlap in one branch`;
  }
  if (new Set(prefixes).size !== prefixes.length) return 'a prefix is deleted twice in one branch';
  return undefined;
}

const textEncoder = new TextEncoder();
function utf8Bytes(text: string): Uint8Array {
  return textEncoder.encode(text);
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > bytes.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function decodeTxn(tuple: readonly unknown[], header: CommandHeader): Command | string {
  if (tuple.length !== 6) return 'txn is [4, session, seq, compares, success, failure]';
  const [, , , compares, success, failure] = tuple;
  if (!Array.isArray(compares) || compares.length > TXN_COMPARES_MAX) return `a txn has at most ${TXN_COMPARES_MAX} compares`;
  if (!Array.isArray(success) || !Array.isArray(failure) || success.length > TXN_OPS_MAX || failure.length > TXN_OPS_MAX) return `a txn branch has at most ${TXN_OPS_MAX} ops`;
  const decodedCompares: TxnCompare[] = [];
  for (const compare of compares as unknown[]) {
    const decoded = decodeCompare(compare);
    if (typeof decoded === 'string') return `txn: ${decoded}`;
    decodedCompares.push(decoded);
  }
  const branches: TxnOp[][] = [];
  for (const branch of [success, failure] as unknown[][]) {
    const ops: TxnOp[] = [];
    for (const op of branch) {
      const decoded = decodeTxnOp(op);
      if (typeof decoded === 'string') return `txn: ${decoded}`;
      ops.push(decoded);
    }
    const conflict = branchConflict(ops);
    if (conflict) return `txn: ${conflict}`;
    branches.push(ops);
  }
  return { op: 'txn', ...header, compares: decodedCompares, success: branches[0]!, failure: branches[1]! };
}

/** Full validation of a chain tuple, with a reason; the apply path reads the same layout below. */
export function decodeCommand(tuple: unknown): Command | string {
  if (!Array.isArray(tuple) || tuple.length < 3) return 'command is not a tuple';
  const [op, session, seq] = tuple as unknown[];
  if (session !== null && !(session instanceof Uint8Array && session.length === SESSION_ID_BYTES)) {
    return `session must be a ${SESSION_ID_BYTES}-byte session id or nil`;
  }
  if (!isU53(seq)) return 'seq must be an integer in [0, 2^53)';
  if (session !== null && seq === 0) return 'seq must start at 1';
  const header = { session: session === null ? null : new Uint8Array(session), seq };
  if (op === OP_NOOP) return tuple.length === 3 ? { op: 'noop', ...header } : 'noop takes no arguments';
  if (op === OP_TXN) return decodeTxn(tuple, header);
  // The opcode first: a command of an unknown kind has no key to complain about.
  if (op !== OP_PUT && op !== OP_DELETE && op !== OP_CAS) return `unknown opcode ${JSON.stringify(op) ?? String(op)} (known: ${OP_NOOP} noop, ${OP_PUT} put, ${OP_DELETE} delete, ${OP_CAS} cas, ${OP_TXN} txn)`;
  const key = tuple[3];
  const keyProblem = checkKey(key);
  if (keyProblem) return keyProblem;
  const k = key as string;
  if (op === OP_PUT) {
    if (tuple.length !== 5) return 'put is [1, session, seq, key, value]';
    return checkValue(tuple[4]) ?? { op: 'put', ...header, key: k, value: tuple[4] as Uint8Array };
  }
  if (op === OP_DELETE) return tuple.length === 4 ? { op: 'delete', ...header, key: k } : 'delete is [2, session, seq, key]';
  if (op === OP_CAS) {
    if (tuple.length !== 6) return 'cas is [3, session, seq, key, expect, value]';
    const [expect, value] = [tuple[4], tuple[5]];
    const problem = (expect === null ? undefined : checkValue(expect)) ?? (value === null ? undefined : checkValue(value));
    if (problem) return `cas: ${problem}`;
    return { op: 'cas', ...header, key: k, expect: expect as Uint8Array | null, value: value as Uint8Array | null };
  }
  return `unknown opcode ${String(op)}`;
}

/** A write checked and sealed once at the edge: the tuple the chain records and its decoded form. */
export interface SealedCommand {
  readonly tuple: CommandTuple;
  readonly command: Command;
}

/**
 * A write as a client sends it (the tuple with its session secret in the session field) turned
 * into the tuple the chain records (the derived session id there), or why it is refused.
 */
export function sealWireCommand(tuple: unknown, sessions: SessionIds): SealedCommand | string {
  if (!Array.isArray(tuple) || tuple.length < 3 || tuple.length > COMMAND_FIELDS_MAX) return 'write needs a command tuple';
  const secret: unknown = tuple[1];
  if (!(secret instanceof Uint8Array) || secret.length !== SESSION_SECRET_BYTES) {
    return `a write carries its ${SESSION_SECRET_BYTES}-byte session secret (a session id as the chain shows it is not one)`;
  }
  const sealed = [...(tuple as unknown[])];
  sealed[1] = sessions.derive(secret);
  const command = decodeCommand(sealed);
  return typeof command === 'string' ? command : { tuple: sealed, command };
}

/** An upper estimate of a command's encoded size, for the leader's batch byte bound. */
export function commandBytes(command: Command): number {
  const header = 8 + SESSION_ID_BYTES + 9;
  switch (command.op) {
    case 'noop':
      return header;
    case 'put':
      return header + command.key.length * 3 + command.value.length + 10;
    case 'delete':
      return header + command.key.length * 3 + 5;
    case 'cas':
      return header + command.key.length * 3 + (command.value?.length ?? 0) + (command.expect?.length ?? 0) + 15;
    case 'txn': {
      let bytes = header + 15;
      for (const compare of command.compares) bytes += compare.key.length * 3 + (compare.operand instanceof Uint8Array ? compare.operand.length : 0) + 20;
      for (const op of [...command.success, ...command.failure]) bytes += (op.kind === 'delete-prefix' ? op.prefix : op.key).length * 3 + (op.kind === 'put' ? op.value.length : 0) + 12;
      return bytes;
    }
  }
}

/**
 * Fields 0-2 of a command read at a cursor; one instance is reused for every command, so reading
 * allocates nothing.
 */
export class CommandHead {
  fields = 0;
  op = -1;
  /** Offset of the session id in the cursor's bytes, or -1 for no session. */
  sessionStart = -1;
  seq = -1;

  /** The session id in `bytes` (a view; the command must have a session). */
  sessionId(bytes: Uint8Array): Uint8Array {
    return bytes.subarray(this.sessionStart, this.sessionStart + SESSION_ID_BYTES);
  }
}

/**
 * Reads a command's op, session and seq into `head`, leaving the cursor at its 4th field.
 * Returns false for a malformed head (the caller skips the command from where it started).
 */
export function readCommandHead(cursor: MsgpackCursor, head: CommandHead): boolean {
  head.fields = cursor.readArrayLength();
  if (head.fields < 3 || head.fields > COMMAND_FIELDS_MAX) return false;
  head.op = cursor.readUint();
  if (head.op < 0) return false;
  if (cursor.readNil()) head.sessionStart = -1;
  else if (cursor.readBin() && cursor.length === SESSION_ID_BYTES) head.sessionStart = cursor.start;
  else return false;
  head.seq = cursor.readUint();
  return head.seq >= 0 && !(head.sessionStart >= 0 && head.seq === 0);
}

/** Byte ranges of a command's arguments in the cursor's bytes (-1 start = nil). Reused. */
export class CommandArguments {
  keyStart = 0;
  keyLength = 0;
  expectStart = -1;
  expectLength = 0;
  valueStart = -1;
  valueLength = 0;
}

/**
 * Reads the arguments after a head (the cursor at field 4) into `out`, leaving the cursor after
 * the command. Returns false if they do not fit the op (the caller skips the command).
 */
export function readCommandArguments(cursor: MsgpackCursor, head: CommandHead, out: CommandArguments): boolean {
  const { op, fields } = head;
  if (op === OP_NOOP) return fields === 3;
  if (fields < 4 || !cursor.readStr()) return false;
  out.keyStart = cursor.start;
  out.keyLength = cursor.length;
  if (out.keyLength === 0 || out.keyLength > limits.keyBytesMax) return false;
  out.expectStart = -1;
  out.valueStart = -1;
  if (op === OP_PUT) return fields === 5 && readBytes(cursor, out, 'value', false);
  if (op === OP_DELETE) return fields === 4;
  return op === OP_CAS && fields === 6 && readBytes(cursor, out, 'expect', true) && readBytes(cursor, out, 'value', true);
}

function readBytes(cursor: MsgpackCursor, out: CommandArguments, field: 'expect' | 'value', nilAllowed: boolean): boolean {
  if (nilAllowed && cursor.readNil()) return true;
  if (!cursor.readBin() || cursor.length > limits.valueBytesMax) return false;
  if (field === 'expect') {
    out.expectStart = cursor.start;
    out.expectLength = cursor.length;
  } else {
    out.valueStart = cursor.start;
    out.valueLength = cursor.length;
  }
  return true;
}
