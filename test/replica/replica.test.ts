// The replica's Multi-Paxos rules in hand-built interleavings (test/paxos/harness.ts), one rule
// per test. The simulator (test/sim) then checks them under random faults.
import { describe, expect, it } from 'vitest';
import { HEADER_BYTES } from '../../src/chain/block.js';
import { decodeBody, encodeBatchBody } from '../../src/chain/body.js';
import { DUPLICATE_FLAG, ResultCode } from '../../src/kv/command.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/ledger/ledger.js';
import type { Message } from '../../src/replica/messages.js';
import { genesis, Harness, isolating, newReplica } from '../paxos/harness.js';

const text = new TextDecoder();

function blocksOf(harness: Harness, node: number): Uint8Array[] {
  return harness.node(node).readies.flatMap((ready) => ready.blocks);
}

function commandsIn(record: Uint8Array): unknown[] {
  const body = decodeBody(record.subarray(HEADER_BYTES));
  if (typeof body === 'string' || body.kind !== 'batch') throw new Error('not a batch block');
  return body.commands as unknown[];
}

const notBetween = (a: number, b: number) => (message: Message) =>
  !((message.from === a && message.to === b) || (message.from === b && message.to === a));

describe('Replica (Multi-Paxos rules)', () => {
  it('persistence before reply: a promise leaves in the same Ready as the durable promise it depends on', () => {
    const harness = new Harness();
    const leader = harness.electLeader();
    for (const [id, node] of harness.nodes) {
      const promiseReady = node.readies.find((ready) => ready.messages.some((m) => m.type === 'promise'));
      expect(promiseReady?.acceptor, `node ${id}`).toBeDefined();
      expect(promiseReady!.acceptor!.promised).toBe(harness.replica(leader).ballot);
      // Every accepted message is preceded, in the same Ready, by the accepted entry it reports.
      for (const ready of node.readies) {
        for (const message of ready.messages) {
          if (message.type !== 'accepted') continue;
          const stored = ready.accepted.some((entry) => entry.slot === message.slot && entry.ballot === message.ballot);
          const isBlock = ready.blocks.length > 0 || (node.replica.head?.height ?? 0) >= message.slot;
          expect(stored || isBlock).toBe(true);
        }
      }
    }
  });

  it('one phase 1 per leadership, then writes are chosen with one round of accepts each', () => {
    const harness = new Harness();
    const leader = harness.electLeader();
    const prepares = harness.node(leader).readies.flatMap((r) => r.messages).filter((m) => m.type === 'prepare').length;
    const request = harness.put(leader, 7, 1, 'k', 'v');
    harness.deliver();
    expect(harness.reply(leader, request)).toMatchObject({ ok: true, kind: 'write', result: ResultCode.OK });
    harness.put(leader, 7, 2, 'k', 'w');
    harness.deliver();
    const preparesAfter = harness.node(leader).readies.flatMap((r) => r.messages).filter((m) => m.type === 'prepare').length;
    expect(preparesAfter).toBe(prepares);
    // Followers learn the last slot's commit from the next accept or heartbeat.
    harness.tick(5);
    for (const id of [1, 2, 3]) expect(harness.replica(id).head!.height).toBe(harness.replica(leader).head!.height);
  });

  it('batching: writes that arrive together are proposed as one slot', () => {
    const harness = new Harness();
    const leader = harness.electLeader();
    const before = harness.replica(leader).head!.height;
    for (let client = 1; client <= 50; client++) harness.put(leader, client, 1, `k${client}`, 'v');
    harness.deliver();
    expect(harness.replica(leader).head!.height).toBe(before + 1);
    expect(commandsIn(blocksOf(harness, leader).at(-1)!)).toHaveLength(50);
  });

  it('higher ballot wins: a leader that meets a higher promise steps down and the new leader serves', () => {
    const harness = new Harness();
    const first = harness.electLeader();
    const rival = first === 1 ? 2 : 1;
    // The rival stops hearing the leader (and the third node stops too, so stickiness allows it).
    const cut = isolating(first);
    for (let i = 0; i < 100 && harness.replica(rival).role !== 'leader' && harness.replica(6 - first - rival).role !== 'leader'; i++) harness.tick(1, cut);
    const second = [1, 2, 3].find((id) => id !== first && harness.replica(id).role === 'leader')!;
    expect(harness.replica(second).ballot).toBeGreaterThan(harness.replica(first).ballot);
    harness.tick(5); // reconnect: the old leader hears the higher ballot
    expect(harness.replica(first).role).not.toBe('leader');
    const request = harness.put(second, 9, 1, 'x', 'y');
    harness.deliver();
    expect(harness.reply(second, request)).toMatchObject({ ok: true });
  });

  it('a deposed leader cannot get a value chosen', () => {
    const harness = new Harness();
    const old = harness.electLeader();
    const cut = isolating(old);
    let fresh = 0;
    for (let i = 0; i < 200 && !fresh; i++) {
      harness.tick(1, cut);
      fresh = [1, 2, 3].find((id) => id !== old && harness.replica(id).role === 'leader') ?? 0;
    }
    expect(fresh).not.toBe(0);
    // The old leader still believes it leads (it heard nothing) and proposes a write...
    expect(harness.replica(old).role).toBe('leader');
    const request = harness.put(old, 5, 1, 'ghost', 'boo');
    harness.deliver(); // ...and now its accepts reach the others, who promised a higher ballot.
    expect(harness.dropped.length).toBeGreaterThan(0);
    harness.tick(3);
    expect(harness.replica(old).role).not.toBe('leader');
    expect(harness.reply(old, request)).toMatchObject({ ok: false, error: 'NOT_LEADER' });
    for (const id of [1, 2, 3]) {
      for (const record of blocksOf(harness, id)) {
        expect(commandsIn(record).some((c) => Array.isArray(c) && c[3] === 'ghost')).toBe(false);
      }
    }
  });

  it('a new leader adopts the highest-ballot accepted value and fills holes with no-op blocks', () => {
    const harness = new Harness([1, 2, 3, 4, 5]);
    const leader = harness.electLeader();
    const other = leader === 1 ? 2 : 1;
    const firstSlot = harness.replica(leader).head!.height + 1;
    // The leader proposes three slots; only `other` hears slots 1 and 3, nobody hears slot 2,
    // and nothing comes back: no slot is chosen.
    for (const [client, key, value] of [[1, 'a', 'one'], [2, 'b', 'two'], [3, 'c', 'three']] as const) {
      harness.put(leader, client, 1, key, value);
      harness.flush();
    }
    const accepts = harness.queue.filter((m) => m.type === 'accept' && m.to === other && m.slot !== firstSlot + 1);
    expect(accepts).toHaveLength(2);
    harness.queue = [];
    for (const message of accepts) harness.replica(other).step(message);
    harness.replica(other).takeReady();
    // The leader dies; the others elect a new one, whose phase 1 hears `other`'s accepted values.
    const survivors = (message: Message) => message.from !== leader && message.to !== leader;
    let fresh = 0;
    for (let i = 0; i < 300 && !fresh; i++) {
      harness.tick(1, survivors);
      fresh = [1, 2, 3, 4, 5].find((id) => id !== leader && harness.replica(id).role === 'leader') ?? 0;
    }
    harness.tick(10, survivors);
    const byHeight = new Map(blocksOf(harness, fresh).map((record) => [record[8]!, record]));
    const values = [0, 1, 2].map((i) => commandsIn(byHeight.get(firstSlot + i)!).map((c) => text.decode((c as unknown[])[4] as Uint8Array)));
    expect(values).toEqual([['one'], [], ['three']]);
  });

  it('a follower takes a slot as chosen only with the same ballot\'s value; otherwise it fetches the block', () => {
    const harness = new Harness([1, 2, 3, 4, 5]);
    const leader = harness.electLeader();
    const lagger = leader === 5 ? 4 : 5;
    const slot = harness.replica(leader).head!.height + 1;
    harness.put(leader, 1, 1, 'k', 'never-chosen');
    harness.flush();
    // Only the lagger accepts it (and its reply is lost); the leader then disappears.
    const accept = harness.queue.find((m) => m.type === 'accept' && m.to === lagger)!;
    harness.queue = [];
    harness.replica(lagger).step(accept);
    harness.replica(lagger).takeReady();
    const others = [1, 2, 3, 4, 5].filter((id) => id !== leader && id !== lagger);
    // The others elect a leader without the lagger and choose another value for that slot.
    const withoutBoth = (m: Message) => m.from !== leader && m.to !== leader && m.from !== lagger && m.to !== lagger;
    let fresh = 0;
    for (let i = 0; i < 300 && !fresh; i++) {
      harness.tick(1, withoutBoth);
      fresh = others.find((id) => harness.replica(id).role === 'leader') ?? 0;
    }
    harness.put(fresh, 2, 1, 'fresh', 'chosen');
    harness.deliver(withoutBoth);
    const keyAt = (record: Uint8Array) => commandsIn(record).map((c) => (c as unknown[])[3]);
    expect(keyAt(blocksOf(harness, fresh).find((r) => r[8] === slot)!)).toEqual(['fresh']);
    // The lagger now hears the new leader: it must not append its own stale value.
    harness.tick(40, (m) => m.from !== leader && m.to !== leader);
    const record = blocksOf(harness, lagger).find((r) => r[8] === slot)!;
    expect(keyAt(record)).toEqual(['fresh']);
    expect(harness.replica(lagger).head!.height).toBe(harness.replica(fresh).head!.height);
  });

  it('leader stickiness and pre-vote: while the leader is alive a cut-off node neither wins nor raises ballots', () => {
    const harness = new Harness();
    const leader = harness.electLeader();
    const rival = leader === 3 ? 2 : 3;
    const bystander = 6 - leader - rival;
    const leaderBallot = harness.replica(leader).ballot;
    // The rival stops hearing the leader, but the bystander still does.
    harness.tick(60, notBetween(leader, rival));
    expect(harness.replica(leader).role).toBe('leader');
    expect(harness.replica(leader).ballot).toBe(leaderBallot);
    const refusals = harness.node(bystander).readies.flatMap((r) => r.messages).filter((m) => m.type === 'probe-reply' && m.to === rival);
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.every((m) => m.type === 'probe-reply' && !m.granted && m.leader === leader)).toBe(true);
    // The rival asked, but never promised itself a higher ballot.
    expect(harness.replica(rival).promised).toBe(leaderBallot);
    // A prepare that does get through (a rival without pre-vote) is refused as well.
    harness.replica(bystander).step({ type: 'prepare', from: rival, to: bystander, ballot: leaderBallot + 256, fromSlot: 1 });
    harness.flush();
    expect(harness.node(bystander).readies.at(-1)!.messages).toEqual([expect.objectContaining({ type: 'prepare-reject', reason: 'leader-alive' })]);
  });

  it('ReadIndex: a linearizable read is answered only after a majority confirmed the leadership', () => {
    const harness = new Harness();
    const leader = harness.electLeader();
    harness.put(leader, 1, 1, 'k', 'v1');
    harness.deliver();
    const read = harness.read(leader, 'k');
    harness.deliver((m) => m.type !== 'heartbeat-ack');
    expect(harness.reply(leader, read)).toBeUndefined();
    harness.tick(6); // the next heartbeat repeats the read round and gets its acks through
    const reply = harness.reply(leader, read);
    expect(reply).toMatchObject({ ok: true, kind: 'read', stale: false });
    expect(text.decode((reply as { value: Uint8Array }).value)).toBe('v1');
    // A follower refuses linearizable reads but answers stale ones, labelled with its head.
    const follower = leader === 1 ? 2 : 1;
    harness.read(follower, 'k');
    const stale = harness.read(follower, 'k', true);
    harness.flush();
    expect(harness.node(follower).replies.at(-2)).toMatchObject({ ok: false, error: 'NOT_LEADER', leader });
    expect(harness.reply(follower, stale)).toMatchObject({ ok: true, stale: true, height: harness.replica(follower).head!.height });
  });

  it('exactly-once: a write retried at a new leader is answered with its first result, applied once', () => {
    const harness = new Harness();
    const first = harness.electLeader();
    const request = harness.put(first, 42, 1, 'counter', 'a');
    harness.deliver();
    const original = harness.reply(first, request) as { height: number };
    const cut = isolating(first);
    let second = 0;
    for (let i = 0; i < 300 && !second; i++) {
      harness.tick(1, cut);
      second = [1, 2, 3].find((id) => id !== first && harness.replica(id).role === 'leader') ?? 0;
    }
    const retry = harness.put(second, 42, 1, 'counter', 'a');
    harness.deliver(cut);
    expect(harness.reply(second, retry)).toMatchObject({ ok: true, result: ResultCode.OK | DUPLICATE_FLAG, height: original.height });
  });

  it('a wiped replica does not vote; it rejoins only after a new phase 1 without it and catching up', () => {
    const harness = new Harness();
    const leader = harness.electLeader();
    for (let seq = 1; seq <= 5; seq++) harness.put(leader, 1, seq, `k${seq}`, 'v');
    harness.deliver();
    const wiped = leader === 3 ? 2 : 3;
    harness.node(wiped).replica = newReplica(wiped, { withGenesis: false, voting: false });
    harness.node(wiped).readies = [];
    const leaderBallotBefore = harness.replica(leader).ballot;
    harness.tick(30);
    // As a learner it answered prepares/accepts with refusals only, and got genesis and blocks.
    const learnerReplies = harness.node(wiped).readies.flatMap((r) => r.messages);
    expect(learnerReplies.some((m) => m.type === 'promise' || m.type === 'accepted')).toBe(false);
    expect(harness.replica(wiped).voting).toBe(false);
    expect(harness.replica(wiped).head!.height).toBe(harness.replica(leader).head!.height);
    // After the rejoin delay it asks; the leader runs a fresh phase 1 and grants the vote.
    harness.tick(150);
    expect(harness.replica(wiped).voting).toBe(true);
    expect(harness.replica(leader).ballot).toBeGreaterThan(leaderBallotBefore);
    expect(harness.replica(wiped).promised).toBeGreaterThanOrEqual(harness.replica(leader).ballot);
  });

  it('a replica without genesis never votes and refuses a genesis from another cluster', () => {
    const stranger = newReplica(3, { withGenesis: false, voting: true, config: { clusterId: 'unit' } });
    expect(stranger.voting).toBe(false);
    stranger.step({ type: 'prepare', from: 1, to: 3, ballot: 257, fromSlot: 1 });
    expect(stranger.takeReady().messages).toEqual([expect.objectContaining({ type: 'prepare-reject', reason: 'not-voting' })]);
  });

  it('divergence: one disagreeing peer is an alarm that stops candidacy; a majority disagreeing condemns our chain', () => {
    const node = newReplica(1);
    const head = node.head!;
    const other = head.hash.slice();
    other[0] ^= 0xff;
    const status = (from: number, hash: Uint8Array) =>
      ({ type: 'status', from, to: 1, promised: 0, leader: 0, voting: true, head: { height: head.height, hash }, genesis: null }) as const;
    const electioneering = () => node.takeReady().messages.some((message) => message.type === 'probe' || message.type === 'prepare');
    node.step(status(2, other));
    expect(node.disagreeingPeers).toEqual([expect.objectContaining({ peer: 2, height: head.height })]);
    expect(node.diverged).toBeUndefined();
    // A 1:1 tie (itself against node 2, node 3 unknown): nobody can tell, so it never stands.
    for (let i = 0; i < 400; i++) node.tick();
    expect(node.role).toBe('follower');
    expect(electioneering()).toBe(false);
    // Node 3 holds our block: 2:1, this side may lead again.
    node.step(status(3, head.hash));
    for (let i = 0; i < 400; i++) node.tick();
    expect(electioneering()).toBe(true);
    expect(node.diverged).toBeUndefined();
    // Both peers hold another block: this chain is the minority one, it stops voting and writing.
    node.step(status(3, other));
    expect(node.diverged).toMatchObject({ height: head.height, peer: 3 });
    node.takeReady();
    node.step({ type: 'prepare', from: 3, to: 1, ballot: node.promised + 256, fromSlot: head.height + 1 });
    expect(node.takeReady().messages).toEqual([expect.objectContaining({ type: 'prepare-reject', reason: 'not-voting' })]);
    node.propose({ requestId: 900, command: [1, 5, 1, 'k', new Uint8Array([1])] });
    expect(node.takeReady().replies).toEqual([expect.objectContaining({ requestId: 900, ok: false, error: 'DIVERGED' })]);
  });

  it('catch-up: a range fetched ahead is applied once the chain reaches it by chosen slots, even if the range below never arrives', () => {
    const follower = newReplica(2, { config: { fetchBlocks: 2, fetchPipelineMax: 2 } });
    const chain = new Ledger(fastSha256);
    const genesisRecord = Ledger.genesisRecord(fastSha256, genesis);
    chain.replay(0, genesisRecord);
    const bodies = [1, 2, 3, 4].map((height) => encodeBatchBody(height, [[1, 9, height, `k${height}`, new Uint8Array([height])]]));
    const records = bodies.map((body) => chain.append(body).record);
    const ballot = 257;
    // The leader's accepts for slots 1 and 2 arrive; nothing says they are chosen yet.
    for (const slot of [1, 2]) follower.step({ type: 'accept', from: 1, to: 2, ballot, slot, value: bodies[slot - 1]!, chosenThrough: 0 });
    // A peer's head says 4 is chosen: the follower asks for [1, 2] and [3, 4].
    follower.step({ type: 'status', from: 3, to: 2, promised: ballot, leader: 1, voting: true, head: { height: 4, hash: chain.head!.hash }, genesis: null });
    const fetches = follower.takeReady().messages.filter((message) => message.type === 'fetch') as Array<Extract<Message, { type: 'fetch' }>>;
    expect(fetches.map((fetch) => fetch.fromHeight).sort()).toEqual([1, 3]);
    // [3, 4] arrives first and is kept; the reply for [1, 2] is lost.
    const upper = fetches.find((fetch) => fetch.fromHeight === 3)!;
    follower.step({ type: 'blocks', from: upper.to, to: 2, fromHeight: 3, records: records.slice(2, 4), head: { height: 4, hash: chain.head!.hash } });
    expect(follower.head!.height).toBe(0);
    // The leader's heartbeat says 2 is chosen: the follower appends 1 and 2 from its own entries,
    // then the kept range.
    follower.step({ type: 'heartbeat', from: 1, to: 2, ballot, chosenThrough: 2, head: { height: 2, hash: new Uint8Array(32) }, round: 0 });
    follower.takeReady();
    expect(follower.head!.height).toBe(4);
    expect(follower.head!.hash).toEqual(chain.head!.hash);
  });

  it('log events name the ballot they happened at: a follower says whom it follows at that leader\'s ballot', () => {
    const harness = new Harness();
    const leader = harness.electLeader();
    const ballot = harness.replica(leader).ballot;
    for (const [id, node] of harness.nodes) {
      if (id === leader) continue;
      const event = node.readies.flatMap((ready) => ready.events).find((e) => e.message === 'following leader');
      expect(event, `node ${id}`).toBeDefined();
      expect(event!.ballot).toBe(ballot);
      expect(event!.fields).toMatchObject({ leader });
    }
  });
});
