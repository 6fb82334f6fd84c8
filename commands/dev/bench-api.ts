import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { formatCount } from '../../src/cli/progress.js';
import { API_WORKLOADS, type ApiBenchResult, type ApiWorkload, benchApi } from '../../src/tools/bench-api.js';

export default class DevBenchApi extends BaseCommand {
  static override summary = 'Measure the range, txn and put API next to etcd 3.4 under the same load: ops/s, p50/p99, errors.';
  static override description = `Starts a fresh 3-node paxchain cluster (ports --base-port and up) and, after it is stopped, a
fresh 3-member etcd cluster (client ports --etcd-port and up, peers 10 above; etcd installed by
scripts/etcd.sh if missing), both on 127.0.0.1 in temporary directories, and runs on each:
range (10,000 keys loaded, then --range-clients clients reading 100 consecutive keys from a random
start), txn (--txn-clients clients, 4 version compares + 4 puts on their own keys) and put
(--put-clients clients, 100-byte values on random keys of 10,000). Each runs a 1 s warm-up, then
--duration seconds. Without etcd (--no-etcd, or it cannot be installed or started) paxchain's
figures come alone, with the reason.`;

  static override examples = [
    '<%= config.bin %> dev bench-api',
    '<%= config.bin %> dev bench-api --workloads txn,put --duration 5 --no-etcd',
    '<%= config.bin %> dev bench-api --duration 10 --json',
  ];

  static override flags = {
    workloads: Flags.string({ multiple: true, delimiter: ',', options: [...API_WORKLOADS], default: [...API_WORKLOADS], summary: 'Workloads to run, comma-separated.' }),
    duration: Flags.integer({ default: 10, min: 1, max: 600, summary: 'Seconds measured per workload (after a 1 s warm-up).' }),
    'range-clients': Flags.integer({ default: 16, min: 1, max: 1000, summary: 'Concurrent clients of the range workload.' }),
    'txn-clients': Flags.integer({ default: 128, min: 1, max: 1000, summary: 'Concurrent clients of the txn workload.' }),
    'put-clients': Flags.integer({ default: 128, min: 1, max: 1000, summary: 'Concurrent clients of the put workload.' }),
    'base-port': Flags.integer({ default: 7981, min: 1024, max: 65_000, summary: 'Port of paxchain node 1 (the next free base 100 up if taken).' }),
    etcd: Flags.boolean({ default: true, allowNo: true, summary: 'Run etcd too (--no-etcd: paxchain alone).' }),
    'etcd-port': Flags.integer({ default: 23_791, min: 1024, max: 65_000, summary: 'Client port of etcd member 1 (peers 10 above; the next free base 100 up if taken).' }),
  };

  async run(): Promise<ApiBenchResult> {
    const { flags } = await this.parse(DevBenchApi);
    const result = await benchApi({
      workloads: flags.workloads as ApiWorkload[],
      durationSeconds: flags.duration,
      rangeClients: flags['range-clients'],
      txnClients: flags['txn-clients'],
      putClients: flags['put-clients'],
      basePort: flags['base-port'],
      etcd: flags.etcd,
      etcdPort: flags['etcd-port'],
      onPhase: (text) => process.stderr.write(`bench-api: ${text}\n`),
    });
    this.report(result);
    // Figures of a workload in which nothing succeeded measure nothing: that run failed.
    if (result.paxchain.workloads.some((figures) => figures.operations === 0)) this.fail();
    return result;
  }

  private report(result: ApiBenchResult): void {
    const systems = [result.paxchain, ...(result.etcd ? [result.etcd] : [])];
    this.say(`${result.durationSeconds}s per workload after a ${result.warmupSeconds}s warm-up, 100-byte values`);
    for (const system of systems) this.say(`${system.system}: ${system.setup}`);
    if (result.etcdSkipped) this.say(`etcd: ${result.etcdSkipped}`);
    const rows = [['workload', 'clients', 'system', 'ops/s', 'p50 ms', 'p99 ms', 'errors', 'failed compares']];
    for (const workload of result.paxchain.workloads.map((figures) => figures.workload)) {
      for (const system of systems) {
        const figures = system.workloads.find((each) => each.workload === workload);
        if (!figures) continue;
        const { p50, p99 } = figures.latencyMs;
        const failed = figures.failedCompares === null ? '-' : formatCount(figures.failedCompares);
        rows.push([workload, String(figures.clients), system.system, formatCount(figures.opsPerSecond), p50.toFixed(2), p99.toFixed(2), formatCount(figures.errors), failed]);
      }
    }
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    // Text columns left, figures right.
    const line = (row: string[]): string => row.map((cell, column) => (column === 0 || column === 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
    this.say('');
    for (const row of rows) this.say(line(row).trimEnd());
    for (const system of systems) {
      if (system.loadedKeys !== null && system.loadedKeys !== 10_000) this.say(`${system.system}: the loaded range counts ${system.loadedKeys} keys, not 10,000`);
      for (const figures of system.workloads) {
        const codes = Object.entries(figures.errorsByCode);
        if (codes.length > 0) this.say(`${system.system} ${figures.workload} errors: ${codes.map(([code, count]) => `${code} ${count}`).join(', ')}`);
      }
    }
  }
}
