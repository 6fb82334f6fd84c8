import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { benchCore, type CoreBenchResult } from '../../src/tools/bench-core.js';
import { formatCount } from '../../src/cli/progress.js';

export default class DevBenchCore extends BaseCommand {
  static override summary = 'Benchmark the replica core: commands chosen per CPU-second, 3 replicas, no faults.';
  static override description = `Runs three replicas of the production core in one process with instant message delivery and
in-memory storage, keeps --outstanding client writes in flight, and reports commands chosen and
applied per CPU-second together with the batch size and pipeline window that produced it.`;

  static override examples = ['<%= config.bin %> dev bench-core', '<%= config.bin %> dev bench-core --commands 1000000 --outstanding 256 --json'];
  static override flags = {
    commands: Flags.integer({ default: 300_000, min: 1000, max: 50_000_000, summary: 'Commands to choose.' }),
    outstanding: Flags.integer({ default: 128, min: 1, max: 100_000, summary: 'Client writes kept in flight.' }),
    'value-size': Flags.integer({ default: 100, min: 0, max: 65_536, summary: 'Bytes per value.' }),
    pipeline: Flags.integer({ default: 32, min: 1, max: 1024, summary: 'Slots in phase 2 at once (pipelineMax).' }),
    batch: Flags.integer({ default: 4096, min: 1, max: 10_000, summary: 'Most commands per slot (batchCommandsMax).' }),
  };

  async run(): Promise<CoreBenchResult> {
    const { flags } = await this.parse(DevBenchCore);
    const result = benchCore({
      commands: flags.commands,
      outstanding: flags.outstanding,
      valueBytes: flags['value-size'],
      pipelineMax: flags.pipeline,
      batchCommandsMax: flags.batch,
    });
    this.say(`${formatCount(result.chosen)} commands chosen in ${formatCount(result.blocks)} blocks (average batch ${result.averageBatch}), pipeline window ${result.pipelineMax}, ${result.outstanding} outstanding`);
    this.say(`${formatCount(result.commandsPerCpuSecond)} commands per CPU-second (${result.cpuSeconds.toFixed(2)} CPU-s, ${result.wallSeconds.toFixed(2)} s wall)`);
    return result;
  }
}
