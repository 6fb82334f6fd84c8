import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { type ReadRecord, readView, withClient } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { keyHexFlag, keyInput } from '../src/cli/input.js';

export default class Get extends BaseCommand {
  static override summary = 'Read KEY.';
  static override description = `Linearizable by default: the leader confirms with a majority that it still leads, then answers
from a state that includes every write acknowledged before the read began. With --stale any node
answers from its own state at once, and says which block (height, hash) it read at.
Exits 1 if the key does not exist.`;

  static override examples = ['<%= config.bin %> get fruit/apple', '<%= config.bin %> get fruit/apple --stale --endpoints 127.0.0.1:7003 --json'];
  static override args = { key: Args.string({ required: false }) };
  static override flags = {
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    stale: Flags.boolean({ default: false, summary: 'Read the state of whichever node answers, without asking the leader.' }),
    'key-hex': keyHexFlag,
    raw: Flags.boolean({ default: false, summary: 'Print the value\'s bytes as they are (no newline, no escaping).', exclusive: ['base64'] }),
    base64: Flags.boolean({ default: false, summary: 'Print the value as base64.' }),
  };

  async run(): Promise<ReadRecord> {
    const { args, flags } = await this.parse(Get);
    const key = keyInput(args.key, flags['key-hex']);
    const read = await withClient(flags, (client) => client.get(key, { stale: flags.stale }));
    const { record, line } = readView(key, read);
    if (flags.raw && read.value !== null && !this.jsonEnabled()) process.stdout.write(read.value);
    else if (flags.base64 && read.value !== null && !this.jsonEnabled()) this.say(Buffer.from(read.value).toString('base64'));
    else this.say(line);
    if (!record.found) this.fail();
    return record;
  }
}
