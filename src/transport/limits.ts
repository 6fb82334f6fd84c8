/**
 * Named bounds of the TCP transport (TigerBeetle: "put a limit on everything"). Each one is the
 * default of an option, so a test or a node configuration can lower it; none of them is part of
 * the replicated state, so replicas may differ in them.
 */

/** Largest frame length N (version byte + msgpack), not counting the 4-byte length prefix. */
export const FRAME_BYTES_MAX = 16 * 1024 * 1024;

/**
 * Largest frame accepted before a connection has finished its handshake. A Hello or a Proof is
 * well under 1 KiB; the small bound keeps a stranger from making us buffer 16 MiB per socket.
 */
export const HANDSHAKE_FRAME_BYTES_MAX = 4 * 1024;

/**
 * Most frames decoded by one `FrameDecoder.push()` call, and most frames one connection delivers
 * before it yields to the event loop (other connections and timers get their turn).
 */
export const FRAMES_PER_PUSH_MAX = 1024;

/** Time a connection has to complete its handshake (TCP connect included on the connecting side). */
export const HANDSHAKE_TIMEOUT_MS = 2_000;

/**
 * An accepted connection that sends and receives nothing for this long is closed. Peer links carry
 * heartbeats far more often; a peer link closed while idle is reopened by its owner.
 */
export const IDLE_TIMEOUT_MS = 60_000;

/** Bytes a connection may hold in its outgoing queue (not yet handed to the socket). */
export const SEND_QUEUE_BYTES_MAX = 32 * 1024 * 1024;

/** Frames a connection may hold in its outgoing queue. */
export const SEND_QUEUE_FRAMES_MAX = 10_000;

/** Bytes handed to the socket in one corked write (one writev); a batch holds at least one frame. */
export const WRITE_BATCH_BYTES_MAX = 4 * 1024 * 1024;

/** Frames handed to the socket in one corked write. */
export const WRITE_BATCH_FRAMES_MAX = 1024;

/** Connections a server holds at once (peers, clients and unauthenticated ones together). */
export const CONNECTIONS_MAX = 1024;

/** Peer nonces a server remembers to refuse a replayed Hello. */
export const NONCE_HISTORY_MAX = 4096;

/** First reconnect delay of a peer link; doubles per failed attempt. */
export const RECONNECT_DELAY_MIN_MS = 50;

/** Longest reconnect delay of a peer link. */
export const RECONNECT_DELAY_MAX_MS = 2_000;

/** Requests a client connection has in flight at once. */
export const CLIENT_IN_FLIGHT_MAX = 1024;

/** Default time a client request waits for its reply. */
export const CLIENT_REQUEST_TIMEOUT_MS = 5_000;

/** Time a client connection has to establish TCP. */
export const CLIENT_CONNECT_TIMEOUT_MS = 2_000;
