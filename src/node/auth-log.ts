/**
 * Authentication failures in the node's log, rate-limited: a peer with another cluster secret
 * retries every few seconds, and a stranger can fail handshakes as fast as it can connect, so each
 * source gets at most one line per AUTH_LOG_INTERVAL_MS, saying how many were left out since.
 */
import type { LinkStatus } from '../transport/index.js';
import type { NodeLog } from './log.js';

/** At most one log line per source (a peer link, or all incoming connections) per interval. */
const AUTH_LOG_INTERVAL_MS = 10_000;
/** Sources tracked at once; beyond it the oldest is forgotten (it may log again early). */
const AUTH_LOG_SOURCES_MAX = 256;

export class AuthFailureLog {
  /** Per source: when it last logged, and the failures not logged since. */
  private readonly sources = new Map<string, { loggedAtMs: number; suppressed: number }>();

  constructor(
    private readonly log: NodeLog,
    private readonly context: () => { ballot: string; height: number },
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** An outgoing peer link went down; logs it if the peer failed (or refused) the handshake. */
  linkChanged(status: LinkStatus): void {
    if (status.state !== 'down' || !status.lastError?.startsWith('AUTH_FAILED')) return;
    this.maybeLog(`link:${status.nodeId}`, (suppressed) =>
      `peer link to node ${status.nodeId} failed authentication: ${status.lastError}; this node cannot send to it until both use the same cluster secret (--secret / PAXCHAIN_SECRET)${suppressed}`,
    );
  }

  /** An incoming connection failed the handshake (bad Hello or Proof, replayed nonce, too slow). */
  connectionRefused(reason: string, remote: string): void {
    this.maybeLog('incoming', (suppressed) => `refused a connection from ${remote}: AUTH_FAILED: ${reason}${suppressed}`);
  }

  private maybeLog(source: string, line: (suppressed: string) => string): boolean {
    const now = this.nowMs();
    const entry = this.sources.get(source);
    if (entry && now - entry.loggedAtMs < AUTH_LOG_INTERVAL_MS) {
      entry.suppressed++;
      return false;
    }
    const suppressed = entry && entry.suppressed > 0 ? ` (${entry.suppressed} more since the last such line)` : '';
    this.sources.delete(source);
    if (this.sources.size >= AUTH_LOG_SOURCES_MAX) this.sources.delete(this.sources.keys().next().value!);
    this.sources.set(source, { loggedAtMs: now, suppressed: 0 });
    this.log.log('warn', line(suppressed), this.context());
    return true;
  }
}
