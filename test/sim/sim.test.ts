// The deterministic simulator in the default test run: 300 seeds over 3-, 5- and 7-replica
// clusters with every fault type (loss, duplication, reordering, partitions, crashes losing
// unsynced writes, wipes, corruption at rest), checked for one block per height, linearizable client histories and
// convergence once faults stop. Long soaks: `npm run sim -- --seeds 10000`.
import { describe, expect, it } from 'vitest';
import { runSimulation, type SimulationReport } from './cluster.js';

const SEEDS = 300;
const SIZES = [3, 5, 7];

function describeFailure(report: SimulationReport): string {
  return `seed ${report.seed}, ${report.nodes} nodes: ${report.failure}\n  replay: ${report.replay}\n${(report.log ?? []).slice(-40).join('\n')}`;
}

describe('deterministic cluster simulation', () => {
  it(`${SEEDS} seeds across 3/5/7 replicas with every fault type: safe, linearizable, live`, () => {
    const failures: string[] = [];
    const faults = { crash: 0, wipe: 0, corrupt: 0, partition: 0, loss: 0, power: 0 };
    let operations = 0;
    // Txns and range reads, checked against the chain's order (test/sim/chain-order.ts).
    const ordered = { txns: 0, ranges: 0 };
    let abandoned = 0;
    let repairs = 0;
    const ledger = { checkpoints: 0, prunes: 0, restartsFromCheckpoint: 0, stateSyncs: 0 };
    for (let seed = 1; seed <= SEEDS; seed++) {
      const report = runSimulation({ seed, nodes: SIZES[(seed - 1) % SIZES.length]! });
      operations += report.operations;
      ordered.txns += report.ordered.txns;
      ordered.ranges += report.ordered.ranges;
      abandoned += report.abandoned;
      repairs += report.repairs;
      for (const kind of Object.keys(ledger) as Array<keyof typeof ledger>) ledger[kind] += report.ledger[kind];
      for (const kind of Object.keys(faults) as Array<keyof typeof faults>) faults[kind] += report.faultsInjected[kind];
      if (!report.ok) failures.push(describeFailure(report));
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
    // The run really exercised what it claims to.
    for (const kind of Object.keys(faults) as Array<keyof typeof faults>) expect(faults[kind], kind).toBeGreaterThan(kind === 'power' ? SEEDS / 10 : SEEDS / 2);
    expect(operations).toBeGreaterThan(SEEDS * 50);
    expect(ordered.txns).toBeGreaterThan(SEEDS * 5);
    expect(ordered.ranges).toBeGreaterThan(SEEDS * 4);
    expect(abandoned).toBeGreaterThan(0);
    // Corruption at rest went through the production restore and its repair.
    expect(repairs).toBeGreaterThan(SEEDS / 2);
    // Checkpoints (written one store operation per tick, so crashes hit them mid-way), restarts
    // from them, retention, and wiped nodes syncing state because their peers pruned.
    expect(ledger.checkpoints).toBeGreaterThan(SEEDS * 10);
    expect(ledger.restartsFromCheckpoint).toBeGreaterThan(SEEDS);
    expect(ledger.prunes).toBeGreaterThan(SEEDS * 5);
    expect(ledger.stateSyncs).toBeGreaterThan(SEEDS / 2);
  }, 300_000);

  it('a member that sends tampered snapshot chunks: every one is refused and fetched from another peer', () => {
    const failures: string[] = [];
    let refused = 0;
    let tampered = 0;
    let syncs = 0;
    for (let seed = 7001; seed <= 7040; seed++) {
      const report = runSimulation({ seed, nodes: 5, tamperChunksFrom: 1 + (seed % 5) });
      refused += report.ledger.chunksRefused;
      tampered += report.ledger.chunksTampered;
      syncs += report.ledger.stateSyncs;
      if (!report.ok) failures.push(describeFailure(report));
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
    expect(tampered).toBeGreaterThan(0);
    // Every tampered chunk that reached a syncing node was refused (some are lost on the way or arrive after a sync moved on).
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThanOrEqual(tampered);
    expect(syncs).toBeGreaterThan(10);
  }, 120_000);

  it('verified reads and writes under every fault type: signature rounds complete, no honest answer is refused', () => {
    const failures: string[] = [];
    let verified = 0;
    let writes = 0;
    for (let seed = 5001; seed <= 5020; seed++) {
      const report = runSimulation({ seed, nodes: SIZES[(seed - 1) % SIZES.length]!, verifiedReads: true });
      verified += report.verifiedAnswers;
      writes += report.verifiedWrites;
      if (!report.ok) failures.push(describeFailure(report));
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
    expect(verified).toBeGreaterThan(150);
    expect(writes).toBeGreaterThan(150);
  }, 120_000);

  it('a seed replays exactly: same blocks, same history', () => {
    const first = runSimulation({ seed: 77, nodes: 5 });
    const second = runSimulation({ seed: 77, nodes: 5 });
    expect(second.blocks).toBe(first.blocks);
    expect(second.operations).toBe(first.operations);
    expect(second.ticks).toBe(first.ticks);
    expect(second.faultsInjected).toEqual(first.faultsInjected);
  });
});
