// The chain tools through the real CLI (bin/run.js, built by `npm test`), on real LevelDB stores:
// intact chains verify; tampered ones exit 1 naming the exact first bad height; bad input gets a
// clear error with a stable code, never a stack trace or a hang.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastSha256 } from '../../src/native/sha256.js';
import { ChainStore } from '../../src/storage/chain-store.js';
import { blockKey } from '../../src/storage/keys.js';
import { LevelBackend } from '../../src/storage/level-backend.js';
import { runCli, tempDir } from '../helpers.js';

let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir('paxchain-cli-');
});
afterAll(() => dir?.cleanup());

const gen = (name: string, extra: string[] = []) =>
  runCli(['dev', 'gen', '--data', join(dir.path, name), '--blocks', '200', '--commands-per-block', '5', '--json', ...extra]);

/** Edits a stopped node's store directly, as an attacker or a bad disk would. */
async function edit(name: string, change: (backend: LevelBackend) => Promise<void>): Promise<void> {
  const backend = await LevelBackend.open(join(dir.path, name, 'db'), { create: false });
  try {
    await change(backend);
  } finally {
    await backend.close();
  }
}

async function readBlock(name: string, height: number): Promise<Uint8Array> {
  let record: Uint8Array | undefined;
  await edit(name, async (backend) => {
    record = await (await ChainStore.open(backend, fastSha256)).getRecord(height);
  });
  return record!;
}

function verify(name: string, extra: string[] = []) {
  return runCli(['chain', 'verify', '--data', join(dir.path, name), '--json', ...extra]);
}

describe('paxchain chain tools', () => {
  let head: { height: number; hash: string };

  beforeAll(() => {
    const result = gen('good');
    expect(result.status, result.stderr).toBe(0);
    head = result.json().head;
    expect(head.height).toBe(200);
  });

  it('dev gen is deterministic: the same flags give the same head hash', () => {
    const again = gen('again');
    expect(again.json().head).toEqual(head);
  });

  it('chain verify: an intact chain exits 0 and reports its head and state digest', () => {
    const result = verify('good');
    expect(result.status).toBe(0);
    const report = result.json();
    expect(report).toMatchObject({ ok: true, blocksVerified: 201, commands: 1000, problem: null, verifiedHead: head });
    expect(report.stateRoot).toMatch(/^[0-9a-f]{64}$/);
    const human = runCli(['chain', 'verify', '--data', join(dir.path, 'good')]);
    expect(human.stdout).toContain('chain OK: 201 blocks (0..200)');
  });

  it('chain verify --expect-head accepts a head the chain contains and rejects one it does not', async () => {
    const list = runCli(['chain', 'list', '--data', join(dir.path, 'good'), '--from', '150', '--to', '150', '--json']).json();
    const inside = `150:${list.blocks[0].hash}`;
    expect(verify('good', ['--expect-head', inside]).status).toBe(0);
    const wrong = verify('good', ['--expect-head', `150:${'ab'.repeat(32)}`]);
    expect(wrong.status).toBe(1);
    expect(wrong.json().problem).toMatchObject({ height: 150, reason: 'EXPECTED_HEAD_MISMATCH' });
    // A whole chain that is not the expected one is a mismatch, not damage.
    const wrongText = runCli(['chain', 'verify', '--data', join(dir.path, 'good'), '--expect-head', `150:${'ab'.repeat(32)}`]);
    expect(wrongText.status).toBe(1);
    expect(wrongText.stdout).toContain('chain does NOT contain the expected head 150: EXPECTED_HEAD_MISMATCH');
    expect(wrongText.stdout).not.toContain('BROKEN');
    const malformed = verify('good', ['--expect-head', '150:xyz']);
    expect(malformed.status).toBe(2);
    expect(malformed.json().error.code).toBe('INVALID_ARGUMENT');
  });

  it('chain head, list and show describe blocks; show replays to give each command\'s result', () => {
    const headResult = runCli(['chain', 'head', '--data', join(dir.path, 'good'), '--json']).json();
    expect(headResult).toMatchObject({ height: 200, hash: head.hash, clusterId: 'dev', kind: 'batch', commands: 5 });
    const list = runCli(['chain', 'list', '--data', join(dir.path, 'good'), '--from', '0', '--to', '3', '--json']).json();
    expect(list.blocks.map((block: { height: number }) => block.height)).toEqual([0, 1, 2, 3]);
    expect(list.blocks[0]).toMatchObject({ kind: 'genesis', members: [1, 2, 3] });
    expect(list.blocks[1].prevHash).toBe(list.blocks[0].hash);
    const show = runCli(['chain', 'show', '7', '--data', join(dir.path, 'good'), '--json']).json();
    expect(show.resultsVerified).toBe(true);
    expect(show.commands).toHaveLength(5);
    for (const command of show.commands) expect(['OK', 'DELETED', 'NOT_FOUND', 'CAS_MISMATCH']).toContain(command.result);
    const text = runCli(['chain', 'show', '7', '--data', join(dir.path, 'good')]).stdout;
    expect(text).toContain('block 7 (batch, 5 commands');
    expect(text).toMatch(/-> (OK|DELETED|NOT_FOUND|CAS_MISMATCH)/);
  });

  it('a flipped byte is reported at its block with exit code 1', async () => {
    gen('flip');
    const record = await readBlock('flip', 50);
    record[record.length - 3] ^= 0x40;
    await edit('flip', (backend) => backend.write([{ type: 'put', key: blockKey(50), value: record }], { sync: true }));
    const result = verify('flip');
    expect(result.status).toBe(1);
    expect(result.json()).toMatchObject({ ok: false, problem: { height: 50, reason: 'BODY_HASH_MISMATCH' }, verifiedHead: { height: 49 } });
    const human = runCli(['chain', 'verify', '--data', join(dir.path, 'flip')]);
    expect(human.status).toBe(1);
    expect(human.stdout).toContain('chain BROKEN at height 50: BODY_HASH_MISMATCH');
    // show of a later block cannot vouch for its results, and says why.
    const show = runCli(['chain', 'show', '60', '--data', join(dir.path, 'flip'), '--json']);
    expect(show.status).toBe(1);
    expect(show.json()).toMatchObject({ resultsVerified: false, problem: { height: 50 } });
  });

  it('a deleted block, swapped blocks and a block from another cluster are each reported at the exact height', async () => {
    gen('deleted');
    await edit('deleted', (backend) => backend.write([{ type: 'del', key: blockKey(77) }], { sync: true }));
    expect(verify('deleted').json().problem).toMatchObject({ height: 77, reason: 'MISSING_BLOCK' });

    gen('swapped');
    const ten = await readBlock('swapped', 10);
    const twenty = await readBlock('swapped', 20);
    await edit('swapped', (backend) =>
      backend.write(
        [
          { type: 'put', key: blockKey(10), value: twenty },
          { type: 'put', key: blockKey(20), value: ten },
        ],
        { sync: true },
      ),
    );
    expect(verify('swapped').json().problem).toMatchObject({ height: 10, reason: 'HEIGHT_MISMATCH' });

    gen('spliced');
    gen('other', ['--cluster-id', 'another', '--seed', '9']);
    const alien = await readBlock('other', 30);
    await edit('spliced', (backend) => backend.write([{ type: 'put', key: blockKey(30), value: alien }], { sync: true }));
    expect(verify('spliced').json().problem).toMatchObject({ height: 30, reason: 'PREV_HASH_MISMATCH' });
  });

  it('a LevelDB file overwritten with garbage gives a clear CORRUPT_DATA error, not a crash', () => {
    gen('garbage');
    const db = join(dir.path, 'garbage', 'db');
    for (const file of readdirSync(db)) if (file !== 'LOCK') writeFileSync(join(db, file), 'garbage, not a table');
    const result = verify('garbage');
    expect(result.status).toBe(1);
    expect(result.json().error.code).toBe('CORRUPT_DATA');
    const human = runCli(['chain', 'verify', '--data', join(dir.path, 'garbage')]);
    expect(human.stderr).toContain('CORRUPT_DATA');
    expect(human.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('bad input: a missing store, a height beyond the head, a non-numeric height', () => {
    const missing = runCli(['chain', 'verify', '--data', join(dir.path, 'nothing-here'), '--json']);
    expect(missing.status).toBe(1);
    expect(missing.json().error.code).toBe('NO_STORE');
    const beyond = runCli(['chain', 'show', '9999', '--data', join(dir.path, 'good'), '--json']);
    expect(beyond.status).toBe(1);
    expect(beyond.json().error.code).toBe('NOT_FOUND');
    const words = runCli(['chain', 'show', 'ten', '--data', join(dir.path, 'good')]);
    expect(words.status).toBe(2);
    expect(words.stderr).toContain('INVALID_ARGUMENT');
    const usage = runCli(['chain', 'verify', '--json']);
    expect(usage.status).toBe(2); // a missing required flag is a usage error, in --json mode too
    expect(usage.json().error.code).toBe('INVALID_ARGUMENT');
    const usageText = runCli(['chain', 'verify']);
    expect(usageText.status).toBe(2);
    expect(usageText.stderr).toContain('INVALID_ARGUMENT:');
    expect(usageText.stderr).toContain('Missing required flag data');
    const backwards = runCli(['chain', 'list', '--data', join(dir.path, 'good'), '--from', '5', '--to', '2', '--json']);
    expect(backwards.status).toBe(2);
    expect(backwards.json().error).toMatchObject({ code: 'INVALID_ARGUMENT', message: '--from 5 is above --to 2' });
    const unknown = runCli(['chain', 'frob']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('INVALID_ARGUMENT: unknown command "chain frob"');
    const unknownJson = runCli(['frob', '--json']);
    expect(unknownJson.status).toBe(2);
    expect(unknownJson.json().error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('unknown command "frob"') });
    const exists = gen('good');
    expect(exists.status).toBe(1);
    expect(exists.json().error.code).toBe('ALREADY_EXISTS');
  });
});
