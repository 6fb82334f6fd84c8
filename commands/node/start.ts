import { CHECKPOINTS_KEPT_DEFAULT, CHECKPOINTS_KEPT_MAX } from '../../src/storage/checkpoint-store.js';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { DEFAULT_CLUSTER_ID, DEVELOPMENT_SECRET, parseEndpoint, parseMetricsAddress, parsePeers, checkNodeId, secretKey } from '../../src/node/config.js';
import { NodeLog } from '../../src/node/log.js';
import { CHECKPOINT_EVERY_DEFAULT, runNode, SCRUB_BLOCKS_PER_SECOND_DEFAULT } from '../../src/node/run.js';
import { parseHash } from '../../src/cli/flags.js';
import { readMemberKeyFile, readMemberListFile } from '../../src/node/member-key-file.js';
import { STATE_BYTES_MAX, STATE_ENTRIES_MAX } from '../../src/chain/body.js';

export default class NodeStart extends BaseCommand {
  static override summary = 'Run one paxchain node in the foreground.';
  static override description = `Serves peers and clients on one port (--listen). A node whose data directory is empty either
bootstraps a new cluster (--bootstrap, on every founding member, with the same --peers,
--cluster-id and --genesis-time) or joins as a non-voting learner that fetches the chain and
votes only after it has safely rejoined (a wiped node does this). Stop it with Ctrl-C or SIGTERM;
kill -9 is safe too: everything it promised or accepted is on disk before it said so.
With --json, logs are JSON lines.`;

  static override examples = [
    '<%= config.bin %> node start --id 1 --data data/node1 --listen 127.0.0.1:7001 --peers 2=127.0.0.1:7002,3=127.0.0.1:7003 --bootstrap',
    'PAXCHAIN_SECRET=s3cret <%= config.bin %> node start --id 2 --data data/node2 --listen 127.0.0.1:7002 --peers 1=127.0.0.1:7001,3=127.0.0.1:7003',
  ];

  static override flags = {
    id: Flags.integer({ required: true, summary: 'This node\'s id, 1..255.' }),
    data: Flags.directory({ char: 'd', required: true, summary: 'Data directory (created if missing).' }),
    listen: Flags.string({ summary: 'HOST:PORT to serve peers and clients on (default 127.0.0.1:7000+id).' }),
    peers: Flags.string({ default: '', summary: 'The other members: ID=HOST:PORT,...' }),
    bootstrap: Flags.boolean({ default: false, summary: 'Create genesis for a new cluster if the data directory is empty.' }),
    secret: Flags.string({ env: 'PAXCHAIN_SECRET', summary: 'Cluster secret proving membership to peers (env PAXCHAIN_SECRET).' }),
    'cluster-id': Flags.string({ default: DEFAULT_CLUSTER_ID, summary: 'Cluster id (written into genesis, checked on start).' }),
    'genesis-time': Flags.integer({ default: 0, min: 0, summary: 'Genesis timestamp in ms; identical on all founding members.' }),
    trace: Flags.boolean({ default: false, summary: 'Log every protocol message sent (type, from -> to, ballot, slot, size).' }),
    'checkpoint-every': Flags.integer({ min: 0, summary: `Blocks between background checkpoints of the state (0: only at a clean stop; default ${CHECKPOINT_EVERY_DEFAULT}).` }),
    'scrub-rate': Flags.integer({ min: 0, summary: `Blocks per second the background scrub re-verifies against the chain, refetching damaged ones from peers (0: off; default ${SCRUB_BLOCKS_PER_SECOND_DEFAULT}).` }),
    'checkpoints-kept': Flags.integer({ min: 1, max: CHECKPOINTS_KEPT_MAX, summary: `Checkpoints kept in the store; older ones are dropped once a new one is durable (default ${CHECKPOINTS_KEPT_DEFAULT}).` }),
    'retain-blocks': Flags.integer({ min: 0, summary: 'After each checkpoint, drop the bodies of blocks more than this many below it (headers stay, the chain stays verifiable; default: keep every body).' }),
    'full-replay': Flags.boolean({ default: false, summary: 'Replay and verify every block from genesis at start instead of loading the newest checkpoint.' }),
    'catchup-rate': Flags.integer({ min: 100, summary: 'Most blocks per second this node fetches while catching up (default: no limit).' }),
    'snapshot-rate': Flags.integer({ min: 1, summary: 'Most MB per second of checkpoint chunks this node fetches during a state sync (default: no limit).' }),
    'genesis-hash': Flags.string({ summary: 'Pin the cluster: refuse any genesis block but the one with this hash (64 hex digits).' }),
    key: Flags.file({ summary: 'This member\'s Ed25519 key file (paxchain cluster init / node keygen): signs heads for verified reads.' }),
    members: Flags.file({ summary: 'The founding members\' public keys (paxchain-members file); --bootstrap writes them into genesis.' }),
    'state-entries-max': Flags.integer({ min: 1, max: STATE_ENTRIES_MAX, summary: `With --bootstrap: most KV entries the state may hold, written into genesis (default ${STATE_ENTRIES_MAX}).` }),
    'state-bytes-max': Flags.integer({ min: 1, max: STATE_BYTES_MAX, summary: `With --bootstrap: most bytes of keys plus values, written into genesis (default ${STATE_BYTES_MAX}).` }),
    metrics: Flags.string({ summary: 'Serve Prometheus /metrics and /healthz on HOST:PORT (or PORT on 127.0.0.1); no authentication, keep it on a trusted network.' }),
    'log-level': Flags.string({ options: ['debug', 'info', 'warn', 'error'], default: 'info', summary: 'Least severe log level printed.' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(NodeStart);
    checkNodeId(flags.id);
    const listen = parseEndpoint(flags.listen ?? `127.0.0.1:${7000 + flags.id}`, '--listen');
    const peers = parsePeers(flags.peers, flags.id);
    const log = new NodeLog(flags.id, this.jsonEnabled() ? 'json' : 'text', flags['log-level'] as 'info');
    if (!flags.bootstrap && (flags['state-entries-max'] !== undefined || flags['state-bytes-max'] !== undefined)) {
      log.log('warn', '--state-entries-max and --state-bytes-max only take effect with --bootstrap (they are written into genesis); ignored', { ballot: '-', height: -1 });
    }
    const metrics = flags.metrics === undefined ? undefined : parseMetricsAddress(flags.metrics);
    if (metrics?.remote) log.log('warn', `--metrics ${flags.metrics}: /metrics and /healthz are served without authentication beyond this machine`, { ballot: '-', height: -1 });
    if (!flags.secret) log.log('warn', 'no --secret or PAXCHAIN_SECRET given: using the built-in development secret', { ballot: '-', height: -1 });
    const driver = await runNode(
      {
        id: flags.id,
        dataDir: flags.data,
        host: listen.host,
        port: listen.port,
        peers,
        clusterId: flags['cluster-id'],
        secret: secretKey(flags.secret ?? DEVELOPMENT_SECRET),
        bootstrap: flags.bootstrap,
        genesisTimeMs: flags['genesis-time'],
        logFormat: this.jsonEnabled() ? 'json' : 'text',
        trace: flags.trace,
        catchupBlocksPerSecond: flags['catchup-rate'],
        snapshotBytesPerSecond: flags['snapshot-rate'] === undefined ? undefined : flags['snapshot-rate'] * 1e6,
        checkpointEvery: flags['checkpoint-every'],
        fullReplay: flags['full-replay'],
        retainBlocks: flags['retain-blocks'],
        checkpointsKept: flags['checkpoints-kept'],
        scrubBlocksPerSecond: flags['scrub-rate'],
        genesisHash: flags['genesis-hash'] === undefined ? undefined : parseHash(flags['genesis-hash'], '--genesis-hash'),
        memberKey: flags.key === undefined ? undefined : readMemberKeyFile(flags.key),
        memberKeys: flags.members === undefined ? undefined : readMemberListFile(flags.members),
        stateEntriesMax: flags['state-entries-max'],
        stateBytesMax: flags['state-bytes-max'],
        metrics: metrics ? { host: metrics.host, port: metrics.port } : undefined,
      },
      log,
    );
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.log('info', `${signal}: stopping`, driver.context());
        void driver.stop().then(resolve, resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  }
}
