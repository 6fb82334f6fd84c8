import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { parseMix, requiredDataFlag } from '../../src/cli/flags.js';
import { type GenResult, generateDataDir, parseMembers } from '../../src/tools/gen-ops.js';
import { formatCount, withProgress } from '../../src/cli/progress.js';

export default class DevGen extends BaseCommand {
  static override summary = 'Generate a valid chain locally (for tests, benchmarks and demos).';
  static override description = `Builds genesis and N blocks of M commands from a seeded synthetic workload (puts, deletes, cas,
and a few retried (session, seq) duplicates) through the same ledger code a node uses. The same
flags always produce the same chain.`;

  static override examples = [
    '<%= config.bin %> dev gen --data data/demo --blocks 1000 --commands-per-block 10',
    '<%= config.bin %> dev gen --data /tmp/big --blocks 100000 --commands-per-block 100 --value-size 100 --mix put=100 --force',
  ];

  static override flags = {
    data: requiredDataFlag,
    blocks: Flags.integer({ required: true, min: 0, max: 100_000_000, summary: 'Blocks after genesis.' }),
    'commands-per-block': Flags.integer({ required: true, min: 0, max: 10_000, summary: 'Commands in each block.' }),
    'value-size': Flags.integer({ default: 100, min: 0, max: 1024 * 1024, summary: 'Bytes per value.' }),
    keys: Flags.integer({ default: 100_000, min: 1, summary: 'Distinct keys.' }),
    clients: Flags.integer({ default: 1000, min: 1, max: 1_000_000, summary: 'Distinct client sessions.' }),
    mix: Flags.string({ default: 'put=90,delete=5,cas=5', summary: 'Command mix in percent.' }),
    duplicates: Flags.string({ default: '0.001', summary: 'Probability that a command is a retry of the client\'s previous one.' }),
    seed: Flags.integer({ default: 1, summary: 'Workload seed.' }),
    'cluster-id': Flags.string({ default: 'dev', summary: 'Cluster id written into genesis.' }),
    members: Flags.string({ default: '1,2,3', summary: 'Member node ids written into genesis.' }),
    force: Flags.boolean({ default: false, summary: 'Replace --data if it exists.' }),
  };

  async run(): Promise<GenResult> {
    const { flags } = await this.parse(DevGen);
    const duplicateRate = Number(flags.duplicates);
    if (!(duplicateRate >= 0 && duplicateRate <= 1)) this.error('--duplicates must be a number in [0, 1]', { exit: 2 });
    const result = await withProgress({ label: 'gen', unit: 'blocks', total: flags.blocks }, (progress) => generateDataDir(flags.data, {
      force: flags.force,
      blocks: flags.blocks,
      commandsPerBlock: flags['commands-per-block'],
      clusterId: flags['cluster-id'],
      members: parseMembers(flags.members),
      workload: {
        seed: flags.seed,
        keys: flags.keys,
        valueBytes: flags['value-size'],
        clients: flags.clients,
        mix: parseMix(flags.mix, ['put', 'delete', 'cas']),
        duplicateRate,
      },
      onProgress: (blocks) => progress.update(blocks),
    }));
    this.say(
      `generated ${formatCount(result.blocks)} blocks (${formatCount(result.commands)} commands, ${(result.bytes / 1e6).toFixed(1)} MB) in ${flags.data}`,
    );
    this.say(`head ${result.head.height} ${result.head.hash}`);
    this.say(`${result.seconds.toFixed(2)}s, ${formatCount(result.blocksPerSecond)} blocks/s`);
    return result;
  }
}
