/**
 * Host name resolution within the client's deadline. `net.connect` resolves through the OS
 * (getaddrinfo), which cannot be cancelled or bounded: an unresolvable name can take the
 * resolver's own timeouts (seconds, retried) and keep the process alive after the operation gave
 * up, and its error is hidden behind the connect timeout. Names are resolved here instead, with
 * c-ares (bounded, cancellable), and the error names the host and the DNS code (ENOTFOUND, ...).
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { lookup, Resolver } from 'node:dns/promises';
import { ErrorCode, PaxchainError } from '../lib/errors.js';

/** The hosts file consulted for names DNS does not know. */
const HOSTS_FILE = '/etc/hosts';
/** Names the OS resolves from its hosts file without DNS: resolved with getaddrinfo, which is fast for them. */
const LOCAL_NAMES: ReadonlySet<string> = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost']);

/**
 * The address to connect to for `host`, within `timeoutMs`. Rejects with UNAVAILABLE naming the
 * host and the DNS code. IP literals come back at once.
 */
export async function resolveHost(host: string, timeoutMs: number): Promise<string> {
  if (isIP(host) !== 0) return host;
  if (LOCAL_NAMES.has(host.toLowerCase())) return (await lookup(host)).address;
  const resolver = new Resolver({ timeout: Math.max(1, Math.floor(timeoutMs)), tries: 1 });
  const timer = setTimeout(() => resolver.cancel(), timeoutMs);
  try {
    const v4 = await resolver.resolve4(host).catch((error: NodeJS.ErrnoException) => error);
    if (Array.isArray(v4) && v4.length > 0) return v4[0]!;
    const v6 = await resolver.resolve6(host).catch((error: NodeJS.ErrnoException) => error);
    if (Array.isArray(v6) && v6.length > 0) return v6[0]!;
    const error = (Array.isArray(v4) ? v6 : v4) as NodeJS.ErrnoException;
    // A name DNS does not know may still be in the hosts file. (Not getaddrinfo again: after
    // an NXDOMAIN it can still spend the resolver's timeouts on other record types and domains.)
    const fromHosts = await hostsFileAddress(host);
    if (fromHosts) return fromHosts;
    throw dnsError(host, error.code === 'ECANCELLED' ? 'ETIMEOUT' : (error.code ?? 'EUNKNOWN'), timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

function dnsError(host: string, code: string, timeoutMs: number): PaxchainError {
  const why = code === 'ETIMEOUT' ? `no DNS answer within ${Math.round(timeoutMs)} ms` : code === 'ENOTFOUND' || code === 'ENODATA' ? 'no such host' : 'DNS lookup failed';
  return new PaxchainError(ErrorCode.UNAVAILABLE, `cannot resolve host "${host}": ${why} (${code})`, { host, dns: code });
}


/** The first address the hosts file gives `host`, if any. */
async function hostsFileAddress(host: string): Promise<string | undefined> {
  const text = await readFile(HOSTS_FILE, 'utf8').catch(() => '');
  const wanted = host.toLowerCase();
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address && isIP(address) !== 0 && names.some((name) => name.toLowerCase() === wanted)) return address;
  }
  return undefined;
}
