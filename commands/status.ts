import { BaseCommand } from '../src/cli/base.js';
import { withClient } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { gatherStatus, leaderLine, leaderRow, type NodeRow, statusTable } from '../src/cli/status-ops.js';

export default class Status extends BaseCommand {
  static override summary = 'Show every node: role, ballot, chosen and applied height, head hash, reachability.';
  static override description = `Asks each endpoint for its own view. CHOSEN is the highest height the node knows to be
chosen, APPLIED its chain head. Exits 1 if no node is reachable.`;

  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --endpoints 127.0.0.1:7001,127.0.0.1:7002 --json'];
  static override flags = { endpoints: endpointsFlag, timeout: { ...timeoutFlag, default: 2000 } };

  async run(): Promise<{ nodes: NodeRow[]; leader: number | null }> {
    const { flags } = await this.parse(Status);
    const rows = await withClient(flags, gatherStatus);
    const leader = leaderRow(rows)?.status?.nodeId ?? null;
    for (const line of statusTable(rows)) this.say(line);
    this.say(leaderLine(rows));
    if (rows.every((row) => !row.reachable)) this.fail();
    return { nodes: rows, leader };
  }
}
