import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { type ShowResult, showBlock } from '../../src/cli/chain-ops.js';
import { dataFlag, endpointsFlag, timeoutFlag, parseHeight } from '../../src/cli/flags.js';
import { withProgress } from '../../src/cli/progress.js';
import { commandLine } from '../../src/cli/render.js';

export default class ChainShow extends BaseCommand {
  static override summary = 'Show one block: header, commands and their results.';
  static override description = `Reads a running node (--endpoints) or a stopped node's store (--data). Results are not
stored: they are what replaying the chain yields, so this replays (and thereby verifies) blocks
0..HEIGHT, fetched from the node when online. Use --no-results to skip that on long chains.`;

  static override examples = ['<%= config.bin %> chain show 42', '<%= config.bin %> chain show 0 --data data/node1 --json'];
  static override args = { height: Args.string({ required: true, description: 'Block height (0 is genesis).' }) };
  static override flags = {
    data: dataFlag,
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    results: Flags.boolean({ default: true, allowNo: true, summary: 'Replay up to HEIGHT to show each command\'s result.' }),
  };

  async run(): Promise<ShowResult> {
    const { args, flags } = await this.parse(ChainShow);
    const height = parseHeight(args.height);
    const shown = await withProgress({ label: 'replay', unit: 'blocks' }, (progress) => showBlock(flags, height, { results: flags.results, onProgress: progress.onHeight }));
    const block = shown.block;
    this.say(`block ${block.height} (${block.kind}, ${block.commands} commands, ${block.bytes} bytes)`);
    this.say(`  hash          ${block.hash}`);
    this.say(`  prev hash     ${block.prevHash}`);
    this.say(`  body hash     ${block.bodyHash}`);
    this.say(`  state root    ${block.stateRoot}`);
    if (block.proposedAt) this.say(`  ${block.kind === 'genesis' ? 'created at' : 'proposed at'}   ${block.proposedAt}`);
    if (block.kind === 'genesis') this.say(`  cluster       ${block.clusterId}, members ${block.members?.join(', ')}`);
    if (shown.problem) {
      this.say(`  results unavailable: chain broken at ${shown.problem.height} (${shown.problem.reason})`);
      this.fail();
    }
    shown.commands.forEach((command, i) => this.say(`  ${String(i).padStart(4)}  ${commandLine(command)}`));
    return shown;
  }
}
