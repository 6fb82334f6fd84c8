// Phase 2 progress of one leadership (src/replica/progress.ts): a slot is chosen on a majority
// of distinct acceptances, unacknowledged accepts are resent only to those that did not accept,
// and check-quorum counts the peers heard from recently.
import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/replica/progress.js';

const value = new Uint8Array([7]);

describe('Progress', () => {
  it('a slot is chosen once by a majority of distinct members, and then no longer open', () => {
    const progress = new Progress([1, 2, 3, 4, 5], 1);
    progress.track(10, value, 0);
    progress.track(11, value, 0);
    expect(progress.lowestOpen(12)).toBe(10);
    expect(progress.maybeChoose(1, 10, 1)).toBeUndefined();
    expect(progress.maybeChoose(1, 10, 1)).toBeUndefined();
    expect(progress.maybeChoose(2, 10, 1)).toBeUndefined();
    expect(progress.maybeChoose(3, 10, 1)).toBe(value);
    expect(progress.maybeChoose(4, 10, 1)).toBeUndefined(); // late: already chosen
    expect(progress.lowestOpen(12)).toBe(11);
    expect(progress.size).toBe(1);
  });

  it('resends after retransmitTicks, to the members that have not accepted only', () => {
    const progress = new Progress([1, 2, 3], 1);
    progress.track(5, value, 0);
    progress.maybeChoose(1, 5, 0);
    expect(progress.takeRetransmits(9, 10)).toEqual([]);
    expect(progress.takeRetransmits(10, 10)).toEqual([{ slot: 5, value, to: [2, 3] }]);
    expect(progress.takeRetransmits(15, 10)).toEqual([]); // marked as sent at 10
  });

  it('counts itself and the peers heard within the window; lowestFresh ignores re-proposed slots', () => {
    const progress = new Progress([1, 2, 3, 4, 5], 1);
    progress.noteAck(2, 100);
    progress.noteAck(3, 40);
    expect(progress.heardCount(110, 60)).toBe(2);
    expect(progress.heardCount(99, 60)).toBe(3);
    progress.track(3, value, 0); // re-proposed from phase 1
    progress.track(8, value, 0); // new
    expect(progress.lowestFresh(7, 9)).toBe(8);
    expect(progress.lowestOpen(9)).toBe(3);
    expect(() => progress.track(8, value, 1)).toThrow(/proposed twice/);
  });
});
