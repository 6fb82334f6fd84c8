/**
 * The two forms `paxchain txn` reads a transaction in (src/kv/command.ts txn; etcdctl's habit):
 *
 * Text, three sections separated by an empty line: compares, success ops, failure ops.
 *
 *   value("lock/owner") = "me"            compares: value / version / mod / create of a key,
 *   version("jobs/1") = 0                 = != < >, a quoted value or an integer;
 *   absent("jobs/2")                      absent(K) is version(K) = 0
 *
 *   put "jobs/1" "running"                ops: put K V, del K, del --prefix P, get K
 *   del --prefix "tmp/"
 *
 *   get "jobs/1"
 *
 * Keys and values are JSON strings ("a\tb") or bare words without spaces or quotes.
 *
 * JSON: { "compares": [{ "key", "target": "value"|"version"|"modHeight"|"createHeight",
 * "relation": "="|"!="|"<"|">", "value": "..." | "operand": 3 }], "success": [{ "op": "put", "key",
 * "value" } | { "op": "delete", "key" } | { "op": "delete-prefix", "prefix" } | { "op": "get", "key" }],
 * "failure": [...] }.
 *
 * Anything malformed is INVALID_ARGUMENT naming the line or the field.
 */
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import type { TxnRequest, TxnRequestOp } from '../client/client.js';
import type { CompareRelation, CompareTarget } from '../kv/command.js';

type Compare = TxnRequest['compares'][number];

/** Lines of one txn text form at most (three sections of their bounds, plus separators). */
const TXN_TEXT_LINES_MAX = 1_000;

function invalid(message: string): PaxchainError {
  return new PaxchainError(ErrorCode.INVALID_ARGUMENT, message);
}

const TARGETS: Record<string, CompareTarget> = { value: 'value', version: 'version', mod: 'modHeight', create: 'createHeight' };
const RELATIONS: ReadonlySet<string> = new Set(['=', '!=', '<', '>']);

/** Splits a line into words: JSON strings or bare words. */
function words(line: string, where: string): string[] {
  const out: string[] = [];
  const pattern = /\s*("(?:[^"\\]|\\.)*"|[^\s"]+)/gy;
  let match: RegExpExecArray | null;
  let end = 0;
  while ((match = pattern.exec(line)) !== null) {
    const word = match[1]!;
    try {
      out.push(word.startsWith('"') ? (JSON.parse(word) as string) : word);
    } catch {
      throw invalid(`${where}: ${word} is not a valid quoted string`);
    }
    end = pattern.lastIndex;
  }
  if (line.slice(end).trim() !== '') throw invalid(`${where}: cannot read ${JSON.stringify(line.slice(end).trim())}`);
  return out;
}

function parseCompare(line: string, where: string): Compare {
  const match = /^\s*(value|version|mod|create|absent)\(\s*("(?:[^"\\]|\\.)*"|[^\s"()]+)\s*\)\s*(.*)$/.exec(line);
  if (!match) throw invalid(`${where}: a compare is value("K") = "V", version("K") > N, mod("K") < N, create("K") = N or absent("K")`);
  const [, fn, rawKey, rest] = match;
  const key = words(rawKey!, where)[0]!;
  if (fn === 'absent') {
    if (rest!.trim() !== '') throw invalid(`${where}: absent("K") takes no relation`);
    return { target: 'version', key, relation: '=', operand: 0 };
  }
  const [relation, operand, ...extra] = words(rest!, where);
  if (relation === undefined || !RELATIONS.has(relation) || operand === undefined || extra.length > 0) throw invalid(`${where}: expected ${fn}("K") <=|!=|<|>> OPERAND`);
  const target = TARGETS[fn!]!;
  if (target === 'value') return { target, key, relation: relation as CompareRelation, operand };
  if (!/^\d+$/.test(operand)) throw invalid(`${where}: ${fn} compares with an integer, not ${JSON.stringify(operand)}`);
  return { target, key, relation: relation as CompareRelation, operand: Number(operand) };
}

function parseOp(line: string, where: string): TxnRequestOp {
  const [verb, ...rest] = words(line, where);
  if (verb === 'put' && rest.length === 2) return { kind: 'put', key: rest[0]!, value: rest[1]! };
  if ((verb === 'del' || verb === 'delete') && rest.length === 2 && rest[0] === '--prefix') return { kind: 'delete-prefix', prefix: rest[1]! };
  if ((verb === 'del' || verb === 'delete') && rest.length === 1) return { kind: 'delete', key: rest[0]! };
  if (verb === 'get' && rest.length === 1) return { kind: 'get', key: rest[0]! };
  throw invalid(`${where}: an op is put K V, del K, del --prefix P or get K`);
}

/** The text form (see the file comment). */
export function parseTxnText(text: string): TxnRequest {
  const lines = text.split(/\r?\n/);
  if (lines.length > TXN_TEXT_LINES_MAX) throw invalid(`a txn has at most ${TXN_TEXT_LINES_MAX} lines`);
  const sections: Array<Array<{ line: string; number: number }>> = [[]];
  lines.forEach((line, i) => {
    if (line.trim() === '') {
      if (sections.length < 3) sections.push([]);
      else if (sections[2]!.length > 0 && i < lines.length - 1 && lines.slice(i).some((rest) => rest.trim() !== '')) throw invalid(`line ${i + 1}: a txn has three sections (compares, success, failure)`);
      return;
    }
    if (line.trim().startsWith('#')) return;
    sections[sections.length - 1]!.push({ line, number: i + 1 });
  });
  const [compares = [], success = [], failure = []] = sections;
  return {
    compares: compares.map(({ line, number }) => parseCompare(line, `line ${number}`)),
    success: success.map(({ line, number }) => parseOp(line, `line ${number}`)),
    failure: failure.map(({ line, number }) => parseOp(line, `line ${number}`)),
  };
}

/** The JSON form (see the file comment). */
export function parseTxnJson(json: unknown): TxnRequest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('a txn is a JSON object with compares, success and failure');
  const { compares = [], success = [], failure = [] } = json as Record<string, unknown>;
  if (!Array.isArray(compares) || !Array.isArray(success) || !Array.isArray(failure)) throw invalid('compares, success and failure must be arrays');
  return {
    compares: compares.map((compare, i) => jsonCompare(compare, `compares[${i}]`)),
    success: success.map((op, i) => jsonOp(op, `success[${i}]`)),
    failure: failure.map((op, i) => jsonOp(op, `failure[${i}]`)),
  };
}

function jsonCompare(value: unknown, where: string): Compare {
  const { key, target, relation, value: compared, operand } = (value ?? {}) as Record<string, unknown>;
  const targets: readonly string[] = ['value', 'version', 'modHeight', 'createHeight'];
  if (typeof key !== 'string' || typeof target !== 'string' || !targets.includes(target) || typeof relation !== 'string' || !RELATIONS.has(relation)) {
    throw invalid(`${where}: a compare needs key, target (value, version, modHeight, createHeight) and relation (=, !=, <, >)`);
  }
  if (target === 'value') {
    if (typeof compared !== 'string') throw invalid(`${where}: a value compare needs "value" (a string)`);
    return { target, key, relation: relation as CompareRelation, operand: compared };
  }
  if (typeof operand !== 'number' || !Number.isSafeInteger(operand) || operand < 0) throw invalid(`${where}: a ${target} compare needs "operand" (an integer >= 0)`);
  return { target: target as CompareTarget, key, relation: relation as CompareRelation, operand };
}

function jsonOp(value: unknown, where: string): TxnRequestOp {
  const { op, key, value: written, prefix } = (value ?? {}) as Record<string, unknown>;
  if (op === 'put' && typeof key === 'string' && typeof written === 'string') return { kind: 'put', key, value: written };
  if (op === 'delete' && typeof key === 'string') return { kind: 'delete', key };
  if (op === 'delete-prefix' && typeof prefix === 'string') return { kind: 'delete-prefix', prefix };
  if (op === 'get' && typeof key === 'string') return { kind: 'get', key };
  throw invalid(`${where}: an op is { op: "put", key, value }, { op: "delete", key }, { op: "delete-prefix", prefix } or { op: "get", key }`);
}
