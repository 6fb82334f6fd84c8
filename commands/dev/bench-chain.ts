import { tmpdir } from 'node:os';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { benchShape, CHAIN_SHAPES, type ShapeReport } from '../../src/tools/bench-chain.js';
import { formatCount, Progress } from '../../src/cli/progress.js';

export default class DevBenchChain extends BaseCommand {
  static override summary = 'Benchmark chain replay and verify (blocks/s, commands/s, MB/s).';
  static override description = `Generates a chain per shape, then replays it from disk --runs times and prints the median.
Replay and verify are the same code path (every link, body hash and state root is checked
while the KV state is rebuilt). Shapes: wide = 100k blocks x 100 commands, long = 1M blocks x 1
command, both with 100-byte values. Needs ~2 GB of free disk in --dir for both shapes.`;

  static override examples = [
    '<%= config.bin %> dev bench-chain',
    '<%= config.bin %> dev bench-chain --shape long --runs 5 --json',
  ];

  static override flags = {
    shape: Flags.string({ options: ['wide', 'long', 'both'], default: 'both', summary: 'Which chain shape(s) to run.' }),
    runs: Flags.integer({ default: 3, min: 1, max: 20, summary: 'Replays per shape (the median is reported).' }),
    dir: Flags.directory({ summary: 'Where to generate the chains.', default: tmpdir() }),
    keep: Flags.boolean({ default: false, summary: 'Keep the generated chains.' }),
  };

  async run(): Promise<{ shapes: ShapeReport[] }> {
    const { flags } = await this.parse(DevBenchChain);
    const names = flags.shape === 'both' ? ['wide', 'long'] : [flags.shape];
    const shapes: ShapeReport[] = [];
    for (const name of names) {
      let progress = new Progress({ label: name, unit: 'blocks', delayMs: 0 });
      const report = await benchShape(CHAIN_SHAPES[name]!, {
        dir: flags.dir,
        runs: flags.runs,
        keep: flags.keep,
        onPhase: (text) => {
          progress.done();
          progress = new Progress({ label: `${name} ${text}`, unit: 'blocks', delayMs: 500 });
        },
        onProgress: (done, total) => progress.update(done, total),
      });
      progress.done();
      shapes.push(report);
      const shape = report.shape;
      const replay = report.replay;
      this.say(`${shape.name}: ${formatCount(shape.blocks)} blocks x ${shape.commandsPerBlock} commands, ${shape.valueBytes}-byte values (${report.generate.megabytes} MB), hasher ${report.hasher}`);
      this.say(`  generate        ${formatCount(report.generate.blocksPerSecond)} blocks/s (${report.generate.seconds.toFixed(1)}s)`);
      this.say(`  replay/verify   ${formatCount(replay.blocksPerSecond)} blocks/s, ${formatCount(replay.commandsPerSecond)} commands/s, ${replay.megabytesPerSecond} MB/s (median of ${report.runs.length}, ${replay.seconds.toFixed(2)}s)`);
      this.say(`  runs            ${report.runs.map((run) => `${formatCount(run.blocksPerSecond)} blocks/s`).join(', ')}`);
    }
    return { shapes };
  }
}
