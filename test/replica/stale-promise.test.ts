// A follower whose own candidacy lost the race to the leader's is left with a promise above the
// leader's ballot: it refuses the leader's accepts and heartbeats, and nothing lifted it (seen as
// a 5-node real cluster that never settled: "node 5: follower ballot - promised 0.5 leader 2").
// The leader, told by that voter's status message, runs phase 1 again above the promise.
import { describe, expect, it } from 'vitest';
import { formatBallot } from '../../src/paxos/ballot.js';
import { Harness } from '../paxos/harness.js';

describe('a follower promised above the leader', () => {
  it('the leader runs phase 1 again above that promise, and the follower follows it at the new ballot', () => {
    const harness = new Harness();
    const leader = harness.electLeader();
    const follower = [...harness.nodes.keys()].find((id) => id !== leader)!;
    const oldBallot = harness.replica(leader).ballot;
    // What the follower says after its lost candidacy: it promised more, and follows our leader.
    const promised = oldBallot + 1000;
    harness.replica(leader).step({ type: 'status', from: follower, to: leader, promised, leader, voting: true, head: null, genesis: null });
    harness.flush();
    harness.tick(50);
    expect(harness.replica(leader).role).toBe('leader');
    expect(harness.replica(leader).ballot, `leader ballot ${formatBallot(harness.replica(leader).ballot)}`).toBeGreaterThan(promised);
    expect(harness.replica(follower).ballot).toBe(harness.replica(leader).ballot);
    expect(harness.node(leader).readies.some((ready) => ready.events.some((event) => event.message.includes("new phase 1 above a follower's higher promise")))).toBe(true);
  });
});
