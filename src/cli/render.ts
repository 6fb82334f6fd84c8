/**
 * Turning blocks and commands into plain objects for --json and lines for people. One place, so
 * every command shows a block the same way.
 */
import { toHex } from '../lib/bytes.js';
import { type BlockHeader, decodeHeader, HEADER_BYTES } from '../chain/block.js';
import { decodeBody } from '../chain/body.js';
import { type Command, decodeCommand, describeResult, type TxnOp } from '../kv/command.js';

/** A value for --json: its text (encoding utf8) or its bytes in base64; say which, always. */
export interface ValueView {
  readonly encoding: 'utf8' | 'base64';
  readonly data: string;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** THE value renderer of every command (get, kv dump, chain show, shell): UTF-8 text or base64. */
export function viewValue(bytes: Uint8Array): ValueView {
  try {
    return { encoding: 'utf8', data: strictUtf8.decode(bytes) };
  } catch {
    return { encoding: 'base64', data: Buffer.from(bytes).toString('base64') };
  }
}

// eslint-disable-next-line no-control-regex
const NEEDS_QUOTES = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffd"\\]|^\s|\s$|^base64:|^\(/;

/**
 * A value for people, on one line and unambiguous: bytes that are not UTF-8 as `base64:…`
 * (unquoted), text as itself when it is plain, else as a JSON string literal, control characters
 * escaped. So a text value that merely looks like `base64:…`, `(not found)` or `(absent)`
 * prints quoted, and an unquoted `base64:` or `(…)` is never text.
 */
export function valueText(view: ValueView | null | undefined, absent = '(absent)'): string {
  if (view === null || view === undefined) return absent;
  if (view.encoding === 'base64') return `base64:${view.data}`;
  return view.data.length === 0 || NEEDS_QUOTES.test(view.data) ? JSON.stringify(view.data) : view.data;
}

export interface HeaderView {
  readonly height: number;
  readonly hash: string;
  readonly prevHash: string;
  readonly bodyHash: string;
  readonly stateRoot: string;
  readonly version: number;
}

function viewHeader(header: BlockHeader, hash: Uint8Array): HeaderView {
  return {
    height: header.height,
    hash: toHex(hash),
    prevHash: toHex(header.prevHash),
    bodyHash: toHex(header.bodyHash),
    stateRoot: toHex(header.stateRoot),
    version: header.version,
  };
}

export interface CommandView {
  readonly op: string;
  /** Session id in hex (null: no session). */
  readonly session: string | null;
  readonly seq: number;
  readonly key?: string;
  readonly value?: ValueView | null;
  readonly expect?: ValueView | null;
  /** A txn: its compares and both branches, for people (see txnView). */
  readonly txn?: string;
  readonly invalid?: string;
  readonly result?: string;
  readonly duplicate?: boolean;
}

export function viewCommand(tuple: unknown, result?: number): CommandView {
  const decoded = decodeCommand(tuple);
  const outcome = result === undefined ? {} : { result: describeResult(result).code, duplicate: describeResult(result).duplicate };
  if (typeof decoded === 'string') return { op: 'invalid', session: null, seq: -1, invalid: decoded, ...outcome };
  switch (decoded.op) {
    case 'noop':
      return { op: 'noop', session: decoded.session && toHex(decoded.session), seq: decoded.seq, ...outcome };
    case 'put':
      return { op: 'put', session: decoded.session && toHex(decoded.session), seq: decoded.seq, key: decoded.key, value: viewValue(decoded.value), ...outcome };
    case 'delete':
      return { op: 'delete', session: decoded.session && toHex(decoded.session), seq: decoded.seq, key: decoded.key, ...outcome };
    case 'cas':
      return {
        op: 'cas',
        session: decoded.session && toHex(decoded.session),
        seq: decoded.seq,
        key: decoded.key,
        expect: decoded.expect === null ? null : viewValue(decoded.expect),
        value: decoded.value === null ? null : viewValue(decoded.value),
        ...outcome,
      };
    case 'txn':
      return { op: 'txn', session: decoded.session && toHex(decoded.session), seq: decoded.seq, txn: txnView(decoded), ...outcome };
  }
}

/** A txn for people: `if k.version = 0 && ... then put a = 1; delete b else get c`. */
function txnView(command: Extract<Command, { op: 'txn' }>): string {
  const operand = (value: Uint8Array | number): string => (typeof value === 'number' ? String(value) : valueText(viewValue(value)));
  const compares = command.compares.map((c) => `${keyText(c.key)}.${c.target} ${c.relation} ${operand(c.operand)}`).join(' && ');
  const ops = (list: readonly TxnOp[]): string =>
    list.map((op) => (op.kind === 'put' ? `put ${keyText(op.key)} = ${valueText(viewValue(op.value))}` : op.kind === 'delete-prefix' ? `delete-prefix ${keyText(op.prefix)}` : `${op.kind} ${keyText(op.key)}`)).join('; ') || '(nothing)';
  return `if ${compares || 'true'} then ${ops(command.success)} else ${ops(command.failure)}`;
}

export function commandLine(view: CommandView): string {
  const who = view.session === null ? `no session seq ${view.seq}` : `session ${view.session} seq ${view.seq}`;
  const result = view.result ? ` -> ${view.result}${view.duplicate ? ' (duplicate, first result)' : ''}` : '';
  switch (view.op) {
    case 'put':
      return `put ${keyText(view.key)} = ${valueText(view.value)}  [${who}]${result}`;
    case 'delete':
      return `delete ${keyText(view.key)}  [${who}]${result}`;
    case 'cas':
      return `cas ${keyText(view.key)}: ${valueText(view.expect)} -> ${view.value === null ? '(delete)' : valueText(view.value)}  [${who}]${result}`;
    case 'noop':
      return `noop  [${who}]${result}`;
    case 'txn':
      return `txn ${view.txn}  [${who}]${result}`;
    default:
      return `invalid command (${view.invalid})${result}`;
  }
}

export interface BlockSummary extends HeaderView {
  /** pruned: only the header is kept (retention dropped the body), so commands and bytes are unknown (0). */
  readonly kind: 'genesis' | 'batch' | 'malformed' | 'pruned';
  readonly commands: number;
  readonly bytes: number;
  readonly proposedAt?: string;
  readonly clusterId?: string;
  readonly members?: readonly number[];
}

/** A block's header plus a summary of its body; never throws on bad bytes. */
export function summarizeRecord(record: Uint8Array, hash: Uint8Array): BlockSummary | string {
  const header = decodeHeader(record);
  if (typeof header === 'string') return header;
  const body = decodeBody(record.subarray(HEADER_BYTES));
  const base = { ...viewHeader(header, hash), bytes: record.length };
  if (typeof body === 'string') return { ...base, kind: 'malformed', commands: 0 };
  if (body.kind === 'genesis') {
    return {
      ...base,
      kind: 'genesis',
      commands: 0,
      clusterId: body.clusterId,
      members: body.members,
      proposedAt: new Date(body.createdAtMs).toISOString(),
    };
  }
  return { ...base, kind: 'batch', commands: body.commands.length, proposedAt: new Date(body.proposedAtMs).toISOString() };
}

/** A block whose body was pruned, from its stored header alone. */
export function summarizeHeader(header: Uint8Array, hash: Uint8Array): BlockSummary | string {
  const decoded = decodeHeader(header);
  if (typeof decoded === 'string') return decoded;
  return { ...viewHeader(decoded, hash), bytes: 0, kind: 'pruned', commands: 0 };
}

export function shortHash(hex: string): string {
  return hex.slice(0, 16);
}

/** A text table: columns padded to their widest cell, two spaces apart, no trailing spaces. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
}

/** A key for people, by the value rules (keys are UTF-8 text: plain, or quoted and escaped). */
export function keyText(key: string | undefined): string {
  return valueText({ encoding: 'utf8', data: key ?? '' });
}
