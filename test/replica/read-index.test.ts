// ReadIndex (Raft §6.4; src/replica/read-index.ts): a read is answered only after a heartbeat
// round that started after it was acknowledged by a majority, and once the state has applied
// the commit index recorded when that round started.
import { describe, expect, it } from 'vitest';
import { ReadIndex } from '../../src/replica/read-index.js';

const read = (requestId: number) => ({ requestId, key: `k${requestId}` });

describe('ReadIndex', () => {
  it('confirms a round only with a majority of distinct acks, then serves it once applied through its index', () => {
    const reads = new ReadIndex(1, 5);
    reads.enqueue(read(1));
    expect(reads.maybeStartRound(10)).toEqual({ kind: 'broadcast', round: 1 });
    expect(reads.openRound).toBe(1);
    expect(reads.maybeConfirm(2, 1)).toBe(false);
    expect(reads.maybeConfirm(2, 1)).toBe(false); // the same node twice counts once
    expect(reads.maybeConfirm(3, 0)).toBe(false); // an ack of a plain heartbeat confirms nothing
    expect(reads.maybeConfirm(3, 1)).toBe(true); // 1, 2, 3 of 5
    expect(reads.openRound).toBe(0);
    expect(reads.takeServable(9)).toEqual([]);
    expect(reads.takeServable(10)).toEqual([read(1)]);
    expect(reads.waitingCount).toBe(0);
  });

  it('a read that arrives while a round is open waits for the next round', () => {
    const reads = new ReadIndex(1, 3);
    reads.enqueue(read(1));
    reads.maybeStartRound(4);
    reads.enqueue(read(2));
    expect(reads.maybeStartRound(4)).toEqual({ kind: 'none' });
    expect(reads.maybeConfirm(2, 1)).toBe(true);
    expect(reads.takeServable(100)).toEqual([read(1)]);
    expect(reads.maybeStartRound(7)).toEqual({ kind: 'broadcast', round: 2 });
    expect(reads.waitingCount).toBe(0); // as before the split: only queued and confirmed reads count towards pendingReadsMax
  });

  it('a single-member cluster confirms at once; takeAll hands back every read held', () => {
    expect((() => {
      const alone = new ReadIndex(1, 1);
      alone.enqueue(read(1));
      return alone.maybeStartRound(3);
    })()).toEqual({ kind: 'confirmed' });
    const reads = new ReadIndex(1, 3);
    reads.enqueue(read(1));
    reads.maybeStartRound(1);
    reads.maybeConfirm(2, 1);
    reads.enqueue(read(2));
    reads.maybeStartRound(2);
    reads.enqueue(read(3));
    expect(reads.takeAll().map((r) => r.requestId).sort()).toEqual([1, 2, 3]);
    expect(reads.takeServable(100)).toEqual([]);
    expect(reads.openRound).toBe(0);
  });
});
