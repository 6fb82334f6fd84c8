// The optional native addons (src/native/addon.ts): built by `npm run build` on a machine with a
// compiler, as CI's is, so here they must load (`npm test` builds first; a build without them
// fails here rather than measuring the fallbacks unnoticed).
import { getHeapSpaceStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { memoryAddon, nativeAddon } from '../../src/native/addon.js';

const newSpaceBytes = (): number => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_size;

describe('native addons', () => {
  it('both load', () => {
    expect(nativeAddon?.hashMany).toBeTypeOf('function');
    expect(memoryAddon?.lowMemoryNotification).toBeTypeOf('function');
  });

  it("lowMemoryNotification shrinks the young generation that a burst of allocation grew (gc() does not)", () => {
    memoryAddon!.lowMemoryNotification();
    const before = newSpaceBytes();
    // A burst of short-lived objects, some surviving a while, as a connection flood's frames do.
    let kept: Array<{ n: number; s: string }> = [];
    for (let i = 0; i < 2_000_000; i++) {
      kept.push({ n: i, s: `x${i}` });
      if (kept.length > 100_000) kept = [];
    }
    kept = [];
    const grown = newSpaceBytes();
    expect(grown).toBeGreaterThan(before);
    memoryAddon!.lowMemoryNotification();
    expect(newSpaceBytes()).toBeLessThan(grown);
    expect(kept.length).toBe(0);
  });
});
