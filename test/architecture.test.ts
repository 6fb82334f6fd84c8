// ARCHITECTURE §1: the pure core does no I/O, reads no clock, draws no unseeded randomness and
// is not async; imports point down the layer list, never up.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from './helpers.js';

/** Each src folder and the src folders it may import from. */
const layers: Record<string, string[]> = {
  lib: [],
  chain: ['lib'],
  kv: ['lib'],
  paxos: ['lib'],
  replica: ['lib', 'chain', 'kv', 'paxos'],
  native: ['lib'],
  storage: ['lib', 'chain', 'kv', 'paxos', 'replica'],
  transport: ['lib', 'chain', 'kv'],
  node: ['lib', 'chain', 'kv', 'paxos', 'replica', 'storage', 'transport', 'native'],
  client: ['lib', 'chain', 'kv', 'transport'],
  cli: ['lib', 'chain', 'kv', 'paxos', 'replica', 'storage', 'transport', 'native', 'node', 'client'],
};
const pure = ['lib', 'chain', 'kv', 'paxos', 'replica'];
const forbiddenInPure: Array<[RegExp, string]> = [
  [/from ['"]node:/, 'node:* import'],
  [/from ['"](level|classic-level)['"]/, 'LevelDB import'],
  [/\bDate\.now\b|\bnew Date\(/, 'wall clock'],
  [/\bperformance\.now\b/, 'clock'],
  [/\bMath\.random\b/, 'unseeded randomness'],
  [/\bset(Timeout|Interval|Immediate)\b/, 'timers'],
  [/\basync\b|\bawait\b/, 'async code'],
  [/\bprocess\./, 'process access'],
  [/\bBuffer\./, 'Node Buffer'],
];

function sources(folder: string): string[] {
  const root = join(projectRoot, 'src', folder);
  let entries: string[] = [];
  try {
    entries = readdirSync(root, { recursive: true }) as string[];
  } catch {
    return [];
  }
  return entries.filter((file) => file.endsWith('.ts')).map((file) => join(root, file));
}

function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

describe('architecture', () => {
  it('every src folder is a known layer', () => {
    const folders = readdirSync(join(projectRoot, 'src'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    for (const folder of folders) expect(Object.keys(layers), `src/${folder}`).toContain(folder);
  });

  for (const folder of pure) {
    it(`src/${folder} is pure: no I/O, clock, unseeded randomness or async`, () => {
      for (const file of sources(folder)) {
        const code = stripComments(readFileSync(file, 'utf8'));
        for (const [pattern, what] of forbiddenInPure) {
          expect(pattern.test(code), `${relative(projectRoot, file)} uses ${what}`).toBe(false);
        }
      }
    });
  }

  for (const [folder, allowed] of Object.entries(layers)) {
    it(`src/${folder} imports only from ${allowed.join(', ') || 'no other src folder'}`, () => {
      for (const file of sources(folder)) {
        const code = readFileSync(file, 'utf8');
        for (const match of code.matchAll(/from ['"](\.\.?\/[^'"]+)['"]/g)) {
          const target = relative(join(projectRoot, 'src'), join(file, '..', match[1]!)).split(/[\\/]/)[0]!;
          if (target === folder || target.startsWith('..')) continue;
          expect(allowed, `${relative(projectRoot, file)} imports src/${target}`).toContain(target);
        }
      }
    });
  }
});
