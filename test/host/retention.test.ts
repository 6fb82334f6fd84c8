// Retention (prunePlan in src/storage/chain-store.ts) and the scrub (src/host/scrub.ts) on a memory
// store: a pruned store restarts from its checkpoint to the same state, serves every header and
// refuses pruned bodies with PRUNED, verifies end to end by headers plus checkpoint, survives a
// crash at every step of a prune, and refuses to start without a usable checkpoint; the scrub
// finds damaged and missing bodies by the chain's hashes and heals the header index.
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/lib/bytes.js';
import { ErrorCode, PaxchainError } from '../../src/lib/errors.js';
import { HEADER_BYTES, hashRecord } from '../../src/chain/block.js';
import { restoreSync, verifyPrunedPlan } from '../../src/host/restore.js';
import { repairRecord, scrubPlan } from '../../src/host/scrub.js';
import { chainReadPlan, fetchReplyPlan } from '../../src/host/serve.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { prunePlan, readPrunedBelowPlan } from '../../src/storage/chain-store.js';
import { blockKey, checkpointKey, headerKey } from '../../src/storage/keys.js';
import { runPlanSync } from '../../src/storage/plan.js';
import { appendBlocks, body, chainStore, checkpoint, countSteps, runSteps } from './chain-fixture.js';

function pruned(blocks: number, at: number, below: number) {
  const made = chainStore(at);
  checkpoint(made.backend, made.ledger);
  if (blocks > at) appendBlocks(made.backend, made.ledger, at + 1, blocks);
  const deleted = runPlanSync(prunePlan(below), made.backend);
  return { ...made, deleted };
}

function errorOf(run: () => unknown): PaxchainError {
  try {
    run();
  } catch (error) {
    if (error instanceof PaxchainError) return error;
    throw error;
  }
  throw new Error('expected a PaxchainError');
}

describe('retention', () => {
  it('a pruned store keeps genesis and every header, restarts from its checkpoint to the same state, and goes on appending', () => {
    const { backend, ledger, deleted } = pruned(40, 30, 25);
    expect(deleted).toBe(24);
    expect(backend.getSync(blockKey(0))).toBeDefined();
    for (let height = 1; height < 25; height++) {
      expect(backend.getSync(blockKey(height))).toBeUndefined();
      expect(backend.getSync(headerKey(height))).toBeDefined();
    }
    expect(backend.getSync(blockKey(25))).toBeDefined();
    const { store, outcome } = restoreSync(backend, fastSha256);
    expect(outcome.checkpoint).toBe(30);
    expect(outcome.blocks).toBe(10);
    expect(outcome.prunedBelow).toBe(25);
    expect(store.oldestBody).toBe(25);
    expect(store.isPruned(24)).toBe(true);
    expect(store.isPruned(25)).toBe(false);
    const restored = outcome.restored.ledger;
    expect(toHex(restored.state.root())).toBe(toHex(ledger.state.root()));
    expect(toHex(restored.history.root())).toBe(toHex(ledger.history.root()));
    expect(toHex(restored.append(body(41)).record)).toBe(toHex(ledger.append(body(41)).record));
  });

  it('serves every header and block hash, answers a read of a pruned body with PRUNED, and a fetch of one with nothing', () => {
    const { backend, ledger } = pruned(40, 30, 25);
    const { store } = restoreSync(backend, fastSha256);
    const head = store.head;
    const hashes = runPlanSync(chainReadPlan(fastSha256, head, 'hashes', 0, 40, 100, store.prunedBelow), backend);
    if (!('hashes' in hashes)) throw new Error('no hashes');
    for (let height = 0; height <= 40; height++) expect(toHex(hashes.hashes.subarray(height * 32, height * 32 + 32))).toBe(toHex(ledger.history.leaf(height)));
    const headers = runPlanSync(chainReadPlan(fastSha256, head, 'headers', 10, 12, 100, store.prunedBelow), backend);
    expect('headers' in headers && headers.headers.length).toBe(3 * HEADER_BYTES);
    const refused = errorOf(() => runPlanSync(chainReadPlan(fastSha256, head, 'blocks', 10, 12, 100, store.prunedBelow), backend));
    expect(refused.code).toBe(ErrorCode.PRUNED);
    expect(refused.message).toContain('keeps bodies from 25 up');
    const kept = runPlanSync(chainReadPlan(fastSha256, head, 'blocks', 25, 26, 100, store.prunedBelow), backend);
    expect('records' in kept && kept.records.map((record) => toHex(hashRecord(fastSha256, record)))).toEqual([toHex(ledger.history.leaf(25)), toHex(ledger.history.leaf(26))]);
    const genesis = runPlanSync(chainReadPlan(fastSha256, head, 'blocks', 0, 0, 100, store.prunedBelow), backend);
    expect('records' in genesis && genesis.records.length).toBe(1);
    const fetched = runPlanSync(fetchReplyPlan(1, head, { to: 2, fromHeight: 5, maxBlocks: 10 }), backend);
    expect(fetched.type === 'blocks' && fetched.records.length).toBe(0);
  });

  it('verifies end to end by headers and the checkpoint, and finds a damaged block after it', () => {
    const { backend } = pruned(40, 30, 25);
    const { store } = restoreSync(backend, fastSha256);
    const ok = runPlanSync(verifyPrunedPlan(store.head!, fastSha256, store.prunedBelow), backend);
    expect(ok.report.problem).toBeUndefined();
    expect(ok.checkpoint).toBe(30);
    expect(ok.headersChecked).toBe(41);
    expect(backend.flipDurableBit(blockKey(35), (HEADER_BYTES + 20) * 8)).toBe(true);
    const bad = runPlanSync(verifyPrunedPlan(store.head!, fastSha256, store.prunedBelow), backend);
    expect(bad.report.problem).toMatchObject({ height: 35 });
    // A broken header below the mark leaves no checkpoint to trust: PRUNED, with why.
    expect(backend.flipDurableBit(headerKey(3), 40)).toBe(true);
    const broken = runPlanSync(verifyPrunedPlan(store.head!, fastSha256, store.prunedBelow), backend);
    expect(broken.checkpoint).toBeUndefined();
    expect(broken.report.problem?.reason).toBe('PRUNED');
  });

  it('a crash at every step of a prune leaves a store that restarts to the same state, and the next prune finishes', () => {
    const prepared = () => {
      const made = chainStore(30);
      checkpoint(made.backend, made.ledger);
      return made;
    };
    const counted = prepared();
    const steps = countSteps(prunePlan(20), counted.backend);
    expect(steps).toBeGreaterThanOrEqual(4);
    const expected = toHex(counted.ledger.state.root());
    for (let crashAfter = 0; crashAfter <= steps; crashAfter++) {
      const run = prepared();
      runSteps(prunePlan(20), run.backend, crashAfter);
      run.backend.crash();
      const { outcome } = restoreSync(run.backend, fastSha256);
      expect(toHex(outcome.restored.ledger.state.root()), `crash after ${crashAfter} steps`).toBe(expected);
      expect([0, 20], `crash after ${crashAfter} steps`).toContain(outcome.prunedBelow);
      runPlanSync(prunePlan(20), run.backend);
      for (let height = 1; height < 20; height++) expect(run.backend.getSync(blockKey(height)), `crash after ${crashAfter}: body ${height}`).toBeUndefined();
      expect(runPlanSync(readPrunedBelowPlan(), run.backend)).toBe(20);
    }
  });

  it('refuses a full replay of a pruned store, and a start with no usable checkpoint at or above the mark', () => {
    const { backend } = pruned(40, 30, 25);
    expect(errorOf(() => restoreSync(backend, fastSha256, { fullReplay: true })).code).toBe(ErrorCode.PRUNED);
    // The only checkpoint at or above 24 is damaged: the state cannot be rebuilt here.
    backend.writeSync([{ type: 'put', key: checkpointKey(30), value: Uint8Array.of(1, 2, 3) }], { sync: true });
    const refused = errorOf(() => restoreSync(backend, fastSha256));
    expect(refused.code).toBe(ErrorCode.PRUNED);
    expect(refused.message).toMatch(/bodies 1\.\.24 were pruned and no checkpoint at height 24 or above/);
  });

  it('an older checkpoint below the mark is never used: its blocks are gone', () => {
    const made = chainStore(10);
    checkpoint(made.backend, made.ledger);
    appendBlocks(made.backend, made.ledger, 11, 30);
    checkpoint(made.backend, made.ledger);
    runPlanSync(prunePlan(20), made.backend);
    expect(restoreSync(made.backend, fastSha256).outcome.checkpoint).toBe(30);
    made.backend.writeSync([{ type: 'del', key: checkpointKey(30) }], { sync: true });
    expect(errorOf(() => restoreSync(made.backend, fastSha256)).code).toBe(ErrorCode.PRUNED);
  });
});

describe('scrub', () => {
  it('finds a damaged body, a damaged header and a missing body by the chain\'s hashes, and rewrites a damaged header index entry', () => {
    const { backend, ledger } = chainStore(30);
    const leaf = (height: number) => ledger.history.leaf(height);
    const clean = runPlanSync(scrubPlan(fastSha256, 1, 30, 1000, leaf), backend);
    expect(clean).toMatchObject({ next: 31, checked: 30, damaged: [], headersRewritten: 0 });
    const good = backend.getSync(blockKey(7))!.slice();
    expect(backend.flipDurableBit(blockKey(7), (good.length - 3) * 8)).toBe(true);
    expect(backend.flipDurableBit(blockKey(12), 20)).toBe(true);
    backend.writeSync([{ type: 'del', key: blockKey(15) }], { sync: true });
    expect(backend.flipDurableBit(headerKey(20), 50)).toBe(true);
    const step = runPlanSync(scrubPlan(fastSha256, 1, 30, 1000, leaf), backend);
    expect(step.damaged.map((finding) => [finding.height, finding.reason])).toEqual([
      [7, 'BODY_HASH_MISMATCH'],
      [12, 'HEADER_MISMATCH'],
      [15, 'MISSING_BODY'],
    ]);
    expect(step.headersRewritten).toBe(1);
    expect(toHex(backend.getSync(headerKey(20))!)).toBe(toHex(backend.getSync(blockKey(20))!.subarray(0, HEADER_BYTES)));
    // In bounded steps: count blocks at a time from the cursor.
    const partial = runPlanSync(scrubPlan(fastSha256, 1, 30, 10, leaf), backend);
    expect(partial).toMatchObject({ next: 11, checked: 10 });
    // A repair takes only the chain's own block for that height.
    const put = repairRecord(fastSha256, 7, good, leaf(7));
    expect(typeof put === 'string' ? put : put.map((op) => toHex(op.value))).toEqual([toHex(good), toHex(good.subarray(0, HEADER_BYTES))]);
    expect(repairRecord(fastSha256, 7, backend.getSync(blockKey(8))!, leaf(7))).toMatch(/not the chain's block/);
    const forged = good.slice();
    forged[forged.length - 1] ^= 1;
    expect(repairRecord(fastSha256, 7, forged, leaf(7))).toMatch(/body that does not match/);
  });
});
