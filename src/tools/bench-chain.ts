/**
 * `paxchain dev bench-chain`: generates chains and measures replay / verify speed. Replay and
 * verify are one code path (src/storage/replay.ts checks every link, body hash and state root
 * while rebuilding the state), so one timed pass gives both figures.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fastSha256 } from '../native/sha256.js';
import { replayStore } from '../storage/replay.js';
import { withStore } from '../cli/chain-ops.js';
import { generateDataDir } from './gen-ops.js';

export interface ChainShape {
  readonly name: string;
  readonly blocks: number;
  readonly commandsPerBlock: number;
  readonly valueBytes: number;
}

export const CHAIN_SHAPES: Record<string, ChainShape> = {
  wide: { name: 'wide', blocks: 100_000, commandsPerBlock: 100, valueBytes: 100 },
  long: { name: 'long', blocks: 1_000_000, commandsPerBlock: 1, valueBytes: 100 },
};

export interface ReplayRun {
  readonly seconds: number;
  readonly blocksPerSecond: number;
  readonly commandsPerSecond: number;
  readonly megabytesPerSecond: number;
}

export interface ShapeReport {
  readonly shape: ChainShape;
  readonly generate: { seconds: number; blocksPerSecond: number; megabytes: number };
  readonly runs: ReplayRun[];
  /** The median run. */
  readonly replay: ReplayRun;
  readonly hasher: string;
}

export async function benchShape(
  shape: ChainShape,
  options: { dir: string; runs: number; keep: boolean; onPhase?: (text: string) => void; onProgress?: (done: number, total: number) => void },
): Promise<ShapeReport> {
  const dataDir = join(options.dir, `bench-${shape.name}`);
  options.onPhase?.(`generating ${shape.blocks.toLocaleString('en-US')} blocks x ${shape.commandsPerBlock} commands`);
  const generated = await generateDataDir(dataDir, {
    force: true,
    blocks: shape.blocks,
    commandsPerBlock: shape.commandsPerBlock,
    clusterId: 'bench',
    members: [1, 2, 3],
    workload: { seed: 1, keys: 100_000, valueBytes: shape.valueBytes, clients: 1000, mix: { put: 100, delete: 0, cas: 0 }, duplicateRate: 0 },
    onProgress: (blocks) => options.onProgress?.(blocks, shape.blocks),
  });
  const runs: ReplayRun[] = [];
  try {
    for (let run = 0; run < options.runs; run++) {
      options.onPhase?.(`replay ${run + 1}/${options.runs}`);
      // Timed from an open store: the replay, not LevelDB's open.
      const { report, seconds } = await withStore(dataDir, async (store) => {
        const started = performance.now();
        const replayed = await replayStore(store, fastSha256, { onProgress: options.onProgress });
        return { report: replayed, seconds: (performance.now() - started) / 1000 };
      });
      if (report.problem) throw new Error(`generated chain failed to verify: ${report.problem.message}`);
      runs.push({
        seconds,
        blocksPerSecond: Math.round(report.blocks / seconds),
        commandsPerSecond: Math.round(report.commands / seconds),
        megabytesPerSecond: Math.round(report.bytes / 1e6 / seconds),
      });
    }
  } finally {
    if (!options.keep) rmSync(dataDir, { recursive: true, force: true });
  }
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  return {
    shape,
    generate: { seconds: generated.seconds, blocksPerSecond: generated.blocksPerSecond, megabytes: Math.round(generated.bytes / 1e6) },
    runs,
    replay: sorted[Math.floor(sorted.length / 2)]!,
    hasher: fastSha256.name,
  };
}
