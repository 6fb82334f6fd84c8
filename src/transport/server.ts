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
import { CONNECTIONS_MAX, FRAME_BYTES_MAX, HANDSHAKE_TIMEOUT_MS, IDLE_TIMEOUT_MS } from './limits.js';

export const DEFAULT_HOST = '127.0.0.1';

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
  /** Default CONNECTIONS_MAX; further connections are closed at once and counted as refused. */
  readonly connectionsMax?: number;
  /** Default FRAME_BYTES_MAX. */
  readonly maxFrameBytes?: number;
  /** Default HANDSHAKE_TIMEOUT_MS. */
  readonly handshakeTimeoutMs?: number;
  /** Default IDLE_TIMEOUT_MS; 0 = never. */
  readonly idleTimeoutMs?: number;
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
  /** Connections closed at once because `connectionsMax` were open or the server was closing. */
  connectionsRefused: number;
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
  /** The authenticated inbound connection of each peer; a newer one replaces an older one. */
  readonly #peers = new Map<number, Connection>();
  #connectionsAccepted = 0;
  #connectionsRefused = 0;
  #closing: Promise<void> | undefined;

  private constructor(options: TransportServerOptions) {
    checkCredentials(options);
    if (!Array.isArray(options.peerIds) || !options.peerIds.every(isNodeId)) throw new TypeError('peerIds must be node ids');
    this.#options = options;
    this.#credentials = { clusterId: options.clusterId, nodeId: options.nodeId, secret: options.secret };
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
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
    return {
      ...this.#counters,
      connectionsOpen: this.#connections.size,
      connectionsAccepted: this.#connectionsAccepted,
      connectionsRefused: this.#connectionsRefused,
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

  /** Stops listening, closes every connection; resolves when all are closed. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const connection of this.#connections) connection.close();
    }
    return this.#closing;
  }

  #accept(socket: Socket): void {
    const connectionsMax = this.#options.connectionsMax ?? CONNECTIONS_MAX;
    if (this.#closing !== undefined || this.#connections.size >= connectionsMax) {
      socket.on('error', () => {});
      socket.destroy();
      this.#connectionsRefused++;
      return;
    }
    this.#connectionsAccepted++;
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const connection: Connection = new Connection(socket, (reason) => this.#closed(connection, reason, remote), {
      counters: this.#counters,
      maxFrameBytes: this.#options.maxFrameBytes ?? FRAME_BYTES_MAX,
      handshakeTimeoutMs: this.#options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      idleTimeoutMs: this.#options.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
      sendQueueBytesMax: this.#options.sendQueueBytesMax,
      sendQueueFramesMax: this.#options.sendQueueFramesMax,
    });
    this.#connections.add(connection);
    connection.setMessageHandler((message) => this.#onHello(connection, message));
  }

  #closed(connection: Connection, reason: Error | undefined, remote: string): void {
    if (isPaxchainError(reason, ErrorCode.AUTH_FAILED)) this.#options.onAuthFailure?.(reason.message, remote);
    this.#forget(connection);
  }

  #forget(connection: Connection): void {
    this.#connections.delete(connection);
    if (this.#clients.delete(connection.id)) this.#options.onClientClosed?.(connection.id);
    for (const [nodeId, peer] of this.#peers) if (peer === connection) this.#peers.delete(nodeId);
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
    connection.handshakeDone();
    this.#peers.get(nodeId)?.close();
    this.#peers.set(nodeId, connection);
    connection.setMessageHandler((peerMessage) => {
      const refused = this.#options.onPeerMessage(nodeId, peerMessage);
      if (typeof refused === 'string') connection.fail(new PaxchainError(ErrorCode.BAD_FRAME, `node ${nodeId}: ${refused}`));
    });
  }

  #admitClient(connection: Connection): void {
    connection.handshakeDone();
    this.#clients.set(connection.id, connection);
    connection.setMessageHandler((request) => {
      if (!isClientMessage(request)) {
        return connection.fail(new PaxchainError(ErrorCode.BAD_FRAME, 'client request without a numeric id'));
      }
      this.#options.onClientRequest(connection.id, request);
    });
  }
}
