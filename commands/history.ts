import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { dataFlag, endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { keyHexFlag, keyInput } from '../src/cli/input.js';
import { withProgress } from '../src/cli/progress.js';
import { valueText } from '../src/cli/render.js';
import { type KeyHistory, keyHistory } from '../src/tools/history.js';

export default class History extends BaseCommand {
  static override summary = 'List every change of KEY from the chain: height, operation, value.';
  static override description = `Replays (and so verifies) the chain of a running node (--endpoints) or a stopped node's data
directory (--data) and lists each command that changed KEY, oldest first, with the block's height
and hash: the change is in the state whose root that block's header carries. --all also lists
the commands that named KEY and changed nothing (cas mismatch, delete of an absent key, duplicate).`;

  static override examples = ['<%= config.bin %> history fruit/apple', '<%= config.bin %> history fruit/apple --data data/node1 --json'];
  static override args = { key: Args.string({ required: false }) };
  static override flags = {
    data: dataFlag,
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    'key-hex': keyHexFlag,
    all: Flags.boolean({ default: false, summary: 'Also list commands on KEY that changed nothing.' }),
  };

  async run(): Promise<KeyHistory> {
    const { args, flags } = await this.parse(History);
    const key = keyInput(args.key, flags['key-hex']);
    const history = await withProgress({ label: 'replay', unit: 'blocks' }, (progress) => keyHistory(flags, key, { all: flags.all, onProgress: progress.onHeight }));
    this.say(`# ${history.changes.length} changes of ${key} up to height ${history.head.height} ${history.head.hash.slice(0, 16)}`);
    for (const change of history.changes) {
      const value = change.value === null ? '(absent)' : valueText({ encoding: change.encoding, data: change.value });
      this.say(`${String(change.height).padStart(8)}  ${change.hash.slice(0, 16)}  ${change.op.padEnd(6)} ${change.result.padEnd(12)} ${change.changed ? value : ''}`.trimEnd());
    }
    return history;
  }
}
