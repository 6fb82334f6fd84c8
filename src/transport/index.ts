/**
 * The TCP transport of a node: one port for peers and clients (TransportServer), outgoing peer
 * links (PeerLinks), the client side (ClientConnection), framing and the peer handshake.
 * Named bounds: src/transport/limits.ts.
 */
export { ClientConnection, type ClientConnectionOptions, type ClientReply } from './client-connection.js';
export { Connection, type ConnectionOptions, newCounters, type TransportCounters } from './connection.js';
export { encodeFrame, FRAME_VERSION, FrameDecoder, NO_FRAME } from './frame.js';
export { type ClientHello, type ClusterCredentials, type PeerChallenge, type PeerHello, type PeerProof } from './handshake.js';
export * from './limits.js';
export { type LinkState, type LinkStatus, type PeerAddress, PeerLinks, type PeerLinksOptions } from './peer-links.js';
export { type ClientRequest, DEFAULT_HOST, type ServerStats, TransportServer, type TransportServerOptions } from './server.js';
