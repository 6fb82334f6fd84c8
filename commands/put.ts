import { Args } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { withClient, writeLine } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { keyHexFlag, keyInput, valueFlags, valueInput } from '../src/cli/input.js';
import { ErrorCode, PaxchainError } from '../src/lib/errors.js';
import type { WriteResult } from '../src/client/client.js';
import { verifiedWrite, verifiedWriteFlags } from '../src/cli/verified-write.js';

export default class Put extends BaseCommand {
  static override summary = 'Set KEY to VALUE.';
  static override description = `The write is acknowledged once a majority has it on disk and it is applied; a retry after a timeout is applied once.

With --verify the client also checks, believing no node, that the state of the block which applied
the write holds VALUE, and that this block is in the history of a head a majority of the members
signed, extending the trusted head in --state-file. A failed check is VERIFICATION_FAILED naming
it (the write was applied all the same; its result and height are in the error's details).`;
  static override examples = [
    '<%= config.bin %> put fruit/apple 1.20',
    '<%= config.bin %> put greeting "hello world" --endpoints 127.0.0.1:7002 --json',
    '<%= config.bin %> put --key-hex 62696e2fff --value-file photo.jpg',
    '<%= config.bin %> put fruit/apple 1.20 --verify --state-file ./trust.json',
  ];
  static override args = { key: Args.string({ required: false }), value: Args.string({ required: false }) };
  static override flags = { endpoints: endpointsFlag, timeout: timeoutFlag, 'key-hex': keyHexFlag, ...valueFlags, ...verifiedWriteFlags };

  async run(): Promise<WriteResult & { key: string; verified?: object }> {
    const { args, flags } = await this.parse(Put);
    // With --key-hex the one argument given is the value.
    const [keyArgument, valueArgument] = flags['key-hex'] !== undefined && args.value === undefined ? [undefined, args.key] : [args.key, args.value];
    const key = keyInput(keyArgument, flags['key-hex']);
    const value = valueInput('VALUE', valueArgument, flags);
    if (value === undefined) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'give VALUE, --value-hex, --value-base64 or --value-file');
    if (flags.verify) {
      const view = await verifiedWrite(flags, (client, trust) => client.putVerified(key, value, trust));
      if (view.warning) this.warn(view.warning);
      this.say(view.line);
      return { key, ...view.result, verified: view.verified };
    }
    const result = await withClient(flags, (client) => client.put(key, value));
    this.say(writeLine(result));
    return { key, ...result };
  }
}
