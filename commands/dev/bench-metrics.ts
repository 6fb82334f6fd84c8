import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { benchMetrics, type MetricsBenchResult } from '../../src/tools/bench-metrics.js';

export default class DevBenchMetrics extends BaseCommand {
  static override summary = 'Measure what Prometheus metrics cost on write throughput: metrics off and on, in one run.';
  static override description = `Per round, starts two fresh 3-node clusters in temporary directories (ports --base-port and
up; metrics on --base-port + 100 and up), one without --metrics and one with it, scraped every
second on all three nodes. The order flips each round. Each measured run is --duration seconds
of puts from --clients concurrent clients after a 2 s warm-up. Prints each run and the medians.`;

  static override examples = ['<%= config.bin %> dev bench-metrics', '<%= config.bin %> dev bench-metrics --rounds 5 --clients 128 --duration 10 --json'];
  static override flags = {
    rounds: Flags.integer({ default: 3, min: 1, max: 20, summary: 'Rounds (each one run off and one on).' }),
    clients: Flags.integer({ default: 128, min: 1, max: 1024, summary: 'Concurrent writers.' }),
    duration: Flags.integer({ default: 10, min: 1, max: 300, summary: 'Seconds per measured run.' }),
    'base-port': Flags.integer({ default: 7951, min: 1024, max: 65_000, summary: 'Port of node 1.' }),
  };

  async run(): Promise<MetricsBenchResult> {
    const { flags } = await this.parse(DevBenchMetrics);
    const result = await benchMetrics({
      rounds: flags.rounds,
      clients: flags.clients,
      durationSeconds: flags.duration,
      basePort: flags['base-port'],
      onRun: (run) =>
        process.stderr.write(
          `round ${run.round} metrics ${run.metrics ? 'on ' : 'off'}: ${run.throughput.toFixed(0)} writes/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, ${run.errors} errors` +
            (run.metrics ? `, ${run.scrapes} scrapes of ${(run.scrapeBytes / 1024).toFixed(1)} KiB` : '') +
            '\n',
        ),
    });
    this.say(`${flags.rounds} rounds, ${flags.clients} clients, ${flags.duration} s each, put=100, 3 nodes`);
    this.say(`metrics off: median ${result.off.throughput.toFixed(0)} writes/s, p99 ${result.off.p99.toFixed(2)} ms`);
    this.say(`metrics on (scraped every 1 s): median ${result.on.throughput.toFixed(0)} writes/s, p99 ${result.on.p99.toFixed(2)} ms`);
    this.say(`cost: ${result.costPercent.toFixed(1)}% of write throughput`);
    return result;
  }
}
