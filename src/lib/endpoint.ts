/**
 * The one endpoint rule, for `node start --listen/--peers`, `--endpoints` and the client library:
 * HOST:PORT where HOST is a name (letters, digits, `.`, `-`, `_`), an IPv4 address, or an IPv6
 * address in brackets (`[::1]:7001`); PORT is 1..65535. Printed the same way (IPv6 in brackets),
 * so what the CLI prints can be pasted back.
 */
import { ErrorCode, PaxchainError } from './errors.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** Endpoints one --endpoints list may name. */
const ENDPOINTS_MAX = 64;

const ENDPOINT_PATTERN = /^(?:([A-Za-z0-9._-]+)|\[([0-9A-Fa-f:.]+)\]):(\d{1,5})$/;

/** Parses HOST:PORT; `what` names the flag or entry in the error (INVALID_ARGUMENT). */
export function parseEndpoint(text: string, what = 'endpoint'): Endpoint {
  const trimmed = text.trim();
  const match = ENDPOINT_PATTERN.exec(trimmed);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65_535) {
    const hint = !match && (trimmed.match(/:/g)?.length ?? 0) > 1 ? ' (write an IPv6 address in brackets: [::1]:7001)' : '';
    throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${what} must be HOST:PORT with a port in 1..65535, got "${text}"${hint}`);
  }
  return { host: match[1] ?? match[2]!, port };
}

/** HOST:PORT, with an IPv6 address in brackets. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

/** Rewrites HOST:PORT in the one printed form (brackets for IPv6). */
export function normalizeEndpoint(text: string, what = 'endpoint'): string {
  return formatEndpoint(parseEndpoint(text, what));
}

/**
 * Parses a comma-separated list (`--endpoints`, PAXCHAIN_ENDPOINTS). `undefined` (flag not
 * given) means `defaults`; a given but empty list is refused, never silently the defaults.
 */
export function parseEndpointList(text: string | undefined, defaults: readonly string[], what = '--endpoints'): string[] {
  if (text === undefined) return [...defaults];
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (parts.length === 0) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${what} is empty: give HOST:PORT,... (or leave it out for ${defaults.join(',')})`);
  if (parts.length > ENDPOINTS_MAX) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${what} names ${parts.length} endpoints; at most ${ENDPOINTS_MAX}`);
  return parts.map((part) => normalizeEndpoint(part, `${what} entry`));
}
