import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { benchFailover, type FailoverResult } from '../../src/tools/bench-failover.js';

export default class DevBenchFailover extends BaseCommand {
  static override summary = 'Measure failover: kill -9 of the leader to the first acknowledged write.';
  static override description = `Starts its own local cluster in a temporary directory (ports --base-port and up), keeps
--writers clients writing, and for each trial kills the leader's PID with SIGKILL and times the
first write acknowledged after the kill, then restarts the node and lets the cluster settle.`;

  static override examples = ['<%= config.bin %> dev bench-failover', '<%= config.bin %> dev bench-failover --trials 5 --nodes 5 --json'];
  static override flags = {
    trials: Flags.integer({ default: 20, min: 1, max: 1000, summary: 'Leader kills.' }),
    nodes: Flags.integer({ default: 3, min: 3, max: 9, summary: 'Cluster size.' }),
    'base-port': Flags.integer({ default: 7901, min: 1024, max: 65_000, summary: 'Port of node 1.' }),
    writers: Flags.integer({ default: 4, min: 1, max: 256, summary: 'Concurrent writers.' }),
  };

  async run(): Promise<FailoverResult> {
    const { flags } = await this.parse(DevBenchFailover);
    const result = await benchFailover({
      trials: flags.trials,
      nodes: flags.nodes,
      basePort: flags['base-port'],
      writers: flags.writers,
      onTrial: (trial, ms, oldLeader, newLeader) => process.stderr.write(`trial ${trial}: killed leader ${oldLeader}, first write acknowledged after ${ms.toFixed(1)} ms (new leader ${newLeader})\n`),
    });
    this.say(`${result.trials} trials, ${result.nodes} nodes: kill -9 of the leader to the first acknowledged write`);
    this.say(`p50 ${result.p50} ms, max ${result.max} ms, mean ${result.mean} ms`);
    this.say(`all: ${result.millis.join(', ')}`);
    return result;
  }
}
