import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { type VerifyResult, verifyDataDir } from '../../src/cli/chain-ops.js';
import { requiredDataFlag, parseBlockRef } from '../../src/cli/flags.js';
import { formatCount, withProgress } from '../../src/cli/progress.js';
import { shortHash } from '../../src/cli/render.js';

export default class ChainVerify extends BaseCommand {
  static override summary = 'Verify a stopped node\'s chain: every link, body hash, state root and its signed head.';
  static override description = `Replays the chain in --data from genesis, checking each block's height, prevHash link, body
hash, history root and state root (by re-executing its commands), and the newest head
certificate the node stored (a majority of genesis's member keys signed a block of this chain).
Exits 0 when all of it checks out, 1 with the first bad height and the reason otherwise.`;

  static override examples = [
    '<%= config.bin %> chain verify --data data/node1',
    '<%= config.bin %> chain verify --data data/node1 --expect-head 1200:3f1c…(64 hex)',
    '<%= config.bin %> chain verify --data data/node1 --json',
  ];

  static override flags = {
    data: requiredDataFlag,
    'expect-head': Flags.string({
      summary: 'A head taken from elsewhere (HEIGHT:HASH, the full 64-hex hash, e.g. from `chain head` or `chain audit --json`) that this chain must contain.',
      helpValue: 'HEIGHT:HASH',
    }),
  };

  async run(): Promise<VerifyResult> {
    const { flags } = await this.parse(ChainVerify);
    const expectHead = flags['expect-head'] ? parseBlockRef(flags['expect-head']) : undefined;
    const result = await withProgress({ label: 'verify', unit: 'blocks' }, (progress) => verifyDataDir(flags.data, { expectHead, onProgress: progress.onHeight }));
    const certificate = result.certificate;
    if (result.ok) {
      const head = result.verifiedHead!;
      if (result.checkpoint !== null) {
        this.say(`chain OK: headers 0..${head.height} link; bodies 1..${result.prunedBelow - 1} are pruned, so the state was loaded from the checkpoint at ${result.checkpoint} (its root is header ${result.checkpoint}'s state root) and ${formatCount(result.blocksVerified)} blocks after it replayed, ${formatCount(result.commands)} commands`);
      } else {
        this.say(`chain OK: ${formatCount(result.blocksVerified)} blocks (0..${head.height}), ${formatCount(result.commands)} commands`);
      }
      this.say(`head ${head.height} ${head.hash}`);
      this.say(`state root ${result.stateRoot}`);
      if (expectHead) this.say(`contains the expected head ${expectHead.height}`);
      this.say(certificate ? `signed: block ${certificate.height} by members ${certificate.signers.join(', ')} (a majority of genesis's keys)` : 'signed: no head certificate stored (made by verified reads and writes)');
    } else if (!result.problem && certificate) {
      this.fail();
      this.say(`chain OK but its head certificate is NOT valid: ${certificate.reason}`);
      this.say(`  ${certificate.message}`);
    } else {
      this.fail();
      const problem = result.problem!;
      // A chain that is whole but is not the one expected is a mismatch, not damage.
      this.say(
        problem.reason === 'EXPECTED_HEAD_MISMATCH'
          ? `chain does NOT contain the expected head ${problem.height}: ${problem.reason}`
          : `chain BROKEN at height ${problem.height}: ${problem.reason}`,
      );
      this.say(`  ${problem.message}`);
      const head = result.verifiedHead;
      this.say(head ? `  blocks 0..${head.height} verified (last good hash ${shortHash(head.hash)})` : '  no block verified');
    }
    this.say(`${result.seconds.toFixed(2)}s, ${formatCount(result.blocksPerSecond)} blocks/s`);
    return result;
  }
}
