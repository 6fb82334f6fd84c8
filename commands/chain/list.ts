import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { type ListResult, listBlocks } from '../../src/cli/chain-ops.js';
import { dataFlag, endpointsFlag, timeoutFlag } from '../../src/cli/flags.js';
import { shortHash } from '../../src/cli/render.js';

export default class ChainList extends BaseCommand {
  static override summary = 'List blocks: height, hash, commands, size, time.';
  static override description = 'Reads a running node (--endpoints) or a stopped node\'s store (--data). Without --from/--to it lists the last 20 blocks. At most 10,000 blocks per call.';
  static override examples = [
    '<%= config.bin %> chain list',
    '<%= config.bin %> chain list --data data/node1 --from 0 --to 100 --json',
  ];

  static override flags = {
    data: dataFlag,
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    from: Flags.integer({ min: 0, summary: 'First height (inclusive).' }),
    to: Flags.integer({ min: 0, summary: 'Last height (inclusive).' }),
  };

  async run(): Promise<ListResult> {
    const { flags } = await this.parse(ChainList);
    const list = await listBlocks(flags, { from: flags.from, to: flags.to });
    this.say(`${'HEIGHT'.padStart(10)}  ${'HASH'.padEnd(16)}  ${'CMDS'.padStart(6)}  ${'BYTES'.padStart(8)}  TIME`);
    for (const block of list.blocks) {
      this.say(
        `${String(block.height).padStart(10)}  ${shortHash(block.hash)}  ${String(block.commands).padStart(6)}  ${String(block.bytes).padStart(8)}  ${block.proposedAt ?? ''}${block.kind === 'genesis' ? '  genesis' : block.kind === 'pruned' ? '  body pruned' : ''}`,
      );
    }
    return list;
  }
}
