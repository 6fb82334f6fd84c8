import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { type DumpResult, dumpState } from '../../src/tools/dump.js';
import { dataFlag, endpointsFlag, timeoutFlag } from '../../src/cli/flags.js';
import { withProgress } from '../../src/cli/progress.js';
import { keyText, valueText } from '../../src/cli/render.js';

export default class KvDump extends BaseCommand {
  static override summary = 'Print the key-value state at a height, with its height and state root.';
  static override description = `Rebuilds the state by replaying the chain of a running node (--endpoints: blocks are fetched
and verified here) or of a stopped node's data directory (--data), up to --at HEIGHT (default:
the head). Prints one \`key = value\` line per key (base64: prefix for bytes that are not UTF-8, text
quoted as a JSON string when it has control characters or looks like a marker),
sorted, after a line naming the height, block hash and state root.`;

  static override examples = [
    '<%= config.bin %> kv dump',
    '<%= config.bin %> kv dump --data data/node1 --at 120 --prefix fruit/',
    '<%= config.bin %> kv dump --json',
  ];

  static override flags = {
    data: dataFlag,
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    at: Flags.integer({ min: 0, summary: 'Height to dump the state at (default: the head).' }),
    prefix: Flags.string({ summary: 'Only keys starting with this.' }),
  };

  async run(): Promise<DumpResult> {
    const { flags } = await this.parse(KvDump);
    const result = await withProgress({ label: 'replay', unit: 'blocks' }, (progress) => dumpState(flags, { at: flags.at, prefix: flags.prefix, onProgress: progress.onHeight }));
    this.say(`# height ${result.height} hash ${result.hash} state root ${result.stateRoot}, ${result.keys} keys`);
    for (const entry of result.entries) this.say(`${keyText(entry.key)} = ${valueText({ encoding: entry.encoding, data: entry.value })}`);
    return result;
  }
}
