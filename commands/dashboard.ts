import { Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { endpointsFlag } from '../src/cli/flags.js';
import { parseEndpoints } from '../src/client/client.js';
import { parseEndpoint } from '../src/lib/endpoint.js';
import { startDashboard } from '../src/tools/dashboard.js';

export default class Dashboard extends BaseCommand {
  static override summary = 'Serve a live web dashboard of a running cluster: members, charts, latest blocks, a chain explorer.';
  static override description = `Serves one page (no build step) on --listen (default 127.0.0.1:8080) for the cluster at
--endpoints: each member's role, ballot, heights, lag behind the highest head and health (ok, down,
no leader, diverged, cut off, catching up); writes/s, blocks/s and a probe read's latency over
the last minutes; the latest blocks; a block by height or hash with its commands; a key's history.
It samples every node's status once a second with a short deadline and never writes; a dead node
is shown down. The page's data is JSON under /api (overview, blocks, block/ID, history?key=K).
Runs until interrupted; with --json it prints {"url": ...} first.`;

  static override examples = ['<%= config.bin %> dashboard', '<%= config.bin %> dashboard --endpoints 10.0.0.1:7001,10.0.0.2:7001 --listen 127.0.0.1:9090'];
  static override flags = {
    endpoints: endpointsFlag,
    listen: Flags.string({ default: '127.0.0.1:8080', summary: 'HOST:PORT to serve the page on.' }),
  };

  async run(): Promise<{ url: string } | undefined> {
    const { flags } = await this.parse(Dashboard);
    const endpoints = parseEndpoints(flags.endpoints);
    const { host, port } = parseEndpoint(flags.listen, '--listen');
    const dashboard = await startDashboard({ endpoints, host, port, log: (line) => process.stderr.write(`${line}\n`) });
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify({ url: dashboard.url, endpoints })}\n`);
    else this.say(`dashboard: ${dashboard.url} (Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await dashboard.close();
    return undefined;
  }
}
