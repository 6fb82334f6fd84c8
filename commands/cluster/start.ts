import { join } from 'node:path';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { LocalCluster, SECRET_FILE } from '../../src/tools/local-cluster.js';

/** Restarts of one dead node allowed per window before `cluster start` leaves it down. */
const RESTARTS_PER_WINDOW_MAX = 5;
const RESTART_WINDOW_MS = 60_000;
/** Node N's metrics port is its own port plus this, unless --metrics-base-port says otherwise. */
const METRICS_PORT_OFFSET = 2000;

export default class ClusterStart extends BaseCommand {
  static override summary = 'Run a local cluster of N nodes on 127.0.0.1 in the foreground.';
  static override description = `Starts N \`paxchain node start\` processes with data under --data (data/node1, data/node2, ...)
and ports --base-port, --base-port + 1, ..., and prints their logs prefixed with the node name.
The first start creates the cluster (genesis) and writes its secret to DATA/secret (mode 0600); a
later start reuses the data. A node that dies is restarted after a back-off (at most
${RESTARTS_PER_WINDOW_MAX} times per ${RESTART_WINDOW_MS / 1000} s; then the log says how to start it by hand). A start on a cluster
that is already running is refused (STORE_LOCKED). Ctrl-C or SIGTERM stops all nodes cleanly.
With --json, node logs are JSON lines.`;

  static override examples = ['<%= config.bin %> cluster start', '<%= config.bin %> cluster start --nodes 5 --base-port 7101 --data /tmp/five'];
  static override flags = {
    nodes: Flags.integer({ default: 3, min: 1, max: 9, summary: 'Cluster size.' }),
    'base-port': Flags.integer({ default: 7001, min: 1024, max: 65_000, summary: 'Port of node 1; node N listens on base-port + N - 1.' }),
    data: Flags.directory({ default: 'data', summary: 'Root of the node data directories.' }),
    secret: Flags.string({ env: 'PAXCHAIN_SECRET', summary: 'Cluster secret (env PAXCHAIN_SECRET).' }),
    trace: Flags.boolean({ default: false, summary: 'Log every protocol message.' }),
    metrics: Flags.boolean({ default: true, allowNo: true, summary: 'Serve each node\'s Prometheus /metrics and /healthz (--no-metrics: off).' }),
    'metrics-base-port': Flags.integer({ min: 1024, max: 65_000, summary: 'Metrics port of node 1; node N serves on metrics-base-port + N - 1 (default base-port + 2000, 9001 for 7001).' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ClusterStart);
    const json = this.jsonEnabled();
    const cluster = new LocalCluster({
      root: flags.data,
      nodes: flags.nodes,
      basePort: flags['base-port'],
      secret: flags.secret,
      trace: flags.trace,
      metricsBasePort: flags.metrics ? (flags['metrics-base-port'] ?? flags['base-port'] + METRICS_PORT_OFFSET) : undefined,
      logFormat: json ? 'json' : 'text',
      onLine: (node, line) => process.stdout.write(json ? `${line}\n` : `[node${node}] ${line}\n`),
      onExit: (node, code, signal) => process.stderr.write(`[cluster] node ${node} exited (${signal ?? `code ${code}`})\n`),
      restart: { maxPerWindow: RESTARTS_PER_WINDOW_MAX, windowMs: RESTART_WINDOW_MS },
      onNotice: (line) => process.stderr.write(`[cluster] ${line}\n`),
    });
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`[cluster] ${signal}: stopping all nodes\n`);
      await cluster.stop();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
    await cluster.start();
    const endpoints = cluster.endpoints.join(',');
    process.stderr.write(
      `[cluster] ${cluster.file.nodes} nodes up (cluster ${cluster.file.clusterId}), data in ${flags.data}, secret in ${join(flags.data, SECRET_FILE)}\n` +
        `[cluster] pids ${cluster.ids.map((id) => `node${id}=${cluster.pid(id)}`).join(' ')}\n` +
        `[cluster] endpoints ${endpoints}\n` +
        (flags.metrics ? `[cluster] metrics ${cluster.ids.map((id) => `http://${cluster.metricsEndpoint(id)}/metrics`).join(' ')} (health: /healthz)\n` : '') +
        `[cluster] dashboard: npx paxchain dashboard${flags['base-port'] === 7001 ? '' : ` --endpoints ${endpoints}`} (then open http://127.0.0.1:8080)\n` +
        `[cluster] try: npx paxchain put fruit/apple 1.20 && npx paxchain get fruit/apple && npx paxchain status` +
        (flags['base-port'] === 7001 ? '\n' : ` (with --endpoints ${endpoints})\n`),
    );
    await new Promise(() => undefined);
  }
}
