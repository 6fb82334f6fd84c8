import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { displayValue, withClient } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { toHex } from '../src/lib/bytes.js';

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

  async run(): Promise<{ key: string; found: boolean; value: string | null; encoding: string; height: number; hash: string; stale: boolean; node: string }> {
    const { args, flags } = await this.parse(Get);
    const read = await withClient(flags, (client) => client.get(args.key, { stale: flags.stale }));
    const shown = displayValue(read.value);
    const result = { key: args.key, found: read.value !== null, ...shown, height: read.height, hash: toHex(read.hash), stale: read.stale, node: read.endpoint };
    if (read.value === null) {
      this.say(`(not found)${read.stale ? `  [stale read at height ${read.height} ${result.hash.slice(0, 16)} from ${read.endpoint}]` : ''}`);
      this.fail();
    } else {
      this.say(`${shown.encoding === 'base64' ? `base64:${shown.value}` : shown.value}${read.stale ? `  [stale read at height ${read.height} ${result.hash.slice(0, 16)} from ${read.endpoint}]` : ''}`);
    }
    return result;
  }
}
