// The node's watch hub on its own: what each watcher is sent for a stream of blocks, from which
// height, in which frames; refusals (COMPACTED, OVERLOADED), the slow reader (FELL_BEHIND), a
// state sync's reset, progress frames, and the bounds of its history.
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/lib/prng.js';
import type { KvChange } from '../../src/kv/state.js';
import { WATCH_BACKLOG_BYTES_MAX, WATCH_HISTORY_EVENTS_MAX, WATCH_PROGRESS_MS, WATCHES_PER_CONNECTION_MAX, WatchHub } from '../../src/node/watch-hub.js';
import { decodeWatchFrame, WATCH_FRAME_EVENTS_MAX, type WatchEventReply } from '../../src/transport/protocol.js';

const text = new TextEncoder();

function put(index: number, key: string, value: string, height: number): KvChange {
  return { index, key: text.encode(key), value: text.encode(value), revisions: { createHeight: 1, modHeight: height, version: 1 } };
}

function del(index: number, key: string): KvChange {
  return { index, key: text.encode(key), value: null, revisions: null };
}

class FakeNode {
  frames: Array<{ connection: number; frame: Record<string, unknown> }> = [];
  backlogBytes = 0;
  leaderId = 1;
  nowMs = 0;
  closed = new Set<number>();
  readonly hub: WatchHub;
  constructor(head: number) {
    this.hub = new WatchHub(
      {
        // Through msgpack's shape: the decoder the client runs must accept every frame.
        send: (connection, frame) => {
          if (this.closed.has(connection)) return false;
          this.frames.push({ connection, frame });
          return true;
        },
        backlog: () => this.backlogBytes,
        leader: () => this.leaderId,
        now: () => this.nowMs,
      },
      head,
    );
  }

  /** The decoded frames of watch `id` on `connection`, and clears them. */
  take(connection: number, id: number): Array<ReturnType<typeof decodeWatchFrame>> {
    const mine = this.frames.filter((sent) => sent.connection === connection && sent.frame.id === id).map((sent) => decodeWatchFrame(sent.frame));
    this.frames = this.frames.filter((sent) => !(sent.connection === connection && sent.frame.id === id));
    return mine;
  }

  events(connection: number, id: number): WatchEventReply[] {
    return this.take(connection, id).flatMap((frame) => (typeof frame === 'object' && frame.ok ? frame.events : []));
  }
}

const keyOf = (event: WatchEventReply): string => new TextDecoder().decode(event.key);

describe('WatchHub', () => {
  it('sends a key watch only its key and a prefix watch its prefix, in (height, seq) order, with each frame naming the height it covers', () => {
    const node = new FakeNode(9);
    expect(node.hub.start(1, 7, { key: text.encode('a'), prefix: false }, undefined)).toEqual({ ok: true });
    expect(node.hub.start(1, 8, { key: text.encode('a/'), prefix: true }, undefined)).toEqual({ ok: true });
    const first = node.take(1, 7);
    expect(first).toEqual([{ ok: true, height: 9, leader: 1, events: [] }]);
    node.take(1, 8);
    node.hub.onChanges([{ height: 10, changes: [put(0, 'a', 'x', 10), put(1, 'a/1', 'y', 10), put(2, 'ab', 'z', 10)] }, { height: 11, changes: [] }, { height: 12, changes: [del(0, 'a/1'), del(0, 'a/2'), put(1, 'a', 'w', 12)] }], undefined);
    const key = node.take(1, 7);
    expect(key).toHaveLength(1);
    const frame = key[0] as unknown as { height: number; events: WatchEventReply[] };
    expect(frame.height).toBe(12);
    expect(frame.events.map((event) => [event.height, event.seq, event.op, keyOf(event)])).toEqual([[10, 0, 'put', 'a'], [12, 2, 'put', 'a']]);
    expect(frame.events[0]!.revisions).toEqual({ createHeight: 1, modHeight: 10, version: 1 });
    expect(node.events(1, 8).map((event) => [event.height, event.seq, event.index, event.op, keyOf(event)])).toEqual([[10, 1, 1, 'put', 'a/1'], [12, 0, 0, 'delete', 'a/1'], [12, 1, 0, 'delete', 'a/2']]);
  });

  it('replays its history from an older height, and refuses one below it with COMPACTED naming its oldest', () => {
    const node = new FakeNode(4);
    node.hub.onChanges([5, 6, 7].map((height) => ({ height, changes: [put(0, 'k', `v${height}`, height)] })), undefined);
    node.hub.start(2, 1, { key: text.encode('k'), prefix: false }, 6);
    expect(node.events(2, 1).map((event) => event.height)).toEqual([6, 7]);
    expect(node.hub.start(2, 2, { key: text.encode('k'), prefix: false }, 4)).toMatchObject({ ok: false, error: 'COMPACTED', height: 5 });
    // A height ahead of the node (a client that saw more elsewhere) waits for it.
    node.hub.start(2, 3, { key: text.encode('k'), prefix: false }, 9);
    node.take(2, 3);
    node.hub.onChanges([8, 9].map((height) => ({ height, changes: [put(0, 'k', `v${height}`, height)] })), undefined);
    expect(node.events(2, 3).map((event) => event.height)).toEqual([9]);
  });

  it('splits a block larger than a frame into frames that cover the heights before it, and every event arrives once', () => {
    const node = new FakeNode(0);
    node.hub.start(1, 1, { key: text.encode('p'), prefix: true }, undefined);
    node.take(1, 1);
    const changes = Array.from({ length: WATCH_FRAME_EVENTS_MAX * 2 + 5 }, (_, i) => put(i, `p${i}`, 'v', 1));
    node.hub.onChanges([{ height: 1, changes }], undefined);
    const frames = node.take(1, 1) as unknown as Array<{ height: number; events: WatchEventReply[] }>;
    expect(frames.map((frame) => [frame.height, frame.events.length])).toEqual([[0, WATCH_FRAME_EVENTS_MAX], [0, WATCH_FRAME_EVENTS_MAX], [1, 5]]);
    expect(frames.flatMap((frame) => frame.events.map((event) => event.seq))).toEqual(changes.map((_, i) => i));
  });

  it('ends a watch whose connection holds more than its backlog bound with FELL_BEHIND, and counts it; others go on', () => {
    const node = new FakeNode(0);
    node.hub.start(1, 1, { key: text.encode('k'), prefix: false }, undefined);
    node.hub.onChanges([{ height: 1, changes: [put(0, 'k', 'a', 1)] }], undefined);
    node.take(1, 1);
    node.backlogBytes = WATCH_BACKLOG_BYTES_MAX + 1;
    node.hub.onChanges([{ height: 2, changes: [put(0, 'k', 'b', 2)] }], undefined);
    expect(node.take(1, 1)).toEqual([expect.objectContaining({ ok: false, error: 'FELL_BEHIND', height: 1 })]);
    expect(node.hub.fellBehind).toBe(1);
    expect(node.hub.watchCount).toBe(0);
    // It resumes from height 2 and gets what it missed.
    node.backlogBytes = 0;
    node.hub.start(1, 2, { key: text.encode('k'), prefix: false }, 2);
    expect(node.events(1, 2).map((event) => new TextDecoder().decode(event.value!))).toEqual(['b']);
  });

  it('sends idle watches progress frames, bounds watches per connection, and drops the watches of a closed connection', () => {
    const node = new FakeNode(3);
    node.hub.start(1, 1, { key: text.encode('k'), prefix: false }, undefined);
    node.take(1, 1);
    node.hub.onChanges([{ height: 4, changes: [put(0, 'other', 'v', 4)] }], undefined);
    expect(node.take(1, 1)).toEqual([]);
    node.nowMs += WATCH_PROGRESS_MS;
    node.leaderId = 0;
    node.hub.progress();
    expect(node.take(1, 1)).toEqual([{ ok: true, height: 4, leader: 0, events: [] }]);
    for (let id = 2; id <= WATCHES_PER_CONNECTION_MAX; id++) expect(node.hub.start(1, id, { key: text.encode('k'), prefix: false }, undefined).ok).toBe(true);
    expect(node.hub.start(1, 999, { key: text.encode('k'), prefix: false }, undefined)).toMatchObject({ ok: false, error: 'OVERLOADED' });
    node.hub.connectionClosed(1);
    expect(node.hub.watchCount).toBe(0);
  });

  it('after a state sync ends the watches that had not reached its height with COMPACTED and keeps the others', () => {
    const node = new FakeNode(0);
    node.hub.start(1, 1, { key: text.encode('k'), prefix: false }, undefined);
    node.hub.start(1, 2, { key: text.encode('k'), prefix: false }, 50);
    node.take(1, 1);
    node.take(1, 2);
    node.hub.onChanges([{ height: 41, changes: [put(0, 'k', 'after', 41)] }], 40);
    expect(node.take(1, 1)).toEqual([expect.objectContaining({ ok: false, error: 'COMPACTED', height: 41 })]);
    expect(node.hub.watchCount).toBe(1);
    node.hub.onChanges([{ height: 50, changes: [put(0, 'k', 'fifty', 50)] }], undefined);
    expect(node.events(1, 2).map((event) => event.height)).toEqual([50]);
  });

  it('keeps at most its bound of events, dropping whole blocks from the oldest', () => {
    const node = new FakeNode(0);
    const perBlock = 1000;
    const blocks = WATCH_HISTORY_EVENTS_MAX / perBlock + 3;
    for (let height = 1; height <= blocks; height++) node.hub.onChanges([{ height, changes: Array.from({ length: perBlock }, (_, i) => put(i, `k${i}`, 'v', height)) }], undefined);
    expect(node.hub.start(1, 1, { key: text.encode('k0'), prefix: false }, 3)).toMatchObject({ ok: false, error: 'COMPACTED', height: 4 });
    node.hub.start(1, 2, { key: text.encode('k0'), prefix: false }, 4);
    expect(node.events(1, 2)).toHaveLength(blocks - 3);
  });

  it('delivers to random watches exactly the matching changes of a random stream, across random restarts from the last height seen', () => {
    const prng = new Prng(14);
    const node = new FakeNode(0);
    const keys = ['a', 'a/b', 'a/c', 'b', 'ab'];
    const all: Array<{ height: number; seq: number; key: string }> = [];
    let height = 0;
    const watches = [{ key: 'a', prefix: true }, { key: 'a/b', prefix: false }, { key: 'b', prefix: false }].map((filter, id) => ({ ...filter, id: id + 1, got: [] as string[], from: 1 }));
    for (const watch of watches) node.hub.start(1, watch.id, { key: text.encode(watch.key), prefix: watch.prefix }, 1);
    for (let round = 0; round < 300; round++) {
      height++;
      const changes = Array.from({ length: prng.nextInt(4) }, (_, i) => (prng.nextInt(3) === 0 ? del(i, keys[prng.nextInt(keys.length)]!) : put(i, keys[prng.nextInt(keys.length)]!, `v${height}`, height)));
      changes.forEach((change, seq) => all.push({ height, seq, key: new TextDecoder().decode(change.key) }));
      node.hub.onChanges([{ height, changes }], undefined);
      for (const watch of watches) {
        for (const frame of node.take(1, watch.id)) {
          if (typeof frame !== 'object' || !frame.ok) throw new Error('watch ended');
          for (const event of frame.events) watch.got.push(`${event.height}.${event.seq}`);
          watch.from = frame.height + 1;
        }
        if (prng.nextInt(20) === 0) {
          node.hub.cancel(1, watch.id);
          node.hub.start(1, watch.id, { key: text.encode(watch.key), prefix: watch.prefix }, watch.from);
        }
      }
    }
    for (const watch of watches) {
      const wanted = all.filter((change) => (watch.prefix ? change.key.startsWith(watch.key) : change.key === watch.key)).map((change) => `${change.height}.${change.seq}`);
      expect(watch.got).toEqual(wanted);
    }
  });
});
