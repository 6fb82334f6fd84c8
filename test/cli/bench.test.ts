// `bench` against an endpoint where no node runs stops at once with the reason (before: it ran,
// showing "0 errors" for as long as each operation's deadline, ~5 s, then counted them).
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';
import { freeBasePort } from '../node/cluster-helpers.js';

describe('bench', () => {
  it("no endpoint answering ends the run at once: UNAVAILABLE counted, each endpoint's error shown", async () => {
    const endpoint = `127.0.0.1:${await freeBasePort(1)}`;
    const started = performance.now();
    const result = runCli(['bench', '--endpoints', endpoint, '--duration', '8', '--clients', '2', '--json'], { timeoutMs: 30_000 });
    const elapsed = performance.now() - started;
    expect(result.status).toBe(1);
    const report = result.json();
    expect(report).toMatchObject({ operations: 0, errors: { UNAVAILABLE: 1 } });
    expect(report.unreachable[0]).toMatch(new RegExp(`^${endpoint}: connection to ${endpoint} unavailable: connect ECONNREFUSED`));
    expect(elapsed).toBeLessThan(4000);
  });
});
