/**
 * Named bounds of the TCP transport (TigerBeetle: "put a limit on everything"). Each one is the
 * default of an option, so a test or a node configuration can lower it; none of them is part of
 * the replicated state, so replicas may differ in them.
 *
 * Connection classes on a node's port, each with its own frame bound and connection budget:
 *
 * | class   | who                                  | frame bound                | count bound               |
 * |---------|--------------------------------------|----------------------------|---------------------------|
 * | pending | accepted, no Hello yet / mid-proof   | HANDSHAKE_FRAME_BYTES_MAX  | PENDING_CONNECTIONS_MAX   |
 * | client  | sent ClientHello (unauthenticated)   | CLIENT_FRAME_BYTES_MAX     | CLIENT_CONNECTIONS_MAX,   |
 * |         |                                      |                            | ..._PER_ADDRESS_MAX       |
 * | peer    | completed the HMAC proof             | FRAME_BYTES_MAX            | one per configured peer   |
 */
import { assert } from '../lib/assert.js';
import { limits } from '../lib/limits.js';

/**
 * Largest frame length N (version byte + msgpack), not counting the 4-byte length prefix. Only
 * authenticated peer links receive frames this large (catch-up replies, promises); it is also the
 * bound on what a node sends, so a client can read a large `blocks` reply.
 */
export const FRAME_BYTES_MAX = 16 * 1024 * 1024;

/** Bytes of a frame's length prefix. */
export const FRAME_PREFIX_BYTES = 4;

/**
 * Size of the slab a frame decoder copies small incoming chunks into (src/transport/frame.ts): a
 * sender trickling 1-byte chunks costs 1 byte each, not an object per chunk.
 */
export const SMALL_CHUNKS_BUFFER_BYTES = 16 * 1024;

/**
 * Bytes of a client request besides its key and values: msgpack headers, the request id, op,
 * clientId, seq and session fields. Generous on purpose: the bound below only has to stop frames
 * no client needs, and a request shape may grow a field or two.
 */
const CLIENT_REQUEST_OVERHEAD_BYTES = 4 * 1024;

/**
 * Largest frame a client connection may send (after ClientHello). The largest request is a cas,
 * [3, clientId, seq, key, expect, value]: one key and two values at their limits, plus overhead.
 */
export const CLIENT_FRAME_BYTES_MAX = limits.keyBytesMax + 2 * limits.valueBytesMax + CLIENT_REQUEST_OVERHEAD_BYTES;

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
 * An accepted connection that delivers no complete frame for this long is closed: bytes of a frame
 * that never completes do not count, nor do our replies. Peer links carry heartbeats far more
 * often; a peer link closed while idle is reopened by its owner. A client that sends a status
 * request more often than this stays (a monitor may watch a node for hours).
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

/**
 * Connections a server holds that have not finished their Hello (or peer proof). They last at most
 * HANDSHAKE_TIMEOUT_MS; when the budget is full the OLDEST pending connection is closed to admit a
 * new one, so a flood of silent sockets delays a reconnecting peer by a handshake, never locks it out.
 */
export const PENDING_CONNECTIONS_MAX = 256;

/** Pending connections from one source address; beyond it that address's oldest is closed. */
export const PENDING_CONNECTIONS_PER_ADDRESS_MAX = 64;

/**
 * Client connections (ClientHello sent) a server holds at once. Authenticated peers are never
 * counted here: they have their own slots (one per configured peer), so clients cannot crowd them out.
 */
export const CLIENT_CONNECTIONS_MAX = 2048;

/** Client connections from one source address (IP, any port); a Hello beyond it is refused. */
export const CLIENT_CONNECTIONS_PER_ADDRESS_MAX = 512;

/**
 * Bytes of partial frames all client and pending connections of one node may hold together. When
 * a connection's bytes push the total over it, the connection holding the most (ties: the oldest
 * partial frame) is closed first, until the total is back under the bound.
 */
export const CLIENT_BUFFERED_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Memory one unauthenticated connection (pending or client) can pin in its frame decoder: one
 * frame of the client class, its prefix, and the small-chunk slab (src/transport/frame.ts).
 * Pinned for at most FRAME_DEADLINE_MS, and only while the node total is under
 * CLIENT_BUFFERED_BYTES_MAX.
 */
const UNAUTHENTICATED_PINNED_BYTES_MAX = CLIENT_FRAME_BYTES_MAX + FRAME_PREFIX_BYTES + SMALL_CHUNKS_BUFFER_BYTES;

/**
 * A frame from a client or pending connection must be complete this long after its first byte
 * arrived (slowloris: a socket that trickles a frame is closed). A 2 MiB frame needs ~200 KiB/s.
 */
export const FRAME_DEADLINE_MS = 10_000;

/** How often a server checks frame deadlines and idle clients. */
export const CONNECTION_SWEEP_INTERVAL_MS = 500;

/** Shortest interval between two log lines about refused or closed connections (counts are summed). */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

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

// The bounds must fit inside each other, or a class could be handed frames it cannot hold.
assert(HANDSHAKE_FRAME_BYTES_MAX < CLIENT_FRAME_BYTES_MAX, 'a Hello fits in a client frame');
assert(CLIENT_FRAME_BYTES_MAX < FRAME_BYTES_MAX, 'client frames are bounded below peer frames');
assert(
  CLIENT_FRAME_BYTES_MAX >= limits.keyBytesMax + 2 * limits.valueBytesMax + CLIENT_REQUEST_OVERHEAD_BYTES,
  'a cas with a largest key, expected value and new value fits in one client frame',
);
assert(UNAUTHENTICATED_PINNED_BYTES_MAX > CLIENT_FRAME_BYTES_MAX, 'one client frame fits in what a connection may pin');
assert(CLIENT_BUFFERED_BYTES_MAX >= 4 * UNAUTHENTICATED_PINNED_BYTES_MAX, 'several largest client frames fit in the node budget at once');
assert(PENDING_CONNECTIONS_PER_ADDRESS_MAX <= PENDING_CONNECTIONS_MAX, 'per-address pending bound within the total');
assert(CLIENT_CONNECTIONS_PER_ADDRESS_MAX <= CLIENT_CONNECTIONS_MAX, 'per-address client bound within the total');
assert(CONNECTION_SWEEP_INTERVAL_MS < FRAME_DEADLINE_MS && FRAME_DEADLINE_MS < IDLE_TIMEOUT_MS, 'the sweep runs often enough for both deadlines');
