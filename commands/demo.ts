import { Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { type DemoResult, runDemo } from '../src/tools/demo.js';

export default class Demo extends BaseCommand {
  static override summary = 'Watch a local cluster work under load, optionally while acceptors fail at random.';
  static override description = `Starts a local cluster (its own data directory and ports), loads data/fruits.json, and runs
clients that read, put, cas and delete fruit prices while recording every operation. With
--chaos a random acceptor fails every 2-4 s (kill -9, SIGSTOP/SIGCONT, or wipe-and-rejoin, chosen
at random; never more than a minority at once) and recovers 2-4 s later. A summary line every
second shows ops/s, errors, the leader, each node's height (L = learner) and the current faults.
At the end the cluster heals, the chains are audited and the recorded history is checked for
linearizability; the exit code is 1 if either fails.`;

  static override examples = ['<%= config.bin %> demo', '<%= config.bin %> demo --nodes 5 --chaos --duration 60 --seed 7', '<%= config.bin %> demo --chaos --duration 20 --json'];
  static override flags = {
    nodes: Flags.integer({ default: 5, min: 3, max: 9, summary: 'Cluster size.' }),
    chaos: Flags.boolean({ default: false, summary: 'Fail and recover random acceptors while the workload runs.' }),
    duration: Flags.integer({ default: 60, min: 5, max: 3600, summary: 'Seconds of workload.' }),
    seed: Flags.integer({ default: 1, summary: 'Seed of the fault and workload choices.' }),
    clients: Flags.integer({ default: 4, min: 1, max: 64, summary: 'Client sessions.' }),
    'base-port': Flags.integer({ default: 7101, min: 1024, max: 65_000, summary: 'Port of node 1.' }),
    data: Flags.directory({ summary: 'Keep the cluster\'s data here (default: a temporary directory, deleted afterwards).' }),
    trace: Flags.boolean({ default: false, summary: 'Print every protocol message the nodes send.' }),
    logs: Flags.boolean({ default: false, summary: 'Print the nodes\' logs too.' }),
  };

  async run(): Promise<DemoResult> {
    const { flags } = await this.parse(Demo);
    const quiet = this.jsonEnabled();
    const result = await runDemo({
      nodes: flags.nodes,
      basePort: flags['base-port'],
      durationSeconds: flags.duration,
      chaos: flags.chaos,
      seed: flags.seed,
      clients: flags.clients,
      trace: flags.trace,
      data: flags.data,
      onLine: flags.logs || flags.trace ? (node, line) => process.stderr.write(`[node${node}] ${line}\n`) : undefined,
      onSummary: (line) => process.stderr.write(`${line}\n`),
    });
    if (!quiet) {
      this.say(`${result.operations} operations in ${result.durationSeconds}s; errors: ${Object.entries(result.errors).map(([code, count]) => `${code} ${count}`).join(', ') || 'none'}`);
      this.say(`faults: ${result.faults.length === 0 ? 'none' : result.faults.map((fault) => `node ${fault.node} ${fault.kind} at ${fault.atSeconds}s`).join('; ')}`);
      this.say(`audit: ${result.audit.ok ? `OK, ${result.audit.linksChecked} links checked, all chains agree on 0..${result.audit.commonPrefix}` : `FAILED: ${result.audit.problems.join('; ')}`}`);
      const lin = result.linearizability;
      this.say(`linearizability: ${lin.verdict} (${lin.operations} operations on ${lin.keys} keys)${lin.violation ? `: ${lin.violation.message}` : ''}`);
      this.say(result.ok ? 'demo OK' : 'demo FAILED');
    }
    if (!result.ok) this.fail();
    return result;
  }
}
