/**
 * The metrics port of `node start --metrics HOST:PORT`: GET /metrics (Prometheus text format) and
 * GET /healthz (200 when the node is healthy, 503 with the reasons when not; JSON either way).
 * Read-only and separate from the peer/client port, so a scrape can never take a client slot.
 *
 * Bounds: METRICS_CONNECTIONS_MAX connections (more are refused by the kernel-facing server),
 * METRICS_HEADER_BYTES_MAX of request headers, METRICS_REQUEST_TIMEOUT_MS per request, no request
 * bodies, METRICS_SCRAPES_IN_FLIGHT_MAX expositions built at once (a flood of scrapes gets 503).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { formatEndpoint } from '../lib/endpoint.js';
import type { NodeMetrics } from './metrics.js';

const METRICS_CONNECTIONS_MAX = 16;
const METRICS_HEADER_BYTES_MAX = 8 * 1024;
const METRICS_REQUEST_TIMEOUT_MS = 10_000;
const METRICS_SCRAPES_IN_FLIGHT_MAX = 4;
/** A follower this many blocks behind the highest head it knows of is "catching up" (not healthy). */
export const HEALTH_BEHIND_BLOCKS_MAX = 1_000;

/** Health as /healthz reports it: ok, or the reasons it is not. */
export interface Health {
  readonly ok: boolean;
  readonly reasons: readonly string[];
  readonly node: number;
  readonly role: string;
  readonly leader: number;
  readonly height: number;
}

export interface HealthInput {
  readonly node: number;
  readonly role: string;
  readonly leader: number;
  readonly hasGenesis: boolean;
  readonly appliedHeight: number;
  /** The highest head height a peer reported (-1: none). */
  readonly highestPeerHeight: number;
  readonly voting: boolean;
  readonly stateSyncActive: boolean;
  readonly diverged: boolean;
  readonly frozen: boolean;
  readonly cutOff: string | null;
}

/** The reasons a node is not healthy: each a short phrase an operator can act on. */
export function health(input: HealthInput): Health {
  const reasons: string[] = [];
  if (!input.hasGenesis) reasons.push('no chain yet (no genesis)');
  if (input.frozen) reasons.push('frozen after a state root mismatch');
  if (input.diverged) reasons.push('diverged: its chain differs from a peer\'s');
  if (input.cutOff !== null) reasons.push(`cut off from every peer (${input.cutOff})`);
  if (input.leader === 0) reasons.push('no leader');
  if (input.stateSyncActive) reasons.push('catching up: loading a checkpoint from peers');
  else if (!input.voting) reasons.push('catching up: a learner, not voting yet');
  else if (input.highestPeerHeight - input.appliedHeight > HEALTH_BEHIND_BLOCKS_MAX) {
    reasons.push(`catching up: ${input.highestPeerHeight - input.appliedHeight} blocks behind`);
  }
  return { ok: reasons.length === 0, reasons, node: input.node, role: input.role, leader: input.leader, height: input.appliedHeight };
}

export class MetricsServer {
  private scrapesInFlight = 0;

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  /** Listens on host:port (port 0: any free one); EADDRINUSE and the like reject with UNAVAILABLE. */
  static async start(host: string, port: number, metrics: NodeMetrics, healthNow: () => Health): Promise<MetricsServer> {
    const holder: { server?: MetricsServer } = {};
    const server = createServer({ maxHeaderSize: METRICS_HEADER_BYTES_MAX, requestTimeout: METRICS_REQUEST_TIMEOUT_MS, headersTimeout: METRICS_REQUEST_TIMEOUT_MS / 2, keepAliveTimeout: 5_000 }, (request, response) => {
      void holder.server!.handle(request, response, metrics, healthNow);
    });
    server.maxConnections = METRICS_CONNECTIONS_MAX;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new PaxchainError(ErrorCode.UNAVAILABLE, `cannot serve metrics on ${formatEndpoint({ host, port })}: ${error.code ?? error.message}`, { host, port })),
      );
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    holder.server = new MetricsServer(server, formatEndpoint({ host, port: bound }));
    return holder.server;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  private async handle(request: IncomingMessage, response: ServerResponse, metrics: NodeMetrics, healthNow: () => Health): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', { allow: 'GET, HEAD' });
    if (request.headers['content-length'] && request.headers['content-length'] !== '0') return send(response, 400, 'text/plain; charset=utf-8', 'no request body expected\n');
    if (path === '/healthz') {
      const now = healthNow();
      return send(response, now.ok ? 200 : 503, 'application/json', `${JSON.stringify(now)}\n`);
    }
    if (path !== '/metrics') return send(response, 404, 'text/plain; charset=utf-8', 'not found: try /metrics or /healthz\n');
    if (this.scrapesInFlight >= METRICS_SCRAPES_IN_FLIGHT_MAX) return send(response, 503, 'text/plain; charset=utf-8', 'too many scrapes at once\n', { 'retry-after': '1' });
    this.scrapesInFlight++;
    try {
      send(response, 200, metrics.contentType, await metrics.text());
    } catch (error) {
      send(response, 500, 'text/plain; charset=utf-8', `metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
    } finally {
      this.scrapesInFlight--;
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function send(response: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  if (response.destroyed) return;
  response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
