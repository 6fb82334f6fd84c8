/**
 * The client side of a node's port: connect, send ClientHello, then `request()`. Requests and
 * replies are msgpack maps; this connection adds a numeric `id` to each request and the node's
 * reply echoes it (see TransportServer.replyToClient), so replies may come back in any order.
 *
 * A connection does not reconnect: when it drops, every pending request is rejected with
 * UNAVAILABLE and later requests fail the same way; the client library opens a new one.
 */
import { connect } from 'node:net';
import { formatEndpoint } from '../lib/endpoint.js';
import { ErrorCode, isPaxchainError, PaxchainError } from '../lib/errors.js';
import { Connection, newCounters, type TransportCounters } from './connection.js';
import { buildClientHello, describeForeignBytes, FOREIGN_PREVIEW_BYTES } from './handshake.js';
import { CLIENT_CONNECT_TIMEOUT_MS, CLIENT_FRAME_BYTES_MAX, CLIENT_IN_FLIGHT_MAX, CLIENT_REQUEST_TIMEOUT_MS, FRAME_BYTES_MAX } from './limits.js';
import { type ClientRequest, isClientMessage } from './server.js';

export interface ClientConnectionOptions {
  /** Default CLIENT_CONNECT_TIMEOUT_MS. */
  readonly connectTimeoutMs?: number;
  /** Default for `request()`; CLIENT_REQUEST_TIMEOUT_MS. */
  readonly requestTimeoutMs?: number;
  /** Default CLIENT_IN_FLIGHT_MAX; a request beyond it is rejected with OVERLOADED. */
  readonly inFlightMax?: number;
  /** Largest reply frame. Default FRAME_BYTES_MAX. Requests are bounded by CLIENT_FRAME_BYTES_MAX (the node's bound). */
  readonly maxFrameBytes?: number;
}

/** A reply: the node's map with the request's `id`. */
export type ClientReply = ClientRequest;

interface Pending {
  readonly resolve: (reply: ClientReply) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class ClientConnection {
  readonly host: string;
  readonly port: number;
  readonly #connection: Connection;
  readonly #counters: TransportCounters;
  readonly #options: ClientConnectionOptions;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Requests answered by a stream of frames (a watch): every frame with the id goes to its handler. */
  readonly #streams = new Map<number, { readonly onFrame: (frame: ClientReply) => void; readonly onClose: (error: PaxchainError) => void }>();
  /** Replies whose request had already timed out. */
  #lateReplies = 0;
  /** Replies received: once one came, the other side speaks paxchain. */
  #repliesSeen = 0;

  private constructor(host: string, port: number, connection: Connection, counters: TransportCounters, options: ClientConnectionOptions) {
    this.host = host;
    this.port = port;
    this.#connection = connection;
    this.#counters = counters;
    this.#options = options;
    connection.setMessageHandler((message) => this.#onReply(message));
  }

  /**
   * Opens a connection and sends ClientHello. Rejects with PaxchainError UNAVAILABLE if TCP does
   * not connect within `connectTimeoutMs`.
   */
  static connect(host: string, port: number, options: ClientConnectionOptions = {}): Promise<ClientConnection> {
    const counters = newCounters();
    const socket = connect({ host, port, noDelay: true });
    const connectTimeoutMs = options.connectTimeoutMs ?? CLIENT_CONNECT_TIMEOUT_MS;
    // The first bytes the other side sends: if they are no paxchain frame, they say what it is.
    let firstBytes: Uint8Array | undefined;
    socket.once('data', (chunk: Buffer) => {
      firstBytes = new Uint8Array(chunk.subarray(0, FOREIGN_PREVIEW_BYTES));
    });
    return new Promise((resolve, reject) => {
      let client: ClientConnection | undefined;
      const timer = setTimeout(() => connection.close(new Error(`no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      const connection: Connection = new Connection(
        socket,
        (closeReason) => {
          clearTimeout(timer);
          const reason = client !== undefined && client.#repliesSeen > 0 ? closeReason : foreign(closeReason, firstBytes);
          if (client === undefined) reject(unavailable(host, port, reason));
          else client.#failPending(reason);
        },
        // A client trusts the node it chose; the handshake deadline is the server's business.
        // A request over the node's client bound fails here with FRAME_TOO_LARGE instead of closing the connection.
        { counters, maxFrameBytes: options.maxFrameBytes ?? FRAME_BYTES_MAX, sendFrameBytesMax: CLIENT_FRAME_BYTES_MAX, handshakeTimeoutMs: 0 },
      );
      connection.handshakeDone();
      socket.once('connect', () => {
        clearTimeout(timer);
        client = new ClientConnection(host, port, connection, counters, options);
        connection.send(buildClientHello());
        resolve(client);
      });
    });
  }

  get closed(): boolean {
    return this.#connection.closed;
  }

  /** Requests sent and not yet answered, timed out or failed. */
  get inFlight(): number {
    return this.#pending.size;
  }

  stats(): TransportCounters & { lateReplies: number } {
    return { ...this.#counters, lateReplies: this.#lateReplies };
  }

  /**
   * Sends `{ ...message, id }` and resolves with the reply carrying that id. Rejects with
   * PaxchainError TIMEOUT after `timeoutMs` (the request may still be applied), UNAVAILABLE if the
   * connection is or goes down, OVERLOADED if `inFlightMax` requests are pending or the send
   * queue is full, FRAME_TOO_LARGE if the request does not fit in a frame. `message` must not have
   * an `id` of its own (TypeError).
   */
  async request(message: Readonly<Record<string, unknown>>, timeoutMs?: number): Promise<ClientReply> {
    if (typeof message !== 'object' || message === null || Array.isArray(message) || 'id' in message) {
      throw new TypeError('a request is an object without an id field (the connection assigns it)');
    }
    if (this.#connection.closed) throw unavailable(this.host, this.port, undefined);
    const inFlightMax = this.#options.inFlightMax ?? CLIENT_IN_FLIGHT_MAX;
    if (this.#pending.size >= inFlightMax) {
      throw new PaxchainError(ErrorCode.OVERLOADED, `${inFlightMax} requests already in flight`, { inFlightMax });
    }
    const id = this.#nextId++;
    if (!this.#connection.send({ ...message, id })) {
      throw new PaxchainError(ErrorCode.OVERLOADED, 'send queue full');
    }
    const waitMs = timeoutMs ?? this.#options.requestTimeoutMs ?? CLIENT_REQUEST_TIMEOUT_MS;
    return new Promise<ClientReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new PaxchainError(ErrorCode.TIMEOUT, `no reply within ${waitMs} ms`, { id, timeoutMs: waitMs }));
      }, waitMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
  }

  /**
   * Sends `{ ...message, id }` whose answer is a stream of frames (a watch): each frame with that
   * id goes to `onFrame` until `endStream(id)`; `onClose` is called once if the connection goes
   * down first. Returns the id, or throws like `request()` (UNAVAILABLE, OVERLOADED).
   */
  stream(message: Readonly<Record<string, unknown>>, onFrame: (frame: ClientReply) => void, onClose: (error: PaxchainError) => void): number {
    if (this.#connection.closed) throw unavailable(this.host, this.port, undefined);
    const inFlightMax = this.#options.inFlightMax ?? CLIENT_IN_FLIGHT_MAX;
    if (this.#pending.size + this.#streams.size >= inFlightMax) throw new PaxchainError(ErrorCode.OVERLOADED, `${inFlightMax} requests already in flight`, { inFlightMax });
    const id = this.#nextId++;
    if (!this.#connection.send({ ...message, id })) throw new PaxchainError(ErrorCode.OVERLOADED, 'send queue full');
    this.#streams.set(id, { onFrame, onClose });
    return id;
  }

  /** Stops delivering the frames of stream `id` (the node is not told: send it a request for that). */
  endStream(id: number): void {
    this.#streams.delete(id);
  }

  /** Closes the connection; pending requests are rejected with UNAVAILABLE. */
  async close(): Promise<void> {
    this.#connection.close();
    await this.#connection.whenClosed();
  }

  #onReply(message: unknown): void {
    if (!isClientMessage(message)) {
      return this.#connection.fail(new PaxchainError(ErrorCode.BAD_FRAME, 'reply without a numeric id'));
    }
    this.#repliesSeen++;
    const stream = this.#streams.get(message.id);
    if (stream !== undefined) return stream.onFrame(message);
    const pending = this.#pending.get(message.id);
    if (pending === undefined) {
      this.#lateReplies++;
      return;
    }
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    pending.resolve(message);
  }

  #failPending(reason: Error | undefined): void {
    const error = unavailable(this.host, this.port, reason);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const { reject, timer } of pending) {
      clearTimeout(timer);
      reject(error);
    }
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const { onClose } of streams) onClose(error);
  }
}

/** A frame error before any reply, from a peer that sent bytes: say what it speaks instead. */
function foreign(reason: Error | undefined, firstBytes: Uint8Array | undefined): Error | undefined {
  const frameError = isPaxchainError(reason, ErrorCode.BAD_FRAME) || isPaxchainError(reason, ErrorCode.FRAME_TOO_LARGE);
  if (!frameError || firstBytes === undefined) return reason;
  return new PaxchainError(ErrorCode.BAD_FRAME, `${describeForeignBytes(firstBytes)}; the frame decoder said: ${reason.message}`);
}

function unavailable(host: string, port: number, reason: Error | undefined): PaxchainError {
  const cause = reason?.message ?? 'connection closed';
  return new PaxchainError(ErrorCode.UNAVAILABLE, `connection to ${formatEndpoint({ host, port })} unavailable: ${cause}`, { host, port, cause });
}
