/**
 * The node driver: owns the clock, the disk and the sockets, and runs the same Replica the
 * simulator runs. One event loop turn at a time:
 *
 *   peer message / client request / timer  ->  replica.step() / propose() / read() / tick()
 *   setImmediate                            ->  flush(): replica.takeReady()
 *
 * The Ready loop itself (what goes into which batch, what leaves now, what only after the fsync,
 * group commit) is the host's (src/host/ready-loop.ts), as are block serving and chain reads
 * (src/host/serve.ts); the driver performs the writes and reads on LevelDB, sends, and awaits.
 * Messages that claim nothing durable leave at once, so a leader's own fsync and its followers'
 * run in parallel. A failed write stops the process: continuing could vote twice.
 *
 * Time: a tick is TICK_MS of the monotonic clock. Before any message is handled the replica is
 * brought up to the current tick, so a node resumed from SIGSTOP first sees how much time passed
 * (its phase 1 times out) and only then reads the promises that queued up meanwhile.
 */
import { toHex } from '../lib/bytes.js';
import { formatEndpoint } from '../lib/endpoint.js';
import type { Sha256 } from '../lib/sha256.js';
import { SessionIdCache } from '../kv/session-map.js';
import { Prng } from '../lib/prng.js';
import { formatBallot, NO_BALLOT, roundOf } from '../paxos/ballot.js';
import type { FirstDivergence } from '../replica/bisect.js';
import type { ReplicaConfig } from '../replica/config.js';
import { type Message, parseMessage } from '../replica/messages.js';
import type { ClientReply, FetchServe, HashServe, Ready, SnapshotServe } from '../replica/ready.js';
import { Replica, type RestoredState } from '../replica/replica.js';
import type { HeadSigning } from '../replica/certify.js';
import { ReadyLoop } from '../host/ready-loop.js';
import { type ChainRead, chainReadPlan, fetchReplyPlan, hashesReplyPlan, snapshotServePlan } from '../host/serve.js';
import type { ChainStore } from '../storage/chain-store.js';
import { readCertificate } from '../storage/acceptor-store.js';
import { type HeadCertificate, headCertificateToJson } from '../ledger/signing.js';
import { runPlan } from '../storage/plan.js';
import { directoryBytes } from '../storage/data-dir.js';
import { prunePlan } from '../storage/chain-store.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { CHECKPOINTS_KEPT_DEFAULT, chunkCount, writeCheckpointPlan } from '../storage/checkpoint-store.js';
import { type ClientRequest, type LinkStatus, PeerLinks, TransportServer } from '../transport/index.js';
import {
  BLOCKS_PER_REQUEST_MAX,
  type ClientReplyBody,
  encodeReply,
  HASHES_PER_REQUEST_MAX,
  type NodeStatus,
  parseClientRequest,
  writeReply,
} from '../transport/protocol.js';
import { AuthFailureLog } from './auth-log.js';
import { Scrubber } from './scrubber.js';
import { WATCH_PROGRESS_MS, WatchHub } from './watch-hub.js';
import { NodeLog } from './log.js';
import { MemoryReclaimer, type ReclaimReport } from './memory-reclaim.js';
import { describeMessage } from './trace.js';
import { type MetricsView, NodeMetrics, type ReadKind } from './metrics.js';
import { type Health, health, MetricsServer } from './metrics-server.js';

export const TICK_MS = 10;
/** Most ticks caught up in one go (after a long pause); beyond that time is skipped. */
const TICK_CATCH_UP_MAX = 6000;
/** Block reads served to peers at once; further fetches are dropped (the peer retries). */
const SERVES_IN_FLIGHT_MAX = 4;
/** Client reads of old blocks (`blocks`, `hashes` requests) at once. */
const CLIENT_READS_IN_FLIGHT_MAX = 8;

export interface PeerConfig {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

export interface DriverOptions {
  readonly config: ReplicaConfig;
  readonly clusterId: string;
  /** Cluster secret bytes (see secretKey() in src/node/config.ts). */
  readonly secret: Uint8Array;
  readonly host: string;
  readonly port: number;
  readonly peers: readonly PeerConfig[];
  readonly store: ChainStore;
  readonly restored: RestoredState;
  readonly sha256: Sha256;
  readonly log: NodeLog;
  /** Log every protocol message sent (type, from -> to, ballot, slot or range, size). */
  readonly trace: boolean;
  readonly seed: number;
  /** This member's head signing (src/replica/certify.ts); none: no verified reads served here. */
  readonly signing?: HeadSigning;
  /** The node's data directory, for the disk bytes status reports. */
  readonly dataDir?: string;
  /**
   * Blocks between checkpoints (src/storage/checkpoint-store.ts): when the head is this far past
   * the newest one, the state is snapshotted and written in the background. 0: only on clean stop.
   */
  readonly checkpointEvery?: number;
  /** Checkpoints kept (older ones are dropped once a new one is durable). */
  readonly checkpointsKept?: number;
  /** Height of the checkpoint the restore loaded, if any (the next is due checkpointEvery after). */
  readonly checkpointHeight?: number;
  /**
   * Retention (`--retain-blocks`): after each checkpoint, drop the bodies of blocks older than
   * it minus this many (headers stay). Undefined: keep every body.
   */
  readonly retainBlocks?: number;
  /** Blocks per second the background scrub re-verifies (src/host/scrub.ts); 0: no scrub. */
  readonly scrubBlocksPerSecond?: number;
  /** Serve /metrics and /healthz on this address (src/node/metrics-server.ts); none: no metrics. */
  readonly metrics?: { readonly host: string; readonly port: number };
  /** The version paxchain_node_info reports. */
  readonly version?: string;
}



interface PendingReply {
  readonly connection: number;
  readonly clientRequestId: number;
  /** For the latency histograms (with metrics on): what it is and when it arrived. */
  readonly kind: 'write' | ReadKind;
  readonly startedAt: number;
}

export class NodeDriver {
  private readonly replica: Replica;
  private server!: TransportServer;
  private reclaimer: MemoryReclaimer | undefined;
  private links!: PeerLinks;
  /** Authentication failures of both directions, in the log at a bounded rate. */
  private readonly authLog: AuthFailureLog;
  private readonly startedAt = performance.now();
  private ticksDone = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Progress frames of idle watches, every WATCH_PROGRESS_MS / 4. */
  private watchTimer: NodeJS.Timeout | undefined;
  /** The watches clients hold on this node (src/node/watch-hub.ts), fed by every Ready's changes. */
  private watches!: WatchHub;
  private flushScheduled = false;
  private readonly host: ReadyLoop;
  /** Session ids of recently seen secrets (a write's id without a hash per write). */
  private readonly sessionIds: SessionIdCache;
  private nextRequestId = 0;
  private readonly pendingReplies = new Map<number, PendingReply>();
  private servesInFlight = 0;
  private clientReadsInFlight = 0;
  private stopped = false;
  /** Height of the newest checkpoint written or loaded (-1: none). */
  private checkpointHeight: number;
  /** Height of the store's head as of the last batch written (not necessarily synced). */
  private writtenHeight: number;
  /** The checkpoint being written in the background, if any. */
  private checkpointing: Promise<void> | undefined;
  /** The background scrub and the repair of damaged blocks; its serveCheck guards what is served. */
  private readonly scrubber: Scrubber;
  /** The newest head certificate (stored, or made since start), for status. */
  private certificate: HeadCertificate | undefined;
  /** The data directory's size as last measured, and when (status measures at most every DISK_BYTES_EVERY_MS). */
  private diskMeasure: { bytes: number | null; atMs: number } | undefined;
  /** Prometheus metrics and their HTTP server, with --metrics. */
  private metrics: NodeMetrics | undefined;
  private metricsServer: MetricsServer | undefined;
  /** Each peer's newest heartbeat round sent and when (for the round-trip histogram). */
  private readonly heartbeatsSent = new Map<number, { round: number; at: number }>();
  /** The leader as of the last Ready, to count leader changes. */
  private lastLeader = 0;
  private readonly counters = {
    peerMessagesIn: 0,
    peerMessagesOut: 0,
    peerMessagesDropped: 0,
    badPeerMessages: 0,
    clientRequests: 0,
    writes: 0,
    rangeReads: 0,
    syncedBatches: 0,
    blocksAppended: 0,
    /** Votes this process has sent: a learner must not send any. */
    promisesSent: 0,
    acceptedSent: 0,
    checkpointsWritten: 0,
    bodiesPruned: 0,
    /** State sync: chunks sent to peers. */
    snapshotChunksServed: 0,
  };

  constructor(private readonly options: DriverOptions) {
    this.replica = new Replica(options.config, new Prng(options.seed), options.restored, options.signing);
    this.host = new ReadyLoop(options.store, { nodeId: options.config.nodeId });
    this.authLog = new AuthFailureLog(options.log, () => this.context());
    this.sessionIds = new SessionIdCache(options.sha256, options.seed ^ 0x6a09e667);
    this.checkpointHeight = options.checkpointHeight ?? -1;
    this.writtenHeight = options.store.head?.height ?? -1;
    this.scrubber = new Scrubber({
      nodeId: options.config.nodeId,
      peers: options.peers.map((peer) => peer.id),
      store: options.store,
      sha256: options.sha256,
      log: options.log,
      blocksPerSecond: options.scrubBlocksPerSecond ?? 0,
      blockHash: (height) => (height <= (this.replica.head?.height ?? -1) ? this.replica.chain.history.leaf(height) : undefined),
      writtenHeight: () => this.writtenHeight,
      send: (message) => this.sendToPeer(message),
      context: () => this.context(),
      fatal: (message) => this.fatal(message),
    });
  }

  get endpoint(): string {
    return formatEndpoint({ host: this.options.host, port: this.server?.port ?? this.options.port });
  }

  get port(): number {
    return this.server.port;
  }

  async start(): Promise<void> {
    const { config, clusterId, secret } = this.options;
    const stored = await readCertificate(this.options.store);
    if (typeof stored === 'string') this.options.log.log('warn', `${stored}; ignored (a newer one replaces it)`, this.context());
    else this.certificate = stored;
    const credentials = { clusterId, nodeId: config.nodeId, secret };
    this.server = await TransportServer.start({
      ...credentials,
      host: this.options.host,
      port: this.options.port,
      peerIds: this.options.peers.map((peer) => peer.id),
      onPeerMessage: (from, message) => this.onPeerMessage(from, message),
      onClientRequest: (connection, request) => this.onClientRequest(connection, request),
      onAuthFailure: (reason, remote) => this.authLog.connectionRefused(reason, remote),
      // The replica still answers those requests; the answers have nowhere to go.
      onClientClosed: (connection) => {
        for (const [requestId, pending] of this.pendingReplies) if (pending.connection === connection) this.pendingReplies.delete(requestId);
        this.watches.connectionClosed(connection);
      },
      // Floods and refusals, summed and rate-limited by the transport; counts are in status counters.
      onLog: (level, message, fields) => this.options.log.log(level, message, this.context(), fields),
    });
    const server = this.server;
    this.watches = new WatchHub(
      {
        send: (connection, frame) => server.replyToClient(connection, frame as { id: number }),
        backlog: (connection) => server.clientUnsentBytes(connection),
        leader: () => this.replica.leader,
        now: () => performance.now(),
      },
      this.replica.head?.height ?? -1,
    );
    this.watchTimer = setInterval(() => this.watches.progress(), WATCH_PROGRESS_MS / 4);
    this.reclaimer = new MemoryReclaimer({
      connections: () => {
        const { connectionsAccepted, connectionsOpen } = server.stats();
        return { accepted: connectionsAccepted, closed: connectionsAccepted - connectionsOpen };
      },
      onReclaim: (report) => this.options.log.log('info', describeReclaim(report), this.context(), { ...report }),
    });
    this.reclaimer.start();
    this.links = new PeerLinks({
      ...credentials,
      peers: this.options.peers.map((peer) => ({ nodeId: peer.id, host: peer.host, port: peer.port })),
      onLinkChange: (link) => this.authLog.linkChanged(link),
    });
    this.timer = setInterval(() => {
      this.advanceClock();
      this.scheduleFlush();
    }, TICK_MS);
    this.scrubber.start();
    this.scheduleFlush();
    if (this.options.metrics) {
      const metrics = new NodeMetrics(() => this.metricsView(), { nodeId: config.nodeId, clusterId, version: this.options.version ?? 'unknown' });
      this.metricsServer = await MetricsServer.start(this.options.metrics.host, this.options.metrics.port, metrics, () => this.health());
      this.metrics = metrics;
    }
  }

  /** Where /metrics and /healthz are served (undefined: no --metrics). */
  get metricsEndpoint(): string | undefined {
    return this.metricsServer?.endpoint;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.reclaimer?.stop();
    await this.metricsServer?.close();
    await this.links?.close();
    await this.server?.close();
    while (this.host.writing) await new Promise((resolve) => setTimeout(resolve, 5));
    // What the replica appended but the Ready loop had not handed out yet is written too (its
    // messages are not sent), so the checkpoint below is at a durable block.
    const last = this.host.nextBatch();
    if (last) {
      if (last.ops.length > 0) await this.options.store.backend.write(last.ops, { sync: true });
      this.host.batchWritten();
    }
    this.writtenHeight = this.options.store.head?.height ?? -1;
    await this.checkpointing;
    await this.scrubber.stop();
    // A clean stop leaves a checkpoint at the head: the next start replays nothing.
    const head = this.replica.head;
    if (head && head.height > this.checkpointHeight && this.options.store.head?.height === head.height) await this.writeCheckpoint();
    await this.options.store.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Clock

  private advanceClock(): void {
    const due = Math.floor((performance.now() - this.startedAt) / TICK_MS);
    let behind = due - this.ticksDone;
    if (behind > TICK_CATCH_UP_MAX) {
      this.ticksDone = due - TICK_CATCH_UP_MAX;
      behind = TICK_CATCH_UP_MAX;
    }
    const now = Date.now();
    for (let i = 0; i < behind; i++) this.replica.tick(now);
    this.ticksDone = due;
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /** Returns why a message was refused; the transport then closes that peer's connection. */
  private onPeerMessage(from: number, value: unknown): string | undefined {
    if (this.stopped) return undefined;
    const message = parseMessage(value);
    const refused = typeof message === 'string' ? message : misaddressed(message, from, this.options.config.nodeId);
    if (typeof message === 'string' || refused !== undefined) {
      // A garbled or spoofed message never reaches the replica; its connection is closed.
      this.counters.badPeerMessages++;
      this.options.log.log('warn', `refused a message from node ${from} (${refused}); closed its connection`, this.context());
      return refused;
    }
    this.counters.peerMessagesIn++;
    if (message.type === 'blocks' && this.scrubber.onBlocks(message)) return undefined;
    if (message.type === 'heartbeat-ack' && this.metrics) {
      const sent = this.heartbeatsSent.get(from);
      if (sent?.round === message.round) {
        this.metrics.peerRoundTrip(from, (performance.now() - sent.at) / 1000);
        this.heartbeatsSent.delete(from);
      }
    }
    // It talks to us, so it is up: do not wait out the back-off of our link to it.
    this.links.reconnectNow(from);
    this.advanceClock();
    this.replica.step(message);
    this.scheduleFlush();
    return undefined;
  }

  private onClientRequest(connection: number, request: ClientRequest): void {
    if (this.stopped) return;
    this.counters.clientRequests++;
    const body = parseClientRequest(request, this.sessionIds);
    if (typeof body === 'string') {
      this.server.replyToClient(connection, encodeReply(request.id, { ok: false, error: 'INVALID_ARGUMENT', message: body }));
      return;
    }
    this.advanceClock();
    switch (body.op) {
      case 'write': {
        const requestId = this.track(connection, request.id, 'write');
        this.counters.writes++;
        this.replica.propose({ requestId, command: body.command.tuple, decoded: body.command.command, verify: body.verify });
        break;
      }
      case 'read':
        this.replica.read({ requestId: this.track(connection, request.id, body.stale ? 'stale_read' : 'read'), key: body.key, stale: body.stale, verify: body.verify });
        break;
      case 'range':
        this.counters.rangeReads++;
        this.replica.read({ requestId: this.track(connection, request.id, 'range'), key: '', stale: body.stale, range: body.query });
        break;
      case 'watch':
        return this.startWatch(connection, request.id, body);
      case 'unwatch':
        this.watches.cancel(connection, body.watch);
        this.server.replyToClient(connection, { id: request.id, ok: true });
        return;
      case 'ping':
        this.server.replyToClient(connection, { id: request.id, ok: true });
        return;
      case 'status':
        this.server.replyToClient(connection, encodeReply(request.id, { ok: true, status: this.status() }));
        return;
      case 'blocks':
      case 'hashes':
      case 'headers':
        void this.answerChainRead(connection, request.id, body.op, body.from, body.to);
        return;
    }
    this.scheduleFlush();
  }

  private startWatch(connection: number, id: number, body: { key: Uint8Array; prefix: boolean; from: number | undefined }): void {
    if (!this.replica.chain.hasGenesis) {
      this.server.replyToClient(connection, encodeReply(id, { ok: false, error: 'NOT_READY', message: 'this node has no chain yet' }));
      return;
    }
    const started = this.watches.start(connection, id, { key: body.key, prefix: body.prefix }, body.from);
    if (started.ok) return;
    this.server.replyToClient(connection, { id, ok: false, error: started.error, message: started.message, ...(started.height === undefined ? {} : { height: started.height }) });
  }

  private track(connection: number, clientRequestId: number, kind: PendingReply['kind']): number {
    const requestId = ++this.nextRequestId;
    this.pendingReplies.set(requestId, { connection, clientRequestId, kind, startedAt: this.metrics ? performance.now() : 0 });
    return requestId;
  }

  // ---------------------------------------------------------------------------------------------
  // Ready

  private scheduleFlush(): void {
    if (this.flushScheduled || this.stopped) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.stopped) return;
    const ready = this.replica.takeReady();
    this.logEvents(ready);
    if (this.replica.leader !== this.lastLeader) {
      this.lastLeader = this.replica.leader;
      this.metrics?.leaderChanged();
    }
    const sendable = this.host.plan(ready);
    if (ready.certificate) this.certificate = ready.certificate;
    this.counters.blocksAppended += ready.blocks.length;
    for (const message of sendable) this.sendToPeer(message);
    for (const reply of ready.replies) this.sendReply(reply);
    if (ready.changes.length > 0 || ready.changesReset !== undefined) this.watches.onChanges(ready.changes, ready.changesReset);
    for (const serve of ready.serves) void this.serveFetch(serve);
    for (const serve of ready.hashServes) void this.serveHashes(serve);
    for (const serve of ready.snapshotServes) void this.serveSnapshot(serve);
    if (!this.host.writing) void this.writeBatch();
    const every = this.options.checkpointEvery ?? 0;
    const head = this.replica.head;
    if (every > 0 && !this.checkpointing && head && head.height - Math.max(0, this.checkpointHeight) >= every) {
      this.checkpointing = this.writeCheckpoint().finally(() => {
        this.checkpointing = undefined;
      });
    }
  }

  /**
   * Snapshots the state at the head now (synchronous: a walk of both tries and a copy of every element) and writes it as a
   * checkpoint in the background, chunk by chunk, beside the Ready loop's own writes.
   */
  private async writeCheckpoint(): Promise<void> {
    const head = this.replica.head!;
    const started = performance.now();
    const snapshot = this.replica.state.snapshot();
    // Block H must be written before the manifest (whose sync then makes it durable too): a
    // checkpoint above the durable head after a crash would be no use, and pruning below it worse.
    while (this.writtenHeight < head.height && !this.stopped) await new Promise((resolve) => setTimeout(resolve, 2));
    if (this.writtenHeight < head.height) return;
    try {
      const plan = writeCheckpointPlan(this.options.sha256, head.height, head.hash, snapshot, this.options.checkpointsKept ?? CHECKPOINTS_KEPT_DEFAULT);
      const manifest = await runPlan(plan, this.options.store);
      this.checkpointHeight = head.height;
      this.counters.checkpointsWritten++;
      this.options.log.log('info', `checkpoint written at height ${head.height}: ${manifest.keys} keys, ${manifest.sessions} sessions, ${chunkCount(manifest)} chunks in ${((performance.now() - started) / 1000).toFixed(2)}s`, this.context());
      if (this.options.retainBlocks !== undefined) await this.prune(head.height - this.options.retainBlocks);
    } catch (error) {
      // The previous checkpoint stays valid; the next attempt comes checkpointEvery blocks later.
      this.checkpointHeight = head.height;
      this.options.log.log('warn', `writing the checkpoint at height ${head.height} failed: ${error instanceof Error ? error.message : String(error)}`, this.context());
    }
  }

  /**
   * Retention: drops the bodies below `below` (at most the checkpoint just written, so restart
   * still finds the state it needs), in the background like the checkpoint, then compacts.
   */
  private async prune(below: number): Promise<void> {
    const store = this.options.store;
    if (below <= store.oldestBody) return;
    const started = performance.now();
    let deleted: number;
    // Disowned at once: the scrub and serving stop looking below the mark while the deletes run.
    store.pruned(below);
    try {
      deleted = await runPlan(prunePlan(below), store);
    } catch (error) {
      // The mark may be written (the bodies below it are disowned); the next prune finishes.
      this.options.log.log('warn', `pruning block bodies below height ${below} failed: ${error instanceof Error ? error.message : String(error)}`, this.context());
      return;
    }
    this.counters.bodiesPruned += deleted;
    this.options.log.log('info', `pruned ${deleted} block bodies below height ${below} (headers kept) in ${((performance.now() - started) / 1000).toFixed(2)}s`, this.context());
  }

  /** Writes the host's next batch (synced if it says so), then releases what waited for it. */
  private async writeBatch(): Promise<void> {
    const batch = this.host.nextBatch();
    if (!batch) return;
    // The store's head once this batch is written (the host moved it over every block planned).
    const headAfter = this.options.store.head?.height ?? -1;
    try {
      if (batch.ops.length > 0) {
        const started = this.metrics ? performance.now() : 0;
        await this.options.store.backend.write(batch.ops, { sync: batch.sync });
        if (batch.sync) this.counters.syncedBatches++;
        this.metrics?.batchWritten((performance.now() - started) / 1000, batch.sync, batch.ops.length, Math.max(0, headAfter - this.writtenHeight));
      }
    } catch (error) {
      this.fatal(`write to disk failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.writtenHeight = Math.max(this.writtenHeight, headAfter);
    const released = this.host.batchWritten();
    if (this.stopped) return;
    let toSelf = false;
    for (const message of released) {
      if (message.to === this.options.config.nodeId) {
        this.trace(message);
        this.replica.step(message);
        toSelf = true;
      } else {
        this.sendToPeer(message);
      }
    }
    if (toSelf) this.scheduleFlush();
    void this.writeBatch();
  }

  private sendToPeer(message: Message): void {
    this.trace(message);
    if (message.type === 'promise') this.counters.promisesSent++;
    else if (message.type === 'accepted') this.counters.acceptedSent++;
    else if (message.type === 'heartbeat' && this.metrics) this.heartbeatsSent.set(message.to, { round: message.round, at: performance.now() });
    if (this.links.send(message.to, message)) this.counters.peerMessagesOut++;
    else this.counters.peerMessagesDropped++;
  }

  private sendReply(reply: ClientReply): void {
    const pending = this.pendingReplies.get(reply.requestId);
    if (!pending) return;
    this.pendingReplies.delete(reply.requestId);
    const id = pending.clientRequestId;
    if (this.metrics) {
      const seconds = (performance.now() - pending.startedAt) / 1000;
      if (pending.kind === 'write') this.metrics.writeDone(seconds, reply.ok);
      else this.metrics.readDone(pending.kind, seconds);
    }
    let body: ClientReplyBody;
    if (!reply.ok) {
      const leader = this.options.peers.find((peer) => peer.id === reply.leader);
      body = { ok: false, error: reply.error, message: reply.message, leader: reply.leader, leaderEndpoint: leader ? formatEndpoint(leader) : undefined };
    } else if (reply.kind === 'write') {
      body = writeReply(reply.result, reply.height);
      if (reply.verified || reply.unprovable !== undefined) body = { ...body, verified: reply.verified, unprovable: reply.unprovable };
      if (reply.txn) body = { ...body, txn: reply.txn };
    } else if (reply.kind === 'range') {
      body = { ok: true, ...reply.page, height: reply.height, hash: reply.hash, stale: reply.stale };
    } else {
      body = { ok: true, value: reply.value, revisions: reply.revisions, height: reply.height, hash: reply.hash, stale: reply.stale, verified: reply.verified };
    }
    this.server.replyToClient(pending.connection, encodeReply(id, body));
  }

  private fatal(message: string): never {
    this.options.log.log('error', `FATAL: ${message}; stopping`, this.context());
    process.exit(70);
  }

  // ---------------------------------------------------------------------------------------------
  // Reading stored blocks for peers and clients

  private async serveFetch(serve: FetchServe): Promise<void> {
    if (this.servesInFlight >= SERVES_IN_FLIGHT_MAX) return;
    this.servesInFlight++;
    try {
      const store = this.options.store;
      const message = await runPlan(fetchReplyPlan(this.options.config.nodeId, store.head, serve, { prunedBelow: store.prunedBelow, check: this.scrubber.serveCheck }), store);
      if (!this.stopped) this.sendToPeer(message);
    } catch (error) {
      this.options.log.log('warn', `serving blocks to node ${serve.to} failed: ${String(error)}`, this.context());
    } finally {
      this.servesInFlight--;
    }
  }

  /** Answers a peer's state sync request (an offer, headers, a chunk) from the store. */
  private async serveSnapshot(serve: SnapshotServe): Promise<void> {
    if (this.servesInFlight >= SERVES_IN_FLIGHT_MAX) return;
    this.servesInFlight++;
    try {
      const message = await runPlan(snapshotServePlan(this.options.config.nodeId, serve, this.scrubber.serveCheck), this.options.store);
      if (!this.stopped) this.sendToPeer(message);
      if (message.type === 'chunk' && message.bytes) this.counters.snapshotChunksServed++;
    } catch (error) {
      this.options.log.log('warn', `serving state sync (${serve.kind}) to node ${serve.to} failed: ${String(error)}`, this.context());
    } finally {
      this.servesInFlight--;
    }
  }

  /**
   * Answers a divergence bisection request (src/replica/bisect.ts) from disk. Our own replica asks
   * too; its answer goes straight back to it.
   */
  private async serveHashes(serve: HashServe): Promise<void> {
    if (this.servesInFlight >= SERVES_IN_FLIGHT_MAX) return;
    this.servesInFlight++;
    try {
      const message = await runPlan(hashesReplyPlan(this.options.config.nodeId, this.options.sha256, serve), this.options.store);
      if (this.stopped) return;
      if (serve.to !== this.options.config.nodeId) return this.sendToPeer(message);
      this.replica.step(message);
      this.scheduleFlush();
    } catch (error) {
      this.options.log.log('warn', `serving block hashes to node ${serve.to} failed: ${String(error)}`, this.context());
    } finally {
      this.servesInFlight--;
    }
  }

  private async answerChainRead(connection: number, id: number, op: ChainRead, from: number, to: number): Promise<void> {
    if (this.clientReadsInFlight >= CLIENT_READS_IN_FLIGHT_MAX) {
      this.server.replyToClient(connection, encodeReply(id, { ok: false, error: 'OVERLOADED', message: 'too many chain reads in flight' }));
      return;
    }
    this.clientReadsInFlight++;
    try {
      const store = this.options.store;
      const countMax = op === 'blocks' ? BLOCKS_PER_REQUEST_MAX : HASHES_PER_REQUEST_MAX;
      const reply = await runPlan(chainReadPlan(this.options.sha256, store.head, op, from, to, countMax, store.prunedBelow), store);
      this.server.replyToClient(connection, encodeReply(id, reply));
    } catch (error) {
      const body = error instanceof PaxchainError && error.code === ErrorCode.PRUNED
        ? { ok: false as const, error: error.code, message: error.message }
        : { ok: false as const, error: 'UNAVAILABLE' as const, message: `reading blocks failed: ${String(error)}` };
      this.server.replyToClient(connection, encodeReply(id, body));
    } finally {
      this.clientReadsInFlight--;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Status, logs, trace

  /** The data directory's bytes, measured again when the last figure is older than DISK_BYTES_EVERY_MS. */
  private diskBytes(): number | null {
    if (this.options.dataDir === undefined) return null;
    const now = performance.now();
    if (!this.diskMeasure || now - this.diskMeasure.atMs > DISK_BYTES_EVERY_MS) this.diskMeasure = { bytes: directoryBytes(this.options.dataDir), atMs: now };
    return this.diskMeasure.bytes;
  }

  status(): NodeStatus {
    const replica = this.replica;
    const head = replica.head;
    const linkStatus = this.links.status();
    const links = new Map(linkStatus.map((link) => [link.nodeId, link.state]));
    const linkErrors = new Map(linkStatus.map((link) => [link.nodeId, link.state === 'connected' ? undefined : link.lastError]));
    const members = replica.memberIds.map((id) => {
      const peer = this.options.peers.find((candidate) => candidate.id === id);
      const peerHead = replica.peerHead(id);
      return {
        id,
        endpoint: id === this.options.config.nodeId ? this.endpoint : peer ? formatEndpoint(peer) : '?',
        link: id === this.options.config.nodeId ? ('self' as const) : (links.get(id) ?? 'down'),
        ...(linkErrors.get(id) ? { linkError: linkErrors.get(id) } : {}),
        head: id === this.options.config.nodeId ? (head ? { height: head.height, hash: toHex(head.hash) } : null) : peerHead ? { height: peerHead.height, hash: toHex(peerHead.hash) } : null,
      };
    });
    const hasState = replica.chain.hasGenesis;
    return {
      nodeId: this.options.config.nodeId,
      clusterId: replica.chain.genesis?.clusterId ?? null,
      endpoint: this.endpoint,
      role: replica.role,
      leader: replica.leader,
      ballot: formatBallot(replica.ballot),
      promised: formatBallot(replica.promised),
      voting: replica.voting,
      commitIndex: replica.commitIndex,
      head: head ? { height: head.height, hash: toHex(head.hash) } : null,
      stateRoot: hasState ? toHex(replica.state.root()) : null,
      keys: hasState ? replica.state.keyCount : 0,
      state: hasState ? stateStatus(replica.state) : null,
      diskBytes: this.diskBytes(),
      checkpointHeight: this.checkpointHeight >= 0 ? this.checkpointHeight : null,
      oldestBody: head ? Math.min(head.height, this.options.store.oldestBody) : null,
      stateSync: replica.syncStatus,
      diverged: replica.diverged ? { ...replica.diverged, ...firstDivergence(replica.firstDivergence) } : null,
      disagreeingPeers: replica.disagreeingPeers,
      members,
      certificate: this.certificate ? headCertificateToJson(this.certificate) : null,
      cutOff: cutOff(linkStatus),
      uptimeMs: Math.round(performance.now() - this.startedAt),
      // Transport counters include refusals by connection class; RSS lets a remote probe watch memory.
      // Auth failures of both directions: incoming handshakes refused, and outgoing links whose
      // peer failed this node's check (a peer with another secret shows up there).
      counters: { ...this.counters, watches: this.watches.watchCount, watchesFellBehind: this.watches.fellBehind, ...this.scrubber.counters, ...this.server.stats(), authFailures: this.server.stats().authFailures + this.links.stats().authFailures, ...memoryCounters() },
    };
  }

  /** What a metrics scrape reads: cheap fields only (no state root, no hex). */
  private metricsView(): MetricsView {
    const replica = this.replica;
    const linkStatus = this.links.status();
    const sync = replica.syncStatus;
    const server = this.server.stats();
    const hasState = replica.chain.hasGenesis;
    const state = hasState ? stateStatus(replica.state) : null;
    return {
      role: replica.role,
      leader: replica.leaderHeard,
      ballotRound: ballotRound(replica.ballot),
      voting: replica.voting,
      chosenHeight: replica.commitIndex,
      appliedHeight: replica.head?.height ?? -1,
      durableHeight: this.writtenHeight,
      proposalsInFlight: replica.proposalsInFlight,
      writesQueued: replica.writesQueued,
      requestsWaiting: this.pendingReplies.size,
      peers: this.options.peers.map((peer) => ({
        id: peer.id,
        headHeight: replica.peerHead(peer.id)?.height ?? null,
        linkUp: linkStatus.some((link) => link.nodeId === peer.id && link.state === 'connected'),
      })),
      stateSync: { active: sync.phase !== 'idle', chunks: sync.chunks, loaded: sync.loaded, syncs: sync.syncs, chunksRefused: sync.chunksRefused },
      state: state ? { keys: state.keys, bytes: state.bytes, sessions: state.sessions, keysMax: state.entriesMax, bytesMax: state.bytesMax } : null,
      diskBytes: this.diskBytes(),
      checkpointHeight: this.checkpointHeight >= 0 ? this.checkpointHeight : null,
      diverged: replica.diverged !== undefined,
      frozen: replica.frozen,
      disagreeingPeers: replica.disagreeingPeers.length,
      cutOff: cutOff(linkStatus) !== null,
      watches: this.watches.watchCount,
      connections: { pending: server.pendingConnectionsOpen, client: server.clientConnectionsOpen, peer: server.peerConnectionsOpen },
      counters: { ...this.counters, watchesFellBehind: this.watches.fellBehind, ...this.scrubber.counters, ...server, authFailures: server.authFailures + this.links.stats().authFailures },
    };
  }

  /** What /healthz answers. */
  health(): Health {
    const replica = this.replica;
    const peerHeights = this.options.peers.map((peer) => replica.peerHead(peer.id)?.height ?? -1);
    const cut = cutOff(this.links.status());
    return health({
      node: this.options.config.nodeId,
      role: replica.role,
      leader: replica.leaderHeard,
      hasGenesis: replica.chain.hasGenesis,
      appliedHeight: replica.head?.height ?? -1,
      highestPeerHeight: Math.max(-1, ...peerHeights),
      voting: replica.voting,
      stateSyncActive: replica.syncStatus.phase !== 'idle',
      diverged: replica.diverged !== undefined,
      frozen: replica.frozen,
      cutOff: cut ? cut.reason : null,
    });
  }

  /** This node's ballot and head height, for log lines. */
  context(): { ballot: string; height: number } {
    return { ballot: formatBallot(this.replica.ballot), height: this.replica.head?.height ?? -1 };
  }

  private logEvents(ready: Ready): void {
    for (const event of ready.events) {
      this.options.log.log(event.level, event.message, { ballot: formatBallot(event.ballot), height: event.height }, event.fields);
    }
  }

  private trace(message: Message): void {
    if (!this.options.trace) return;
    this.options.log.log('info', `trace ${describeMessage(message)}`, this.context());
  }
}

/** The status fields of where the chain first differs, once bisection found it. */
function firstDivergence(first: FirstDivergence | undefined): { firstHeight?: number; firstOurs?: string; firstTheirs?: string } {
  return first ? { firstHeight: first.height, firstOurs: first.ours, firstTheirs: first.theirs } : {};
}

function describeReclaim({ connections, before, after, trimmed }: ReclaimReport): string {
  const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;
  const trim = trimmed ? 'free pages returned to the OS' : 'no pages to return (or no native addon)';
  return `memory reclaimed after a flood of ${connections} connections: rss ${mb(before.rssBytes)} -> ${mb(after.rssBytes)}, buffers ${mb(before.arrayBufferBytes)} -> ${mb(after.arrayBufferBytes)}; ${trim}`;
}

function stateStatus(state: Replica['state']): NonNullable<NodeStatus['state']> {
  const limits = state.limits;
  return { keys: state.keyCount, bytes: state.bytes, entriesMax: limits?.entriesMax ?? null, bytesMax: limits?.bytesMax ?? null, sessions: state.sessionCount };
}

/** How often status measures the data directory again (a few syscalls per file, on the event loop). */
const DISK_BYTES_EVERY_MS = 5_000;
/** This process's memory (bytes): resident, V8 heap, and buffers outside the heap. */
function memoryCounters(): { rssBytes: number; heapTotalBytes: number; arrayBufferBytes: number } {
  const memory = process.memoryUsage();
  return { rssBytes: memory.rss, heapTotalBytes: memory.heapTotal, arrayBufferBytes: memory.arrayBuffers };
}

/** Cut off: peers exist and every link to them has been tried and is not up (see NodeStatus.cutOff). */
function cutOff(links: readonly LinkStatus[]): { reason: string } | null {
  if (links.length === 0 || links.some((link) => link.state === 'connected' || link.failedAttempts === 0)) return null;
  return { reason: links.map((link) => `node ${link.nodeId}: ${link.lastError ?? 'not connected'}`).join('; ') };
}

/** Why a parsed peer message does not belong on the connection of `from` to node `self`, if so. */
function misaddressed(message: Message, from: number, self: number): string | undefined {
  if (message.from !== from) return `message claims to be from node ${message.from}`;
  if (message.to !== self) return `message addressed to node ${message.to}`;
  return undefined;
}

/** A ballot's round for the metrics (0: no ballot yet). */
function ballotRound(ballot: Parameters<typeof roundOf>[0]): number {
  return ballot === NO_BALLOT ? 0 : roundOf(ballot);
}
