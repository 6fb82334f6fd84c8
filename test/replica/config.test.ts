// The relationships between the replica's limits are asserted where the config is built
// (src/replica/config.ts), so a bad override stops at start instead of weakening wipe safety.
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../src/lib/assert.js';
import { limits } from '../../src/lib/limits.js';
import { defaultTiming, replicaConfig } from '../../src/replica/config.js';

describe('replicaConfig', () => {
  it('accepts the defaults', () => {
    expect(replicaConfig(1, [1, 2, 3]).timing).toEqual(defaultTiming);
  });

  it('refuses a rejoin delay not above twice the prepare timeout (a wiped node could vote in a phase 1 that counted its lost promise)', () => {
    const timing = { ...defaultTiming, prepareTimeoutTicks: 60, rejoinDelayTicks: 120 };
    expect(() => replicaConfig(1, [1, 2, 3], { timing })).toThrow(AssertionError);
    expect(() => replicaConfig(1, [1, 2, 3], { timing })).toThrow(/rejoinDelayTicks 120 must exceed 2 × prepareTimeoutTicks 60/);
    expect(() => replicaConfig(1, [1, 2, 3], { timing: { ...timing, rejoinDelayTicks: 121 } })).not.toThrow();
  });

  it('refuses a fetch chunk above what a peer serves, and heartbeats slower than the election timeout', () => {
    expect(() => replicaConfig(1, [1, 2, 3], { fetchBlocks: limits.fetchBlocksMax + 1 })).toThrow(/fetchBlocks .* exceeds limits.fetchBlocksMax/);
    expect(() => replicaConfig(1, [1, 2, 3], { timing: { ...defaultTiming, heartbeatTicks: defaultTiming.electionTicksMin } })).toThrow(/heartbeatTicks/);
    expect(() => replicaConfig(1, [1, 2, 3], { pipelineMax: 0 })).toThrow(/pipelineMax must be a positive integer/);
  });
});
