/** Shared test helpers: temp dirs, the built CLI, a reference state root. */
import { spawn, spawnSync } from 'node:child_process';
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

/** runCli without blocking the event loop (for a CLI that waits on what the test does meanwhile). */
export function runCliAsync(args: string[], options: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr, json: () => JSON.parse(stdout) });
    });
  });
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

/** A key as the trie reads it, one character per bit: 9 per byte ('1' + the byte's 8 bits), then '0's. */
function bitString(key: Uint8Array, length: number): string {
  let bits = '';
  for (const byte of key) bits += '1' + byte.toString(2).padStart(8, '0');
  return bits.padEnd(length, '0');
}

/**
 * The root of a Merkle crit-bit trie over (key, leaf hash) pairs, from its definition
 * (src/kv/state-trie.ts): split the set at the first bit in which its keys differ, recursively.
 */
export function referenceTrieRoot(leaves: ReadonlyArray<{ key: Uint8Array; hash: Uint8Array }>): Uint8Array {
  if (leaves.length === 0) return new Uint8Array(32);
  const width = 9 * (Math.max(...leaves.map((leaf) => leaf.key.length)) + 1);
  const split = (items: Array<{ bits: string; hash: Uint8Array }>): Uint8Array => {
    if (items.length === 1) return items[0]!.hash;
    let crit = 0;
    while (items.every((item) => item.bits[crit] === items[0]!.bits[crit])) crit++;
    const left = split(items.filter((item) => item.bits[crit] === '0'));
    const right = split(items.filter((item) => item.bits[crit] === '1'));
    return nobleDigest(new Uint8Array([0x03, crit >>> 24, (crit >>> 16) & 0xff, (crit >>> 8) & 0xff, crit & 0xff, ...left, ...right]));
  };
  return split(leaves.map((leaf) => ({ bits: bitString(leaf.key, width), hash: leaf.hash })));
}

/**
 * The state root computed from scratch, straight from its definition (src/kv/state.ts and
 * src/kv/state-trie.ts), with @noble/hashes and a recursive trie: the independent reference the
 * incremental implementation is checked against.
 */
export function referenceRoot(state: KvState): string {
  const encoder = new TextEncoder();
  const entries = [...state.allEntries()].map(([key, value]) => {
    const keyBytes = encoder.encode(key);
    const { createHeight, modHeight, version } = state.entry(keyBytes)!.revisions;
    const revisions = [...u64(createHeight), ...u64(modHeight), ...u64(version)];
    return { key: keyBytes, hash: nobleDigest(new Uint8Array([0x01, keyBytes.length >> 8, keyBytes.length & 0xff, ...keyBytes, ...revisions, ...value])) };
  });
  const sessions = [...state.allSessions()].map((session) => ({
    key: session.id,
    hash: nobleDigest(new Uint8Array([0x02, ...session.id, ...u64(session.seq), session.result, ...u64(session.height)])),
  }));
  const tag = encoder.encode('paxchain/state/1\0');
  return Buffer.from(nobleDigest(new Uint8Array([...tag, ...referenceTrieRoot(entries), ...referenceTrieRoot(sessions)]))).toString('hex');
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
