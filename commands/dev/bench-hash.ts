import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { formatCount } from '../../src/cli/progress.js';
import { nobleSha256, type Sha256 } from '../../src/lib/sha256.js';
import { availableSha256, fastSha256 } from '../../src/native/sha256.js';

interface HashRate {
  readonly implementation: string;
  readonly messageBytes: number;
  readonly hashPerSecond: number;
  readonly hashManyPerSecond: number;
}

function measure(sha: Sha256, messageBytes: number, messages: number): HashRate {
  const batch = 1000;
  const data = new Uint8Array(messageBytes * batch).map((_, i) => i * 31);
  const starts = Uint32Array.from({ length: batch }, (_, i) => i * messageBytes);
  const ends = Uint32Array.from({ length: batch }, (_, i) => (i + 1) * messageBytes);
  const out = new Uint8Array(batch * 32);
  const single = data.subarray(0, messageBytes);
  let started = performance.now();
  for (let i = 0; i < messages; i++) sha.hash(single);
  const hashPerSecond = Math.round(messages / ((performance.now() - started) / 1000));
  started = performance.now();
  for (let i = 0; i < messages / batch; i++) sha.hashMany(data, starts, ends, batch, out);
  const hashManyPerSecond = Math.round(messages / ((performance.now() - started) / 1000));
  return { implementation: sha.name, messageBytes, hashPerSecond, hashManyPerSecond };
}

export default class DevBenchHash extends BaseCommand {
  static override summary = 'Benchmark the SHA-256 implementations available here.';
  static override description = `Measures one-at-a-time hashing and batch hashing (hashMany) of small messages for the native
addon, node:crypto and @noble/hashes. The fastest batch implementation is what nodes and tools
use on the hot path (replay, verify, state root).`;

  static override examples = ['<%= config.bin %> dev bench-hash', '<%= config.bin %> dev bench-hash --messages 2000000 --json'];
  static override flags = {
    messages: Flags.integer({ default: 500_000, min: 1000, max: 100_000_000, summary: 'Messages per measurement.' }),
  };

  async run(): Promise<{ selected: string; rates: HashRate[] }> {
    const { flags } = await this.parse(DevBenchHash);
    const rates: HashRate[] = [];
    for (const sha of [...availableSha256(), nobleSha256]) {
      for (const size of [45, 120, 1000]) rates.push(measure(sha, size, sha === nobleSha256 ? Math.min(flags.messages, 200_000) : flags.messages));
    }
    this.say(`${'IMPLEMENTATION'.padEnd(14)} ${'BYTES'.padStart(6)} ${'hash/s'.padStart(12)} ${'hashMany/s'.padStart(12)}`);
    for (const rate of rates) {
      this.say(`${rate.implementation.padEnd(14)} ${String(rate.messageBytes).padStart(6)} ${formatCount(rate.hashPerSecond).padStart(12)} ${formatCount(rate.hashManyPerSecond).padStart(12)}`);
    }
    this.say(`hot path uses: ${fastSha256.name}`);
    return { selected: fastSha256.name, rates };
  }
}
