import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { withClient } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { type LoadResult, loadEntries, readEntries } from '../src/tools/load.js';
import { formatCount, withProgress } from '../src/cli/progress.js';

export default class Load extends BaseCommand {
  static override summary = 'Import a JSON object of key -> value into the cluster.';
  static override description = `Reads FILE (a JSON object; string values are stored as they are, other values as JSON text)
and writes every entry, --concurrency at a time, with progress on stderr. Each write is applied
once even when retried.`;

  static override examples = ['<%= config.bin %> load data/fruits.json --prefix fruit/', '<%= config.bin %> load prices.json --concurrency 128 --json'];
  static override args = { file: Args.string({ required: true, description: 'JSON file.' }) };
  static override flags = {
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    prefix: Flags.string({ default: '', summary: 'Prefix added to every key.' }),
    concurrency: Flags.integer({ default: 64, min: 1, max: 4096, summary: 'Writes in flight at once.' }),
  };

  async run(): Promise<LoadResult> {
    const { args, flags } = await this.parse(Load);
    const entries = readEntries(args.file, flags.prefix);
    const result = await withProgress({ label: 'load', unit: 'keys', total: entries.length }, (progress) =>
      withClient(flags, (client) => loadEntries(client, entries, { concurrency: flags.concurrency, file: args.file, onProgress: (done, total) => progress.update(done, total) })),
    );
    this.say(`loaded ${formatCount(result.keys)} keys from ${args.file} in ${result.seconds}s (${formatCount(result.keysPerSecond)} keys/s), up to height ${result.height}`);
    return result;
  }
}
