// Bytes in, bytes out (issue 10, finding 4): invalid UTF-8 on the command line is refused instead
// of silently becoming U+FFFD, and every command renders values through one unambiguous renderer.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readView } from '../../src/cli/client-ops.js';
import { commandLine, keyText, valueText, viewCommand, viewValue } from '../../src/cli/render.js';
import { fixedSessionId } from '../../src/kv/session.js';
import { cliPath, runCli } from '../helpers.js';

const NO_CLUSTER = ['--endpoints', '127.0.0.1:1', '--timeout', '300'];

/** Runs the built CLI through bash, so argv can hold bytes that are not UTF-8 ($'\xff'). */
function bash(argsScript: string): { status: number; stdout: string; stderr: string } {
  const result = spawnSync('bash', ['-c', `exec "${process.execPath}" "${cliPath}" ${argsScript}`], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

describe('CLI arguments are taken byte for byte or refused', () => {
  it("put $'bin/\\xff' and $'bin/\\xfe' no longer become one key: each is refused, naming the argument", () => {
    for (const key of ["$'bin/\\xff'", "$'bin/\\xfe'"]) {
      const refused = bash(`put ${key} a --json ${NO_CLUSTER.join(' ')}`);
      expect(refused.status).toBe(2);
      expect(JSON.parse(refused.stdout).error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^KEY is not valid UTF-8.*--key-hex/) });
    }
    const value = bash(`put k $'v\\xff' --json ${NO_CLUSTER.join(' ')}`);
    expect(JSON.parse(value.stdout).error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^VALUE is not valid UTF-8.*--value-hex/) });
    for (const command of ['get', 'delete']) {
      expect(JSON.parse(bash(`${command} $'bin/\\xff' --json ${NO_CLUSTER.join(' ')}`).stdout).error.message).toMatch(/^KEY is not valid UTF-8/);
    }
    const expectArgument = bash(`cas k new --expect $'\\xfe' --json ${NO_CLUSTER.join(' ')}`);
    expect(JSON.parse(expectArgument.stdout).error.message).toMatch(/^EXPECT is not valid UTF-8.*--expect-hex/);
  });

  it('binary forms are checked too: keys must be UTF-8, hex and base64 must parse, one form at a time', () => {
    const refusal = (args: string[]) => runCli([...args, '--json', ...NO_CLUSTER]).json().error.message as string;
    expect(refusal(['put', '--key-hex', '62696e2fff', 'v'])).toMatch(/--key-hex: keys are UTF-8 text/);
    expect(refusal(['put', 'k', '--value-hex', 'abc'])).toMatch(/--value-hex is not hex/);
    expect(refusal(['put', 'k', '--value-base64', 'a$=='])).toMatch(/--value-base64 is not base64/);
    expect(refusal(['put', 'k', 'v', '--value-hex', '00'])).toMatch(/give VALUE once/);
    expect(refusal(['put', 'k', 'v', '--key-hex', '6b'])).toMatch(/either as KEY or with --key-hex/);
    expect(refusal(['put', 'k', '--value-file', '/nonexistent/file'])).toMatch(/--value-file/);
  });
});

describe('one value renderer', () => {
  const text = (value: string) => valueText(viewValue(new TextEncoder().encode(value)));

  it('text prints as itself when plain; text that looks like a marker, or holds control characters, prints quoted', () => {
    expect(text('1.20')).toBe('1.20');
    expect(text('hello world')).toBe('hello world');
    expect(text('base64:AAAA')).toBe('"base64:AAAA"');
    expect(text('(not found)')).toBe('"(not found)"');
    expect(text('line\nbreak\u0007')).toBe('"line\\nbreak\\u0007"');
    expect(text('"quoted"')).toBe('"\\"quoted\\""');
    expect(text('')).toBe('""');
    expect(text(' padded')).toBe('" padded"');
    // Bytes that are not UTF-8 are base64, unquoted: never confusable with a text value.
    expect(valueText(viewValue(Uint8Array.of(0xff, 0xfe)))).toBe('base64://4=');
    expect(viewValue(Uint8Array.of(0xff, 0xfe))).toEqual({ encoding: 'base64', data: '//4=' });
  });

  it('get, chain show and kv dump render the same bytes the same way', () => {
    const bytes = Uint8Array.of(0x62, 0x0a, 0xff);
    const read = readView('k', { value: bytes, height: 1, hash: new Uint8Array(32), stale: false, endpoint: 'e' });
    expect(read.line).toBe('base64:Ygr/');
    expect(read.record).toMatchObject({ found: true, encoding: 'base64', value: 'Ygr/' });
    const absent = readView('k', { value: null, height: 1, hash: new Uint8Array(32), stale: false, endpoint: 'e' });
    expect(absent.line).toBe('(not found)');
    const shown = commandLine(viewCommand([1, fixedSessionId(1), 1, 'k', bytes]));
    expect(shown).toContain('put k = base64:Ygr/');
    const looksLikeMarker = readView('k', { value: new TextEncoder().encode('(not found)'), height: 1, hash: new Uint8Array(32), stale: false, endpoint: 'e' });
    expect(looksLikeMarker.line).toBe('"(not found)"');
    expect(commandLine(viewCommand([1, fixedSessionId(1), 1, 'a\tkey', new TextEncoder().encode('(not found)')]))).toContain('put "a\\tkey" = "(not found)"');
    expect(keyText('fruit/apple')).toBe('fruit/apple');
  });
});
