import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { formatCount } from '../../src/cli/progress.js';
import { API_WORKLOADS, type ApiBenchResult, type ApiWorkload, benchApi, DEFAULT_API_WORKLOADS } from '../../src/tools/bench-api.js';

type SystemResult = ApiBenchResult['paxchain'];
type Figures = SystemResult['workloads'][number];

export default class DevBenchApi extends BaseCommand {
  static override summary = 'Measure the range, txn, put and watch API next to etcd 3.4 under the same load: ops/s, p50/p99, errors, watch delivery.';
  static override description = `Starts a fresh 3-node paxchain cluster (ports --base-port and up) and, after it is stopped, a
fresh 3-member etcd cluster (client ports --etcd-port and up, peers 10 above; etcd installed by
scripts/etcd.sh if missing), both on 127.0.0.1 in temporary directories, and runs on each:
range (10,000 keys loaded, then --range-clients clients reading 100 consecutive keys from a random
start), txn (--txn-clients clients, 4 version compares + 4 puts on their own keys) and put
(--put-clients clients, 100-byte values on random keys of 10,000); on request (--workloads) also
watch (--watchers watchers of wl/<i>/ while --watch-writers writers put at full speed: chosen ->
delivered and issue -> delivered p50/p99, events/s, writes/s, missed and duplicated events) and
slow-watcher (the put workload with no watcher, then while a watch of every key at the leader is
never read; the leader's watch counters around it). Each runs a 1 s warm-up, then --duration
seconds. Without etcd (--no-etcd, or it cannot be installed or started) paxchain's figures come
alone, with the reason.`;

  static override examples = [
    '<%= config.bin %> dev bench-api',
    '<%= config.bin %> dev bench-api --workloads txn,put --duration 5 --no-etcd',
    '<%= config.bin %> dev bench-api --duration 10 --json',
    '<%= config.bin %> dev bench-api --workloads watch,slow-watcher --duration 10',
  ];

  static override flags = {
    workloads: Flags.string({ multiple: true, delimiter: ',', options: [...API_WORKLOADS], default: [...DEFAULT_API_WORKLOADS], summary: 'Workloads to run, comma-separated.' }),
    duration: Flags.integer({ default: 10, min: 1, max: 600, summary: 'Seconds measured per workload (after a 1 s warm-up).' }),
    'range-clients': Flags.integer({ default: 16, min: 1, max: 1000, summary: 'Concurrent clients of the range workload.' }),
    'txn-clients': Flags.integer({ default: 128, min: 1, max: 1000, summary: 'Concurrent clients of the txn workload.' }),
    'put-clients': Flags.integer({ default: 128, min: 1, max: 1000, summary: 'Concurrent clients of the put and slow-watcher workloads.' }),
    watchers: Flags.integer({ default: 100, min: 1, max: 1000, summary: 'Watchers of the watch workload (watcher i: prefix wl/<i>/).' }),
    'watch-writers': Flags.integer({ default: 128, min: 1, max: 1000, summary: 'Concurrent writers of the watch workload.' }),
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
      watchers: flags.watchers,
      watchWriters: flags['watch-writers'],
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
    const label = (figures: Figures): string => (figures.variant === null ? figures.workload : `${figures.workload} (${figures.variant})`);
    const rows = [['workload', 'clients', 'system', 'ops/s', 'p50 ms', 'p99 ms', 'errors', 'failed compares']];
    const watchRows = [['watch', 'watchers', 'writers', 'system', 'writes/s', 'events/s', 'chosen->delivered p50 ms', 'p99 ms', 'delivered before ack', 'issue->delivered p50 ms', 'p99 ms', 'missed', 'duplicated']];
    for (const figures of result.paxchain.workloads) {
      for (const system of systems) {
        const found = system.workloads.find((each) => label(each) === label(figures));
        if (!found) continue;
        const { p50, p99 } = found.latencyMs;
        const failed = found.failedCompares === null ? '-' : formatCount(found.failedCompares);
        rows.push([label(found), String(found.clients), system.system, formatCount(found.opsPerSecond), p50.toFixed(2), p99.toFixed(2), formatCount(found.errors), failed]);
        if (found.watch) watchRows.push(watchRow(system.system, found.opsPerSecond, found.watch));
      }
    }
    this.say('');
    this.table(rows, [0, 2]);
    if (watchRows.length > 1) {
      this.say('');
      this.table(watchRows, [0, 3]);
    }
    for (const system of systems) this.notes(system);
  }

  /** Text columns (`textColumns`) left, figures right. */
  private table(rows: string[][], textColumns: number[]): void {
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    const line = (row: string[]): string => row.map((cell, column) => (textColumns.includes(column) ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
    for (const row of rows) this.say(line(row).trimEnd());
  }

  /** Per system: a short range load, errors by code, the watch tallies and the stalled watch's counters. */
  private notes(system: SystemResult): void {
    if (system.loadedKeys !== null && system.loadedKeys !== 10_000) this.say(`${system.system}: the loaded range counts ${system.loadedKeys} keys, not 10,000`);
    const counters = (values: Record<string, number>): string => Object.entries(values).map(([name, count]) => `${name} ${count}`).join(', ') || 'none';
    for (const figures of system.workloads) {
      const codes = Object.entries(figures.errorsByCode);
      const name = figures.variant === null ? figures.workload : `${figures.workload} (${figures.variant})`;
      if (codes.length > 0) this.say(`${system.system} ${name} errors: ${codes.map(([code, count]) => `${code} ${count}`).join(', ')}`);
      const watch = figures.watch;
      if (watch) {
        this.say(`${system.system} watch: ${formatCount(watch.acknowledged)} writes acknowledged, ${formatCount(watch.measured)} measured; ${formatCount(watch.missed)} missed, ${formatCount(watch.duplicated)} duplicated, ${formatCount(watch.deliveredUnacknowledged)} delivered of unacknowledged writes; ${watch.watchErrors} watch errors, ${watch.watchResumes} resumes`);
      }
      const stall = figures.stall;
      if (stall) {
        const verdict = stall.endedFellBehind === null ? '' : stall.endedFellBehind ? ': the leader ended the stalled watch with FELL_BEHIND' : ': the leader did not end the stalled watch (no FELL_BEHIND)';
        this.say(`${system.system} slow-watcher: leader counters before ${counters(stall.before)}; stalled watch open ${counters(stall.opened)}; after the puts ${counters(stall.after)}${verdict}`);
      }
    }
  }
}

function watchRow(system: string, writesPerSecond: number, watch: NonNullable<Figures['watch']>): string[] {
  const ms = (value: number): string => value.toFixed(2);
  const { chosenToDeliveredMs: chosen, issueToDeliveredMs: issued } = watch;
  return ['watch', String(watch.watchers), String(watch.writers), system, formatCount(writesPerSecond), formatCount(watch.eventsPerSecond), ms(chosen.p50), ms(chosen.p99), formatCount(watch.deliveredBeforeAck), ms(issued.p50), ms(issued.p99), formatCount(watch.missed), formatCount(watch.duplicated)];
}
