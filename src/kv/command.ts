/**
 * Client commands as they are stored in block bodies: compact msgpack tuples.
 *
 *   noop    [0, clientId, seq]
 *   put     [1, clientId, seq, key, value]
 *   delete  [2, clientId, seq, key]
 *   cas     [3, clientId, seq, key, expect, value]   expect null = "key absent";
 *                                                    value null = delete on match
 *
 * clientId and seq are integers in [0, 2^53). clientId 0 means "no session" (leader no-ops,
 * tools); every other client must number its commands from seq 1 upwards. Keys are non-empty
 * UTF-8 strings of at most limits.keyBytesMax bytes; values are byte arrays of at most
 * limits.valueBytesMax bytes.
 */
import { isU53 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';

export const OP_NOOP = 0;
export const OP_PUT = 1;
export const OP_DELETE = 2;
export const OP_CAS = 3;

export type Command =
  | { readonly op: 'noop'; readonly clientId: number; readonly seq: number }
  | { readonly op: 'put'; readonly clientId: number; readonly seq: number; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'delete'; readonly clientId: number; readonly seq: number; readonly key: string }
  | {
      readonly op: 'cas';
      readonly clientId: number;
      readonly seq: number;
      readonly key: string;
      readonly expect: Uint8Array | null;
      readonly value: Uint8Array | null;
    };

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
  /** seq older than this client's last applied seq: not applied, its result is gone. */
  STALE: 5,
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
};

export function describeResult(code: number): { code: string; duplicate: boolean } {
  return { code: resultNames[code & ~DUPLICATE_FLAG] ?? `UNKNOWN_${code}`, duplicate: (code & DUPLICATE_FLAG) !== 0 };
}

/** UTF-8 length of a string without allocating. */
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

export function checkKey(key: unknown): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'key must be a non-empty string';
  if (key.length > limits.keyBytesMax || utf8Length(key) > limits.keyBytesMax) return `key longer than ${limits.keyBytesMax} bytes`;
  return undefined;
}

function checkValue(value: unknown): string | undefined {
  if (!(value instanceof Uint8Array)) return 'value must be bytes';
  if (value.length > limits.valueBytesMax) return `value longer than ${limits.valueBytesMax} bytes`;
  return undefined;
}

/** Full validation with a reason; the apply path uses the same rules inline (src/kv/state.ts). */
export function decodeCommand(tuple: unknown): Command | string {
  if (!Array.isArray(tuple) || tuple.length < 3) return 'command is not a tuple';
  const [op, clientId, seq] = tuple as unknown[];
  if (!isU53(clientId) || !isU53(seq)) return 'clientId and seq must be integers in [0, 2^53)';
  if (clientId !== 0 && seq === 0) return 'seq must start at 1';
  if (op === OP_NOOP) return tuple.length === 3 ? { op: 'noop', clientId, seq } : 'noop takes no arguments';
  // The opcode first: a command of an unknown kind has no key to complain about.
  if (op !== OP_PUT && op !== OP_DELETE && op !== OP_CAS) return `unknown opcode ${JSON.stringify(op) ?? String(op)} (known: ${OP_NOOP} noop, ${OP_PUT} put, ${OP_DELETE} delete, ${OP_CAS} cas)`;
  const key = tuple[3];
  const keyProblem = checkKey(key);
  if (keyProblem) return keyProblem;
  const k = key as string;
  if (op === OP_PUT) {
    if (tuple.length !== 5) return 'put is [1, clientId, seq, key, value]';
    return checkValue(tuple[4]) ?? { op: 'put', clientId, seq, key: k, value: tuple[4] as Uint8Array };
  }
  if (op === OP_DELETE) return tuple.length === 4 ? { op: 'delete', clientId, seq, key: k } : 'delete is [2, clientId, seq, key]';
  if (tuple.length !== 6) return 'cas is [3, clientId, seq, key, expect, value]';
  const expect = tuple[4];
  const value = tuple[5];
  if (expect !== null) {
    const problem = checkValue(expect);
    if (problem) return `expect: ${problem}`;
  }
  if (value !== null) {
    const problem = checkValue(value);
    if (problem) return `value: ${problem}`;
  }
  return { op: 'cas', clientId, seq, key: k, expect: expect as Uint8Array | null, value: value as Uint8Array | null };
}
