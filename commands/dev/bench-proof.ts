import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { formatCount, withProgress } from '../../src/cli/progress.js';
import { benchProofs, type ProofBenchResult } from '../../src/tools/bench-proof.js';

export default class DevBenchProof extends BaseCommand {
  static override summary = 'Benchmark key proofs: proof size and verification rate by state size.';
  static override description = `For each --keys size, builds a state of that many keys (100-byte values), proves random keys
(half present, half absent) and verifies the proofs on one core, as a client does: mean and
largest proof in bytes, mean path length, proofs made and verified per second (native SHA-256,
and @noble/hashes as a browser would).`;

  static override examples = ['<%= config.bin %> dev bench-proof', '<%= config.bin %> dev bench-proof --keys 10000,100000,1000000 --json'];
  static override flags = {
    keys: Flags.string({ default: '10000,100000,1000000', summary: 'State sizes to measure, comma-separated.' }),
    proofs: Flags.integer({ default: 10_000, min: 100, max: 1_000_000, summary: 'Proofs per size.' }),
  };

  async run(): Promise<{ results: ProofBenchResult[] }> {
    const { flags } = await this.parse(DevBenchProof);
    const sizes = flags.keys.split(',').map((text) => Number(text.trim()));
    if (sizes.some((size) => !Number.isInteger(size) || size < 1 || size > 20_000_000)) this.error('--keys: sizes must be integers in [1, 20000000]', { exit: 2 });
    const results: ProofBenchResult[] = [];
    for (const keys of sizes) {
      results.push(await withProgress({ label: `state of ${formatCount(keys)} keys`, unit: 'keys', total: keys }, async (progress) => benchProofs(keys, flags.proofs, (done) => progress.onHeight(done, keys))));
    }
    this.say(`${'KEYS'.padStart(10)} ${'BUILD s'.padStart(8)} ${'STEPS'.padStart(6)} ${'BYTES mean/max'.padStart(15)} ${'prove/s'.padStart(10)} ${'verify/s'.padStart(10)} ${'noble/s'.padStart(9)}`);
    for (const r of results) {
      this.say(`${formatCount(r.keys).padStart(10)} ${r.buildSeconds.toFixed(1).padStart(8)} ${r.stepsMean.toFixed(1).padStart(6)} ${`${r.proofBytesMean}/${r.proofBytesMax}`.padStart(15)} ${formatCount(r.provePerSecond).padStart(10)} ${formatCount(r.verifyPerSecond).padStart(10)} ${formatCount(r.verifyPerSecondNoble).padStart(9)}`);
    }
    return { results };
  }
}
