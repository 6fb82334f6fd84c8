#!/usr/bin/env node
// Builds the optional native addons, the batch SHA-256 one (src/native/sha256.c) and the memory
// one (src/native/memory.cc, V8's LowMemoryNotification for the reclaim after a flood), with
// node-gyp against the headers of the Node.js that runs this script. Part of `npm run build`. If the build is not
// possible here (no compiler, no headers), paxchain still works: src/native/sha256.ts falls back
// to node:crypto and says so in `paxchain dev bench-hash`, and the reclaim to gc(). Set PAXCHAIN_NATIVE=off to skip.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outputs = ['paxchain_sha256.node', 'paxchain_memory.node'].map((name) => join(here, 'build', 'Release', name));
const output = outputs[0];
const sources = [join(here, 'sha256.c'), join(here, 'memory.cc'), join(here, 'binding.gyp')];

if (process.env.PAXCHAIN_NATIVE === 'off') {
  console.log('native addons: skipped (PAXCHAIN_NATIVE=off)');
  process.exit(0);
}
const built = (file) => existsSync(file) && sources.every((source) => statSync(source).mtimeMs <= statSync(file).mtimeMs);
if (outputs.every(built)) {
  console.log('native addons: up to date');
  process.exit(0);
}

// npm names its bundled node-gyp in npm_config_node_gyp for scripts; outside npm, look for the
// copy that ships with the npm next to this node binary.
const prefix = dirname(dirname(process.execPath));
const bundledGyp = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = process.env.npm_config_node_gyp ?? (existsSync(bundledGyp) ? bundledGyp : undefined);
const command = gyp ? process.execPath : 'node-gyp';
const args = gyp ? [gyp, 'rebuild'] : ['rebuild'];
// Build against the headers that ship next to this node binary when they exist (no download).
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
const result = spawnSync(command, args, { cwd: here, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (result.status === 0 && outputs.every((file) => existsSync(file))) {
  console.log('native addons: built');
} else {
  const reason = result.error ? result.error.message : (result.stderr || '').trim().split('\n').slice(-3).join(' | ');
  console.warn(`native addons: not built, falling back to node:crypto and gc() (${reason})`);
}
