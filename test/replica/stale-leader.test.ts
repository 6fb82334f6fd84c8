// Interleavings found in review where a leader that lost its ballot (or a learner's ack) could
// break safety or leave clients waiting. Each test builds the exact schedule by hand.
import { describe, expect, it } from 'vitest';
import { HEADER_BYTES } from '../../src/chain/block.js';
import { decodeBody, encodeBatchBody } from '../../src/chain/body.js';
import type { Message } from '../../src/replica/messages.js';
import type { Replica } from '../../src/replica/replica.js';
import { Harness, newReplica } from '../paxos/harness.js';
import { bytesEqual } from '../../src/lib/bytes.js';
import { fixedSessionId } from '../../src/kv/session.js';
import { sid } from '../helpers.js';

const text = new TextDecoder();
const inSet = (nodes: number[]) => (message: Message) => nodes.includes(message.from) && nodes.includes(message.to);
const startCandidacy = (replica: Replica) => (replica as unknown as { becomeCandidate(reason: string): void }).becomeCandidate('test');

/** Delivers queued messages round by round; `hold` keeps some back for later. */
function pump(harness: Harness, keep: (message: Message) => boolean, hold: (message: Message) => boolean = () => false, held: Message[] = []): Message[] {
  for (let round = 0; round < 30; round++) {
    harness.flush();
    if (harness.queue.length === 0) break;
    const batch = harness.queue;
    harness.queue = [];
    for (const message of batch) {
      if (hold(message)) held.push(message);
      else if (keep(message)) harness.replica(message.to).step(message);
    }
  }
  return held;
}

/** The values written in the block each node appended at `height` (undefined: none). */
function blockAt(harness: Harness, node: number, height: number): string | undefined {
  for (const ready of harness.node(node).readies) {
    for (const record of ready.blocks) {
      if (Number(new DataView(record.buffer, record.byteOffset).getBigUint64(1)) !== height) continue;
      const body = decodeBody(record.subarray(HEADER_BYTES));
      if (typeof body === 'string' || body.kind !== 'batch') return body === 'string' ? body : 'other';
      return JSON.stringify(body.commands.map((command) => (command as unknown[])[4] instanceof Uint8Array ? text.decode((command as unknown[])[4] as Uint8Array) : null));
    }
  }
  return undefined;
}

describe('stale leaders and learners', () => {
  /**
   * Node 1 runs phase 1 and node 3's promise to it is held back; meanwhile node 4 leads a higher
   * ballot with 3, 4, 5 and gets k=real chosen at height 1; node 5's status (rewritten by
   * `status`) reaches node 1; then the late promise arrives and node 1 takes a write.
   */
  function staleLeaderScenario(status: (message: Message) => Message) {
    const harness = new Harness([1, 2, 3, 4, 5]);
    startCandidacy(harness.replica(1));
    const held = pump(harness, inSet([1, 2, 3]), (message) => message.type === 'promise' && message.from === 3 && message.to === 1);
    expect(harness.replica(1).role).toBe('candidate');
    startCandidacy(harness.replica(4));
    pump(harness, inSet([3, 4, 5]));
    expect(harness.replica(4).role).toBe('leader');
    const real = harness.put(4, 7, 1, 'k', 'real');
    pump(harness, inSet([3, 4, 5]));
    for (let tick = 0; tick < 10; tick++) {
      for (const id of [3, 4, 5]) harness.replica(id).tick();
      pump(harness, inSet([3, 4, 5]));
    }
    expect(harness.reply(4, real)).toMatchObject({ ok: true, height: 1 });
    // Node 5's status reaches candidate 1: it learns that height 1 is chosen, not what it holds.
    const statuses: Message[] = [];
    for (let tick = 0; tick < 10; tick++) {
      for (const id of [1, 2, 3, 4, 5]) harness.replica(id).tick();
      pump(harness, (message) => inSet([3, 4, 5])(message) || inSet([1, 2])(message), (message) => message.type === 'status' && message.from === 5 && message.to === 1, statuses);
    }
    expect(statuses.length).toBeGreaterThan(0);
    harness.replica(1).step(status(statuses.at(-1)!));
    for (const message of held) harness.replica(message.to).step(message);
    pump(harness, inSet([1, 2]));
    const roleAfterPromise = harness.replica(1).role;
    const ghost = harness.put(1, 9, 1, 'k', 'ghost');
    pump(harness, inSet([1, 2]));
    for (let tick = 0; tick < 30; tick++) {
      for (const id of [1, 2, 3, 4, 5]) harness.replica(id).tick();
      pump(harness, () => true);
    }
    return { harness, roleAfterPromise, ghost: harness.reply(1, ghost) };
  }

  function expectOneChain(harness: Harness): void {
    for (const height of [1, 2]) {
      const blocks = [1, 2, 3, 4, 5].map((id) => blockAt(harness, id, height)).filter((value) => value !== undefined);
      expect(new Set(blocks).size, `height ${height}`).toBeLessThanOrEqual(1);
      if (height === 1) expect(blocks[0]).toBe('["real"]');
    }
  }

  it('a candidate that hears a voter promised a higher ballot to a live leader gives up its phase 1', () => {
    const { harness, roleAfterPromise, ghost } = staleLeaderScenario((message) => message);
    expect(roleAfterPromise).toBe('follower');
    expect(ghost).toMatchObject({ ok: false, error: 'NOT_LEADER', leader: 4 });
    expectOneChain(harness);
  });

  it('a leader whose phase 1 missed a higher ballot never proposes into a slot it knows is chosen, nor acknowledges it', () => {
    // The status comes from a node that just restarted (no leader known): nothing deposes node 1.
    const { harness, roleAfterPromise, ghost } = staleLeaderScenario((message) => ({ ...message, leader: 0 }) as Message);
    expect(roleAfterPromise).toBe('leader');
    expectOneChain(harness);
    // Its write went to slot 2, which nodes 3-5 (promised higher) refuse: it steps down.
    expect(harness.replica(1).role).not.toBe('leader');
    expect(ghost).toMatchObject({ ok: false, error: 'NOT_LEADER' });
  });

  it('a stale value phase 1 adopted for a slot chosen at a higher ballot is never told to followers as chosen', () => {
    const harness = new Harness([1, 2, 3, 4, 5]);
    const accepts = (message: Message) => message.type === 'accept';
    // Node 2 leads a low ballot with 1, 2, 3; its value for slot 1 reaches only nodes 1 and 2.
    startCandidacy(harness.replica(2));
    pump(harness, inSet([1, 2, 3]));
    expect(harness.replica(2).role).toBe('leader');
    harness.put(2, 5, 1, 'k', 'stale');
    pump(harness, (message) => inSet([1, 2, 3])(message) && !(accepts(message) && message.to === 3));
    // Then everything goes quiet for 1, 2 and 3 until node 2 has stepped down and nobody
    // remembers a live leader.
    for (let tick = 0; tick < 100; tick++) {
      for (const id of [1, 2, 3]) harness.replica(id).tick();
      pump(harness, (message) => message.from === message.to);
    }
    expect(harness.replica(2).role).not.toBe('leader');
    // Node 1 runs phase 1 with 1, 2, 3; node 3's promise is held back. 1 and 2 report (0.2, stale).
    startCandidacy(harness.replica(1));
    const held = pump(harness, (message) => inSet([1, 2, 3])(message) || (message.type === 'prepare' && message.to === 4), (message) => message.type === 'promise' && message.from === 3 && message.to === 1);
    // Cut off from 1 and 2, nodes 3, 4, 5 elect a leader of a higher ballot and choose k=real.
    let leader: number | undefined;
    for (let tick = 0; tick < 300 && leader === undefined; tick++) {
      for (const id of [3, 4, 5]) harness.replica(id).tick();
      pump(harness, inSet([3, 4, 5]));
      leader = [3, 4, 5].find((id) => harness.replica(id).role === 'leader');
    }
    expect(leader).toBeDefined();
    expect(harness.replica(leader!).ballot).toBeGreaterThan(harness.replica(1).promised);
    const real = harness.put(leader!, 7, 1, 'k', 'real');
    pump(harness, inSet([3, 4, 5]));
    for (let tick = 0; tick < 10; tick++) {
      for (const id of [3, 4, 5]) harness.replica(id).tick();
      pump(harness, inSet([3, 4, 5]));
    }
    expect(harness.reply(leader!, real)).toMatchObject({ ok: true, height: 1 });
    const five = leader === 5 ? 4 : 5;
    // A just-restarted follower (no leader known) tells node 1 that height 1 is chosen.
    const head = harness.replica(five).head!;
    expect(head.height).toBe(1);
    harness.replica(1).step({ type: 'status', from: five, to: 1, promised: harness.replica(five).promised, leader: 0, voting: true, head: { height: head.height, hash: head.hash }, genesis: null });
    for (const message of held) harness.replica(message.to).step(message);
    pump(harness, inSet([1, 2]));
    expect(harness.replica(1).role).toBe('leader');
    for (let tick = 0; tick < 20; tick++) {
      for (const id of [1, 2]) harness.replica(id).tick();
      pump(harness, inSet([1, 2]));
    }
    for (const id of [1, 2]) expect(blockAt(harness, id, 1), `node ${id}`).not.toBe('["stale"]');
    for (let tick = 0; tick < 30; tick++) {
      for (const id of [1, 2, 3, 4, 5]) harness.replica(id).tick();
      pump(harness, () => true);
    }
    expectOneChain(harness);
  });

  it('a leader that learns one of its open slots is chosen elsewhere steps down before telling anyone it is chosen', () => {
    const harness = new Harness([1, 2, 3]);
    const leader = harness.electLeader();
    const replica = harness.replica(leader);
    const write = harness.put(leader, 5, 1, 'k', 'mine');
    harness.flush();
    const accept = harness.queue.find((message) => message.type === 'accept');
    expect(accept).toBeDefined();
    const slot = (accept as Extract<Message, { type: 'accept' }>).slot;
    harness.queue = [];
    const peer = leader === 1 ? 2 : 1;
    replica.step({ type: 'status', from: peer, to: leader, promised: 0, leader: 0, voting: true, head: { height: slot, hash: new Uint8Array(32).fill(7) }, genesis: null });
    const ready = replica.takeReady();
    expect(replica.role).not.toBe('leader');
    expect(ready.replies).toEqual([expect.objectContaining({ requestId: write, ok: false, error: 'NOT_LEADER' })]);
    const told = ready.messages.filter((message) => message.type === 'accept' || message.type === 'heartbeat') as Array<{ chosenThrough: number }>;
    for (const message of told) expect(message.chosenThrough).toBeLessThan(slot);
  });

  it('a rejoin\'s new phase 1 re-proposes in-flight commands once, in their own slot', () => {
    const harness = new Harness([1, 2, 3]);
    startCandidacy(harness.replica(1));
    harness.deliver();
    // The accepts reach the followers, but no acceptance gets back: the slot stays open.
    const write = harness.put(1, 11, 1, 'k', 'v');
    harness.deliver((message) => message.type !== 'accepted' || message.to !== 1 || message.from === 1);
    harness.replica(1).step({ type: 'rejoin-request', from: 3, to: 1, nonce: 5 });
    harness.deliver();
    harness.tick(20);
    expect(harness.reply(1, write)).toMatchObject({ ok: true });
    const copies = harness.node(1).readies.flatMap((ready) => ready.blocks).filter((record) => {
      const body = decodeBody(record.subarray(HEADER_BYTES));
      return typeof body !== 'string' && body.kind === 'batch' && body.commands.some((command) => bytesEqual((command as unknown[])[1] as Uint8Array, fixedSessionId(11)));
    });
    expect(copies).toHaveLength(1);
  });

  it('commands requeued after a new phase 1 are answered even when the queue is full', () => {
    const harness = new Harness([1, 2, 3], { config: { pendingWritesMax: 2, pipelineMax: 1 } });
    startCandidacy(harness.replica(1));
    harness.deliver();
    // Client 11's write is proposed in slot 1 and reaches no one; two more writes fill the queue.
    const orphan = harness.put(1, 11, 1, 'k', 'mine');
    harness.flush();
    harness.queue = [];
    harness.put(1, 12, 1, 'a', '1');
    harness.put(1, 13, 1, 'b', '2');
    // Meanwhile node 2 holds another value for slot 1 from a higher ballot than any phase 1 saw.
    harness.replica(2).step({ type: 'accept', from: 3, to: 2, ballot: harness.replica(1).ballot + 1, slot: 1, value: encodeBatchBody(1, [[1, sid(99), 1, 'k', new Uint8Array([9])]]), chosenThrough: 0 });
    harness.node(2).replica.takeReady();
    // Node 2 then hears nothing for a while, so it no longer vouches for that leader.
    for (let tick = 0; tick < 40; tick++) {
      harness.replica(2).tick();
      harness.replica(2).takeReady();
    }
    // Node 3 asks to rejoin (it does not vote meanwhile): the new phase 1 runs with nodes 1 and 2,
    // slot 1 gets node 2's value, and client 11's command goes back in the queue.
    const notThree = (message: Message) => message.from !== 3 && message.to !== 3;
    harness.replica(1).step({ type: 'rejoin-request', from: 3, to: 1, nonce: 5 });
    harness.deliver(notThree);
    expect(harness.node(1).readies.flatMap((ready) => ready.events).some((event) => event.message === 'granted rejoin')).toBe(true);
    for (let tick = 0; tick < 200 && !harness.reply(1, orphan); tick++) harness.tick(1, notThree);
    expect(harness.reply(1, orphan)).toMatchObject({ ok: true });
    const reply = harness.reply(1, orphan) as { height: number };
    expect(reply.height).toBeGreaterThan(1);
  });

  it('a new leader re-proposing a value a lower ballot already chose does not mistake that for a higher ballot', () => {
    const harness = new Harness([1, 2, 3]);
    startCandidacy(harness.replica(1));
    harness.deliver();
    // Node 1's write is accepted by 1 and 2 (chosen at its ballot), but node 1 is cut off before
    // it can tell anyone.
    harness.put(1, 11, 1, 'k', 'v');
    harness.deliver((message) => inSet([1, 2])(message) && message.type !== 'heartbeat');
    for (let tick = 0; tick < 40; tick++) for (const id of [2, 3]) harness.replica(id).tick();
    harness.queue = [];
    harness.flush();
    harness.queue = [];
    // Node 3 leads with node 2: phase 1 reports node 2's entry, which it re-proposes in slot 1.
    startCandidacy(harness.replica(3));
    pump(harness, (message) => inSet([2, 3])(message) && message.type !== 'accept');
    expect(harness.replica(3).role).toBe('leader');
    // Node 1's status says height 1 is chosen (by the lower ballot, with the same value).
    const head = harness.replica(1).head!;
    expect(head.height).toBe(1);
    harness.replica(3).step({ type: 'status', from: 1, to: 3, promised: harness.replica(1).promised, leader: 0, voting: true, head: { height: head.height, hash: head.hash }, genesis: null });
    expect(harness.replica(3).role).toBe('leader');
    harness.tick(10);
    expect(harness.replica(3).head!.hash).toEqual(head.hash);
  });

  it('a wiped learner\'s heartbeat acks neither confirm a read nor keep a deposed leader in office', () => {
    const members = [1, 2, 3, 4, 5];
    const harness = new Harness(members);
    startCandidacy(harness.replica(1));
    harness.deliver();
    harness.put(1, 7, 1, 'k', 'old');
    harness.deliver();
    harness.tick(5);
    // Partition {1,2} | {3,4,5}: the majority side elects a leader and writes k=new.
    const split = (message: Message) => message.from === message.to || inSet([1, 2])(message) || inSet([3, 4, 5])(message);
    let newLeader: number | undefined;
    for (let tick = 0; tick < 200 && newLeader === undefined; tick++) {
      harness.tick(1, split);
      newLeader = [3, 4, 5].find((id) => harness.replica(id).role === 'leader');
    }
    expect(newLeader).toBeDefined();
    const write = harness.put(newLeader!, 8, 1, 'k', 'new');
    harness.deliver(split);
    expect(harness.reply(newLeader!, write)).toMatchObject({ ok: true });
    // Node 5 is wiped and comes back as a learner that node 1 can reach.
    harness.node(5).replica = newReplica(5, { members, voting: false });
    const reach = (message: Message) => message.from === message.to || inSet([1, 2, 5])(message) || inSet([3, 4, 5])(message);
    const read = harness.read(1, 'k');
    for (let tick = 0; tick < 60 && !harness.reply(1, read); tick++) harness.tick(1, reach);
    const reply = harness.reply(1, read);
    if (reply?.ok && reply.kind === 'read') expect(text.decode(reply.value!)).toBe('new');
    else expect(reply).toMatchObject({ ok: false, error: 'NOT_LEADER' });
    expect(harness.replica(1).role).not.toBe('leader');
  });

  it('reads waiting at a leader that steps down, or restarts phase 1 for a rejoin, are answered NOT_LEADER', () => {
    const harness = new Harness([1, 2, 3]);
    startCandidacy(harness.replica(1));
    harness.deliver();
    harness.put(1, 1, 1, 'k', 'v');
    harness.deliver();
    harness.tick(3);
    const read = harness.read(1, 'k');
    const alone = (message: Message) => message.from === message.to;
    for (let tick = 0; tick < 200 && harness.replica(1).role === 'leader'; tick++) {
      harness.replica(1).tick();
      harness.deliver(alone);
    }
    expect(harness.replica(1).role).not.toBe('leader');
    expect(harness.reply(1, read)).toMatchObject({ ok: false, error: 'NOT_LEADER' });

    const second = new Harness([1, 2, 3]);
    startCandidacy(second.replica(1));
    second.deliver();
    const queued = second.read(1, 'k');
    second.replica(1).step({ type: 'rejoin-request', from: 3, to: 1, nonce: 5 });
    second.deliver();
    second.tick(20);
    const answer = second.reply(1, queued);
    expect(answer).toBeDefined();
    if (!answer!.ok) expect(answer!.error).toBe('NOT_LEADER');
  });

  it('queued write bytes are bounded: past the budget a write is refused OVERLOADED, not queued', () => {
    const harness = new Harness([1, 2, 3], { config: { pendingWriteBytesMax: 64 * 1024 } });
    const leader = harness.electLeader();
    const big = 'x'.repeat(20 * 1024);
    // Nothing is delivered, so every write stays queued or in flight at the leader.
    const ids = Array.from({ length: 8 }, (_, index) => harness.put(leader, 100 + index, 1, `big/${index}`, big));
    harness.flush();
    const refused = ids.map((id) => harness.reply(leader, id)).filter((reply) => reply && !reply.ok);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ ok: false, error: 'OVERLOADED' });
  });
});
