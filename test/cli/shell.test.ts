// paxchain shell: the line parser and the session loop without a cluster (a fake client), then
// the real CLI (bin/run.js, built by `npm test`) driven through a pipe against a real 3-node
// cluster: results in order, one line each, errors that do not end the session, exit codes,
// --json lines, quoting.
import { describe, expect, it } from 'vitest';
import type { PaxchainClient, WriteResult } from '../../src/client/client.js';
import { ErrorCode, PaxchainError } from '../../src/lib/errors.js';
import {
  LINE_BYTES_MAX,
  parseLine,
  PROMPT_STATUS_TIMEOUT_MS,
  promptFor,
  readBoundedLines,
  runShell,
  type ShellInput,
  type ShellSession,
  SHELL_COMMANDS,
  tokenize,
} from '../../src/cli/shell.js';
import type { MemberStatus, NodeStatus } from '../../src/transport/protocol.js';
import { bytes, runCli } from '../helpers.js';
import { freeBasePort, useTestCluster } from '../node/cluster-helpers.js';

/** Items an iterable in these tests yields at most. */
const COLLECT_MAX = 1000;

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
    if (items.length > COLLECT_MAX) throw new Error(`more than ${COLLECT_MAX} items`);
  }
  return items;
}

async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

function parseError(line: string): PaxchainError {
  try {
    parseLine(line);
  } catch (error) {
    return error as PaxchainError;
  }
  throw new Error(`"${line}" parsed without an error`);
}

describe('shell line parser', () => {
  it('tokenize: bare words, quoted strings keep spaces, \\" and \\\\ are the only escapes', () => {
    const tokens = tokenize('get  "a b"  c\\d "x\\"y\\\\z\\n" --stale');
    expect(tokens.map((token) => token.text)).toEqual(['get', 'a b', 'c\\d', 'x"y\\z\\n', '--stale']);
    expect(tokens.map((token) => token.quoted)).toEqual([false, true, false, true, false]);
  });

  it('tokenize refuses an unterminated quote, text glued to a closing quote, and too many words', () => {
    expect(() => tokenize('get "open')).toThrow(/unterminated quote at column 5/);
    expect(() => tokenize('get "a"b')).toThrow(/text right after a closing quote/);
    expect(() => tokenize(Array.from({ length: 17 }, () => 'w').join(' '))).toThrow(/more than 16 words/);
  });

  it('empty lines and # comments parse to nothing', () => {
    for (const line of ['', '   ', '\t', '# put a 1', '   #indented comment']) expect(parseLine(line)).toBeNull();
  });

  it('put: VALUE is the rest of the line as typed, or exactly one quoted string', () => {
    expect(parseLine('put fruit/apple 1.20')).toEqual({ name: 'put', key: 'fruit/apple', value: '1.20' });
    expect(parseLine('get --prefix fruit/ --limit 5 --keys-only')).toEqual({ name: 'range', start: 'fruit/', prefix: true, end: null, limit: 5, keysOnly: true, countOnly: false, stale: false });
    expect(parseLine('get a --end c --count-only')).toMatchObject({ name: 'range', start: 'a', prefix: false, end: 'c', countOnly: true, limit: 100 });
    expect(() => parseLine('get a --limit 5')).toThrow(/--prefix P, or KEY --end END/);
    expect(parseLine('txn value("k") = "a;b" ; absent("x") | put x "1|2" ; get k | get x')).toEqual({
      name: 'txn',
      request: {
        compares: [{ target: 'value', key: 'k', relation: '=', operand: 'a;b' }, { target: 'version', key: 'x', relation: '=', operand: 0 }],
        success: [{ kind: 'put', key: 'x', value: '1|2' }, { kind: 'get', key: 'k' }],
        failure: [{ kind: 'get', key: 'x' }],
      },
    });
    expect(() => parseLine('txn | put a 1 ; put a 2')).not.toThrow();
    expect(parseLine('watch k')).toEqual({ name: 'watch', key: 'k', prefix: false, fromHeight: undefined, count: 100, seconds: 10 });
    expect(parseLine('watch --prefix a/ --from-height 7 --count 3 --for 2')).toEqual({ name: 'watch', key: 'a/', prefix: true, fromHeight: 7, count: 3, seconds: 2 });
    expect(() => parseLine('watch k --prefix a/')).toThrow(/watch KEY, or --prefix P/);
    expect(() => parseLine('watch k --for 0')).toThrow(/--for needs an integer from 1 to 3600/);
    expect(() => parseLine('txn bogus("k")')).toThrow(/a compare is/);
    expect(parseLine('put greeting   hello   big  world  ')).toEqual({ name: 'put', key: 'greeting', value: 'hello   big  world' });
    expect(parseLine('put k say "hi" now')).toEqual({ name: 'put', key: 'k', value: 'say "hi" now' });
    expect(parseLine('put "a key" "  spaced \\"quoted\\" \\\\ "')).toEqual({ name: 'put', key: 'a key', value: '  spaced "quoted" \\ ' });
    expect(parseLine('put k ""')).toEqual({ name: 'put', key: 'k', value: '' });
    expect(parseLine('PUT k # not a comment')).toEqual({ name: 'put', key: 'k', value: '# not a comment' });
  });

  it('put usage errors', () => {
    for (const line of ['put', 'put k', 'put k    ']) expect(parseError(line).message).toBe('usage: put KEY VALUE');
    expect(parseError('put k "a" b').message).toMatch(/^a quoted VALUE must be the whole rest of the line; usage: put KEY VALUE$/);
    expect(parseError('put k "open').message).toMatch(/unterminated quote/);
    expect(parseError('put k "a"b').code).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('get, delete, status, head, help, exit and quit', () => {
    expect(parseLine('get k')).toEqual({ name: 'get', key: 'k', stale: false });
    expect(parseLine('get k --stale')).toEqual({ name: 'get', key: 'k', stale: true });
    expect(parseLine('get --stale k')).toEqual({ name: 'get', key: 'k', stale: true });
    expect(parseLine('get "--stale"')).toEqual({ name: 'get', key: '--stale', stale: false });
    expect(parseLine('delete "a b"')).toEqual({ name: 'delete', key: 'a b' });
    for (const name of ['status', 'head', 'help', 'exit']) expect(parseLine(`  ${name}  `)).toEqual({ name });
    expect(parseLine('quit')).toEqual({ name: 'exit' });
    expect(parseLine('Status')).toEqual({ name: 'status' });
  });

  it('cas: NEW --expect OLD, NEW --absent, --delete --expect OLD', () => {
    expect(parseLine('cas k 1.25 --expect 1.20')).toEqual({ name: 'cas', key: 'k', expect: '1.20', value: '1.25' });
    expect(parseLine('cas k --expect "old value" "new value"')).toEqual({ name: 'cas', key: 'k', expect: 'old value', value: 'new value' });
    expect(parseLine('cas k me --absent')).toEqual({ name: 'cas', key: 'k', expect: null, value: 'me' });
    expect(parseLine('cas k --delete --expect me')).toEqual({ name: 'cas', key: 'k', expect: 'me', value: null });
  });

  it('usage errors say what is wrong and how the command is used', () => {
    const casUsage = 'usage: cas KEY NEW --expect OLD | --absent or cas KEY --delete --expect OLD';
    const cases: Array<[string, string]> = [
      ['get', 'usage: get KEY [--stale] or get --prefix P | KEY --end END [--limit N] [--keys-only] [--count-only]'],
      ['get a b', 'usage: get KEY [--stale] or get --prefix P | KEY --end END [--limit N] [--keys-only] [--count-only]'],
      ['get a --fast', 'unknown option --fast; usage: get KEY [--stale] or get --prefix P | KEY --end END [--limit N] [--keys-only] [--count-only]'],
      ['delete', 'usage: delete KEY'],
      ['delete a --stale', 'unknown option --stale; usage: delete KEY'],
      ['cas k', `give one of --expect OLD and --absent; ${casUsage}`],
      ['cas k v', `give one of --expect OLD and --absent; ${casUsage}`],
      ['cas k v --expect a --absent', `give one of --expect OLD and --absent; ${casUsage}`],
      ['cas k --expect a', `give either NEW or --delete; ${casUsage}`],
      ['cas k v --delete --expect a', `give either NEW or --delete; ${casUsage}`],
      ['cas k v --expect', `--expect needs a value; ${casUsage}`],
      ['cas k v --expect a --expect b', `--expect given twice; ${casUsage}`],
      ['cas', casUsage],
      ['status now', 'status takes no arguments; usage: status'],
      ['frob x', 'unknown command "frob" (try help)'],
    ];
    for (const [line, message] of cases) {
      const error = parseError(line);
      expect(error.code, line).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(error.message, line).toBe(message);
    }
  });
});

// ---------------------------------------------------------------------------------------------

function nodeStatus(nodeId: number, role: string, leader: number, height: number, members: MemberStatus[] = []): NodeStatus {
  return {
    nodeId,
    clusterId: 'test',
    endpoint: `127.0.0.1:700${nodeId}`,
    role,
    leader,
    ballot: '1.1',
    promised: '1.1',
    voting: true,
    commitIndex: height,
    head: { height, hash: 'ab'.repeat(32) },
    stateRoot: null,
    keys: 0,
    diverged: null,
    members,
    uptimeMs: 0,
    counters: {},
  };
}

/** An in-memory stand-in for PaxchainClient that records how many calls ran at once. */
function fakeClient(status: (endpoint: string) => Promise<NodeStatus> = async () => nodeStatus(1, 'leader', 1, 1)) {
  const values = new Map<string, string>();
  const calls = { inFlight: 0, inFlightMax: 0, height: 0 };
  const write = async (result: string): Promise<WriteResult> => {
    calls.inFlight++;
    calls.inFlightMax = Math.max(calls.inFlightMax, calls.inFlight);
    await new Promise((resolve) => setTimeout(resolve, 1));
    calls.inFlight--;
    calls.height++;
    return { result, duplicate: false, height: calls.height, session: '00'.repeat(16), seq: calls.height };
  };
  const client = {
    put: async (key: string, value: string) => {
      if (key === 'boom') throw new PaxchainError(ErrorCode.TIMEOUT, 'no answer within 5000 ms;\na write may or may not have been applied');
      if (key === 'follower') throw new PaxchainError(ErrorCode.NOT_LEADER, '127.0.0.1:7002: not the leader');
      values.set(key, value);
      return write('OK');
    },
    get: async (key: string, options: { stale?: boolean }) => {
      const value = values.get(key);
      return { value: value === undefined ? null : bytes(value), height: calls.height, hash: new Uint8Array(32), stale: options.stale === true, endpoint: 'fake:1' };
    },
    delete: async (key: string) => write(values.delete(key) ? 'DELETED' : 'NOT_FOUND'),
    cas: async (key: string, expect: string | null, value: string | null) => {
      if ((values.get(key) ?? null) !== expect) return write('CAS_MISMATCH');
      if (value === null) values.delete(key);
      else values.set(key, value);
      return write(value === null ? 'DELETED' : 'OK');
    },
    status,
  };
  const session: ShellSession = { client: client as unknown as PaxchainClient, endpoints: ['127.0.0.1:7001', '127.0.0.1:7002'], leaderHint: undefined };
  return { session, calls };
}

async function runLines(session: ShellSession, inputs: readonly ShellInput[], json = false) {
  const lines: string[] = [];
  const summary = await runShell(fromArray(inputs), session, { json, write: (line) => lines.push(line) });
  return { lines, summary };
}

describe('shell session loop (fake client)', () => {
  it('runs the lines in order, one at a time, one line each; an error is one line and the session goes on', async () => {
    const { session, calls } = fakeClient();
    const { lines, summary } = await runLines(session, ['put a 1', 'frob', '', '# note', 'get a', 'get missing', 'put boom x', 'put follower x', 'cas a 2 --expect 9', 'cas a 2 --expect 1', 'delete a', 'delete a']);
    expect(lines).toEqual([
      'OK (height 1)',
      'error INVALID_ARGUMENT: unknown command "frob" (try help)',
      '1',
      '(not found)',
      'error TIMEOUT: no answer within 5000 ms; a write may or may not have been applied',
      'error NOT_LEADER: 127.0.0.1:7002: not the leader',
      'CAS_MISMATCH (height 2)',
      'OK (height 3)',
      'DELETED (height 4)',
      'NOT_FOUND (height 5)',
    ]);
    expect(summary).toEqual({ commands: 10, failed: 5, exited: false });
    expect(calls.inFlightMax).toBe(1);
  });

  it('exit and quit end the session: later lines are not run', async () => {
    const { session, calls } = fakeClient();
    expect(await runLines(session, ['put a 1', 'exit', 'put b 2'])).toEqual({ lines: ['OK (height 1)'], summary: { commands: 1, failed: 0, exited: true } });
    expect((await runLines(session, ['quit', 'put b 2'])).summary).toEqual({ commands: 0, failed: 0, exited: true });
    expect(calls.height).toBe(1);
  });

  it('--json: one record per command, with the result or the error code', async () => {
    const { session } = fakeClient();
    const { lines } = await runLines(session, ['put a 1', 'get a', 'put boom x', 'cas a 2 --expect 9', 'help'], true);
    const records = lines.map((line) => JSON.parse(line));
    expect(records[0]).toEqual({ command: 'put', ok: true, key: 'a', result: 'OK', height: 1, duplicate: false });
    expect(records[1]).toMatchObject({ command: 'get', ok: true, found: true, value: '1', encoding: 'utf8' });
    expect(records[2]).toEqual({ command: 'put', ok: false, error: { code: 'TIMEOUT', message: expect.stringMatching(/^no answer within 5000 ms; a write/) } });
    expect(records[3]).toMatchObject({ command: 'cas', ok: false, result: 'CAS_MISMATCH' });
    expect(records[4].commands).toHaveLength(SHELL_COMMANDS.length);
  });

  it('readBoundedLines: lines across chunks, CRLF, a last line without newline; an over-long line is refused, not kept', async () => {
    const chunks = ['pu', 't a 1\r\nget', ' a\n', 'x'.repeat(5), 'x'.repeat(5), '\nhelp\n', 'status'];
    expect(await collect(readBoundedLines(fromArray(chunks.map((chunk) => bytes(chunk))), 8))).toEqual(['put a 1', 'get a', { tooLongBytes: 10 }, 'help', 'status']);
    expect(await collect(readBoundedLines(fromArray(['a\n\nb\n'])))).toEqual(['a', '', 'b']);
  });

  it('a line over LINE_BYTES_MAX is one error line and the next line runs', async () => {
    const { session } = fakeClient();
    const { lines, summary } = await runLines(session, [{ tooLongBytes: LINE_BYTES_MAX + 1 }, `put big ${'x'.repeat(LINE_BYTES_MAX)}`, 'put a 1']);
    expect(lines).toEqual([
      `error INVALID_ARGUMENT: line of ${LINE_BYTES_MAX + 1} bytes is longer than the limit of ${LINE_BYTES_MAX}`,
      `error INVALID_ARGUMENT: line of ${LINE_BYTES_MAX + 8} bytes is longer than the limit of ${LINE_BYTES_MAX}`,
      'OK (height 1)',
    ]);
    expect(summary.failed).toBe(2);
  });

  it('the prompt names the leader and its head; [no leader] when unknown or the node is slow', async () => {
    const leader = fakeClient(async () => nodeStatus(2, 'leader', 2, 120));
    expect(await promptFor(leader.session)).toBe('paxchain [leader 2 @ 120]> ');

    // A follower tells the leader's head as the leader last reported it, and where the leader is.
    const members = [{ id: 1, endpoint: '127.0.0.1:7001', link: 'self' as const, head: { height: 117, hash: 'cd'.repeat(32) } }, { id: 2, endpoint: '127.0.0.1:7002', link: 'connected' as const, head: { height: 118, hash: 'ef'.repeat(32) } }];
    const follower = fakeClient(async () => nodeStatus(1, 'follower', 2, 117, members));
    expect(await promptFor(follower.session)).toBe('paxchain [leader 2 @ 118]> ');
    expect(follower.session.leaderHint).toBe('127.0.0.1:7002');

    expect(await promptFor(fakeClient(async () => nodeStatus(1, 'candidate', 0, 5)).session)).toBe('paxchain [no leader]> ');
    const down = fakeClient(async () => Promise.reject(new PaxchainError(ErrorCode.UNAVAILABLE, 'down')));
    expect(await promptFor(down.session)).toBe('paxchain [no leader]> ');
    expect(down.session.leaderHint).toBe('127.0.0.1:7002');

    const slow = fakeClient(() => new Promise(() => undefined));
    const started = performance.now();
    expect(await promptFor(slow.session)).toBe('paxchain [no leader]> ');
    expect(performance.now() - started).toBeLessThan(PROMPT_STATUS_TIMEOUT_MS + 500);
  });
});

// ---------------------------------------------------------------------------------------------

/** stdout as lines, without the empty string after the last newline. */
function outputLines(stdout: string): string[] {
  return stdout.split('\n').slice(0, -1);
}

function heightOf(line: string | undefined, result: string): number {
  const match = new RegExp(`^${result} \\(height (\\d+)\\)$`).exec(line ?? '');
  expect(match, `"${line}" should be "${result} (height N)"`).not.toBeNull();
  return Number(match![1]);
}

describe('paxchain shell against a 3-node cluster', () => {
  const test = useTestCluster(3);
  const shell = (input: string, extra: string[] = []) =>
    runCli(['shell', '--endpoints', test.cluster.endpoints.join(','), ...extra], { input, timeoutMs: 20_000 });

  it('a scripted session: put, get, cas, delete, a missing key, status, head and help, in order', async () => {
    const script = [
      'put fruit/apple 1.20',
      'get fruit/apple',
      'cas fruit/apple 1.25 --expect 1.20',
      'cas fruit/apple 9.99 --expect 1.20',
      'cas fruit/kiwi 0.50 --absent',
      'cas fruit/kiwi --delete --expect 0.50',
      'delete fruit/apple',
      'get fruit/apple',
      'status',
      'head',
      'help',
    ];
    const result = shell(script.join('\n'));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(1); // the CAS_MISMATCH and the missing key
    const lines = outputLines(result.stdout);
    const heights = [heightOf(lines[0], 'OK')];
    expect(lines[1]).toBe('1.20');
    heights.push(heightOf(lines[2], 'OK'), heightOf(lines[3], 'CAS_MISMATCH'), heightOf(lines[4], 'OK'), heightOf(lines[5], 'DELETED'), heightOf(lines[6], 'DELETED'));
    for (let index = 1; index < heights.length; index++) expect(heights[index]).toBeGreaterThan(heights[index - 1]!);
    expect(lines[7]).toBe('(not found)');
    expect(lines[8]).toMatch(/^ID\s+ENDPOINT\s+ROLE\s+BALLOT\s+VOTING\s+CHOSEN\s+APPLIED\s+HEAD HASH\s+STATE\s+CHECKPOINT\s+BODIES\s+DISK\s+REACHABLE$/);
    for (const line of lines.slice(9, 12)) expect(line, lines.join('\n')).toMatch(/\s(leader|follower)\s.*\syes$/);
    const leader = Number(/^leader: node (\d)$/.exec(lines[12]!)![1]);
    const head = /^height (\d+) {2}hash ([0-9a-f]{64}) {2}leader node (\d) \((127\.0\.0\.1:\d+)\)$/.exec(lines[13]!);
    expect(head, lines[13]).not.toBeNull();
    expect(Number(head![1])).toBeGreaterThanOrEqual(heights.at(-1)!);
    expect(Number(head![3])).toBe(leader);
    expect(head![4]).toBe(test.cluster.endpoint(leader));
    expect(lines.slice(14)).toHaveLength(SHELL_COMMANDS.length);
    expect(lines[14]).toMatch(/^put KEY VALUE\s+Set KEY to VALUE/);
    // The writes really happened.
    expect((await test.client.get('fruit/apple')).value).toBeNull();
    expect((await test.client.get('fruit/kiwi')).value).toBeNull();
  });

  it('watch prints the changes from a height, one line each, and ends after --count', async () => {
    const first = await test.client.put('sw/a', '1');
    await test.client.put('sw/b', '2');
    await test.client.delete('sw/a');
    const result = shell(`watch --prefix sw/ --from-height ${first.height} --count 3\nget sw/b\n`);
    const lines = outputLines(result.stdout);
    expect(lines[0]).toMatch(new RegExp(`^${first.height} PUT sw/a 1 `));
    expect(lines[1]).toMatch(/ PUT sw\/b 2 /);
    expect(lines[2]).toMatch(/ DELETE sw\/a$/);
    expect(lines[3]).toMatch(/^\(3 events; resume with --from-height \d+\)$/);
    expect(lines[4]).toBe('2');
    const json = outputLines(shell(`watch sw/b --from-height ${first.height} --count 1`, ['--json']).stdout).map((line) => JSON.parse(line));
    expect(json[0]).toMatchObject({ command: 'watch', event: { key: 'sw/b', value: '2', op: 'put' } });
    expect(json[1]).toMatchObject({ command: 'watch', ok: true, events: 1 });
  });

  it('exits 0 when every command succeeds; comments and empty lines are skipped; exit ends the session', () => {
    const result = shell('# set up\nput ok/a 1\n\nget ok/a\ndelete ok/never\nexit\nget ok/missing\n');
    expect(result.status).toBe(0);
    const lines = outputLines(result.stdout);
    expect(lines).toHaveLength(3);
    heightOf(lines[0], 'OK');
    expect(lines[1]).toBe('1');
    heightOf(lines[2], 'NOT_FOUND');
  });

  it('errors are single lines and the session goes on: unknown command, usage, bad key, over-long line', () => {
    const longLine = `put big ${'x'.repeat(LINE_BYTES_MAX)}`;
    const input = ['frobnicate now', 'put onlykey', 'cas k v', `get ${'k'.repeat(2000)}`, longLine, 'put err/ok fine', 'get err/ok'].join('\n');
    const result = shell(input);
    expect(result.status).toBe(1);
    const lines = outputLines(result.stdout);
    expect(lines.slice(0, 5)).toEqual([
      'error INVALID_ARGUMENT: unknown command "frobnicate" (try help)',
      'error INVALID_ARGUMENT: usage: put KEY VALUE',
      'error INVALID_ARGUMENT: give one of --expect OLD and --absent; usage: cas KEY NEW --expect OLD | --absent or cas KEY --delete --expect OLD',
      'error INVALID_ARGUMENT: key longer than 1024 bytes',
      `error INVALID_ARGUMENT: line of ${LINE_BYTES_MAX + 8} bytes is longer than the limit of ${LINE_BYTES_MAX}`,
    ]);
    heightOf(lines[5], 'OK');
    expect(lines.slice(6)).toEqual(['fine']);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/^\s+at /m);
  });

  it('an unreachable cluster: each command is one error line, and the session still ends', async () => {
    const port = await freeBasePort(1);
    const result = runCli(['shell', '--endpoints', `127.0.0.1:${port}`, '--timeout', '300'], { input: 'put a 1\nhead\nhelp\n', timeoutMs: 20_000 });
    expect(result.status).toBe(1);
    const lines = outputLines(result.stdout);
    expect(lines[0]).toMatch(/^error (UNAVAILABLE|TIMEOUT): /);
    expect(lines[1]).toBe('error UNAVAILABLE: no leader among 1 endpoints (0 reachable)');
    expect(lines.slice(2)).toHaveLength(SHELL_COMMANDS.length);
  });

  it('--json: one JSON line per command carrying its result, then the summary', () => {
    const result = shell('put j/a 1\nget j/a\nget j/missing\ncas j/a 2 --expect 9\nfrob\nhead\n', ['--json']);
    expect(result.status).toBe(1);
    const records = outputLines(result.stdout).map((line) => JSON.parse(line));
    expect(records).toHaveLength(7);
    expect(records[0]).toMatchObject({ command: 'put', ok: true, key: 'j/a', result: 'OK', duplicate: false, height: expect.any(Number) });
    expect(records[1]).toMatchObject({ command: 'get', ok: true, found: true, value: '1', stale: false, hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(records[2]).toMatchObject({ command: 'get', ok: false, found: false, value: null });
    expect(records[3]).toMatchObject({ command: 'cas', ok: false, result: 'CAS_MISMATCH' });
    expect(records[4]).toEqual({ command: 'frob', ok: false, error: { code: 'INVALID_ARGUMENT', message: 'unknown command "frob" (try help)' } });
    expect(records[5]).toMatchObject({ command: 'head', ok: true, height: expect.any(Number), leader: expect.any(Number) });
    expect(records[6]).toEqual({ commands: 6, failed: 3 });
  });

  it('quoting: values with spaces, quotes and backslashes, keys with spaces', async () => {
    const script = [
      'put q/plain hello   big world',
      'put "q/with space" "  padded \\"quoted\\" back\\\\slash "',
      'put q/inner say "hi" there',
      'cas q/inner "new value" --expect "say \\"hi\\" there"',
      'get q/plain',
      'get "q/with space"',
      'get q/inner',
      'get q/plain --stale',
    ];
    const result = shell(script.join('\n'));
    expect(result.status, result.stdout).toBe(0);
    const lines = outputLines(result.stdout);
    // Text with edge spaces or quotes prints as a JSON string (the one value renderer, render.ts).
    expect(lines.slice(4, 7)).toEqual(['hello   big world', JSON.stringify('  padded "quoted" back\\slash '), 'new value']);
    expect(lines[7]).toMatch(/^hello {3}big world {2}\[stale read at height \d+ [0-9a-f]{16} from 127\.0\.0\.1:\d+\]$/);
    expect(new TextDecoder().decode((await test.client.get('q/with space')).value!)).toBe('  padded "quoted" back\\slash ');
  });
});
