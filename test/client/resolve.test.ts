// Host names are resolved within the client's deadline, and the error names the host and the DNS
// code (before: getaddrinfo ran past the deadline, ~10 s, behind "no connection within N ms").
import { describe, expect, it } from 'vitest';
import { PaxchainClient } from '../../src/client/client.js';
import { ErrorCode, type PaxchainError } from '../../src/lib/errors.js';
import { runCli } from '../helpers.js';

/** `.invalid` is reserved (RFC 2606): it never resolves, by NXDOMAIN or by silence. */
const UNRESOLVABLE = 'no-such-host.invalid';

describe('DNS within the deadline', () => {
  it('an unresolvable host fails within the deadline with the host and the DNS code', async () => {
    const client = new PaxchainClient({ endpoints: [`${UNRESOLVABLE}:7001`], timeoutMs: 1500 });
    const started = performance.now();
    const error = (await client.get('k').catch((caught: unknown) => caught)) as PaxchainError;
    const elapsed = performance.now() - started;
    await client.close();
    expect(error.code).toBe(ErrorCode.UNAVAILABLE);
    expect(error.message).toMatch(new RegExp(`cannot resolve host "${UNRESOLVABLE}": .* \\((ENOTFOUND|ENODATA|ETIMEOUT|ESERVFAIL|ECONNREFUSED)\\)`));
    expect(elapsed).toBeLessThan(1500 + 500);
  });

  it('the CLI exits within its --timeout and says why', () => {
    const started = performance.now();
    const result = runCli(['get', 'k', '--endpoints', `${UNRESOLVABLE}:7001`, '--timeout', '1500', '--json']);
    const elapsed = performance.now() - started;
    expect(result.status).toBe(1);
    expect(result.json().error.message).toContain(`cannot resolve host "${UNRESOLVABLE}"`);
    // Node's own start-up is in this figure; before, the process lived on for the OS resolver.
    expect(elapsed).toBeLessThan(1500 + 2500);
  });

  it('--endpoints "" is refused instead of meaning the defaults', () => {
    const result = runCli(['get', 'k', '--endpoints', '', '--json']);
    expect(result.status).toBe(2);
    expect(result.json().error).toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    expect(result.json().error.message).toMatch(/--endpoints is empty/);
  });
});
