/**
 * `paxchain shell`: an interactive client. One command per line (put, get, delete, cas, status,
 * head, help, exit), one result line each (status and help print a table), and an error is one
 * line `error CODE: message` after which the session goes on.
 *
 * The pieces are separate so that each can be tested without a terminal or a cluster:
 * - nextToken / tokenize / parseLine: a line of text to a ShellCommand (pure);
 * - executeCommand: a ShellCommand against a client, to a ShellOutcome (human lines + JSON record);
 * - readBoundedLines: a byte stream to lines, refusing over-long ones without buffering them;
 * - runShell: the loop over lines, one command at a time, counting failures;
 * - runInteractiveShell: node:readline with bounded history and a prompt naming leader and head.
 */
import { createInterface, type Interface } from 'node:readline';
import type { PaxchainClient, ReadResult, TxnRequest, TxnResult, WriteResult } from '../client/client.js';
import { parseTxnText } from './txn-input.js';
import { AssertionError } from '../lib/assert.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { limits } from '../lib/limits.js';
import type { NodeStatus } from '../transport/protocol.js';
import { rangeEntryView, readView, watchView, writeLine } from './client-ops.js';
import { gatherStatus, leaderLine, leaderRow, statusTable } from './status-ops.js';

/** Longest input line in UTF-8 bytes: twice the largest value, room for one with its key and quotes. */
export const LINE_BYTES_MAX = 2 * limits.valueBytesMax;
/** Lines the interactive history keeps (in memory only). */
const HISTORY_ENTRIES_MAX = 1000;
/** Words one command may have; the longest form (get ... --end E --limit N --keys-only --stale) has eight. */
const TOKENS_MAX = 16;
/** Entries a shell range lists without --limit (a shell is for people: a huge range is a script's job). */
const RANGE_SHOWN_MAX = 100;
/** A shell watch's defaults and bounds: it ends after this many events or seconds. */
const WATCH_SHOWN_DEFAULT = 100;
const WATCH_SECONDS_DEFAULT = 10;
const WATCH_SECONDS_MAX = 3600;
/** Deadline of the one status request that refreshes the prompt: the prompt must not wait long. */
export const PROMPT_STATUS_TIMEOUT_MS = 500;

const NEWLINE = 0x0a;

// ---------------------------------------------------------------------------------------------
// Parsing

export type ShellCommand =
  | { readonly name: 'put'; readonly key: string; readonly value: string }
  | { readonly name: 'get'; readonly key: string; readonly stale: boolean }
  /** A range: the keys with `prefix`, or in [start, end); at most `limit` (default RANGE_SHOWN_MAX). */
  | { readonly name: 'range'; readonly start: string; readonly prefix: boolean; readonly end: string | null; readonly limit: number; readonly keysOnly: boolean; readonly countOnly: boolean; readonly stale: boolean }
  | { readonly name: 'txn'; readonly request: TxnRequest }
  /** Streams changes until `count` events or `seconds` passed (a shell line must end). */
  | { readonly name: 'watch'; readonly key: string; readonly prefix: boolean; readonly fromHeight: number | undefined; readonly count: number; readonly seconds: number }
  | { readonly name: 'delete'; readonly key: string }
  /** expect null = the key must be absent; value null = delete on a match. */
  | { readonly name: 'cas'; readonly key: string; readonly expect: string | null; readonly value: string | null }
  | { readonly name: 'status' }
  | { readonly name: 'head' }
  | { readonly name: 'help' }
  | { readonly name: 'exit' };

/** What `help` prints, and where usage errors take their text from. */
export const SHELL_COMMANDS: ReadonlyArray<{ readonly name: string; readonly usage: string; readonly description: string }> = [
  { name: 'put', usage: 'put KEY VALUE', description: 'Set KEY to VALUE: the rest of the line as typed, or one "quoted string".' },
  { name: 'get', usage: 'get KEY [--stale]', description: 'Read KEY (linearizable; --stale: the answering node\'s own state).' },
  { name: 'get', usage: 'get --prefix P | KEY --end END [--limit N] [--keys-only] [--count-only]', description: 'List keys in order (KEY<TAB>VALUE), at most 100 unless --limit.' },
  { name: 'txn', usage: 'txn COMPARES | SUCCESS OPS | FAILURE OPS', description: 'A transaction; items split by ";", e.g. txn absent("l") | put l me | get l.' },
  { name: 'watch', usage: 'watch KEY | --prefix P [--from-height H] [--count N] [--for SECONDS]', description: 'Print changes as they are chosen, until N events (100) or SECONDS (10) pass.' },
  { name: 'delete', usage: 'delete KEY', description: 'Delete KEY (DELETED, or NOT_FOUND if it was not there).' },
  { name: 'cas', usage: 'cas KEY NEW --expect OLD | --absent', description: 'Set KEY to NEW only if it holds OLD (or does not exist).' },
  { name: 'cas', usage: 'cas KEY --delete --expect OLD', description: 'Delete KEY only if it holds OLD.' },
  { name: 'status', usage: 'status', description: 'Every node: role, ballot, chosen and applied height, head hash.' },
  { name: 'head', usage: 'head', description: 'The leader\'s head block: height and hash.' },
  { name: 'help', usage: 'help', description: 'This list.' },
  { name: 'exit', usage: 'exit | quit', description: 'End the session (so does end of input, Ctrl-D).' },
];

export interface Token {
  /** The word, or the quoted string without its quotes and with its escapes resolved. */
  readonly text: string;
  /** A quoted token is never an option, so "--stale" in quotes is a key. */
  readonly quoted: boolean;
  /** [start, end) in the line. */
  readonly start: number;
  readonly end: number;
}

function invalid(message: string): PaxchainError {
  return new PaxchainError(ErrorCode.INVALID_ARGUMENT, message);
}

function usageError(name: string, reason?: string): PaxchainError {
  const usage = SHELL_COMMANDS.filter((command) => command.name === name).map((command) => command.usage).join(' or ');
  return invalid(`${reason ? `${reason}; ` : ''}usage: ${usage}`);
}

function isSpace(char: string | undefined): boolean {
  return char !== undefined && /\s/.test(char);
}

/**
 * The token at or after `from` (whitespace skipped), or undefined at the end of the line. A token
 * is a bare word (quotes inside it are literal) or a "double-quoted string" in which \" and \\
 * are the only escapes; the closing quote must end the token.
 */
function nextToken(line: string, from: number): Token | undefined {
  let start = from;
  while (start < line.length && isSpace(line[start])) start++;
  if (start >= line.length) return undefined;
  if (line[start] === '"') return quotedToken(line, start);
  let end = start;
  while (end < line.length && !isSpace(line[end])) end++;
  return { text: line.slice(start, end), quoted: false, start, end };
}

function quotedToken(line: string, start: number): Token {
  const parts: string[] = [];
  let plainFrom = start + 1;
  for (let index = start + 1; index < line.length; index++) {
    const char = line[index];
    if (char === '\\' && (line[index + 1] === '"' || line[index + 1] === '\\')) {
      parts.push(line.slice(plainFrom, index));
      plainFrom = index + 1;
      index++;
    } else if (char === '"') {
      parts.push(line.slice(plainFrom, index));
      if (index + 1 < line.length && !isSpace(line[index + 1])) throw invalid(`text right after a closing quote at column ${index + 2}`);
      return { text: parts.join(''), quoted: true, start, end: index + 1 };
    }
  }
  throw invalid(`unterminated quote at column ${start + 1}`);
}

/** All tokens from `from` on, at most TOKENS_MAX. */
export function tokenize(line: string, from = 0): Token[] {
  const tokens: Token[] = [];
  for (let token = nextToken(line, from); token; token = nextToken(line, token.end)) {
    if (tokens.length === TOKENS_MAX) throw invalid(`more than ${TOKENS_MAX} words`);
    tokens.push(token);
  }
  return tokens;
}

/** One line to a command; null for an empty line or a # comment. Throws INVALID_ARGUMENT. */
export function parseLine(line: string): ShellCommand | null {
  const first = nextToken(line, 0);
  if (!first || (!first.quoted && first.text.startsWith('#'))) return null;
  const name = first.text.toLowerCase();
  // put's VALUE is the raw rest of the line, so it must not go through the tokenizer; txn has its own syntax.
  if (name === 'put') return parsePut(line, first.end);
  if (name === 'txn') return { name: 'txn', request: parseTxnText(txnSections(line.slice(first.end))) };
  if (!KNOWN_NAMES.has(name)) throw invalid(`unknown command "${first.text.slice(0, 64)}" (try help)`);
  const words = splitOptions(name, tokenize(line, first.end));
  switch (name) {
    case 'get':
      return parseGet(words);
    case 'delete':
      return { name: 'delete', key: onlyKey(name, words) };
    case 'cas':
      return parseCas(words);
    case 'watch':
      return parseWatch(words);
    case 'quit':
      return noArguments('exit', words);
    default:
      return noArguments(name as 'status' | 'head' | 'help' | 'exit', words);
  }
}

const KNOWN_NAMES: ReadonlySet<string> = new Set(['get', 'delete', 'cas', 'txn', 'watch', 'status', 'head', 'help', 'exit', 'quit']);

/** `txn A; B | C; D | E` as txn's text form (src/cli/txn-input.ts): ";" splits items, "|" sections, outside quotes. */
function txnSections(rest: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < rest.length; i++) {
    const char = rest[i]!;
    if (char === '"' && rest[i - 1] !== '\\') quoted = !quoted;
    out += quoted ? char : char === ';' ? '\n' : char === '|' ? '\n\n' : char;
  }
  if (quoted) throw invalid('txn: an unterminated quote');
  return out.split('\n').map((line) => line.trim()).join('\n');
}

function parseGet(words: Words): ShellCommand {
  const stale = words.options.has('--stale');
  const prefix = words.options.get('--prefix');
  const end = words.options.get('--end');
  const limitText = words.options.get('--limit');
  const keysOnly = words.options.has('--keys-only');
  const countOnly = words.options.has('--count-only');
  if (prefix === undefined && end === undefined && limitText === undefined && !keysOnly && !countOnly) return { name: 'get', key: onlyKey('get', words), stale };
  if (typeof prefix === 'string' ? words.positionals.length !== 0 : words.positionals.length !== 1 || typeof end !== 'string') throw usageError('get', 'a range is --prefix P, or KEY --end END');
  const limit = limitText === undefined ? RANGE_SHOWN_MAX : Number(limitText);
  if (!Number.isSafeInteger(limit) || limit < 1) throw usageError('get', '--limit needs a positive integer');
  const start = typeof prefix === 'string' ? prefix : words.positionals[0]!;
  return { name: 'range', start, prefix: typeof prefix === 'string', end: typeof end === 'string' ? end : null, limit, keysOnly, countOnly, stale };
}

function parseWatch(words: Words): ShellCommand {
  const prefix = words.options.get('--prefix');
  if (typeof prefix === 'string' ? words.positionals.length !== 0 : words.positionals.length !== 1) throw usageError('watch', 'watch KEY, or --prefix P');
  const number = (option: string, fallback: number | undefined, low: number, high: number): number | undefined => {
    const text = words.options.get(option);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < low || value > high) throw usageError('watch', `${option} needs an integer from ${low} to ${high}`);
    return value;
  };
  return {
    name: 'watch',
    key: typeof prefix === 'string' ? prefix : words.positionals[0]!,
    prefix: typeof prefix === 'string',
    fromHeight: number('--from-height', undefined, 0, Number.MAX_SAFE_INTEGER),
    count: number('--count', WATCH_SHOWN_DEFAULT, 1, 1_000_000)!,
    seconds: number('--for', WATCH_SECONDS_DEFAULT, 1, WATCH_SECONDS_MAX)!,
  };
}

function parsePut(line: string, from: number): ShellCommand {
  const key = nextToken(line, from);
  const rest = key ? line.slice(key.end).trim() : '';
  if (!key || rest === '') throw usageError('put');
  return { name: 'put', key: key.text, value: putValue(rest) };
}

/** The rest of the line as typed, unless it starts with a quote: then it must be one quoted string. */
function putValue(rest: string): string {
  if (!rest.startsWith('"')) return rest;
  const quoted = quotedToken(rest, 0);
  if (quoted.end !== rest.length) throw usageError('put', 'a quoted VALUE must be the whole rest of the line');
  return quoted.text;
}

interface Words {
  readonly positionals: readonly string[];
  /** Options given, with their value (true for a flag). */
  readonly options: ReadonlyMap<string, string | true>;
}

/** Options each command takes: true = takes a value. */
const OPTIONS: Readonly<Record<string, Readonly<Record<string, boolean>>>> = {
  get: { '--stale': false, '--prefix': true, '--end': true, '--limit': true, '--keys-only': false, '--count-only': false },
  cas: { '--expect': true, '--absent': false, '--delete': false },
  watch: { '--prefix': true, '--from-height': true, '--count': true, '--for': true },
};

function splitOptions(name: string, tokens: readonly Token[]): Words {
  const positionals: string[] = [];
  const options = new Map<string, string | true>();
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index]!;
    if (token.quoted || !token.text.startsWith('--')) {
      positionals.push(token.text);
      continue;
    }
    const takesValue = OPTIONS[name]?.[token.text];
    if (takesValue === undefined) throw usageError(name, `unknown option ${token.text.slice(0, 64)}`);
    if (options.has(token.text)) throw usageError(name, `${token.text} given twice`);
    const value = takesValue ? tokens[++index] : undefined;
    if (takesValue && value === undefined) throw usageError(name, `${token.text} needs a value`);
    options.set(token.text, value?.text ?? true);
  }
  return { positionals, options };
}

function onlyKey(name: string, words: Words): string {
  if (words.positionals.length !== 1) throw usageError(name);
  return words.positionals[0]!;
}

function noArguments(name: 'status' | 'head' | 'help' | 'exit', words: Words): ShellCommand {
  if (words.positionals.length > 0 || words.options.size > 0) throw usageError(name, `${name} takes no arguments`);
  return { name };
}

function parseCas(words: Words): ShellCommand {
  const [key, value] = words.positionals;
  const expect = words.options.get('--expect');
  const absent = words.options.has('--absent');
  const remove = words.options.has('--delete');
  if (key === undefined || words.positionals.length > 2) throw usageError('cas');
  if ((expect === undefined) === !absent) throw usageError('cas', 'give one of --expect OLD and --absent');
  if (remove === (value !== undefined)) throw usageError('cas', 'give either NEW or --delete');
  return { name: 'cas', key, expect: typeof expect === 'string' ? expect : null, value: value ?? null };
}

// ---------------------------------------------------------------------------------------------
// Executing

export interface ShellSession {
  readonly client: PaxchainClient;
  readonly endpoints: readonly string[];
  /** Asked first for status (head, prompt): the leader's endpoint when known. */
  leaderHint: string | undefined;
}

export interface ShellOutcome {
  readonly ok: boolean;
  /** Human output: one line, except for status and help (a table). */
  readonly lines: readonly string[];
  /** The --json line: { command, ok, ...result } or { command, ok: false, error: { code, message } }. */
  readonly record: Readonly<Record<string, unknown>>;
}

export type RunnableCommand = Exclude<ShellCommand, { name: 'exit' }>;

async function executeCommand(command: RunnableCommand, session: ShellSession, output: ShellOutput): Promise<ShellOutcome> {
  const client = session.client;
  switch (command.name) {
    case 'put':
      return writeOutcome(command.name, command.key, await client.put(command.key, command.value));
    case 'delete':
      return writeOutcome(command.name, command.key, await client.delete(command.key));
    case 'cas':
      return writeOutcome(command.name, command.key, await client.cas(command.key, command.expect, command.value));
    case 'get':
      return readOutcome(command.key, await client.get(command.key, { stale: command.stale }));
    case 'range':
      return rangeOutcome(command, client);
    case 'txn':
      return txnOutcome(await client.txn(command.request));
    case 'watch':
      return watchOutcome(command, client, output);
    case 'status':
      return statusOutcome(session);
    case 'head':
      return headOutcome(session);
    case 'help':
      return helpOutcome();
  }
}

/** A CAS_MISMATCH is a failure, as in `paxchain cas`; NOT_FOUND from delete is not (`paxchain delete`). */
function writeOutcome(name: string, key: string, write: WriteResult): ShellOutcome {
  const ok = write.result !== 'CAS_MISMATCH';
  return { ok, lines: [writeLine(write)], record: { command: name, ok, key, result: write.result, height: write.height, duplicate: write.duplicate } };
}

async function rangeOutcome(command: Extract<ShellCommand, { name: 'range' }>, client: PaxchainClient): Promise<ShellOutcome> {
  const options = { prefix: command.prefix, end: command.end, stale: command.stale };
  if (command.countOnly) {
    const counted = await client.count(command.start, options);
    return { ok: true, lines: [String(counted.count)], record: { command: 'get', ok: true, count: counted.count, height: counted.height } };
  }
  const lines: string[] = [];
  const entries: unknown[] = [];
  let more = false;
  for await (const page of client.range(command.start, { ...options, limit: command.limit, keysOnly: command.keysOnly })) {
    for (const entry of page.entries) {
      const view = rangeEntryView(entry);
      lines.push(view.line);
      entries.push(view.record);
    }
    more = page.more;
  }
  if (lines.length === command.limit && !more) more = (await client.count(command.start, options)).count > command.limit;
  if (more) lines.push(`(more: showing the first ${command.limit}; use --limit)`);
  return { ok: true, lines: lines.length > 0 ? lines : ['(no keys)'], record: { command: 'get', ok: true, count: entries.length, entries } };
}

/** Prints each event as it comes (a JSON line each with --json); the outcome sums up. */
async function watchOutcome(command: Extract<ShellCommand, { name: 'watch' }>, client: PaxchainClient, output: ShellOutput): Promise<ShellOutcome> {
  const watch = client.watch(command.key, { prefix: command.prefix, fromHeight: command.fromHeight });
  const timer = setTimeout(() => void watch.return(), command.seconds * 1000);
  let events = 0;
  try {
    for await (const event of watch) {
      const view = watchView(event);
      output.write(output.json ? JSON.stringify({ command: 'watch', event: view.record }) : view.line);
      if (++events >= command.count) break;
    }
  } finally {
    clearTimeout(timer);
  }
  const resumeHeight = watch.resumeHeight ?? null;
  return { ok: true, lines: [`(${events} events; resume with --from-height ${resumeHeight ?? '?'})`], record: { command: 'watch', ok: true, events, resumeHeight } };
}

/** A txn whose compares failed is a failure, as in `paxchain txn`. */
function txnOutcome(result: TxnResult): ShellOutcome {
  const lines = [`${result.succeeded ? 'SUCCEEDED' : 'FAILED'} (height ${result.height}${result.duplicate ? ', duplicate' : ''}${result.deleted ? `, deleted ${result.deleted}` : ''})`];
  for (const get of result.gets ?? []) lines.push(`${get.key}\t${get.value === null ? '(not found)' : Buffer.from(get.value).toString()}`);
  return { ok: result.succeeded, lines, record: { command: 'txn', ok: result.succeeded, result: result.result, height: result.height, gets: result.gets?.map((get) => ({ key: get.key, value: get.value === null ? null : Buffer.from(get.value).toString(), ...get.revisions })) ?? null, deleted: result.deleted } };
}

/** A missing key is a failure, as in `paxchain get`. */
function readOutcome(key: string, read: ReadResult): ShellOutcome {
  const view = readView(key, read);
  const found = view.record.found;
  return { ok: found, lines: [view.line], record: { command: 'get', ok: found, ...view.record } };
}

async function statusOutcome(session: ShellSession): Promise<ShellOutcome> {
  const rows = await gatherStatus(session.client, session.endpoints);
  const leading = leaderRow(rows);
  if (leading) session.leaderHint = leading.endpoint;
  const leader = leading?.status?.nodeId ?? null;
  const ok = rows.some((row) => row.reachable);
  const lines = [...statusTable(rows), leaderLine(rows)];
  return { ok, lines, record: { command: 'status', ok, nodes: rows, leader } };
}

async function headOutcome(session: ShellSession): Promise<ShellOutcome> {
  const { endpoint, status } = await findLeader(session);
  if (!status.head) throw new PaxchainError(ErrorCode.NOT_READY, `leader node ${status.nodeId} (${endpoint}) has no chain yet`);
  const { height, hash } = status.head;
  const line = `height ${height}  hash ${hash}  leader node ${status.nodeId} (${endpoint})`;
  return { ok: true, lines: [line], record: { command: 'head', ok: true, height, hash, leader: status.nodeId, endpoint } };
}

/** The leader's own status: the hinted endpoint first (usually right), else every endpoint at once. */
async function findLeader(session: ShellSession): Promise<{ endpoint: string; status: NodeStatus }> {
  const hint = session.leaderHint;
  const hinted = hint ? await session.client.status(hint).catch(() => undefined) : undefined;
  if (hint && hinted?.role === 'leader') return { endpoint: hint, status: hinted };
  const rows = await gatherStatus(session.client, session.endpoints);
  const row = rows.find((candidate) => candidate.status?.role === 'leader');
  if (!row) {
    const reachable = rows.filter((candidate) => candidate.reachable).length;
    throw new PaxchainError(ErrorCode.UNAVAILABLE, `no leader among ${rows.length} endpoints (${reachable} reachable)`);
  }
  session.leaderHint = row.endpoint;
  return { endpoint: row.endpoint, status: row.status! };
}

function helpOutcome(): ShellOutcome {
  const width = Math.max(...SHELL_COMMANDS.map((command) => command.usage.length));
  const lines = SHELL_COMMANDS.map((command) => `${command.usage.padEnd(width)}  ${command.description}`);
  const commands = SHELL_COMMANDS.map(({ usage, description }) => ({ usage, description }));
  return { ok: true, lines, record: { command: 'help', ok: true, commands } };
}

/** Any error as one line; broken invariants still crash, as everywhere in paxchain. */
function errorOutcome(command: string | null, error: unknown): ShellOutcome {
  if (error instanceof AssertionError) throw error;
  const code = error instanceof PaxchainError ? error.code : 'ERROR';
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
  return { ok: false, lines: [`error ${code}: ${message}`], record: { command, ok: false, error: { code, message } } };
}

// ---------------------------------------------------------------------------------------------
// The session loop

/** A line, or the length of one that was too long to keep. */
export type ShellInput = string | { readonly tooLongBytes: number };

export interface ShellSummary {
  /** Commands run, failed ones included (empty lines, comments and exit do not count). */
  readonly commands: number;
  readonly failed: number;
  /** Ended by exit/quit rather than by the end of the input. */
  readonly exited: boolean;
}

export interface ShellOutput {
  readonly json: boolean;
  write(line: string): void;
  /** Called after every line; `ran` says whether it ran a command (the prompt refreshes then). */
  afterLine?(ran: boolean): Promise<void>;
}

/**
 * Runs the lines in order, one command at a time. The loop is bounded by its input, which is
 * pulled one line at a time (a pipe is read no faster than commands finish).
 */
export async function runShell(inputs: AsyncIterable<ShellInput>, session: ShellSession, output: ShellOutput): Promise<ShellSummary> {
  let commands = 0;
  let failed = 0;
  for await (const input of inputs) {
    const outcome = await runLine(input, session, output);
    if (outcome === 'exit') return { commands, failed, exited: true };
    if (outcome) {
      commands++;
      if (!outcome.ok) failed++;
      report(outcome, output);
    }
    await output.afterLine?.(outcome !== undefined);
  }
  return { commands, failed, exited: false };
}

async function runLine(input: ShellInput, session: ShellSession, output: ShellOutput): Promise<ShellOutcome | 'exit' | undefined> {
  const bytes = typeof input === 'string' ? Buffer.byteLength(input) : input.tooLongBytes;
  if (typeof input !== 'string' || bytes > LINE_BYTES_MAX) {
    return errorOutcome(null, invalid(`line of ${bytes} bytes is longer than the limit of ${LINE_BYTES_MAX}`));
  }
  let command: ShellCommand | null;
  try {
    command = parseLine(input);
  } catch (error) {
    return errorOutcome(nextToken(input, 0)?.text.toLowerCase().slice(0, 64) ?? null, error);
  }
  if (command === null) return undefined;
  if (command.name === 'exit') return 'exit';
  try {
    return await executeCommand(command, session, output);
  } catch (error) {
    return errorOutcome(command.name, error);
  }
}

function report(outcome: ShellOutcome, output: ShellOutput): void {
  if (output.json) output.write(JSON.stringify(outcome.record));
  else for (const line of outcome.lines) output.write(line);
}

// ---------------------------------------------------------------------------------------------
// Input

/** Collects one line's bytes, dropping them (but counting) once the line passes the limit. */
class LineBuffer {
  private parts: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly bytesMax: number) {}

  get empty(): boolean {
    return this.bytes === 0;
  }

  append(piece: Buffer): void {
    this.bytes += piece.length;
    if (this.bytes <= this.bytesMax) this.parts.push(piece);
    else this.parts = [];
  }

  take(): ShellInput {
    const bytes = this.bytes;
    const parts = this.parts;
    this.parts = [];
    this.bytes = 0;
    if (bytes > this.bytesMax) return { tooLongBytes: bytes };
    return Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
  }
}

/**
 * Splits a byte stream into lines (LF or CRLF). A line longer than `lineBytesMax` is never held
 * in memory: it comes out as { tooLongBytes } and the next line is read normally.
 */
export async function* readBoundedLines(chunks: AsyncIterable<Uint8Array | string>, lineBytesMax = LINE_BYTES_MAX): AsyncGenerator<ShellInput> {
  const line = new LineBuffer(lineBytesMax);
  for await (const chunk of chunks) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    let newline = bytes.indexOf(NEWLINE, start);
    while (newline !== -1) {
      line.append(bytes.subarray(start, newline));
      yield line.take();
      start = newline + 1;
      newline = bytes.indexOf(NEWLINE, start);
    }
    line.append(bytes.subarray(start));
  }
  if (!line.empty) yield line.take();
}

// ---------------------------------------------------------------------------------------------
// The interactive prompt

/** Rejects with TIMEOUT after `ms`; the work itself is left to finish (its own deadline bounds it). */
async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PaxchainError(ErrorCode.TIMEOUT, `no answer within ${ms} ms`)), ms);
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `paxchain [leader 2 @ 120]> `, from one status request of at most PROMPT_STATUS_TIMEOUT_MS to
 * the hinted node; a follower reports the leader's head as the leader last told it.
 */
export async function promptFor(session: ShellSession): Promise<string> {
  const endpoint = session.leaderHint ?? session.endpoints[0]!;
  let status: NodeStatus;
  try {
    status = await withDeadline(session.client.status(endpoint), PROMPT_STATUS_TIMEOUT_MS);
  } catch {
    // Ask the next node next time: this one may be down.
    session.leaderHint = session.endpoints[(session.endpoints.indexOf(endpoint) + 1) % session.endpoints.length];
    return 'paxchain [no leader]> ';
  }
  const leader = status.role === 'leader' ? status.nodeId : status.leader;
  if (!leader) return 'paxchain [no leader]> ';
  const member = status.members.find((candidate) => candidate.id === leader);
  if (member && session.endpoints.includes(member.endpoint)) session.leaderHint = member.endpoint;
  const head = status.role === 'leader' ? status.head : (member?.head ?? status.head);
  return `paxchain [leader ${leader} @ ${head ? head.height : '-'}]> `;
}

/** Ctrl-C drops the line being typed; on an empty line it ends the session, like Ctrl-D. */
function interrupt(reader: Interface, output: NodeJS.WritableStream): void {
  if (reader.line.length === 0) {
    reader.close();
    return;
  }
  // Like a shell: the typed text stays on screen after ^C, and a fresh prompt starts below it.
  output.write('^C\n');
  reader.write(null, { ctrl: true, name: 'e' });
  reader.write(null, { ctrl: true, name: 'u' });
  reader.prompt();
}

async function runInteractiveShell(session: ShellSession, input: NodeJS.ReadableStream, output: NodeJS.WritableStream, json: boolean): Promise<ShellSummary> {
  const reader = createInterface({ input, output, terminal: true, historySize: HISTORY_ENTRIES_MAX, removeHistoryDuplicates: true });
  let closed = false;
  reader.on('close', () => (closed = true));
  reader.on('SIGINT', () => interrupt(reader, output));
  reader.setPrompt(await promptFor(session));
  reader.prompt();
  // After Ctrl-D the lines already typed still run, but without a prompt: prompt() would resume
  // the terminal input, which keeps the process alive.
  const afterLine = async (ran: boolean) => {
    if (ran && !closed) reader.setPrompt(await promptFor(session));
    if (!closed) reader.prompt();
  };
  try {
    const summary = await runShell(reader, session, { json, write: (line) => output.write(`${line}\n`), afterLine });
    if (!summary.exited) output.write('\n');
    return summary;
  } finally {
    reader.close();
  }
}

/** The whole shell: interactive on a terminal, otherwise line by line from the input. */
export function startShell(options: {
  readonly client: PaxchainClient;
  readonly endpoints: readonly string[];
  readonly interactive: boolean;
  readonly json: boolean;
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
}): Promise<ShellSummary> {
  const session: ShellSession = { client: options.client, endpoints: options.endpoints, leaderHint: undefined };
  if (options.interactive) return runInteractiveShell(session, options.input, options.output, options.json);
  const write = (line: string) => void options.output.write(`${line}\n`);
  return runShell(readBoundedLines(options.input as AsyncIterable<Uint8Array | string>), session, { json: options.json, write });
}
