/**
 * The node driver: owns the clock, the disk and the sockets, and runs the same Replica the
 * simulator runs. One event loop turn at a time:
 *
 *   peer message / client request / timer  ->  replica.step() / propose() / read() / tick()
 *   setImmediate                            ->  flush(): replica.takeReady()
 *
 * flush() keeps Ready's order (src/replica/ready.ts): the durable changes of every Ready taken
 * while a write is in flight are merged into the next LevelDB batch (group commit, one fsync for
 * many promises, accepts and blocks); votes (promise, accepted) and messages to ourselves are
 * sent only after the batch that holds them is synced. Messages that claim nothing durable
 * (prepare, accept, heartbeat, fetch, status, ...) leave at once, so a leader's own fsync and its
 * followers' run in parallel. A failed write stops the process: continuing could vote twice.
 *
 * Time: a tick is TICK_MS of the monotonic clock. Before any message is handled the replica is
 * brought up to the current tick, so a node resumed from SIGSTOP first sees how much time passed
 * (its phase 1 times out) and only then reads the promises that queued up meanwhile.
 */
import { toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import type { Sha256 } from '../lib/sha256.js';
import { Prng } from '../lib/prng.js';
import { HEADER_BYTES, hashRecord } from '../chain/block.js';
import { hashHeaders } from '../chain/hash-batch.js';
import { formatBallot } from '../paxos/ballot.js';
import type { ReplicaConfig } from '../replica/config.js';
import { type Message, parseMessage } from '../replica/messages.js';
import { type ClientReply, mustPersistBeforeSending, type Ready } from '../replica/ready.js';
import { Replica, type RestoredState } from '../replica/replica.js';
import { persistOps } from '../storage/acceptor-store.js';
import type { BatchOp } from '../storage/backend.js';
import type { ChainStore } from '../storage/chain-store.js';
import { ClientConnection, type ClientRequest, PeerLinks, TransportServer } from '../transport/index.js';
import {
  BLOCKS_PER_REQUEST_MAX,
  type ClientReplyBody,
  decodeHashesReply,
  encodeReply,
  HASHES_PER_REQUEST_MAX,
  isErrorReply,
  type NodeStatus,
  parseClientRequest,
  writeReply,
} from '../transport/protocol.js';
import { NodeLog } from './log.js';
import { describeMessage } from './trace.js';

export const TICK_MS = 10;
/** Most ticks caught up in one go (after a long pause); beyond that time is skipped. */
const TICK_CATCH_UP_MAX = 6000;
/** Block reads served to peers at once; further fetches are dropped (the peer retries). */
const SERVES_IN_FLIGHT_MAX = 4;
/** Wait between attempts to locate a divergence when the peer could not be asked. */
const BISECT_RETRY_MS = 5000;
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
}

interface PendingReply {
  readonly connection: number;
  readonly clientRequestId: number;
}

export class NodeDriver {
  private readonly replica: Replica;
  private server!: TransportServer;
  private links!: PeerLinks;
  private readonly startedAt = performance.now();
  private ticksDone = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushScheduled = false;
  private writing = false;
  /** Ops and after-sync messages of Readys taken while a write was in flight. */
  private batchOps: BatchOp[] = [];
  private batchMessages: Message[] = [];
  /** The batch holds a vote (promise, acceptance) or messages waiting for it: it must fsync. */
  private batchNeedsSync = false;
  private nextRequestId = 0;
  private readonly pendingReplies = new Map<number, PendingReply>();
  private servesInFlight = 0;
  /** Where this node's chain first differs from a peer's, once bisection found it. */
  private divergenceFirst: { height: number; peer: number; ours: string; theirs: string } | undefined;
  private bisecting = false;
  /** Earliest time (ms, monotonic) for the next bisection attempt after a failed one. */
  private bisectNotBefore = 0;
  private clientReadsInFlight = 0;
  private stopped = false;
  private readonly counters = {
    peerMessagesIn: 0,
    peerMessagesOut: 0,
    peerMessagesDropped: 0,
    badPeerMessages: 0,
    clientRequests: 0,
    writes: 0,
    syncedBatches: 0,
    blocksAppended: 0,
    /** Votes this process has sent: a learner must not send any. */
    promisesSent: 0,
    acceptedSent: 0,
  };

  constructor(private readonly options: DriverOptions) {
    this.replica = new Replica(options.config, new Prng(options.seed), options.restored);
  }

  get endpoint(): string {
    return `${this.options.host}:${this.server?.port ?? this.options.port}`;
  }

  get port(): number {
    return this.server.port;
  }

  async start(): Promise<void> {
    const { config, clusterId, secret } = this.options;
    const credentials = { clusterId, nodeId: config.nodeId, secret };
    this.server = await TransportServer.start({
      ...credentials,
      host: this.options.host,
      port: this.options.port,
      peerIds: this.options.peers.map((peer) => peer.id),
      onPeerMessage: (from, message) => this.onPeerMessage(from, message),
      onClientRequest: (connection, request) => this.onClientRequest(connection, request),
      // The replica still answers those requests; the answers have nowhere to go.
      onClientClosed: (connection) => {
        for (const [requestId, pending] of this.pendingReplies) if (pending.connection === connection) this.pendingReplies.delete(requestId);
      },
    });
    this.links = new PeerLinks({ ...credentials, peers: this.options.peers.map((peer) => ({ nodeId: peer.id, host: peer.host, port: peer.port })) });
    this.timer = setInterval(() => {
      this.advanceClock();
      this.scheduleFlush();
    }, TICK_MS);
    this.scheduleFlush();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.links?.close();
    await this.server?.close();
    while (this.writing) await new Promise((resolve) => setTimeout(resolve, 5));
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
    const body = parseClientRequest(request, this.options.sha256);
    if (typeof body === 'string') {
      this.server.replyToClient(connection, encodeReply(request.id, { ok: false, error: 'INVALID_ARGUMENT', message: body }));
      return;
    }
    this.advanceClock();
    switch (body.op) {
      case 'write': {
        const requestId = this.track(connection, request.id);
        this.counters.writes++;
        this.replica.propose({ requestId, command: body.command });
        break;
      }
      case 'read':
        this.replica.read({ requestId: this.track(connection, request.id), key: body.key, stale: body.stale });
        break;
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

  private track(connection: number, clientRequestId: number): number {
    const requestId = ++this.nextRequestId;
    this.pendingReplies.set(requestId, { connection, clientRequestId });
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
    const { ops, head } = persistOps(this.options.store, ready);
    if (head) {
      // The store's head moves now: later Readys' blocks are prepared on top of this one, and
      // the batches are written in order.
      this.options.store.committed(head);
      this.counters.blocksAppended += ready.blocks.length;
    }
    this.batchOps.push(...ops);
    if (ready.acceptor || ready.accepted.length > 0) this.batchNeedsSync = true;
    for (const message of ready.messages) {
      if (mustPersistBeforeSending(message) || message.to === this.options.config.nodeId) {
        this.batchMessages.push(message);
        this.batchNeedsSync = true;
      } else {
        this.sendToPeer(message);
      }
    }
    for (const reply of ready.replies) this.sendReply(reply);
    for (const serve of ready.serves) void this.serveFetch(serve.to, serve.fromHeight, serve.maxBlocks);
    if (!this.writing) void this.writeBatch();
    const diverged = this.replica.diverged;
    if (diverged && !this.bisecting && !this.divergenceFirst && performance.now() >= this.bisectNotBefore) {
      this.bisectNotBefore = performance.now() + BISECT_RETRY_MS;
      void this.bisectDivergence(diverged.peer, diverged.height);
    }
  }

  /**
   * After a divergence alarm (same height, different hash), finds the first height where this
   * chain and the peer's differ, by bisection over block hashes: equal hashes at h mean equal
   * chains up to h, so log2(height) questions suffice.
   */
  private async bisectDivergence(peerId: number, height: number): Promise<void> {
    const peer = this.options.peers.find((candidate) => candidate.id === peerId);
    if (!peer) return;
    this.bisecting = true;
    let connection: ClientConnection | undefined;
    try {
      connection = await ClientConnection.connect(peer.host, peer.port, { requestTimeoutMs: 5000 });
      const theirs = async (at: number): Promise<string | undefined> => {
        const reply = decodeHashesReply(await connection!.request({ op: 'hashes', from: at, to: at }));
        return typeof reply !== 'string' && !isErrorReply(reply) && reply.hashes.length === 32 ? toHex(reply.hashes) : undefined;
      };
      const ours = async (at: number): Promise<string | undefined> => {
        const record = await this.options.store.getRecord(at);
        return record ? toHex(hashRecord(this.options.sha256, record)) : undefined;
      };
      let low = -1; // highest height known equal (-1: nothing yet)
      let high = height; // a height known to differ
      for (let step = 0; step < 64 && high - low > 1; step++) {
        const middle = Math.floor((low + high) / 2);
        const [a, b] = await Promise.all([ours(middle), theirs(middle)]);
        if (a === undefined || b === undefined) return;
        if (a === b) low = middle;
        else high = middle;
      }
      const [firstOurs, firstTheirs] = await Promise.all([ours(high), theirs(high)]);
      this.divergenceFirst = { height: high, peer: peerId, ours: firstOurs ?? '?', theirs: firstTheirs ?? '?' };
      this.options.log.log('error', `DIVERGENCE: first divergent height ${high} with node ${peerId}`, this.context(), {
        ours: this.divergenceFirst.ours,
        theirs: this.divergenceFirst.theirs,
      });
    } catch (error) {
      this.options.log.log('warn', `bisecting the divergence with node ${peerId} failed: ${String(error)}`, this.context());
    } finally {
      this.bisecting = false;
      await connection?.close().catch(() => undefined);
    }
  }

  /** Writes the merged batch (synced), then releases the messages that waited for it. */
  private async writeBatch(): Promise<void> {
    if (this.batchOps.length === 0 && this.batchMessages.length === 0) return;
    const ops = this.batchOps;
    const messages = this.batchMessages;
    // Only votes need the fsync. A batch of blocks alone (and the deletes of the accepted entries
    // they replace) may sit in the OS cache: a crash loses it whole (LevelDB batches are atomic
    // and ordered), leaving the accepted entries it would have replaced, from which the chosen
    // values are learned again; the next synced batch makes it durable with itself.
    const sync = this.batchNeedsSync;
    this.batchOps = [];
    this.batchMessages = [];
    this.batchNeedsSync = false;
    this.writing = true;
    try {
      if (ops.length > 0) {
        await this.options.store.backend.write(ops, { sync });
        if (sync) this.counters.syncedBatches++;
      }
    } catch (error) {
      this.fatal(`write to disk failed: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    this.writing = false;
    if (this.stopped) return;
    let toSelf = false;
    for (const message of messages) {
      if (message.to === this.options.config.nodeId) {
        this.trace(message);
        this.replica.step(message);
        toSelf = true;
      } else {
        this.sendToPeer(message);
      }
    }
    if (toSelf) this.scheduleFlush();
    if (this.batchOps.length > 0 || this.batchMessages.length > 0) void this.writeBatch();
  }

  private sendToPeer(message: Message): void {
    this.trace(message);
    if (message.type === 'promise') this.counters.promisesSent++;
    else if (message.type === 'accepted') this.counters.acceptedSent++;
    if (this.links.send(message.to, message)) this.counters.peerMessagesOut++;
    else this.counters.peerMessagesDropped++;
  }

  private sendReply(reply: ClientReply): void {
    const pending = this.pendingReplies.get(reply.requestId);
    if (!pending) return;
    this.pendingReplies.delete(reply.requestId);
    const id = pending.clientRequestId;
    let body: ClientReplyBody;
    if (!reply.ok) {
      const leader = this.options.peers.find((peer) => peer.id === reply.leader);
      body = { ok: false, error: reply.error, message: reply.message, leader: reply.leader, leaderEndpoint: leader ? `${leader.host}:${leader.port}` : undefined };
    } else if (reply.kind === 'write') {
      body = writeReply(reply.result, reply.height);
    } else {
      body = { ok: true, value: reply.value, height: reply.height, hash: reply.hash, stale: reply.stale };
    }
    this.server.replyToClient(pending.connection, encodeReply(id, body));
  }

  private fatal(message: string): never {
    this.options.log.log('error', `FATAL: ${message}; stopping`, this.context());
    process.exit(70);
  }

  // ---------------------------------------------------------------------------------------------
  // Reading stored blocks for peers and clients

  private async serveFetch(to: number, fromHeight: number, maxBlocks: number): Promise<void> {
    if (this.servesInFlight >= SERVES_IN_FLIGHT_MAX) return;
    this.servesInFlight++;
    try {
      const store = this.options.store;
      const head = store.head;
      const records: Uint8Array[] = [];
      let bytes = 0;
      if (head && fromHeight <= head.height) {
        outer: for await (const chunk of store.records(fromHeight, Math.min(head.height, fromHeight + maxBlocks - 1), 256)) {
          for (let i = 0; i < chunk.records.length; i++) {
            if (chunk.heights[i] !== fromHeight + records.length) break outer;
            const record = chunk.records[i]!;
            if (records.length > 0 && bytes + record.length > limits.fetchBytesMax) break outer;
            records.push(record);
            bytes += record.length;
          }
        }
      }
      if (this.stopped) return;
      this.sendToPeer({
        type: 'blocks',
        from: this.options.config.nodeId,
        to,
        fromHeight,
        records,
        head: head ? { height: head.height, hash: head.hash } : null,
      });
    } catch (error) {
      this.options.log.log('warn', `serving blocks to node ${to} failed: ${String(error)}`, this.context());
    } finally {
      this.servesInFlight--;
    }
  }

  private async answerChainRead(connection: number, id: number, op: 'blocks' | 'hashes' | 'headers', from: number, to: number): Promise<void> {
    if (this.clientReadsInFlight >= CLIENT_READS_IN_FLIGHT_MAX) {
      this.server.replyToClient(connection, encodeReply(id, { ok: false, error: 'OVERLOADED', message: 'too many chain reads in flight' }));
      return;
    }
    this.clientReadsInFlight++;
    try {
      const store = this.options.store;
      const head = store.head;
      const last = Math.min(to, head?.height ?? -1, from + (op === 'blocks' ? BLOCKS_PER_REQUEST_MAX : HASHES_PER_REQUEST_MAX) - 1);
      const records: Uint8Array[] = [];
      if (last >= from) {
        for await (const chunk of store.records(from, last, 256)) records.push(...chunk.records);
      }
      if (op === 'blocks') {
        this.server.replyToClient(connection, encodeReply(id, { ok: true, from, records, head: head ? { height: head.height, hash: head.hash } : null }));
      } else if (op === 'headers') {
        const headers = new Uint8Array(records.length * HEADER_BYTES);
        records.forEach((record, i) => headers.set(record.subarray(0, HEADER_BYTES), i * HEADER_BYTES));
        this.server.replyToClient(connection, encodeReply(id, { ok: true, from, headers }));
      } else {
        this.server.replyToClient(connection, encodeReply(id, { ok: true, from, hashes: hashHeaders(this.options.sha256, records) }));
      }
    } catch (error) {
      this.server.replyToClient(connection, encodeReply(id, { ok: false, error: 'UNAVAILABLE', message: `reading blocks failed: ${String(error)}` }));
    } finally {
      this.clientReadsInFlight--;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Status, logs, trace

  status(): NodeStatus {
    const replica = this.replica;
    const head = replica.head;
    const links = new Map(this.links.status().map((link) => [link.nodeId, link.state]));
    const members = replica.memberIds.map((id) => {
      const peer = this.options.peers.find((candidate) => candidate.id === id);
      const peerHead = replica.peerHead(id);
      return {
        id,
        endpoint: id === this.options.config.nodeId ? this.endpoint : peer ? `${peer.host}:${peer.port}` : '?',
        link: id === this.options.config.nodeId ? ('self' as const) : (links.get(id) ?? 'down'),
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
      stateDigest: hasState ? toHex(replica.state.digest()) : null,
      keys: hasState ? replica.state.keyCount : 0,
      diverged: replica.diverged
        ? {
            ...replica.diverged,
            ...(this.divergenceFirst ? { firstHeight: this.divergenceFirst.height, firstOurs: this.divergenceFirst.ours, firstTheirs: this.divergenceFirst.theirs } : {}),
          }
        : null,
      disagreeingPeers: replica.disagreeingPeers,
      members,
      uptimeMs: Math.round(performance.now() - this.startedAt),
      counters: { ...this.counters, ...this.server.stats() },
    };
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

/** Why a parsed peer message does not belong on the connection of `from` to node `self`, if so. */
function misaddressed(message: Message, from: number, self: number): string | undefined {
  if (message.from !== from) return `message claims to be from node ${message.from}`;
  if (message.to !== self) return `message addressed to node ${message.to}`;
  return undefined;
}
