// The reclaimer gives memory back once per flood, after it ends (src/node/memory-reclaim.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { MemoryReclaimer, RECLAIM_CHECK_INTERVAL_MS, RECLAIM_FLOOD_CONNECTIONS_MIN, RECLAIM_ATTEMPTS_MAX, RECLAIM_INTERVAL_MIN_MS, RECLAIM_SETTLED_BUFFER_BYTES, type ReclaimReport } from '../../src/node/memory-reclaim.js';

describe('MemoryReclaimer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup() {
    let accepted = 0;
    let rss = 100;
    const calls: string[] = [];
    const reports: ReclaimReport[] = [];
    const reclaimer = new MemoryReclaimer({
      connections: () => ({ accepted, closed: 0 }),
      onReclaim: (report) => reports.push(report),
      collect: () => {
        calls.push('collect');
        rss = 60;
      },
      trim: () => {
        calls.push('trim');
        rss = 40;
        return true;
      },
      sample: () => ({ rssBytes: rss, heapUsedBytes: 1, arrayBufferBytes: 2 }),
      nowMs: () => Date.now(),
    });
    reclaimer.start();
    const accept = (count: number) => (accepted += count);
    const interval = () => vi.advanceTimersByTime(RECLAIM_CHECK_INTERVAL_MS);
    return { reclaimer, accept, interval, calls, reports };
  }

  it('does nothing while connections arrive at an ordinary rate', () => {
    const { accept, interval, calls } = setup();
    for (let i = 0; i < 20; i++) {
      accept(RECLAIM_FLOOD_CONNECTIONS_MIN - 1);
      interval();
    }
    expect(calls).toEqual([]);
  });

  it('waits for a flood to end, then collects once and trims after the backing stores are freed', () => {
    const { accept, interval, calls, reports } = setup();
    accept(1_000);
    interval();
    accept(2_000);
    interval();
    expect(calls).toEqual([]); // still flooding: a collection now would free nothing for long
    interval(); // quiet: the flood is over
    expect(calls).toEqual(['collect']);
    vi.advanceTimersByTime(1_000);
    expect(calls).toEqual(['collect', 'collect']); // the second frees what the first unlinked
    vi.advanceTimersByTime(1_000);
    expect(calls).toEqual(['collect', 'collect', 'trim']);
    expect(reports).toEqual([{ connections: 3_000, before: { rssBytes: 100, heapUsedBytes: 1, arrayBufferBytes: 2 }, after: { rssBytes: 40, heapUsedBytes: 1, arrayBufferBytes: 2 }, trimmed: true }]);
    for (let i = 0; i < 10; i++) interval();
    expect(calls).toEqual(['collect', 'collect', 'trim']); // once per flood
  });

  it('reclaims again after a later flood, but never twice within the minimum interval', () => {
    const { accept, interval, calls, reports } = setup();
    accept(500);
    interval();
    interval(); // first flood over at 2 checks: reclaimed
    vi.advanceTimersByTime(2_000);
    expect(calls).toEqual(['collect', 'collect', 'trim']);
    accept(500); // a second flood right after
    interval();
    interval(); // over, but too soon after the first reclaim
    expect(calls).toEqual(['collect', 'collect', 'trim']);
    const checksToWait = Math.ceil(RECLAIM_INTERVAL_MIN_MS / RECLAIM_CHECK_INTERVAL_MS);
    for (let i = 0; i < checksToWait; i++) interval();
    vi.advanceTimersByTime(2_000);
    expect(calls).toEqual(['collect', 'collect', 'trim', 'collect', 'collect', 'trim']);
    expect(reports.map((report) => report.connections)).toEqual([500, 500]);
  });

  it('counts closed connections too: a mass close after a long hold is a flood', () => {
    let closed = 0;
    const calls: string[] = [];
    const reclaimer = new MemoryReclaimer({ connections: () => ({ accepted: 0, closed }), onReclaim: () => calls.push('report'), collect: () => calls.push('collect'), trim: () => true, sample: () => ({ rssBytes: 0, heapUsedBytes: 0, arrayBufferBytes: 0 }), nowMs: () => Date.now() });
    reclaimer.start();
    closed += 1_000;
    vi.advanceTimersByTime(2 * RECLAIM_CHECK_INTERVAL_MS + 2_000);
    expect(calls).toEqual(['collect', 'collect', 'report']);
    reclaimer.stop();
  });

  it('tries again while buffers stay held after the flood, at most RECLAIM_ATTEMPTS_MAX times', () => {
    let accepted = 0;
    let buffers = RECLAIM_SETTLED_BUFFER_BYTES + 1; // still held by connections that close later
    const reports: ReclaimReport[] = [];
    const reclaimer = new MemoryReclaimer({
      connections: () => ({ accepted, closed: 0 }),
      onReclaim: (report) => reports.push(report),
      collect: () => {},
      trim: () => false,
      sample: () => ({ rssBytes: 0, heapUsedBytes: 0, arrayBufferBytes: buffers }),
      nowMs: () => Date.now(),
    });
    reclaimer.start();
    accepted += 1_000;
    vi.advanceTimersByTime(10 * RECLAIM_INTERVAL_MIN_MS);
    expect(reports).toHaveLength(RECLAIM_ATTEMPTS_MAX);
    accepted += 1_000; // a new flood: new attempts; this time the buffers are freed at the first
    vi.advanceTimersByTime(RECLAIM_CHECK_INTERVAL_MS);
    buffers = RECLAIM_SETTLED_BUFFER_BYTES;
    vi.advanceTimersByTime(10 * RECLAIM_INTERVAL_MIN_MS);
    expect(reports).toHaveLength(RECLAIM_ATTEMPTS_MAX + 1);
    reclaimer.stop();
  });

  it('stop() cancels the checks and a pending trim', () => {
    const { reclaimer, accept, interval, calls, reports } = setup();
    accept(500);
    interval();
    interval();
    reclaimer.stop();
    vi.advanceTimersByTime(60_000);
    expect(calls).toEqual(['collect']);
    expect(reports).toEqual([]);
  });
});

describe('the collection a reclaim runs (the default collect)', () => {
  const nextTask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  it('frees a dropped buffer that already lives in the old generation', async () => {
    let accepted = 0;
    const reclaimer = new MemoryReclaimer({
      connections: () => ({ accepted, closed: 0 }),
      onReclaim: () => {},
      trim: () => false,
      sample: () => ({ rssBytes: 1, heapUsedBytes: 1, arrayBufferBytes: 1 }),
    });
    // Any options object asks V8's gc for a scavenge (minor) only.
    setFlagsFromString('--expose-gc');
    const scavenge = runInNewContext('gc') as (options: { type: 'minor' }) => void;
    let buffer: Buffer | undefined = Buffer.allocUnsafeSlow(2 * 2 ** 20);
    const ref = new WeakRef(buffer);
    // Survives two scavenges, so it is promoted: where a closed connection's frame buffer is by
    // the time a flood ends. Only a mark-compact frees it from there.
    scavenge({ type: 'minor' });
    scavenge({ type: 'minor' });
    buffer = undefined;
    await nextTask(); // a WeakRef keeps its target alive until the end of the job that made it
    accepted += RECLAIM_FLOOD_CONNECTIONS_MIN;
    reclaimer.check(); // a flood
    reclaimer.check(); // it ended: the reclaim's first collection runs now
    reclaimer.stop();
    await nextTask();
    expect(ref.deref()).toBeUndefined();
  });
});
