/**
 * A node's Prometheus metrics (prom-client), served by src/node/metrics-server.ts.
 *
 * Two kinds, so the hot path pays almost nothing:
 * - Events the driver observes as they happen: a write's or read's latency from request to reply,
 *   a disk batch's latency and size, a heartbeat's round trip to a peer, a leader change. Each is
 *   one bucket increment on a pre-bound histogram child (no label lookup per observation).
 * - Everything else (heights, role, ballot, per-peer lag, state size, disk bytes, the transport's
 *   refusal counters) is read from the driver's `MetricsView` when Prometheus scrapes: the
 *   replica is never touched between scrapes.
 *
 * Names follow the Prometheus conventions: `paxchain_` prefix, base units (`_seconds`, `_bytes`),
 * `_total` on counters. Counters the driver already keeps (status counters) are mirrored: at each
 * scrape the counter grows by what the driver's count grew since the last one. The node's id and
 * cluster are in `paxchain_node_info` rather than a label on every series (Prometheus adds the
 * target's own `instance` label).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Role } from '../replica/replica.js';

/** Latency buckets (seconds): 0.25 ms .. 10 s, the span from an idle loopback read to a stalled disk. */
const LATENCY_BUCKETS_SECONDS = [0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Round-trip buckets (seconds) for peer heartbeats: 50 µs .. 1 s. */
const ROUND_TRIP_BUCKETS_SECONDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/** Batch size buckets (count): powers of two up to the Ready loop's largest batches. */
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
/** Peers with their own labelled series, at most: node ids are 1..255. */
const METRIC_PEERS_MAX = 255;
/** collect() calls within this many ms of the first share its view (one scrape reads the driver once). */
const SCRAPE_VIEW_REUSE_MS = 100;

const ROLES: readonly Role[] = ['leader', 'candidate', 'follower', 'learner'];
export type ReadKind = 'read' | 'stale_read' | 'range';

/** What a scrape reads from the driver: plain numbers, nothing that hashes or walks the state. */
export interface MetricsView {
  readonly role: Role;
  /** The leader this node heard from lately (0: none). */
  readonly leader: number;
  /** The ballot's round (the part before the node id; 0 before any ballot). */
  readonly ballotRound: number;
  readonly voting: boolean;
  readonly chosenHeight: number;
  readonly appliedHeight: number;
  readonly durableHeight: number;
  readonly proposalsInFlight: number;
  readonly writesQueued: number;
  /** Client requests this node has not answered yet (writes and reads). */
  readonly requestsWaiting: number;
  readonly peers: ReadonlyArray<{ readonly id: number; readonly headHeight: number | null; readonly linkUp: boolean }>;
  readonly stateSync: { readonly active: boolean; readonly chunks: number | null; readonly loaded: number; readonly syncs: number; readonly chunksRefused: number };
  readonly state: { readonly keys: number; readonly bytes: number; readonly sessions: number; readonly keysMax: number | null; readonly bytesMax: number | null } | null;
  readonly diskBytes: number | null;
  readonly checkpointHeight: number | null;
  readonly diverged: boolean;
  readonly frozen: boolean;
  readonly disagreeingPeers: number;
  readonly cutOff: boolean;
  readonly watches: number;
  readonly connections: { readonly pending: number; readonly client: number; readonly peer: number };
  /** Monotonic counts since the process started (the driver's status counters). */
  readonly counters: Readonly<Record<string, number>>;
}

/**
 * Mirrored counters: metric name (without prefix) -> [help, the status counters summed]. The names
 * on the right are the keys of NodeStatus.counters (README, `paxchain status --json`).
 */
const MIRRORED: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['client_requests_total', 'Client requests received (every operation).', ['clientRequests']],
  ['blocks_appended_total', 'Blocks appended to this node\'s chain.', ['blocksAppended']],
  ['disk_synced_batches_total', 'Disk batches written with fsync.', ['syncedBatches']],
  ['peer_messages_received_total', 'Peer messages received and handed to the replica.', ['peerMessagesIn']],
  ['peer_messages_sent_total', 'Peer messages queued to a link.', ['peerMessagesOut']],
  ['peer_messages_dropped_total', 'Peer messages dropped (link down or its queue full).', ['peerMessagesDropped']],
  ['peer_messages_refused_total', 'Peer messages refused as malformed or misaddressed (the link is closed).', ['badPeerMessages']],
  ['frames_refused_total', 'Connections closed for an undecodable or oversized frame.', ['badFrames', 'oversizedFrames']],
  ['auth_failures_total', 'Handshakes refused, both directions (wrong cluster, secret or proof).', ['authFailures']],
  ['connections_accepted_total', 'TCP connections accepted.', ['connectionsAccepted']],
  ['connections_refused_total', 'Connections refused or evicted by admission (client budgets full, per-address limit, pending evicted).', ['connectionsRefused']],
  ['connections_closed_slow_total', 'Connections closed for a frame not complete in time, idleness, or the partial-frame budget.', ['slowFramesClosed', 'idleClosed', 'bufferBudgetClosed']],
  ['checkpoints_written_total', 'State checkpoints written.', ['checkpointsWritten']],
  ['bodies_pruned_total', 'Block bodies dropped by retention.', ['bodiesPruned']],
  ['snapshot_chunks_served_total', 'State sync chunks sent to peers.', ['snapshotChunksServed']],
  ['scrubbed_blocks_total', 'Blocks re-verified by the background scrub.', ['scrubbedBlocks']],
  ['scrub_damaged_total', 'Stored blocks the scrub found damaged.', ['scrubDamaged']],
  ['scrub_repaired_total', 'Damaged blocks repaired from peers.', ['scrubRepaired']],
  ['watches_fell_behind_total', 'Watches cancelled because their client read too slowly.', ['watchesFellBehind']],
  ['promises_sent_total', 'Phase 1 promises sent (votes).', ['promisesSent']],
  ['accepted_sent_total', 'Phase 2 acceptances sent (votes).', ['acceptedSent']],
];

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly registers = [this.registry];
  private readonly writeOk: Histogram.Internal<string>;
  private readonly writeError: Histogram.Internal<string>;
  private readonly reads: Record<ReadKind, Histogram.Internal<string>>;
  private readonly fsync: Histogram<string>;
  private readonly diskWrite: Histogram<string>;
  private readonly batchOps: Histogram<string>;
  private readonly batchBlocks: Histogram<string>;
  private readonly roundTrip: Histogram<'peer'>;
  private readonly roundTripByPeer = new Map<number, Histogram.Internal<'peer'>>();
  private readonly leaderChanges: Counter<string>;
  /** The view of the scrape under way: the first collect() takes it, the rest reuse it. */
  private scraped: MetricsView | undefined;
  private scrapedAt = -1;

  constructor(
    private readonly view: () => MetricsView,
    info: { readonly nodeId: number; readonly clusterId: string; readonly version: string },
    options: { readonly processMetrics?: boolean } = {},
  ) {
    const registers = this.registers;
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client's gauges named like counters (promtool check metrics flags them); the same
      // counts by type stay (nodejs_active_handles, nodejs_active_requests, nodejs_active_resources).
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    }
    new Gauge({ name: 'paxchain_node_info', help: 'This node: id, cluster and version (always 1).', labelNames: ['node_id', 'cluster_id', 'version'], registers })
      .labels(String(info.nodeId), info.clusterId, info.version)
      .set(1);
    const writes = new Histogram({ name: 'paxchain_write_duration_seconds', help: 'Writes from request to reply at this node, by result (ok: chosen and applied; error: refused, not leader, overloaded).', labelNames: ['result'], buckets: LATENCY_BUCKETS_SECONDS, registers });
    this.writeOk = writes.labels('ok');
    this.writeError = writes.labels('error');
    const reads = new Histogram({ name: 'paxchain_read_duration_seconds', help: 'Reads from request to reply at this node, by kind (read: linearizable; stale_read; range).', labelNames: ['kind'], buckets: LATENCY_BUCKETS_SECONDS, registers });
    this.reads = { read: reads.labels('read'), stale_read: reads.labels('stale_read'), range: reads.labels('range') };
    this.fsync = new Histogram({ name: 'paxchain_disk_fsync_duration_seconds', help: 'Disk batches written with fsync: write plus sync.', buckets: LATENCY_BUCKETS_SECONDS, registers });
    this.diskWrite = new Histogram({ name: 'paxchain_disk_write_duration_seconds', help: 'Disk batches written without fsync (nothing waits on them for safety).', buckets: LATENCY_BUCKETS_SECONDS, registers });
    this.batchOps = new Histogram({ name: 'paxchain_disk_batch_operations', help: 'LevelDB operations per disk batch.', buckets: BATCH_SIZE_BUCKETS, registers });
    this.batchBlocks = new Histogram({ name: 'paxchain_disk_batch_blocks', help: 'Blocks per disk batch (batches that write blocks).', buckets: BATCH_SIZE_BUCKETS, registers });
    this.roundTrip = new Histogram({ name: 'paxchain_peer_round_trip_seconds', help: 'Heartbeat to heartbeat-ack round trip to each peer (sent by a leader).', labelNames: ['peer'], buckets: ROUND_TRIP_BUCKETS_SECONDS, registers });
    this.leaderChanges = new Counter({ name: 'paxchain_leader_changes_total', help: 'Changes of the leader this node knows of (including to none).', registers });
    this.heightAndRoleGauges();
    this.stateGauges();
    this.labelledGauges();
    this.mirroredCounters();
  }

  /** The driver's view for the scrape under way (one view per scrape, not one per metric). */
  private current(): MetricsView {
    const at = performance.now();
    if (!this.scraped || at - this.scrapedAt > SCRAPE_VIEW_REUSE_MS) {
      this.scraped = this.view();
      this.scrapedAt = at;
    }
    return this.scraped;
  }

  /** An unlabelled gauge read at scrape time; null (not known yet) is NaN, never a false 0. */
  private gauge(name: string, help: string, read: (view: MetricsView) => number | null): void {
    const current = () => this.current();
    new Gauge({
      name: `paxchain_${name}`,
      help,
      registers: this.registers,
      collect() {
        this.set(read(current()) ?? Number.NaN);
      },
    });
  }

  /** A gauge with one label, every value of it set at scrape time (labels not listed are dropped). */
  private labelledGauge(name: string, help: string, label: string, read: (view: MetricsView) => ReadonlyArray<readonly [string, number]>): void {
    const current = () => this.current();
    new Gauge({
      name: `paxchain_${name}`,
      help,
      labelNames: [label],
      registers: this.registers,
      collect() {
        this.reset();
        for (const [value, number] of read(current())) this.labels(value).set(number);
      },
    });
  }

  private heightAndRoleGauges(): void {
    const gauge = this.gauge.bind(this);
    gauge('chosen_height', 'Highest slot this node knows to be chosen.', (v) => v.chosenHeight);
    gauge('applied_height', 'Head of this node\'s chain: every block up to it is appended and applied.', (v) => v.appliedHeight);
    gauge('durable_height', 'Highest block written to disk.', (v) => v.durableHeight);
    gauge('proposals_in_flight', 'Slots this leader proposed that have no majority yet.', (v) => v.proposalsInFlight);
    gauge('writes_queued', 'Client writes queued at this leader and not yet proposed (the bounded admission queue).', (v) => v.writesQueued);
    gauge('requests_waiting', 'Client requests at this node not answered yet (writes and reads).', (v) => v.requestsWaiting);
    gauge('is_leader', '1 if this node leads, else 0.', (v) => (v.role === 'leader' ? 1 : 0));
    gauge('leader_id', 'The leader this node follows and heard from lately (0: none).', (v) => v.leader);
    gauge('ballot_round', 'Round of the ballot this node leads or follows.', (v) => v.ballotRound);
    gauge('voting', '1 if this node votes, 0 while it is a learner.', (v) => (v.voting ? 1 : 0));
    gauge('catchup_behind_blocks', 'Blocks between this node\'s head and the highest head a peer reported (0: caught up).', (v) => Math.max(0, ...v.peers.map((peer) => (peer.headHeight ?? -1) - v.appliedHeight)));
    gauge('diverged', '1 if this node found its chain differs from a peer\'s at a height both hold (alarm).', (v) => (v.diverged ? 1 : 0));
    gauge('frozen', '1 if this node stopped applying after a state root mismatch.', (v) => (v.frozen ? 1 : 0));
    gauge('disagreeing_peers', 'Peers whose block at some height has another hash than ours.', (v) => v.disagreeingPeers);
    gauge('cut_off', '1 if this node has peers but no working link to any.', (v) => (v.cutOff ? 1 : 0));
  }

  private stateGauges(): void {
    const gauge = this.gauge.bind(this);
    gauge('state_keys', 'Keys in the key-value state.', (v) => v.state?.keys ?? null);
    gauge('state_bytes', 'Bytes of keys plus values in the state.', (v) => v.state?.bytes ?? null);
    gauge('state_sessions', 'Client sessions the state remembers (for exactly-once writes).', (v) => v.state?.sessions ?? null);
    gauge('state_keys_max', 'Most keys genesis allows.', (v) => v.state?.keysMax ?? null);
    gauge('state_bytes_max', 'Most bytes of keys plus values genesis allows.', (v) => v.state?.bytesMax ?? null);
    gauge('disk_bytes', 'Bytes of the files in the data directory (measured at most every 5 s).', (v) => v.diskBytes);
    gauge('checkpoint_height', 'Height of the newest checkpoint written or loaded.', (v) => v.checkpointHeight);
    gauge('state_sync_active', '1 while a state sync (checkpoint load from peers) runs.', (v) => (v.stateSync.active ? 1 : 0));
    gauge('state_sync_chunks', 'Chunks of the checkpoint being loaded (NaN when none).', (v) => v.stateSync.chunks);
    gauge('state_sync_chunks_loaded', 'Chunks of the checkpoint being loaded that are in.', (v) => v.stateSync.loaded);
    gauge('watches', 'Watches clients hold on this node.', (v) => v.watches);
  }

  private labelledGauges(): void {
    const peers = (view: MetricsView) => view.peers.slice(0, METRIC_PEERS_MAX);
    this.labelledGauge('role', '1 for this node\'s role (leader, candidate, follower, learner), 0 for the others.', 'role', (v) => ROLES.map((role) => [role, role === v.role ? 1 : 0] as const));
    this.labelledGauge('connections_open', 'Connections open now, by class (pending: before its hello).', 'class', (v) => [['pending', v.connections.pending], ['client', v.connections.client], ['peer', v.connections.peer]]);
    this.labelledGauge('peer_head_height', 'The head height each peer last reported to this node.', 'peer', (v) => peers(v).flatMap((peer) => (peer.headHeight === null ? [] : [[String(peer.id), peer.headHeight] as const])));
    this.labelledGauge('peer_lag_blocks', 'Blocks each peer\'s reported head is behind this node\'s head (0 if not behind).', 'peer', (v) =>
      peers(v).flatMap((peer) => (peer.headHeight === null ? [] : [[String(peer.id), Math.max(0, v.appliedHeight - peer.headHeight)] as const])),
    );
    this.labelledGauge('peer_link_up', '1 if this node\'s link to the peer is connected.', 'peer', (v) => peers(v).map((peer) => [String(peer.id), peer.linkUp ? 1 : 0] as const));
  }

  /** Counters the driver keeps, grown at each scrape by what they grew since the last one. */
  private mirroredCounters(): void {
    const current = () => this.current();
    const mirrored: Array<readonly [string, string, (view: MetricsView) => number]> = MIRRORED.map(([name, help, keys]) => [name, help, (view) => keys.reduce((sum, key) => sum + (view.counters[key] ?? 0), 0)] as const);
    mirrored.push(['state_syncs_total', 'State syncs (checkpoint loads from peers) finished.', (view) => view.stateSync.syncs]);
    mirrored.push(['state_sync_chunks_refused_total', 'State sync chunks refused (bad proof or hash).', (view) => view.stateSync.chunksRefused]);
    for (const [name, help, read] of mirrored) {
      let last = 0;
      new Counter({
        name: `paxchain_${name}`,
        help,
        registers: this.registers,
        collect() {
          const value = read(current());
          if (value > last) this.inc(value - last);
          last = value;
        },
      });
    }
  }

  /** A write answered `seconds` after its request arrived. */
  writeDone(seconds: number, ok: boolean): void {
    (ok ? this.writeOk : this.writeError).observe(seconds);
  }

  readDone(kind: ReadKind, seconds: number): void {
    this.reads[kind].observe(seconds);
  }

  /** A disk batch written (`sync`: with fsync), with its LevelDB operations and blocks. */
  batchWritten(seconds: number, sync: boolean, operations: number, blocks: number): void {
    (sync ? this.fsync : this.diskWrite).observe(seconds);
    this.batchOps.observe(operations);
    if (blocks > 0) this.batchBlocks.observe(blocks);
  }

  peerRoundTrip(peer: number, seconds: number): void {
    let child = this.roundTripByPeer.get(peer);
    if (!child) {
      if (this.roundTripByPeer.size >= METRIC_PEERS_MAX) return;
      child = this.roundTrip.labels(String(peer));
      this.roundTripByPeer.set(peer, child);
    }
    child.observe(seconds);
  }

  leaderChanged(): void {
    this.leaderChanges.inc();
  }

  /** The exposition, in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

