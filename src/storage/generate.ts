/**
 * Builds a valid chain in a data directory from a seeded workload (`paxchain dev gen`): genesis,
 * then `blocks` batch blocks of `commandsPerBlock` commands, appended through the same Ledger the
 * node uses and written in large unsynced batches with one sync at the end.
 */
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import type { Sha256 } from '../lib/sha256.js';
import type { BlockRef } from '../chain/block.js';
import { encodeBatchBody, type GenesisConfig } from '../chain/body.js';
import { Workload, type WorkloadOptions } from '../check/workload.js';
import { Ledger } from '../ledger/ledger.js';
import type { ChainStore } from './chain-store.js';

/** Blocks per store batch while generating (bounds memory: ~bytes per block × this). */
const GENERATE_BATCH_BLOCKS = 512;

export interface GenerateOptions {
  readonly genesis: GenesisConfig;
  readonly blocks: number;
  readonly commandsPerBlock: number;
  readonly workload: WorkloadOptions;
  /** proposedAtMs of block h is startMs + h (deterministic). */
  readonly startMs: number;
  readonly onProgress?: (blocksWritten: number) => void;
}

export interface GenerateReport {
  readonly head: BlockRef;
  readonly blocks: number;
  readonly commands: number;
  readonly bytes: number;
}

export async function generateChain(store: ChainStore, sha256: Sha256, options: GenerateOptions): Promise<GenerateReport> {
  if (store.head) throw new PaxchainError(ErrorCode.ALREADY_EXISTS, `the store already has a chain (head ${store.head.height})`);
  const ledger = new Ledger(sha256);
  const genesis = Ledger.genesisRecord(sha256, options.genesis);
  const applied = ledger.replay(0, genesis);
  if ('problem' in applied) throw new Error(`generated genesis does not verify: ${applied.problem.message}`);
  await store.append([genesis], { sync: false });
  const workload = new Workload(options.workload);
  let bytes = genesis.length;
  let pending: Uint8Array[] = [];
  let hashes: Uint8Array[] = [];
  for (let height = 1; height <= options.blocks; height++) {
    const body = encodeBatchBody(options.startMs + height, workload.batch(options.commandsPerBlock));
    const block = ledger.append(body);
    pending.push(block.record);
    hashes.push(block.ref.hash);
    bytes += block.record.length;
    if (pending.length === GENERATE_BATCH_BLOCKS || height === options.blocks) {
      await store.append(pending, { sync: false, hashes });
      pending = [];
      hashes = [];
      options.onProgress?.(height);
    }
  }
  await store.backend.write([], { sync: true });
  return { head: ledger.head!, blocks: options.blocks + 1, commands: options.blocks * options.commandsPerBlock, bytes };
}
