// What the CLI says when the nodes it asks cannot tell the whole story: a status list without the
// leader, a bench in which nothing succeeded.
import { describe, expect, it } from 'vitest';
import { leaderLine, type NodeRow } from '../../src/cli/status-ops.js';
import type { NodeStatus } from '../../src/transport/protocol.js';
import { freeBasePort } from '../node/cluster-helpers.js';
import { runCli } from '../helpers.js';

function row(nodeId: number, role: string, leader: number): NodeRow {
  const endpoint = `127.0.0.1:${7000 + nodeId}`;
  return { endpoint, reachable: true, status: { nodeId, endpoint, role, leader } as unknown as NodeStatus };
}

describe('status leader line', () => {
  it('names the leader when it is among the nodes asked', () => {
    expect(leaderLine([row(1, 'follower', 3), row(3, 'leader', 3)])).toBe('leader: node 3');
  });

  it('without the leader among them, says whom the asked nodes follow', () => {
    expect(leaderLine([row(1, 'follower', 3), { endpoint: '127.0.0.1:7999', reachable: false }])).toBe(
      'no leader among the nodes asked; node 1 follows node 3',
    );
  });

  it('says "no leader" when no node asked knows one', () => {
    expect(leaderLine([row(1, 'follower', 0), row(2, 'candidate', 1), { endpoint: '127.0.0.1:7999', reachable: false }])).toBe('no leader');
  });
});

describe('bench', () => {
  it('a run in which no operation succeeded exits 1 and reports the errors', async () => {
    const port = await freeBasePort(1); // nothing listens there
    const result = runCli(['bench', '--endpoints', `127.0.0.1:${port}`, '--clients', '2', '--duration', '1', '--timeout', '300', '--json'], { timeoutMs: 30_000 });
    expect(result.status).toBe(1);
    const report = result.json();
    expect(report.operations).toBe(0);
    expect(report.errors.UNAVAILABLE).toBeGreaterThan(0);
  });
});
