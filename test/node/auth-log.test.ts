// A node started with another cluster secret: it logs that its peers refuse it, `status` shows it
// cut off (not a healthy follower), and the healthy nodes log and count the failures (before:
// nobody logged anything, authFailures stayed 0, status said "follower").
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';
import { leaderOf, useTestCluster, waitFor } from './cluster-helpers.js';

describe('a node with the wrong cluster secret (3 real nodes)', () => {
  const test = useTestCluster(3);

  it('is shown cut off, and both sides log and count the authentication failures', async () => {
    const leader = await leaderOf(test);
    const victim = test.cluster.ids.find((id) => id !== leader)!;
    const endpoint = test.cluster.endpoint(victim);
    const healthyBefore = (await test.client.status(test.cluster.endpoint(leader))).counters.authFailures!;
    await test.cluster.signal(victim, 'SIGTERM');
    await test.cluster.startNode(victim, { secret: 'not-the-cluster-secret' });
    const cutOff = await waitFor('the victim to report itself cut off', async () => (await test.client.status(endpoint)).cutOff ?? undefined, 30_000);
    expect(cutOff.reason).toMatch(/AUTH_FAILED: node \d's Challenge proof does not match: its cluster secret differs/);
    const own = await waitFor('the victim to log the refusal', async () =>
      test.lines.find((line) => line.startsWith(`[node${victim}]`) && line.includes('failed authentication')),
    );
    expect(own).toMatch(/peer link to node \d failed authentication: AUTH_FAILED/);
    // The healthy side refuses the victim's proof on its own links: logged and counted.
    await waitFor('the leader to log the refusal', async () =>
      test.lines.find((line) => line.startsWith(`[node${leader}]`) && line.includes(`peer link to node ${victim} failed authentication`)),
    );
    const healthyAfter = (await test.client.status(test.cluster.endpoint(leader))).counters.authFailures!;
    expect(healthyAfter).toBeGreaterThan(healthyBefore);
    expect((await test.client.status(endpoint)).counters.authFailures).toBeGreaterThan(0);
    // Rate-limited: one line per link per interval, not one per reconnect attempt.
    const leaderLines = test.lines.filter((line) => line.startsWith(`[node${leader}]`) && line.includes(`peer link to node ${victim} failed authentication`));
    expect(leaderLines.length).toBeLessThanOrEqual(2);
    const human = runCli(['status', '--endpoints', test.cluster.endpoints.join(',')]).stdout;
    expect(human).toMatch(new RegExp(`^${victim}\\s+\\S+\\s+\\w+ CUT-OFF`, 'm'));
    expect(human).toContain(`CUT OFF node ${victim}: no working link to any peer`);
    // With the right secret again it rejoins and is no longer cut off.
    await test.cluster.signal(victim, 'SIGTERM');
    await test.cluster.startNode(victim);
    await waitFor('the victim to be connected again', async () => ((await test.client.status(endpoint)).cutOff === null ? true : undefined), 30_000);
    expect((await test.client.put('after/secret-fixed', 'ok')).result).toBe('OK');
  }, 120_000);
});
