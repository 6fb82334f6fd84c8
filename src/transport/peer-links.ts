/**
 * Outgoing peer links: for each configured peer, one authenticated connection this node SENDS on.
 * Messages from that peer arrive on the connection the peer opened to our TransportServer, so a
 * pair of nodes uses two one-directional connections and never has to pick one of two.
 *
 * A link that fails or drops is reopened after an exponential back-off with jitter. `send()` only
 * queues on a connected link and returns false otherwise: Paxos tolerates lost messages and
 * retries at its own level, so nothing is buffered across reconnects.
 */
import { connect } from 'node:net';
import { ErrorCode, isPaxchainError, PaxchainError } from '../lib/errors.js';
import { Connection, newCounters, type TransportCounters } from './connection.js';
import { encodeFrame } from './frame.js';
import {
  answerChallenge,
  buildPeerHello,
  checkCredentials,
  type ClusterCredentials,
  describeForeignBytes,
  FOREIGN_PREVIEW_BYTES,
  isNodeId,
  randomNonce,
} from './handshake.js';
import { FRAME_BYTES_MAX, HANDSHAKE_TIMEOUT_MS, RECONNECT_DELAY_MAX_MS, RECONNECT_DELAY_MIN_MS } from './limits.js';

export interface PeerAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** connecting: TCP connect or handshake under way; connected: `send()` queues; down: waiting to retry. */
export type LinkState = 'connecting' | 'connected' | 'down';

export interface LinkStatus {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly state: LinkState;
  /** Why the link last closed or failed, e.g. "AUTH_FAILED: ..." or "connect ECONNREFUSED ...". */
  readonly lastError: string | undefined;
  /** Attempts that failed since the link was last connected. */
  readonly failedAttempts: number;
}

export interface PeerLinksOptions extends ClusterCredentials {
  /** The other members; must not include this node. */
  readonly peers: readonly PeerAddress[];
  /** Defaults RECONNECT_DELAY_MIN_MS and RECONNECT_DELAY_MAX_MS. */
  readonly reconnectDelayMinMs?: number;
  readonly reconnectDelayMaxMs?: number;
  /** Default HANDSHAKE_TIMEOUT_MS, TCP connect included. */
  readonly handshakeTimeoutMs?: number;
  /** Largest frame sent; should equal the peers' limit. Default FRAME_BYTES_MAX. */
  readonly maxFrameBytes?: number;
  /** Per-link outgoing queue bounds; defaults in src/transport/limits.ts. */
  readonly sendQueueBytesMax?: number;
  readonly sendQueueFramesMax?: number;
  /** Jitter source in [0, 1). Default Math.random. */
  readonly random?: () => number;
  /** Called on every state change of a link (for logs). Must not throw. */
  readonly onLinkChange?: (status: LinkStatus) => void;
}

/** Most doublings of the reconnect delay considered (2^30 times the minimum is past any maximum). */
const RECONNECT_DOUBLINGS_MAX = 30;

/**
 * Delay before the next attempt after `failedAttempts` failures in a row: a random value in
 * [cap / 2, cap] where cap = min(maxMs, minMs * 2^failedAttempts), and never below minMs.
 */
export function reconnectDelayMs(failedAttempts: number, minMs: number, maxMs: number, random: () => number): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(failedAttempts, RECONNECT_DOUBLINGS_MAX));
  return Math.max(minMs, Math.round(cap / 2 + random() * (cap / 2)));
}

interface Link {
  readonly address: PeerAddress;
  state: LinkState;
  lastError: string | undefined;
  failedAttempts: number;
  connection: Connection | undefined;
  retryTimer: NodeJS.Timeout | undefined;
}

export class PeerLinks {
  readonly #options: PeerLinksOptions;
  readonly #credentials: ClusterCredentials;
  readonly #links = new Map<number, Link>();
  readonly #counters = newCounters();
  readonly #maxFrameBytes: number;
  #closed = false;

  /** Starts connecting to every peer at once. */
  constructor(options: PeerLinksOptions) {
    checkCredentials(options);
    this.#options = options;
    this.#credentials = { clusterId: options.clusterId, nodeId: options.nodeId, secret: options.secret };
    this.#maxFrameBytes = options.maxFrameBytes ?? FRAME_BYTES_MAX;
    for (const address of options.peers) {
      if (!isNodeId(address.nodeId) || address.nodeId === options.nodeId || this.#links.has(address.nodeId)) {
        throw new TypeError(`peer ${address.nodeId}: peers must be distinct node ids other than this node`);
      }
      const link: Link = { address, state: 'connecting', lastError: undefined, failedAttempts: 0, connection: undefined, retryTimer: undefined };
      this.#links.set(address.nodeId, link);
    }
    for (const link of this.#links.values()) this.#connect(link);
  }

  /**
   * Queues `message` for peer `nodeId`. Returns false (counted as a drop) if the link is not
   * connected or its queue is full. Throws TypeError for a node that is not a configured peer and
   * PaxchainError FRAME_TOO_LARGE for a message over the frame limit.
   */
  send(nodeId: number, message: unknown): boolean {
    const connection = this.#connectedLink(nodeId);
    if (connection === undefined) {
      this.#counters.drops++;
      return false;
    }
    return connection.send(message);
  }

  /** Encodes `message` once and queues it on every connected link; returns how many took it. */
  broadcast(message: unknown): number {
    const frame = encodeFrame(message, this.#maxFrameBytes);
    let queued = 0;
    for (const nodeId of this.#links.keys()) {
      const connection = this.#connectedLink(nodeId);
      if (connection === undefined) this.#counters.drops++;
      else if (connection.sendFrame(frame)) queued++;
    }
    return queued;
  }

  /**
   * Reconnects to `nodeId` at once if its link is down and waiting out a back-off: the caller
   * has evidence the peer is back (it just heard from it). Returns whether it reconnects.
   */
  reconnectNow(nodeId: number): boolean {
    const link = this.#links.get(nodeId);
    if (link === undefined || this.#closed || link.state !== 'down' || link.retryTimer === undefined) return false;
    clearTimeout(link.retryTimer);
    link.failedAttempts = 0;
    this.#connect(link);
    return true;
  }

  /** One entry per peer, ascending node id. */
  status(): LinkStatus[] {
    return [...this.#links.values()].sort((a, b) => a.address.nodeId - b.address.nodeId).map((link) => statusOf(link));
  }

  stats(): TransportCounters {
    return { ...this.#counters };
  }

  /** Closes every link and stops reconnecting; resolves when all sockets are closed. */
  async close(): Promise<void> {
    this.#closed = true;
    const closing: Promise<void>[] = [];
    for (const link of this.#links.values()) {
      clearTimeout(link.retryTimer);
      link.retryTimer = undefined;
      if (link.connection !== undefined) {
        closing.push(link.connection.whenClosed());
        link.connection.close();
      }
    }
    await Promise.all(closing);
  }

  #connectedLink(nodeId: number): Connection | undefined {
    const link = this.#links.get(nodeId);
    if (link === undefined) throw new TypeError(`node ${nodeId} is not a configured peer`);
    return link.state === 'connected' ? link.connection : undefined;
  }

  #connect(link: Link): void {
    link.retryTimer = undefined;
    const { host, port } = link.address;
    const socket = connect({ host, port, noDelay: true });
    const nonce = randomNonce();
    // A peer address that answers with something else than a Challenge frame: say what it is.
    let firstBytes: Uint8Array | undefined;
    socket.once('data', (chunk: Buffer) => {
      firstBytes = new Uint8Array(chunk.subarray(0, FOREIGN_PREVIEW_BYTES));
    });
    const connection: Connection = new Connection(socket, (reason) => this.#onClosed(link, connection, foreignPeer(reason, link, firstBytes)), {
      counters: this.#counters,
      maxFrameBytes: this.#maxFrameBytes,
      handshakeTimeoutMs: this.#options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      sendQueueBytesMax: this.#options.sendQueueBytesMax,
      sendQueueFramesMax: this.#options.sendQueueFramesMax,
    });
    link.connection = connection;
    this.#setState(link, 'connecting');
    connection.setMessageHandler((message) => this.#onChallenge(link, connection, nonce, message));
    connection.send(buildPeerHello(this.#credentials, nonce));
  }

  #onChallenge(link: Link, connection: Connection, nonce: Uint8Array, message: unknown): void {
    const proof = answerChallenge(this.#credentials, link.address.nodeId, nonce, message);
    if (!proof.ok) return connection.fail(new PaxchainError(ErrorCode.AUTH_FAILED, proof.reason));
    connection.send(proof.value);
    connection.handshakeDone();
    // The peer never sends on our outgoing link; a frame here means it is not speaking our protocol.
    connection.setMessageHandler(() => connection.fail(new PaxchainError(ErrorCode.BAD_FRAME, 'frame received on an outgoing peer link')));
    link.failedAttempts = 0;
    link.lastError = undefined;
    this.#setState(link, 'connected');
  }

  #onClosed(link: Link, connection: Connection, reason: Error | undefined): void {
    if (link.connection !== connection) return;
    const wasConnected = link.state === 'connected';
    link.connection = undefined;
    link.lastError = describeClose(reason, wasConnected);
    if (this.#closed) return this.#setState(link, 'down');
    if (!wasConnected) link.failedAttempts++;
    const delayMs = reconnectDelayMs(
      link.failedAttempts,
      this.#options.reconnectDelayMinMs ?? RECONNECT_DELAY_MIN_MS,
      this.#options.reconnectDelayMaxMs ?? RECONNECT_DELAY_MAX_MS,
      this.#options.random ?? Math.random,
    );
    link.retryTimer = setTimeout(() => this.#connect(link), delayMs);
    this.#setState(link, 'down');
  }

  #setState(link: Link, state: LinkState): void {
    link.state = state;
    this.#options.onLinkChange?.(statusOf(link));
  }
}

function statusOf(link: Link): LinkStatus {
  const { nodeId, host, port } = link.address;
  return { nodeId, host, port, state: link.state, lastError: link.lastError, failedAttempts: link.failedAttempts };
}

/** A frame error during the handshake from an address that sent bytes: not a paxchain node. */
function foreignPeer(reason: Error | undefined, link: Link, firstBytes: Uint8Array | undefined): Error | undefined {
  const frameError = isPaxchainError(reason, ErrorCode.BAD_FRAME) || isPaxchainError(reason, ErrorCode.FRAME_TOO_LARGE);
  if (!frameError || link.state === 'connected' || firstBytes === undefined) return reason;
  return new PaxchainError(ErrorCode.BAD_FRAME, `node ${link.address.nodeId}'s address: ${describeForeignBytes(firstBytes)}`);
}

function describeClose(reason: Error | undefined, wasConnected: boolean): string {
  if (reason === undefined) return wasConnected ? 'closed by peer' : 'closed by peer during handshake';
  return isPaxchainError(reason) ? `${reason.code}: ${reason.message}` : reason.message;
}
