/**
 * `npm run sim -- [--seeds N] [--seed S] [--nodes 3|5|7] [--start S] [--bug NAME [--all]] [--verified-reads] [--no-checkpoints] [--verbose [--log-lines N]]`
 *
 * Runs simulation seeds and prints seeds run, operations checked, violations (must be 0) and
 * simulated client operations per CPU-second. A failing seed prints the one command that
 * replays it exactly. With --bug, runs a planted bug and reports how many seeds it took to
 * catch it (exit 0 when caught).
 */
import { parseArgs } from 'node:util';
import { runSimulation, type SimulationReport } from './cluster.js';
import type { PlantedBug } from './node.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    seed: { type: 'string' },
    start: { type: 'string', default: '1' },
    nodes: { type: 'string' },
    bug: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    /** With --bug: keep going after the first catch and report the catch rate. */
    all: { type: 'boolean', default: false },
    /** Members hold keys and a third of the reads are verified, each answer checked by its client. */
    'verified-reads': { type: 'boolean', default: false },
    /** With --verbose: log lines per node shown for a failing seed. */
    'log-lines': { type: 'string', default: '60' },
    /** Leave checkpoints, retention and state sync out (the first round's runs). */
    'no-checkpoints': { type: 'boolean', default: false },
  },
});

const bug = values.bug as PlantedBug | undefined;
if (bug && !['reply-before-persist', 'ignore-phase1-values', 'wiped-votes-at-once', 'repair-keeps-vote', 'stale-ranges'].includes(bug)) {
  console.error(`unknown --bug ${bug}`);
  process.exit(2);
}
const sizes = values.nodes ? [Number(values.nodes)] : [3, 5, 7];
const seeds = values.seed !== undefined ? [Number(values.seed)] : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.start) + i);

const cpuStart = process.cpuUsage();
let operations = 0;
const ordered = { txns: 0, ranges: 0 };
let violations = 0;
let unknown = 0;
let repairs = 0;
const ledgerTotals = { checkpoints: 0, prunes: 0, restartsFromCheckpoint: 0, stateSyncs: 0, chunksRefused: 0, chunksTampered: 0 };
let verifiedAnswers = 0;
let verifiedWrites = 0;
let unprovableWrites = 0;
let run = 0;
let firstCaught: SimulationReport | undefined;
for (const seed of seeds) {
  const nodes = sizes[(seed - 1) % sizes.length]!;
  const report = runSimulation({ seed, nodes, bug, verifiedReads: values['verified-reads'], checkpoints: !values['no-checkpoints'], logLines: Number(values['log-lines']) });
  run++;
  operations += report.operations;
  ordered.txns += report.ordered.txns;
  ordered.ranges += report.ordered.ranges;
  repairs += report.repairs;
  for (const key of Object.keys(ledgerTotals) as Array<keyof typeof ledgerTotals>) ledgerTotals[key] += report.ledger[key];
  verifiedAnswers += report.verifiedAnswers;
  verifiedWrites += report.verifiedWrites;
  unprovableWrites += report.unprovableWrites;
  if (report.linearizability?.verdict === 'unknown') unknown++;
  if (!report.ok) {
    violations++;
    console.log(`FAIL seed ${seed}, ${nodes} nodes: ${report.failure}`);
    console.log(`  replay: ${report.replay}`);
    if (values.verbose && report.log) for (const line of report.log) console.log(`  ${line}`);
    if (bug) {
      firstCaught ??= report;
      if (!values.all) break;
    }
  } else if (values.verbose || seeds.length === 1) {
    console.log(`ok seed ${seed}, ${nodes} nodes: ${report.blocks} blocks, ${report.operations} ops (${report.abandoned} abandoned), faults ${JSON.stringify(report.faultsInjected)}, ledger ${JSON.stringify(report.ledger)}, ${report.ticks} ticks`);
  }
  if (run % 50 === 0) console.error(`... ${run}/${seeds.length} seeds, ${violations} violations`);
}
const cpu = process.cpuUsage(cpuStart);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(`seeds run: ${run}`);
if (values['verified-reads']) {
  console.log(`verified answers checked: ${verifiedAnswers}`);
  console.log(`verified writes checked: ${verifiedWrites} (answered unprovable: ${unprovableWrites})`);
}
console.log(`operations checked: ${operations} (per-key linearizability), plus ${ordered.txns} txns and ${ordered.ranges} range reads against the chain's order`);
console.log(`violations: ${violations}`);
console.log(`restores that repaired corruption at rest: ${repairs}`);
console.log(`checkpoints written: ${ledgerTotals.checkpoints}, prunes: ${ledgerTotals.prunes}, restarts from a checkpoint: ${ledgerTotals.restartsFromCheckpoint}, state syncs: ${ledgerTotals.stateSyncs}, chunks refused: ${ledgerTotals.chunksRefused}`);
if (unknown) console.log(`linearizability unknown (search budget): ${unknown} seeds`);
console.log(`simulated operations per CPU-second: ${Math.round(operations / cpuSeconds)}`);
if (bug) {
  if (firstCaught && values.all) {
    console.log(`planted bug ${bug}: first caught at seed ${firstCaught.seed}; caught by ${violations} of ${run} seeds (1 in ${(run / violations).toFixed(1)})`);
  } else {
    console.log(firstCaught ? `planted bug ${bug} caught at seed ${firstCaught.seed} after ${run} seeds` : `planted bug ${bug} NOT caught in ${run} seeds`);
  }
  process.exit(firstCaught ? 0 : 1);
}
process.exit(violations === 0 ? 0 : 1);
