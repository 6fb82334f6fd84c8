import { Args } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { withClient, writeLine } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { keyHexFlag, keyInput } from '../src/cli/input.js';
import type { WriteResult } from '../src/client/client.js';

export default class Delete extends BaseCommand {
  static override summary = 'Delete KEY.';
  static override description = 'Answers DELETED if the key was there, NOT_FOUND if it was not (both succeed).';
  static override examples = ['<%= config.bin %> delete fruit/apple', '<%= config.bin %> delete fruit/apple --json'];
  static override args = { key: Args.string({ required: false }) };
  static override flags = { endpoints: endpointsFlag, timeout: timeoutFlag, 'key-hex': keyHexFlag };

  async run(): Promise<WriteResult & { key: string }> {
    const { args, flags } = await this.parse(Delete);
    const key = keyInput(args.key, flags['key-hex']);
    const result = await withClient(flags, (client) => client.delete(key));
    this.say(writeLine(result));
    return { key, ...result };
  }
}
