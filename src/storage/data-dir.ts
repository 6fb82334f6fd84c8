/**
 * A node's data directory:
 *
 *   DIR/db/      LevelDB: blocks, head pointer, acceptor state (key schema: src/storage/keys.ts)
 *
 * Everything the node must not lose lives in DIR/db; deleting DIR is a "wipe".
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Sha256 } from '../lib/sha256.js';
import { ChainStore } from './chain-store.js';
import { LevelBackend } from './level-backend.js';

export function databasePath(dataDir: string): string {
  return join(dataDir, 'db');
}

/**
 * Opens the chain store in `dataDir`. Without `create`, a directory with no store is NO_STORE;
 * a store another process holds is STORE_LOCKED.
 */
export async function openDataDir(dataDir: string, sha256: Sha256, options: { create: boolean; writeBufferBytes?: number }): Promise<ChainStore> {
  if (options.create) mkdirSync(dataDir, { recursive: true });
  const backend = await LevelBackend.open(databasePath(dataDir), options);
  try {
    return await ChainStore.open(backend, sha256);
  } catch (error) {
    await backend.close();
    throw error;
  }
}

/** Most directory entries directoryBytes looks at (a LevelDB directory holds far fewer). */
const DATA_DIR_ENTRIES_MAX = 100_000;

/** Bytes of the files in `dir` and its direct subdirectories, or null if unreadable. */
export function directoryBytes(dir: string): number | null {
  try {
    let total = 0;
    const entries = readdirSync(dir, { withFileTypes: true });
    for (let i = 0; i < entries.length && i < DATA_DIR_ENTRIES_MAX; i++) {
      const entry = entries[i]!;
      if (entry.isFile()) total += statSync(join(dir, entry.name)).size;
      else if (entry.isDirectory()) for (const name of readdirSync(join(dir, entry.name)).slice(0, DATA_DIR_ENTRIES_MAX)) total += statSync(join(dir, entry.name, name)).size;
    }
    return total;
  } catch {
    return null;
  }
}

