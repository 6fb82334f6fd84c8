import { Args } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { withClient, writeLine } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { keyHexFlag, keyInput } from '../src/cli/input.js';
import type { WriteResult } from '../src/client/client.js';
import { verifiedWrite, verifiedWriteFlags } from '../src/cli/verified-write.js';

export default class Delete extends BaseCommand {
  static override summary = 'Delete KEY.';
  static override description = 'Answers DELETED if the key was there, NOT_FOUND if it was not (both succeed). With --verify the client checks, believing no node, that the key is absent in the state of the block which applied the delete, under a majority-signed head (see `put --verify`).';
  static override examples = ['<%= config.bin %> delete fruit/apple', '<%= config.bin %> delete fruit/apple --json', '<%= config.bin %> delete fruit/apple --verify'];
  static override args = { key: Args.string({ required: false }) };
  static override flags = { endpoints: endpointsFlag, timeout: timeoutFlag, 'key-hex': keyHexFlag, ...verifiedWriteFlags };

  async run(): Promise<WriteResult & { key: string; verified?: object }> {
    const { args, flags } = await this.parse(Delete);
    const key = keyInput(args.key, flags['key-hex']);
    if (flags.verify) {
      const view = await verifiedWrite(flags, (client, trust) => client.deleteVerified(key, trust));
      if (view.warning) this.warn(view.warning);
      this.say(view.line);
      return { key, ...view.result, verified: view.verified };
    }
    const result = await withClient(flags, (client) => client.delete(key));
    this.say(writeLine(result));
    return { key, ...result };
  }
}
