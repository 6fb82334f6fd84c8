import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { withClient, writeLine } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { keyHexFlag, keyInput, valueFlags, valueInput } from '../src/cli/input.js';
import type { WriteResult } from '../src/client/client.js';
import { verifiedWrite, verifiedWriteFlags } from '../src/cli/verified-write.js';
import { ErrorCode, PaxchainError } from '../src/lib/errors.js';

export default class Cas extends BaseCommand {
  static override summary = 'Compare-and-set: change KEY only if it holds the expected value.';
  static override description = `Sets KEY to NEW if its current value is --expect OLD, or if it does not exist with --absent.
--delete instead of NEW deletes the key on a match. Answers OK (or DELETED) on a match and
CAS_MISMATCH otherwise; a mismatch exits 1. With --verify the client checks, believing no node,
that the state of the block which applied the cas holds what its result says (NEW, absence, or for
a mismatch anything but OLD), under a majority-signed head (see \`put --verify\`).`;

  static override examples = [
    '<%= config.bin %> cas fruit/apple 1.25 --expect 1.20',
    '<%= config.bin %> cas lock/owner me --absent',
    '<%= config.bin %> cas lock/owner --delete --expect me --json',
  ];

  static override args = { key: Args.string({ required: false }), new: Args.string({ required: false, description: 'New value (omit with --delete).' }) };
  static override flags = {
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    expect: Flags.string({ summary: 'The value KEY must hold now.', exclusive: ['absent', 'expect-hex'] }),
    'expect-hex': Flags.string({ summary: 'The value KEY must hold now, as hex.', exclusive: ['absent'] }),
    'key-hex': keyHexFlag,
    ...valueFlags,
    absent: Flags.boolean({ default: false, summary: 'KEY must not exist now.' }),
    delete: Flags.boolean({ default: false, summary: 'Delete KEY on a match instead of setting NEW.' }),
    ...verifiedWriteFlags,
  };

  async run(): Promise<WriteResult & { key: string; matched: boolean; verified?: object }> {
    const { args, flags } = await this.parse(Cas);
    const [keyArgument, newArgument] = flags['key-hex'] !== undefined && args.new === undefined ? [undefined, args.key] : [args.key, args.new];
    const key = keyInput(keyArgument, flags['key-hex']);
    const expect = flags.absent ? null : valueInput('EXPECT', flags.expect, { 'value-hex': flags['expect-hex'] });
    if (expect === undefined) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'give --expect OLD, --expect-hex or --absent');
    const value = valueInput('NEW', newArgument, flags);
    if (flags.delete === (value !== undefined)) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'give either NEW (or a --value-… form) or --delete');
    if (flags.verify) {
      const view = await verifiedWrite(flags, (client, trust) => client.casVerified(key, expect, value ?? null, trust));
      if (view.warning) this.warn(view.warning);
      const matched = view.result.result !== 'CAS_MISMATCH';
      if (!matched) this.fail();
      this.say(view.line);
      return { key, matched, ...view.result, verified: view.verified };
    }
    const result = await withClient(flags, (client) => client.cas(key, expect, value ?? null));
    const matched = result.result !== 'CAS_MISMATCH';
    if (!matched) this.fail();
    this.say(writeLine(result));
    return { key, matched, ...result };
  }
}
