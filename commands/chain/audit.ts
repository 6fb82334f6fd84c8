import { Flags } from '@oclif/core';
import { type AuditReport, audit } from '../../src/tools/audit.js';
import { BaseCommand } from '../../src/cli/base.js';
import { endpointsFlag } from '../../src/cli/flags.js';
import { withProgress } from '../../src/cli/progress.js';
import { formatTable, shortHash } from '../../src/cli/render.js';
import { parseEndpoints } from '../../src/client/client.js';

export default class ChainAudit extends BaseCommand {
  static override summary = 'Audit every chain: heads, lag, every link, and where chains fork.';
  static override description = `Reads the block headers of every running node (--endpoints) and of stopped nodes' data
directories (--data, repeatable) from genesis to their heads, hashes them itself, checks every
link, and compares the chains height by height. Reports each source's height, head hash and lag,
whether all chains agree on their common prefix, and for a fork the first divergent height with
each side's block hash. Exits 1 on a fork, a broken chain, or fewer than a majority of nodes
reachable.`;

  static override examples = [
    '<%= config.bin %> chain audit',
    '<%= config.bin %> chain audit --endpoints 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 --json',
    '<%= config.bin %> chain audit --data /backups/node1 --data /backups/node2',
  ];

  static override flags = {
    endpoints: endpointsFlag,
    data: Flags.directory({ char: 'd', multiple: true, summary: 'A stopped node\'s data directory to include (repeatable).' }),
    timeout: Flags.integer({ default: 5000, min: 1, summary: 'Per-request deadline in ms.' }),
  };

  async run(): Promise<AuditReport> {
    const { flags } = await this.parse(ChainAudit);
    const dataDirs = flags.data ?? [];
    const endpoints = flags.endpoints !== undefined || dataDirs.length === 0 ? parseEndpoints(flags.endpoints) : [];
    const report = await withProgress({ label: 'audit', unit: 'heights' }, (progress) => audit({ endpoints, dataDirs, timeoutMs: flags.timeout, onProgress: progress.onHeight }));
    const header = ['SOURCE', 'HEIGHT', 'HEAD HASH', 'LAG', 'CHAIN', 'SIGNED HEAD'];
    const rows = report.sources.map((source) => [
      source.source,
      source.height === null ? '-' : String(source.height),
      source.headHash ? shortHash(source.headHash) : '-',
      source.lag === null ? '-' : String(source.lag),
      !source.reachable ? `unreachable (${source.error})` : source.brokenAt ? `BROKEN at ${source.brokenAt.height}: ${source.brokenAt.reason}` : 'ok',
      !source.certificate ? '-' : source.certificate.ok ? `${source.certificate.height} by ${source.certificate.signers.join(',')}` : `INVALID: ${source.certificate.reason}`,
    ]);
    for (const line of formatTable(header, rows)) this.say(line);
    if (report.fork) {
      this.say(`FORK at height ${report.fork.height}:`);
      for (const side of report.fork.sides) this.say(`  ${side.hash}  ${side.sources.join(', ')}`);
    }
    this.say(`${report.linksChecked} links checked; common prefix 0..${report.commonPrefix}`);
    this.say(report.ok ? 'audit OK: all chains agree' : `audit FAILED: ${report.problems.join('; ')}`);
    if (!report.ok) this.fail();
    return report;
  }
}
