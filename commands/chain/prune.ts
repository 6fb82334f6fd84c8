import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { requiredDataFlag } from '../../src/cli/flags.js';
import { formatCount, withProgress } from '../../src/cli/progress.js';
import { type PruneResult, pruneDataDir } from '../../src/cli/prune-ops.js';

export default class ChainPrune extends BaseCommand {
  static override summary = 'Drop the block bodies below a height from a stopped node\'s store, keeping every header.';
  static override description = `Retention by hand (a running node does it with --retain-blocks). Before deleting anything it
checks that the node can restart without those bodies: a checkpoint at HEIGHT-1 or above whose
root is its header's state root, every header link from genesis, and every block after the
checkpoint. Genesis is always kept; the chain stays verifiable end to end by its headers
(\`chain verify\`, \`chain audit\`), and \`chain show\` of a pruned height says PRUNED. LevelDB is
compacted afterwards so the disk space comes back.`;

  static override examples = ['<%= config.bin %> chain prune --data data/node1 --below 90000', '<%= config.bin %> chain prune --data data/node1 --below 90000 --json'];

  static override flags = {
    data: requiredDataFlag,
    below: Flags.integer({ required: true, min: 1, summary: 'Drop the bodies of blocks 1..BELOW-1.' }),
  };

  async run(): Promise<PruneResult> {
    const { flags } = await this.parse(ChainPrune);
    const result = await withProgress({ label: 'verify', unit: 'blocks' }, (progress) => pruneDataDir(flags.data, flags.below, progress.onHeight));
    const mb = (bytes: number | null): string => (bytes === null ? '?' : `${(bytes / 1e6).toFixed(1)} MB`);
    this.say(
      result.bodiesDeleted > 0
        ? `pruned ${formatCount(result.bodiesDeleted)} block bodies (${result.oldestBodyBefore}..${result.oldestBody - 1}); bodies kept from ${result.oldestBody} to the head ${result.head}`
        : `nothing to prune: bodies are kept from ${result.oldestBody} (head ${result.head})`,
    );
    this.say(`restartable from the checkpoint at ${result.checkpoint} (checked against its header's state root)`);
    this.say(`disk ${mb(result.diskBytesBefore)} -> ${mb(result.diskBytesAfter)} in ${result.seconds.toFixed(2)}s`);
    return result;
  }
}
