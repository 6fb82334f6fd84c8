// LevelDB's open and IO errors come back with stable codes that name the store (before: the
// generic code ERROR and abstract-level's "Database failed to open", LevelDB's reason hidden).
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, type PaxchainError } from '../../src/lib/errors.js';
import { LevelBackend } from '../../src/storage/level-backend.js';
import { runCli, tempDir } from '../helpers.js';

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.cleanup());

async function storeWithData(): Promise<string> {
  dir = tempDir('paxchain-level-');
  const location = join(dir.path, 'db');
  const backend = await LevelBackend.open(location, { create: true });
  await backend.write([{ type: 'put', key: new Uint8Array([1]), value: new Uint8Array([2]) }], { sync: true });
  await backend.close();
  return location;
}

async function openError(location: string): Promise<PaxchainError> {
  return (await LevelBackend.open(location, { create: false }).then(
    () => new Error('opened'),
    (error: unknown) => error,
  )) as PaxchainError;
}

describe('LevelBackend errors', () => {
  it('a store whose manifest is gone is CORRUPT_DATA, naming the store and the missing file', async () => {
    const location = await storeWithData();
    for (const name of readdirSync(location).filter((file) => file.startsWith('MANIFEST-'))) rmSync(join(location, name));
    const error = await openError(location);
    expect(error.code).toBe(ErrorCode.CORRUPT_DATA);
    expect(error.message).toContain(`store ${location} is damaged`);
    expect(error.message).toMatch(/MANIFEST-\d+: No such file/);
    expect(error.details).toMatchObject({ location, operation: 'open' });
  });

  it('a CURRENT file of garbage is CORRUPT_DATA; a directory with no database is NO_STORE', async () => {
    const location = await storeWithData();
    writeFileSync(join(location, 'CURRENT'), 'garbage\n');
    expect((await openError(location)).code).toBe(ErrorCode.CORRUPT_DATA);
    expect((await openError(join(dir!.path, 'nothing-here'))).code).toBe(ErrorCode.NO_STORE);
  });

  it('a store held by another process is STORE_LOCKED', async () => {
    const location = await storeWithData();
    const first = await LevelBackend.open(location, { create: false });
    try {
      const error = await openError(location);
      expect(error.code).toBe(ErrorCode.STORE_LOCKED);
      expect(error.message).toContain(location);
    } finally {
      await first.close();
    }
  });

  it('chain verify on such a store exits 1 with CORRUPT_DATA, not ERROR', async () => {
    const location = await storeWithData();
    for (const name of readdirSync(location).filter((file) => file.startsWith('MANIFEST-'))) rmSync(join(location, name));
    const result = runCli(['chain', 'verify', '--data', dir!.path, '--json']);
    expect(result.status).toBe(1);
    expect(result.json().error.code).toBe('CORRUPT_DATA');
  });
});
