/**
 * The TCP transport of a node: one port for peers and clients (TransportServer), outgoing peer
 * links (PeerLinks), the client side (ClientConnection), framing and the peer handshake.
 * Named bounds: src/transport/limits.ts.
 */
export { ClientConnection } from './client-connection.js';
export * from './limits.js';
export { type LinkStatus, PeerLinks } from './peer-links.js';
export { type ClientRequest, TransportServer } from './server.js';
