import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { type ReadRecord, readView, withClient } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';

export default class Get extends BaseCommand {
  static override summary = 'Read KEY.';
  static override description = `Linearizable by default: the leader confirms with a majority that it still leads, then answers
from a state that includes every write acknowledged before the read began. With --stale any node
answers from its own state at once, and says which block (height, hash) it read at.
Exits 1 if the key does not exist.`;

  static override examples = ['<%= config.bin %> get fruit/apple', '<%= config.bin %> get fruit/apple --stale --endpoints 127.0.0.1:7003 --json'];
  static override args = { key: Args.string({ required: true }) };
  static override flags = {
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    stale: Flags.boolean({ default: false, summary: 'Read the state of whichever node answers, without asking the leader.' }),
  };

  async run(): Promise<ReadRecord> {
    const { args, flags } = await this.parse(Get);
    const read = await withClient(flags, (client) => client.get(args.key, { stale: flags.stale }));
    const { record, line } = readView(args.key, read);
    this.say(line);
    if (!record.found) this.fail();
    return record;
  }
}
