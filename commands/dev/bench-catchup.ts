import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { benchCatchup, type CatchupResult } from '../../src/tools/bench-catchup.js';
import { formatCount } from '../../src/cli/progress.js';

export default class DevBenchCatchup extends BaseCommand {
  static override summary = 'Measure a wiped node catching up a long chain, and the leader\'s throughput meanwhile.';
  static override description = `Generates a chain (default 100k blocks x 10 commands of 100-byte values), gives it to a
3-node local cluster in a temporary directory (ports --base-port and up), measures write
throughput, then wipes a follower and restarts it under the same load. Reports the time until it
votes again at the leader's head (blocks/s, MB/s) and the throughput kept during catch-up.`;

  static override examples = ['<%= config.bin %> dev bench-catchup', '<%= config.bin %> dev bench-catchup --blocks 20000 --json'];
  static override flags = {
    blocks: Flags.integer({ default: 100_000, min: 100, max: 10_000_000, summary: 'Blocks in the chain.' }),
    'commands-per-block': Flags.integer({ default: 10, min: 1, max: 1000, summary: 'Commands per block.' }),
    'value-size': Flags.integer({ default: 100, min: 1, max: 65_536, summary: 'Bytes per value.' }),
    clients: Flags.integer({ default: 32, min: 1, max: 1000, summary: 'Load clients.' }),
    baseline: Flags.integer({ default: 10, min: 1, max: 600, summary: 'Seconds of load before the wipe.' }),
    'base-port': Flags.integer({ default: 7951, min: 1024, max: 65_000, summary: 'Port of node 1.' }),
    'catchup-rate': Flags.integer({ min: 100, summary: 'Catch-up flow control passed to the nodes (blocks/s; default none).' }),
  };

  async run(): Promise<CatchupResult> {
    const { flags } = await this.parse(DevBenchCatchup);
    const result = await benchCatchup({
      blocks: flags.blocks,
      commandsPerBlock: flags['commands-per-block'],
      valueBytes: flags['value-size'],
      basePort: flags['base-port'],
      clients: flags.clients,
      baselineSeconds: flags.baseline,
      catchupRate: flags['catchup-rate'],
      onPhase: (text) => process.stderr.write(`bench-catchup: ${text}\n`),
    });
    this.say(`chain: ${formatCount(result.chain.blocks)} blocks, ${formatCount(result.chain.commands)} commands, ${result.chain.megabytes} MB`);
    this.say(`wiped node back to voting at the leader's head: ${formatCount(result.caughtUpBlocks)} blocks in ${result.seconds}s`);
    this.say(`  ${formatCount(result.blocksPerSecond)} blocks/s, ${formatCount(result.commandsPerSecond)} commands/s, ${result.megabytesPerSecond} MB/s`);
    this.say(`leader write throughput: ${formatCount(result.baseline.throughput)} writes/s before, ${formatCount(result.duringCatchup.throughput)} writes/s during catch-up (${(result.throughputKept * 100).toFixed(0)}% kept)`);
    return result;
  }
}
