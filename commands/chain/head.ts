import { BaseCommand } from '../../src/cli/base.js';
import { type HeadResult, headOf } from '../../src/cli/chain-ops.js';
import { dataFlag, endpointsFlag, timeoutFlag } from '../../src/cli/flags.js';

export default class ChainHead extends BaseCommand {
  static override summary = 'Show the head block of a chain: height, hash, state root.';
  static override description = 'Asks a running node (--endpoints) or reads a stopped node\'s store (--data). It does not verify the chain; use `chain verify` for that.';
  static override examples = ['<%= config.bin %> chain head', '<%= config.bin %> chain head --data data/node1 --json'];
  static override flags = { data: dataFlag,
    endpoints: endpointsFlag,
    timeout: timeoutFlag };

  async run(): Promise<HeadResult> {
    const { flags } = await this.parse(ChainHead);
    const head = await headOf(flags);
    this.say(`height        ${head.height}`);
    this.say(`hash          ${head.hash}`);
    this.say(`state root    ${head.stateRoot}`);
    this.say(`prev hash     ${head.prevHash}`);
    this.say(`commands      ${head.commands}`);
    if (head.proposedAt) this.say(`proposed at   ${head.proposedAt}`);
    this.say(`cluster       ${head.clusterId} (genesis ${head.genesisHash})`);
    return head;
  }
}
