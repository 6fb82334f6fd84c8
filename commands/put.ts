import { Args } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { withClient, writeLine } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import type { WriteResult } from '../src/client/client.js';

export default class Put extends BaseCommand {
  static override summary = 'Set KEY to VALUE.';
  static override description = 'The write is acknowledged once a majority has it on disk and it is applied; a retry after a timeout is applied once.';
  static override examples = ['<%= config.bin %> put fruit/apple 1.20', '<%= config.bin %> put greeting "hello world" --endpoints 127.0.0.1:7002 --json'];
  static override args = { key: Args.string({ required: true }), value: Args.string({ required: true }) };
  static override flags = { endpoints: endpointsFlag, timeout: timeoutFlag };

  async run(): Promise<WriteResult & { key: string }> {
    const { args, flags } = await this.parse(Put);
    const result = await withClient(flags, (client) => client.put(args.key, args.value));
    this.say(writeLine(result));
    return { key: args.key, ...result };
  }
}
