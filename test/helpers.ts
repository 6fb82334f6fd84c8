/** Shared test helpers: temp dirs, the built CLI, a reference state digest. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 as nobleDigest } from '@noble/hashes/sha2.js';
import type { KvState } from '../src/kv/state.js';
import { fixedSessionId } from '../src/kv/session.js';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));
export const cliPath = join(projectRoot, 'bin', 'run.js');

/** A temp dir removed by the returned cleanup (call it in afterEach/afterAll). */
export function tempDir(prefix = 'paxchain-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface CliResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  json<T = any>(): T;
}

/** Runs the built CLI (npm test builds first) and waits for it. */
export function runCli(args: string[], options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): CliResult {
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    input: options.input,
    timeout: options.timeoutMs ?? 60_000,
  });
  return {
    status: result.status ?? -1,
    stdout: result.stdout,
    stderr: result.stderr,
    json() {
      return JSON.parse(result.stdout);
    },
  };
}

const TWO_POW_256 = 1n << 256n;

function littleEndian(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}

function u64(value: number): number[] {
  const out: number[] = [];
  let big = BigInt(value);
  for (let i = 0; i < 8; i++) {
    out.unshift(Number(big & 0xffn));
    big >>= 8n;
  }
  return out;
}

/**
 * The state digest computed from scratch, straight from its definition (src/kv/state.ts and
 * src/kv/digest.ts), with BigInt arithmetic and @noble/hashes: the independent reference the
 * incremental implementation is checked against.
 */
export function referenceDigest(state: KvState): string {
  let sum = 0n;
  const encoder = new TextEncoder();
  for (const [key, value] of state.allEntries()) {
    const keyBytes = encoder.encode(key);
    const element = new Uint8Array([0x01, keyBytes.length >> 8, keyBytes.length & 0xff, ...keyBytes, ...value]);
    sum += littleEndian(nobleDigest(element));
  }
  for (const session of state.allSessions()) {
    const element = new Uint8Array([0x02, ...session.id, ...u64(session.seq), session.result, ...u64(session.height)]);
    sum += littleEndian(nobleDigest(element));
  }
  sum %= TWO_POW_256;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(sum & 0xffn);
    sum >>= 8n;
  }
  return Buffer.from(out).toString('hex');
}

/** Session id number n for hand-built commands (fixedSessionId); 0 = no session (nil). */
export function sid(n: number): Uint8Array | null {
  return n === 0 ? null : fixedSessionId(n);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
