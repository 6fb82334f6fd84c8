import { Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { type BenchResult, runBench } from '../src/tools/bench.js';
import { endpointsFlag, parseMix } from '../src/cli/flags.js';
import { formatCount } from '../src/cli/progress.js';
import { parseEndpoints } from '../src/client/client.js';

export default class Bench extends BaseCommand {
  static override summary = 'Load a running cluster and report throughput and latency.';
  static override description = `Runs --clients closed-loop clients for --duration seconds against --endpoints. Writes are
durable (a majority has them on disk) when acknowledged. Prints live progress on stderr, then
throughput, p50/p90/p99/max latency and errors by code.`;

  static override examples = [
    '<%= config.bin %> bench',
    '<%= config.bin %> bench --clients 1 --duration 10',
    '<%= config.bin %> bench --clients 128 --mix put=50,get=50 --json',
  ];

  static override flags = {
    endpoints: endpointsFlag,
    clients: Flags.integer({ default: 128, min: 1, max: 10_000, summary: 'Concurrent closed-loop clients.' }),
    connections: Flags.integer({ min: 1, max: 256, summary: 'Client connections shared by the clients (default: one per 32 clients).' }),
    duration: Flags.integer({ default: 10, min: 1, max: 3600, summary: 'Seconds to run.' }),
    'value-size': Flags.integer({ default: 100, min: 0, max: 1024 * 1024, summary: 'Bytes per value.' }),
    keys: Flags.integer({ default: 100_000, min: 1, summary: 'Distinct keys.' }),
    mix: Flags.string({ default: 'put=100', summary: 'Operation mix in percent: put=N,get=N,delete=N,cas=N.' }),
    stale: Flags.boolean({ default: false, summary: 'Stale (local) reads instead of linearizable ones.' }),
    verify: Flags.boolean({ default: false, exclusive: ['stale'], summary: 'Verified reads: every answer\'s proofs and signatures checked by the client (get --verify).' }),
    timeout: Flags.integer({ default: 5000, min: 1, summary: 'Per-operation deadline in ms.' }),
    seed: Flags.integer({ default: 1, summary: 'Seed of the key and operation choice.' }),
  };

  async run(): Promise<BenchResult> {
    const { flags } = await this.parse(Bench);
    const mix = parseMix(flags.mix, ['put', 'get', 'delete', 'cas']);
    const result = await runBench({
      endpoints: parseEndpoints(flags.endpoints),
      clients: flags.clients,
      connections: flags.connections ?? Math.max(1, Math.ceil(flags.clients / 32)),
      durationSeconds: flags.duration,
      valueBytes: flags['value-size'],
      keys: flags.keys,
      mix,
      stale: flags.stale,
      verify: flags.verify,
      timeoutMs: flags.timeout,
      seed: flags.seed,
      onProgress: (snapshot) =>
        process.stderr.write(`bench: ${snapshot.elapsedSeconds.toFixed(0)}s ${formatCount(snapshot.operations)} ops, ${formatCount(snapshot.lastSecondOps)} ops/s, ${snapshot.errors} errors${snapshot.stalled > 0 ? `, ${snapshot.stalled} waiting > 1 s for an answer` : ''}\n`),
    });
    for (const why of result.unreachable ?? []) this.say(`no answer from ${why}`);
    if (result.unreachable) this.say('bench not started: no endpoint answered');
    const latency = result.latency;
    this.say(`${result.clients} clients, ${result.connections} connections, ${result.durationSeconds}s, ${result.valueBytes}-byte values, mix ${flags.mix}`);
    this.say(`throughput  ${formatCount(result.throughput)} ops/s (${formatCount(result.operations)} ops)`);
    this.say(`latency ms  p50 ${latency.p50}  p90 ${latency.p90}  p99 ${latency.p99}  max ${latency.max}  mean ${latency.mean}`);
    const errors = Object.entries(result.errors);
    this.say(`errors      ${errors.length === 0 ? 'none' : errors.map(([code, count]) => `${code} ${count}`).join(', ')}`);
    const { before, after, changed } = result.leadership;
    this.say(`leader      ${before ? `node ${before.leader} (ballot ${before.ballot})` : 'none'} -> ${after ? `node ${after.leader} (ballot ${after.ballot})` : 'none'}${changed ? '  LEADER CHANGED during the run' : ', no leader change'}`);
    // Figures of a run in which nothing succeeded measure nothing: that run failed.
    if (result.operations === 0) this.fail();
    return result;
  }
}
