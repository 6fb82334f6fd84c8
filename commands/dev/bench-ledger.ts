import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { formatCount } from '../../src/cli/progress.js';
import { benchLedger, type LedgerBenchResult, type RestartFigures } from '../../src/tools/bench-ledger.js';
import type { BenchResult } from '../../src/tools/bench.js';

export default class DevBenchLedger extends BaseCommand {
  static override summary = 'Measure restart, state sync, retention and checkpoint cost on a long chain, before and after in one run.';
  static override description = `On a 3-node local cluster in a temporary directory (ports --base-port and up), with a chain
made by \`dev gen\` (--chain DIR, copied) or generated here: restart with a full replay, then from a
checkpoint; write load without and with checkpoints being written (p50/p99); disk bytes before and
after pruning; and a wiped follower back to voting under load, by state sync (default) or by
fetching every block (--no-state-sync), with the throughput kept meanwhile.`;

  static override examples = [
    '<%= config.bin %> dev gen --data /tmp/chain10m --blocks 100000 --commands-per-block 100 --keys 100000 && <%= config.bin %> dev bench-ledger --chain /tmp/chain10m --cluster-id dev',
    '<%= config.bin %> dev bench-ledger --blocks 20000 --commands-per-block 10 --json',
  ];

  static override flags = {
    chain: Flags.directory({ summary: 'A data directory made by `dev gen` to copy (members 1,2,3).' }),
    'cluster-id': Flags.string({ default: 'ledger-bench', summary: 'The chain\'s cluster id (`dev gen` writes "dev" by default).' }),
    blocks: Flags.integer({ default: 20_000, min: 100, max: 10_000_000, summary: 'Without --chain: blocks to generate.' }),
    'commands-per-block': Flags.integer({ default: 100, min: 1, max: 1000, summary: 'Without --chain: commands per block.' }),
    keys: Flags.integer({ default: 100_000, min: 1, summary: 'Distinct keys (generated chain and load).' }),
    clients: Flags.integer({ default: 128, min: 1, max: 1000, summary: 'Load clients.' }),
    load: Flags.integer({ default: 10, min: 1, max: 600, summary: 'Seconds of each load phase.' }),
    'checkpoint-every': Flags.integer({ default: 2000, min: 1, summary: 'Blocks between checkpoints during the second load phase.' }),
    'retain-blocks': Flags.integer({ default: 1000, min: 0, summary: 'Bodies kept below the newest checkpoint (with --state-sync).' }),
    'state-sync': Flags.boolean({ default: true, allowNo: true, summary: 'Prune the peers so the wiped node syncs state (--no-state-sync: it fetches every block).' }),
    'base-port': Flags.integer({ default: 7961, min: 1024, max: 65_000, summary: 'Port of node 1.' }),
  };

  async run(): Promise<LedgerBenchResult> {
    const { flags } = await this.parse(DevBenchLedger);
    const result = await benchLedger({
      chain: flags.chain,
      clusterId: flags['cluster-id'],
      blocks: flags.blocks,
      commandsPerBlock: flags['commands-per-block'],
      keys: flags.keys,
      basePort: flags['base-port'],
      clients: flags.clients,
      loadSeconds: flags.load,
      checkpointEvery: flags['checkpoint-every'],
      retainBlocks: flags['retain-blocks'],
      stateSync: flags['state-sync'],
      onPhase: (text) => process.stderr.write(`bench-ledger: ${text}\n`),
    });
    const restart = (name: string, figures: RestartFigures): void => {
      const each = figures.restores.map((r) => `node ${r.node} ${formatCount(r.blocks)} blocks ${r.from} in ${r.seconds.toFixed(2)}s`).join('; ');
      this.say(`${name}: leader elected ${figures.secondsToLeader}s after spawn (${each})`);
    };
    const latency = (bench: BenchResult): string => `${formatCount(bench.throughput)} writes/s, p50 ${bench.latency.p50.toFixed(1)} ms, p99 ${bench.latency.p99.toFixed(1)} ms`;
    const mb = (bytes: number | null): string => (bytes === null ? '-' : `${(bytes / 1e6).toFixed(0)} MB`);
    this.say(`chain: head ${formatCount(result.chain.head)}, ${result.chain.megabytes} MB per node`);
    restart('restart, full replay', result.fullReplay);
    restart('restart, from checkpoint', result.fromCheckpoint);
    this.say(`load without checkpoints: ${latency(result.loadWithoutCheckpoints)}`);
    this.say(`load with checkpoints (${result.checkpointsWritten} written by the leader): ${latency(result.loadWithCheckpoints)}`);
    this.say(`disk, three nodes: ${mb(result.diskBytes.kept)} every body kept, ${mb(result.diskBytes.pruned)} pruned`);
    const wiped = result.wiped;
    this.say(`wiped node back to voting by ${wiped.mode}: ${wiped.secondsToVoting}s (height ${formatCount(wiped.height)}), leader kept ${(wiped.throughputKept * 100).toFixed(0)}% (${latency(wiped.during)})`);
    return result;
  }
}
