/**
 * The one listening port of a node. Every accepted connection starts with a Hello
 * (src/transport/handshake.ts):
 *
 * - a peer completes the challenge-response and from then on its frames go to `onPeerMessage`
 *   (peers only send on the connections they open; this server never sends on them);
 * - a client sends ClientHello, then requests `{ id, ... }` that go to `onClientRequest`; the node
 *   answers with `replyToClient(connectionId, { id, ... })`, echoing the request's id.
 *
 * Nothing from a connection reaches either handler before its handshake succeeded. A protocol
 * error (bad frame, oversized frame, failed handshake, client frame without an id, a peer message
 * the node refuses) closes that connection only and is counted in `stats()`.
 *
 * Connection classes (src/transport/limits.ts, src/transport/admission.ts): a connection is
 * pending until its Hello, then a client (frames up to CLIENT_FRAME_BYTES_MAX, counted against
 * the client budgets) or, after its proof, a peer (frames up to FRAME_BYTES_MAX, its own slot).
 * Unauthenticated connections share a bound on buffered partial-frame bytes
 * (src/transport/buffer-budget.ts); a sweep closes those whose frame is not complete within
 * FRAME_DEADLINE_MS and any connection without a complete frame for IDLE_TIMEOUT_MS. Refusals and
 * such closes are counted in `stats()` and logged, rate-limited (src/transport/refusal-log.ts).
 *
 * Handlers run synchronously inside the socket's data event and must not throw: an exception is a
 * bug of the node and escapes (a broken invariant should stop the process).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { isU53 } from '../lib/bytes.js';
import { ErrorCode, isPaxchainError, PaxchainError } from '../lib/errors.js';
import { Connection, newCounters, type TransportCounters } from './connection.js';
import {
  answerHello,
  checkCredentials,
  type ClusterCredentials,
  isNodeId,
  NonceHistory,
  type PeerHello,
  randomNonce,
  readHello,
  verifyProof,
} from './handshake.js';
import { Admission } from './admission.js';
import { BufferBudget } from './buffer-budget.js';
import {
  CLIENT_BUFFERED_BYTES_MAX,
  CLIENT_CONNECTIONS_MAX,
  CLIENT_CONNECTIONS_PER_ADDRESS_MAX,
  CLIENT_FRAME_BYTES_MAX,
  CONNECTION_SWEEP_INTERVAL_MS,
  FRAME_BYTES_MAX,
  FRAME_DEADLINE_MS,
  HANDSHAKE_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  PENDING_CONNECTIONS_MAX,
  PENDING_CONNECTIONS_PER_ADDRESS_MAX,
  REFUSAL_LOG_INTERVAL_MS,
} from './limits.js';
import { type RefusalReason, RefusalLog } from './refusal-log.js';

const DEFAULT_HOST = '127.0.0.1';

export interface TransportServerOptions extends ClusterCredentials {
  /** Default DEFAULT_HOST (loopback only). */
  readonly host?: string;
  /** 0 picks a free port; read it back from `server.port`. */
  readonly port: number;
  /** Node ids allowed to connect as peers (this node's id is ignored if listed). */
  readonly peerIds: readonly number[];
  /**
   * A peer message from an authenticated peer, in the order that peer sent them. Returning a
   * string refuses the message: that connection is closed as a bad frame (the peer reconnects).
   */
  readonly onPeerMessage: (fromNodeId: number, message: unknown) => string | void;
  /** A client request: an object with a non-negative integer `id`. */
  readonly onClientRequest: (connectionId: number, request: ClientRequest) => void;
  /**
   * An incoming connection failed the handshake (counted as authFailures); `remote` is its
   * address. For the node's log, which rate-limits it. Must not throw.
   */
  readonly onAuthFailure?: (reason: string, remote: string) => void;
  /** A client connection closed; replies to it would be dropped. */
  readonly onClientClosed?: (connectionId: number) => void;
  /** Defaults PENDING_CONNECTIONS_MAX and PENDING_CONNECTIONS_PER_ADDRESS_MAX (oldest closed). */
  readonly pendingConnectionsMax?: number;
  readonly pendingConnectionsPerAddressMax?: number;
  /** Defaults CLIENT_CONNECTIONS_MAX and CLIENT_CONNECTIONS_PER_ADDRESS_MAX (a Hello beyond is refused). */
  readonly clientConnectionsMax?: number;
  readonly clientConnectionsPerAddressMax?: number;
  /** Default CLIENT_BUFFERED_BYTES_MAX: partial-frame bytes of all unauthenticated connections. */
  readonly clientBufferedBytesMax?: number;
  /** Largest frame from a peer, and sent to anyone. Default FRAME_BYTES_MAX. */
  readonly maxFrameBytes?: number;
  /** Largest frame from a client. Default CLIENT_FRAME_BYTES_MAX (at most maxFrameBytes). */
  readonly clientFrameBytesMax?: number;
  /** Default HANDSHAKE_TIMEOUT_MS. */
  readonly handshakeTimeoutMs?: number;
  /** Default FRAME_DEADLINE_MS; 0 = never. For pending and client connections. */
  readonly frameDeadlineMs?: number;
  /** Default IDLE_TIMEOUT_MS; 0 = never. Time without a complete frame received. */
  readonly idleTimeoutMs?: number;
  /** Default CONNECTION_SWEEP_INTERVAL_MS. */
  readonly sweepIntervalMs?: number;
  /** Default REFUSAL_LOG_INTERVAL_MS. */
  readonly refusalLogIntervalMs?: number;
  /** Where refusal summaries go (a node logs them). Must not throw. Default: nowhere. */
  readonly onLog?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
  /** Per-connection outgoing queue bounds (replies); defaults in src/transport/limits.ts. */
  readonly sendQueueBytesMax?: number;
  readonly sendQueueFramesMax?: number;
}

/** A client request or reply: any msgpack map with a numeric `id` (the reply echoes it). */
export interface ClientRequest {
  readonly id: number;
  readonly [field: string]: unknown;
}

export interface ServerStats extends TransportCounters {
  connectionsOpen: number;
  connectionsAccepted: number;
  pendingConnectionsOpen: number;
  clientConnectionsOpen: number;
  peerConnectionsOpen: number;
  /** Connections refused by admission (client budgets full, server closing) and pending evicted. */
  connectionsRefused: number;
  /** ClientHellos refused: CLIENT_CONNECTIONS_MAX open. */
  clientsRefusedFull: number;
  /** ClientHellos refused: CLIENT_CONNECTIONS_PER_ADDRESS_MAX open from that address. */
  clientsRefusedPerAddress: number;
  /** Pending connections closed (the oldest) to admit newer ones. */
  pendingEvicted: number;
  /** Connections closed for a frame not complete within FRAME_DEADLINE_MS (slowloris). */
  slowFramesClosed: number;
  /** Connections closed after IDLE_TIMEOUT_MS without a complete frame. */
  idleClosed: number;
  /** Connections closed to bring partial-frame bytes back under CLIENT_BUFFERED_BYTES_MAX. */
  bufferBudgetClosed: number;
  /** Bytes of partial frames held for unauthenticated connections now, and the most ever. */
  clientBufferedBytes: number;
  clientBufferedBytesPeak: number;
}

export function isClientMessage(message: unknown): message is ClientRequest {
  return typeof message === 'object' && message !== null && !Array.isArray(message) && isU53((message as { id?: unknown }).id);
}

export class TransportServer {
  readonly #options: TransportServerOptions;
  readonly #credentials: ClusterCredentials;
  readonly #server: Server;
  readonly #counters = newCounters();
  readonly #nonces = new NonceHistory();
  readonly #connections = new Set<Connection>();
  readonly #clients = new Map<number, Connection>();
  readonly #admission: Admission<Connection>;
  readonly #budget: BufferBudget<Connection>;
  readonly #refusals: RefusalLog;
  /** Connections that completed the peer proof (they leave the unauthenticated budgets). */
  readonly #authenticated = new WeakSet<Connection>();
  /** Source IP of each open connection (any class). */
  readonly #addressOf = new Map<Connection, string>();
  readonly #sweepTimer: NodeJS.Timeout;
  readonly #refusalCounts = {
    clientsRefusedFull: 0,
    clientsRefusedPerAddress: 0,
    pendingEvicted: 0,
    slowFramesClosed: 0,
    idleClosed: 0,
    bufferBudgetClosed: 0,
    refusedClosing: 0,
  };
  #clientBufferedBytesPeak = 0;
  /** The authenticated inbound connection of each peer; a newer one replaces an older one. */
  readonly #peers = new Map<number, Connection>();
  #connectionsAccepted = 0;
  #closing: Promise<void> | undefined;

  private constructor(options: TransportServerOptions) {
    checkCredentials(options);
    if (!Array.isArray(options.peerIds) || !options.peerIds.every(isNodeId)) throw new TypeError('peerIds must be node ids');
    this.#options = options;
    this.#credentials = { clusterId: options.clusterId, nodeId: options.nodeId, secret: options.secret };
    this.#admission = new Admission({
      pendingMax: options.pendingConnectionsMax ?? PENDING_CONNECTIONS_MAX,
      pendingPerAddressMax: options.pendingConnectionsPerAddressMax ?? PENDING_CONNECTIONS_PER_ADDRESS_MAX,
      clientsMax: options.clientConnectionsMax ?? CLIENT_CONNECTIONS_MAX,
      clientsPerAddressMax: options.clientConnectionsPerAddressMax ?? CLIENT_CONNECTIONS_PER_ADDRESS_MAX,
    });
    this.#budget = new BufferBudget(options.clientBufferedBytesMax ?? CLIENT_BUFFERED_BYTES_MAX);
    const onLog = options.onLog;
    this.#refusals = new RefusalLog(options.refusalLogIntervalMs ?? REFUSAL_LOG_INTERVAL_MS, (message, fields) => onLog?.('warn', message, fields));
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.#sweepTimer = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? CONNECTION_SWEEP_INTERVAL_MS).unref();
  }

  /** Starts listening; resolves once the port is bound, rejects on e.g. EADDRINUSE. */
  static async start(options: TransportServerOptions): Promise<TransportServer> {
    const transport = new TransportServer(options);
    await new Promise<void>((resolve, reject) => {
      transport.#server.once('error', reject);
      transport.#server.listen(options.port, options.host ?? DEFAULT_HOST, () => {
        transport.#server.off('error', reject);
        resolve();
      });
    });
    // Accept errors (e.g. EMFILE) must not crash the node; the listener keeps running and the
    // refused socket is simply gone.
    transport.#server.on('error', () => {});
    return transport;
  }

  /** The bound port (useful after `port: 0`). */
  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new TypeError('server is not listening');
    return address.port;
  }

  stats(): ServerStats {
    const { refusedClosing, ...refusals } = this.#refusalCounts;
    return {
      ...this.#counters,
      connectionsOpen: this.#connections.size,
      connectionsAccepted: this.#connectionsAccepted,
      pendingConnectionsOpen: this.#admission.pendingOpen,
      clientConnectionsOpen: this.#admission.clientsOpen,
      peerConnectionsOpen: this.#peers.size,
      connectionsRefused: refusedClosing + refusals.clientsRefusedFull + refusals.clientsRefusedPerAddress + refusals.pendingEvicted,
      ...refusals,
      clientBufferedBytes: this.#budget.totalBytes,
      clientBufferedBytesPeak: this.#clientBufferedBytesPeak,
    };
  }

  /** Peers with an authenticated inbound connection now, ascending. */
  connectedPeers(): number[] {
    return [...this.#peers.keys()].sort((a, b) => a - b);
  }

  /**
   * Queues a reply on a client connection. Returns false if that connection is gone or its queue
   * is full. Throws TypeError if `reply` has no numeric `id`, FRAME_TOO_LARGE if it is too big.
   */
  replyToClient(connectionId: number, reply: ClientRequest): boolean {
    if (!isClientMessage(reply)) throw new TypeError('a client reply must be an object with a numeric id');
    const connection = this.#clients.get(connectionId);
    if (connection === undefined) {
      this.#counters.drops++;
      return false;
    }
    return connection.send(reply);
  }

  /** Bytes queued on a client connection and not yet written (0 if it is gone): a watch's backlog. */
  clientUnsentBytes(connectionId: number): number {
    return this.#clients.get(connectionId)?.unsentBytes ?? 0;
  }

  /** Stops listening, closes every connection; resolves when all are closed. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      clearInterval(this.#sweepTimer);
      for (const connection of this.#connections) connection.close();
      this.#refusals.close();
    }
    return this.#closing;
  }

  #accept(socket: Socket): void {
    const address = socket.remoteAddress ?? '?';
    if (this.#closing !== undefined) {
      socket.on('error', () => {});
      socket.destroy();
      this.#refuse('closing', address);
      return;
    }
    this.#connectionsAccepted++;
    const maxFrameBytes = this.#options.maxFrameBytes ?? FRAME_BYTES_MAX;
    const remote = `${address}:${socket.remotePort ?? '?'}`;
    const connection: Connection = new Connection(socket, (reason) => this.#closed(connection, reason, remote), {
      counters: this.#counters,
      maxFrameBytes,
      handshakeTimeoutMs: this.#options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      sendQueueBytesMax: this.#options.sendQueueBytesMax,
      sendQueueFramesMax: this.#options.sendQueueFramesMax,
      onBufferedBytes: (source, bytes) => this.#onBuffered(source, bytes),
    });
    this.#connections.add(connection);
    this.#addressOf.set(connection, address);
    for (const evicted of this.#admission.admitPending(connection, address)) {
      this.#closeFor('pending-evicted', evicted, `closed: more than the pending-connection bound`);
    }
    connection.setMessageHandler((message) => this.#onHello(connection, message));
  }

  #closed(connection: Connection, reason: Error | undefined, remote: string): void {
    if (isPaxchainError(reason, ErrorCode.AUTH_FAILED)) this.#options.onAuthFailure?.(reason.message, remote);
    this.#forget(connection);
  }

  #forget(connection: Connection): void {
    this.#connections.delete(connection);
    this.#addressOf.delete(connection);
    this.#admission.forget(connection);
    this.#budget.update(connection, 0);
    if (this.#clients.delete(connection.id)) this.#options.onClientClosed?.(connection.id);
    for (const [nodeId, peer] of this.#peers) if (peer === connection) this.#peers.delete(nodeId);
  }

  /** A connection's partial-frame bytes changed; only unauthenticated ones count. */
  #onBuffered(connection: Connection, bytes: number): void {
    if (bytes > 0 && (this.#authenticated.has(connection) || !this.#addressOf.has(connection))) return;
    const victims = this.#budget.update(connection, bytes);
    this.#clientBufferedBytesPeak = Math.max(this.#clientBufferedBytesPeak, this.#budget.totalBytes);
    for (const victim of victims) {
      this.#closeFor('buffer-budget', victim, `closed: unauthenticated connections hold over ${this.#budget.bytesMax} bytes of partial frames`);
    }
  }

  /** Closes frame-deadline and idle offenders; runs every CONNECTION_SWEEP_INTERVAL_MS. */
  #sweep(): void {
    const now = performance.now();
    const frameDeadlineMs = this.#options.frameDeadlineMs ?? FRAME_DEADLINE_MS;
    const idleTimeoutMs = this.#options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    for (const connection of this.#admission.unauthenticated()) {
      const since = connection.partialFrameSinceMs;
      if (frameDeadlineMs > 0 && since >= 0 && now - since >= frameDeadlineMs) {
        this.#closeFor('frame-deadline', connection, `frame not complete within ${frameDeadlineMs} ms of its first byte`);
      } else if (idleTimeoutMs > 0 && this.#admission.isClient(connection) && now - connection.lastFrameAtMs >= idleTimeoutMs) {
        this.#closeFor('idle', connection, `no complete frame for ${idleTimeoutMs} ms`);
      }
    }
    if (idleTimeoutMs <= 0) return;
    for (const peer of this.#peers.values()) {
      if (now - peer.lastFrameAtMs >= idleTimeoutMs) peer.close(new PaxchainError(ErrorCode.TIMEOUT, `peer idle for ${idleTimeoutMs} ms`));
    }
  }

  #closeFor(reason: RefusalReason, connection: Connection, message: string): void {
    if (connection.closed) return;
    this.#refuse(reason, this.#addressOf.get(connection) ?? '?');
    const code = reason === 'buffer-budget' || reason === 'pending-evicted' || reason.endsWith('-full') ? ErrorCode.OVERLOADED : ErrorCode.TIMEOUT;
    connection.close(new PaxchainError(code, message));
  }

  #refuse(reason: RefusalReason, address: string): void {
    const counts = this.#refusalCounts;
    if (reason === 'clients-full') counts.clientsRefusedFull++;
    else if (reason === 'address-full') counts.clientsRefusedPerAddress++;
    else if (reason === 'pending-evicted') counts.pendingEvicted++;
    else if (reason === 'frame-deadline') counts.slowFramesClosed++;
    else if (reason === 'idle') counts.idleClosed++;
    else if (reason === 'buffer-budget') counts.bufferBudgetClosed++;
    else counts.refusedClosing++;
    this.#refusals.note(reason, address);
  }

  #onHello(connection: Connection, message: unknown): void {
    const hello = readHello(message);
    if (!hello.ok) return connection.fail(new PaxchainError(ErrorCode.AUTH_FAILED, hello.reason));
    if (hello.value.kind === 'client') return this.#admitClient(connection);
    const peerHello = hello.value;
    if (!this.#nonces.remember(peerHello.nonce)) {
      return connection.fail(new PaxchainError(ErrorCode.AUTH_FAILED, `replayed Hello nonce from node ${peerHello.nodeId}`));
    }
    const nonce = randomNonce();
    const challenge = answerHello(this.#credentials, this.#options.peerIds, peerHello, nonce);
    if (!challenge.ok) return connection.fail(new PaxchainError(ErrorCode.AUTH_FAILED, challenge.reason));
    connection.setMessageHandler((proof) => this.#onProof(connection, peerHello, nonce, proof));
    connection.send(challenge.value);
  }

  #onProof(connection: Connection, hello: PeerHello, nonce: Uint8Array, message: unknown): void {
    const verified = verifyProof(this.#credentials, hello, nonce, message);
    if (!verified.ok) return connection.fail(new PaxchainError(ErrorCode.AUTH_FAILED, verified.reason));
    const nodeId = verified.value;
    // Authenticated: its own slot, the large frame bound, and out of the unauthenticated budgets.
    this.#admission.admitPeer(connection);
    this.#authenticated.add(connection);
    this.#budget.update(connection, 0);
    connection.handshakeDone();
    this.#peers.get(nodeId)?.close();
    this.#peers.set(nodeId, connection);
    connection.setMessageHandler((peerMessage) => {
      const refused = this.#options.onPeerMessage(nodeId, peerMessage);
      if (typeof refused === 'string') connection.fail(new PaxchainError(ErrorCode.BAD_FRAME, `node ${nodeId}: ${refused}`));
    });
  }

  #admitClient(connection: Connection): void {
    const admitted = this.#admission.admitClient(connection);
    if (admitted !== 'admitted') {
      const bound = admitted === 'clients-full' ? `${this.#admission.limits.clientsMax} clients` : `${this.#admission.limits.clientsPerAddressMax} clients from this address`;
      return this.#closeFor(admitted, connection, `refused: ${bound} already connected`);
    }
    connection.handshakeDone(this.#options.clientFrameBytesMax ?? CLIENT_FRAME_BYTES_MAX);
    this.#clients.set(connection.id, connection);
    connection.setMessageHandler((request) => {
      if (!isClientMessage(request)) {
        return connection.fail(new PaxchainError(ErrorCode.BAD_FRAME, 'client request without a numeric id'));
      }
      this.#options.onClientRequest(connection.id, request);
    });
  }
}
