// A member whose chain forked (same genesis, other blocks) must neither stall the healthy
// majority nor lead it; a node frozen by a bad digest serves nothing from its state.
import { describe, expect, it } from 'vitest';
import { hashRecord } from '../../src/chain/block.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { toHex } from '../../src/lib/bytes.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { genesis, Harness, isolating, newReplica } from '../paxos/harness.js';
import { sid } from '../helpers.js';

/**
 * Node `id` of `harness`, restarted from a chain that shares genesis and then holds `blocks`
 * blocks, those from `forkAt` on its own (`tag` makes them differ), through the host's restore (so
 * with its recent block hashes, and serving fetches from that chain).
 */
function restartWithChain(harness: Harness, id: number, blocks: number, tag: string, forkAt = 1): void {
  const ledger = new Ledger(fastSha256);
  ledger.replay(0, Ledger.genesisRecord(fastSha256, genesis));
  const records: Uint8Array[] = [];
  for (let height = 1; height <= blocks; height++) {
    records.push(ledger.append(encodeBatchBody(height, [[1, sid(777), height, `${height < forkAt ? 'shared' : tag}/${height}`, new Uint8Array([1])]])).record);
  }
  const node = harness.node(id);
  node.replica = newReplica(id, { records });
  node.readies = [];
}

describe('a forked member', () => {
  it('whose head is above the majority\'s: the majority keeps taking writes, the forked node is condemned and never leads', () => {
    const harness = new Harness([1, 2, 3]);
    const first = harness.electLeader(isolating(3));
    for (let seq = 1; seq <= 3; seq++) harness.put(first, 5, seq, 'k', `v${seq}`);
    harness.tick(5, isolating(3));
    const healthy = harness.replica(first).head!.height;
    // Node 3 comes back with a chain forked at height 1 that runs to height healthy + 7.
    restartWithChain(harness, 3, healthy + 7, 'forged');
    harness.tick(200);
    const answered: boolean[] = [];
    for (let seq = 1; seq <= 10; seq++) {
      const leader = [1, 2].find((id) => harness.replica(id).role === 'leader');
      expect(leader, `a healthy leader before write ${seq}`).toBeDefined();
      const request = harness.put(leader!, 6, seq, `after/${seq}`, 'x');
      harness.tick(10);
      answered.push(harness.reply(leader!, request)?.ok === true);
    }
    expect(answered.every(Boolean)).toBe(true);
    expect(harness.replica(3).diverged).toBeDefined();
    expect(harness.replica(3).role).not.toBe('leader');
    for (const id of [1, 2]) expect(harness.replica(id).diverged, `node ${id}`).toBeUndefined();
    expect(harness.replica(1).head!.hash).toEqual(harness.replica(2).head!.hash);
    expect(harness.replica(1).head!.height).toBeGreaterThan(healthy + 7);
  });

  it('a leader that learns its own chain is the minority one steps down so a healthy node can lead', () => {
    const harness = new Harness([1, 2, 3]);
    // Node 1 leads from a forked chain; nodes 2 and 3 share another one.
    restartWithChain(harness, 1, 4, 'forged');
    for (const id of [2, 3]) restartWithChain(harness, id, 4, 'real');
    (harness.replica(1) as unknown as { becomeCandidate(reason: string): void }).becomeCandidate('test');
    // The prepares and promises go through before any head is compared.
    harness.deliver((message) => message.type === 'prepare' || message.type === 'promise');
    expect(harness.replica(1).role).toBe('leader');
    harness.tick(100);
    expect(harness.replica(1).diverged).toBeDefined();
    expect(harness.replica(1).role).not.toBe('leader');
    const leader = [2, 3].find((id) => harness.replica(id).role === 'leader');
    expect(leader).toBeDefined();
    const write = harness.put(leader!, 9, 1, 'k', 'v');
    harness.tick(10);
    expect(harness.reply(leader!, write)).toMatchObject({ ok: true });
  });

  it('a node frozen by a state digest mismatch answers no read from its state, not even a stale one', () => {
    const harness = new Harness([1, 2, 3]);
    const leader = harness.electLeader();
    harness.put(leader, 5, 1, 'k', 'good');
    harness.tick(5);
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const replica = harness.replica(follower);
    // A block that links to the follower's head but whose header digest is wrong.
    const chain = new Ledger(fastSha256);
    chain.replay(0, Ledger.genesisRecord(fastSha256, genesis));
    const records = harness.node(leader).readies.flatMap((ready) => ready.blocks);
    for (const [index, record] of records.entries()) chain.replay(index + 1, record);
    const next = chain.append(encodeBatchBody(99, [[1, sid(5), 2, 'k', new TextEncoder().encode('evil')]])).record.slice();
    next[80] ^= 1; // inside the state digest field (bytes 73..105)
    replica.step({ type: 'status', from: leader, to: follower, promised: replica.promised, leader, voting: true, head: { height: chain.head!.height, hash: chain.head!.hash }, genesis: null });
    replica.step({ type: 'blocks', from: leader, to: follower, fromHeight: chain.head!.height, records: [next], head: { height: chain.head!.height, hash: chain.head!.hash } });
    expect(replica.diverged).toBeDefined();
    replica.takeReady();
    replica.read({ requestId: 77, key: 'k', stale: true });
    expect(replica.takeReady().replies).toEqual([expect.objectContaining({ requestId: 77, ok: false, error: 'DIVERGED' })]);
  });

  it('a condemned node finds the first divergent height by asking its own store and a peer for block hashes', () => {
    const harness = new Harness([1, 2, 3]);
    const forkAt = 37;
    for (const id of [1, 2]) restartWithChain(harness, id, 100, 'real', forkAt);
    restartWithChain(harness, 3, 100, 'forged', forkAt);
    for (let tick = 0; tick < 300 && harness.replica(3).firstDivergence === undefined; tick++) harness.tick(1);
    const events = harness.node(3).readies.flatMap((ready) => ready.events.map((event) => event.message));
    const asked = harness.node(3).readies.flatMap((ready) => ready.messages.filter((message) => message.type === 'hashes-request'));
    const first = harness.replica(3).firstDivergence;
    expect(harness.replica(3).diverged).toBeDefined();
    expect(first).toMatchObject({ height: forkAt, ours: toHex(hashRecord(fastSha256, harness.chainRecords(3)[forkAt]!)), theirs: toHex(hashRecord(fastSha256, harness.chainRecords(first!.peer)[forkAt]!)) });
    expect(first!.ours).not.toBe(first!.theirs);
    expect(events).toContain(`DIVERGENCE: first divergent height ${forkAt} with node ${first!.peer}`);
    // 100 heights, 16 samples a round: narrowed down in a few rounds, not one question per height.
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(asked.length).toBeLessThanOrEqual(4);
    // The healthy majority is not condemned, so it never searches.
    for (const id of [1, 2]) expect(harness.replica(id).firstDivergence, `node ${id}`).toBeUndefined();
  });
});
