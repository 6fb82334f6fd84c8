// Planted bugs in the deterministic simulator: each one must be caught by the checkers (safety,
// linearizability, the chain-order check) within a bounded number of seeds. A separate file from
// sim.test.ts so the two run side by side on the suite's two workers (test/vitest.config.ts).
import { describe, expect, it } from 'vitest';
import { runSimulation, type SimulationReport } from './cluster.js';
import type { PlantedBug } from './node.js';

const SIZES = [3, 5, 7];

describe('planted bugs are caught', () => {
  // reply-before-persist and repair-keeps-vote are test-only switches in the shared host
  // (src/host), the others in test/sim.
  it('catches a leader that ignores the values phase 1 reported', () => {
    const caught = firstFailingSeed('ignore-phase1-values', 60);
    expect(caught, 'not caught in 60 seeds').toBeDefined();
    expect(caught!.failure).toMatch(/safety|linearizability/);
  });

  it('catches an acceptor that replies before its promise or acceptance is durable', () => {
    const caught = firstFailingSeed('reply-before-persist', 200);
    expect(caught, 'not caught in 200 seeds').toBeDefined();
    expect(caught!.failure).toMatch(/safety|linearizability/);
  }, 120_000);

  // Without checkpoints: restarts then replay every block, so corruption at rest goes through
  // the truncating repair this bug breaks on every restart after it (with checkpoints most of it
  // lies below the checkpoint and is repaired in place by the scrub instead; caught 1 in 500 seeds).
  // Without the txn and range clients too: they are not what this bug is about, and they shift
  // the seeds' schedules (with them it was not caught in the first 300 seeds).
  it('catches a repair that drops a corrupt suffix without first giving up the vote', () => {
    const caught = firstFailingSeed('repair-keeps-vote', 300, { checkpoints: false, apiOps: false });
    expect(caught, 'not caught in 300 seeds').toBeDefined();
    expect(caught!.failure).toMatch(/safety|linearizability/);
  }, 120_000);

  it('catches range reads answered from a node\'s own state without ReadIndex (the chain-order check)', () => {
    const caught = firstFailingSeed('stale-ranges', 100);
    expect(caught, 'not caught in 100 seeds').toBeDefined();
    expect(caught!.failure).toMatch(/chain order: real time/);
  }, 120_000);

  it('catches a wiped replica that votes at once', () => {
    const caught = firstFailingSeed('wiped-votes-at-once', 120);
    expect(caught, 'not caught in 120 seeds').toBeDefined();
    expect(caught!.failure).toMatch(/safety|linearizability/);
  }, 120_000);
});

function firstFailingSeed(bug: PlantedBug, seedsMax: number, options: { checkpoints?: boolean; apiOps?: boolean } = {}): SimulationReport | undefined {
  for (let seed = 1; seed <= seedsMax; seed++) {
    const report = runSimulation({ seed, nodes: SIZES[(seed - 1) % SIZES.length]!, bug, ...options });
    if (!report.ok) return report;
  }
  return undefined;
}
