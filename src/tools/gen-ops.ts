/** `paxchain dev gen`: generate a valid chain into a data directory. */
import { existsSync, rmSync } from 'node:fs';
import { toHex } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { checkGenesisConfig, DEFAULT_DEDUP_CAPACITY, type GenesisConfig } from '../chain/body.js';
import type { WorkloadOptions } from '../check/workload.js';
import { fastSha256 } from '../native/sha256.js';
import { openDataDir } from '../storage/data-dir.js';
import { generateChain } from '../storage/generate.js';

/** Fixed so that the same flags always generate the same chain, byte for byte. */
export const GENERATED_START_MS = 1_700_000_000_000;

export interface GenResult {
  readonly dataDir: string;
  readonly blocks: number;
  readonly commands: number;
  readonly bytes: number;
  readonly head: { height: number; hash: string };
  readonly seconds: number;
  readonly blocksPerSecond: number;
}

export async function generateDataDir(
  dataDir: string,
  options: {
    force: boolean;
    blocks: number;
    commandsPerBlock: number;
    clusterId: string;
    members: number[];
    workload: WorkloadOptions;
    onProgress?: (blocks: number) => void;
  },
): Promise<GenResult> {
  if (existsSync(dataDir)) {
    if (!options.force) throw new PaxchainError(ErrorCode.ALREADY_EXISTS, `${dataDir} exists; pass --force to replace it`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  const genesis: GenesisConfig = {
    clusterId: options.clusterId,
    members: options.members,
    dedupCapacity: DEFAULT_DEDUP_CAPACITY,
    createdAtMs: GENERATED_START_MS,
  };
  const problem = checkGenesisConfig(genesis);
  if (problem) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, problem);
  const store = await openDataDir(dataDir, fastSha256, { create: true, writeBufferBytes: 64 * 1024 * 1024 });
  const started = performance.now();
  try {
    const report = await generateChain(store, fastSha256, {
      genesis,
      blocks: options.blocks,
      commandsPerBlock: options.commandsPerBlock,
      workload: options.workload,
      startMs: GENERATED_START_MS,
      onProgress: options.onProgress,
    });
    const seconds = (performance.now() - started) / 1000;
    return {
      dataDir,
      blocks: report.blocks,
      commands: report.commands,
      bytes: report.bytes,
      head: { height: report.head.height, hash: toHex(report.head.hash) },
      seconds,
      blocksPerSecond: Math.round(report.blocks / seconds),
    };
  } finally {
    await store.close();
  }
}

export function parseMembers(text: string): number[] {
  const members = text.split(',').map((part) => Number(part.trim()));
  if (members.some((id) => !Number.isInteger(id))) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `bad member list "${text}"`);
  return members;
}
