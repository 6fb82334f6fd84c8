/**
 * Opening a node's store, written once (a store plan: the node runs it on LevelDB, the simulator
 * on memory): replay the chain (every link, body hash and state root), load the acceptor state
 * and the accepted entries above the head.
 *
 * Corruption at rest:
 * - a bad block at height h: keep blocks 0..h-1, drop h and above (refetched from peers and
 *   verified again). The dropped blocks may have held votes the cluster counted, so the node
 *   first gives up its vote, durably, and votes again only after rejoining like a wiped node
 *   (ARCHITECTURE §4). It never serves the bad part.
 * - an unreadable acceptor record: the promise it held is lost, so the node likewise stops
 *   voting until it has rejoined.
 * - votes without a chain (no genesis): the blocks and the accepted entries they replaced are
 *   gone; the node stops voting.
 */
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import type { Sha256 } from '../lib/sha256.js';
import type { BlockRef } from '../chain/block.js';
import type { AcceptorDurableState } from '../paxos/acceptor.js';
import type { AcceptedEntry } from '../paxos/messages.js';
import { RECENT_HASHES_MAX } from '../replica/config.js';
import type { ChainProblem } from '../ledger/ledger.js';
import type { RestoredState } from '../replica/replica.js';
import { acceptedRange, decodeAcceptedEntry, decodeAcceptorState, encodeAcceptorState } from '../storage/acceptor-store.js';
import type { SyncBackend, Backend } from '../storage/backend.js';
import { ChainStore, readPrunedBelowPlan, truncatePlan } from '../storage/chain-store.js';
import { ACCEPTOR_KEY, acceptedKey, headerHeightOfKey, headerKey } from '../storage/keys.js';
import { entries, get, PLAN_READ_MAX, record, records, runPlanSync, type StorePlan, write } from '../storage/plan.js';
import { dropCheckpointPlan, dropOrphanChunksPlan, listCheckpointsPlan, loadCheckpointPlan } from '../storage/checkpoint-store.js';
import { bytesEqual, toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { HEADER_BYTES } from '../chain/block.js';
import type { KvStateOptions } from '../kv/state.js';
import { HeaderChain } from '../ledger/header-chain.js';
import { Ledger } from '../ledger/ledger.js';
import { type ReplayReport, replayPlan } from '../storage/replay.js';

export interface RestoreOptions {
  readonly onProgress?: (height: number, target: number) => void;
  /** Seed of the state's in-memory hash indexes (KvStateOptions.hashSeed); a node passes a random one. */
  readonly hashSeed?: number;
  /** Replay every block from genesis, ignoring the checkpoints (`node start --full-replay`). */
  readonly fullReplay?: boolean;
  /**
   * TEST ONLY, the simulator's planted bug `repair-keeps-vote`: repairing a corrupt chain drops
   * the bad suffix without giving up the vote (what a crash between the truncation and a later
   * give-up would leave). Never set in production.
   */
  readonly unsafeRepairKeepsVote?: boolean;
}

export interface RestoreOutcome {
  readonly restored: RestoredState;
  /** The store's head after restore (after a repair, below the bad block): record it. */
  readonly head: BlockRef | undefined;
  /** The chain corruption found and cut off, if any. */
  readonly repaired: ChainProblem | undefined;
  /** Whether the acceptor record was unreadable (and replaced by a non-voting one). */
  readonly acceptorRepaired: boolean;
  /** Blocks replayed (those after the checkpoint, when one was loaded). */
  readonly blocks: number;
  /** Height of the checkpoint the state was loaded from, or undefined (replayed from genesis). */
  readonly checkpoint: number | undefined;
  /** Checkpoints found unusable and dropped, each with why (damaged, tampered, above the head). */
  readonly droppedCheckpoints: readonly string[];
  /** Headers written from the blocks (a store of an older build, or a damaged header index). */
  readonly headersRebuilt: number;
  /** The store's pruned-below mark (0: every body kept), for ChainStore.pruned(). */
  readonly prunedBelow: number;
}

/**
 * Restore. With a head pointer and a checkpoint: check the header chain 0..head (headers only),
 * load the newest checkpoint that checks out (chunk hashes, then its state root against its
 * block's header), and replay and verify only the blocks after it. Otherwise, or with
 * `fullReplay`, replay from genesis. Either way the state is what replaying the chain yields:
 * the checkpoint's root is a header's state root, and every header up to the head links.
 */
export function* restorePlan(storedHead: BlockRef | undefined, sha256: Sha256, options: RestoreOptions = {}): StorePlan<RestoreOutcome> {
  const dropped: string[] = [];
  const kvOptions = { hashSeed: options.hashSeed };
  // With bodies pruned below P, only a checkpoint at P-1 or above can rebuild the state.
  const prunedBelow = yield* readPrunedBelowPlan();
  if (storedHead && prunedBelow > 1 && options.fullReplay) {
    throw new PaxchainError(ErrorCode.PRUNED, `a full replay needs every block body, and bodies 1..${prunedBelow - 1} were pruned (retention); start without --full-replay`, { oldestBody: prunedBelow });
  }
  const from = (upTo: number): StorePlan<{ ledger: Ledger | undefined; headersChecked: number }> => usableCheckpoint(upTo, sha256, kvOptions, dropped, prunedBelow);
  let start = storedHead && !options.fullReplay ? yield* from(storedHead.height) : undefined;
  let checkpoint = start?.ledger?.head!.height;
  let report = yield* replayPlan(storedHead, sha256, { onProgress: options.onProgress, hashSeed: options.hashSeed, from: start?.ledger });
  let { acceptor, repaired: acceptorRepaired } = yield* readAcceptor();
  let repaired: ChainProblem | undefined;
  if (report.problem?.reason === 'NO_GENESIS' && acceptor.voting) acceptor = yield* giveUpVote(acceptor);
  if (report.problem && report.problem.reason !== 'NO_GENESIS') {
    repaired = report.problem;
    const keep = report.problem.height;
    // Stop voting first, durably: a crash during the truncation below must not leave a node that
    // votes with blocks it no longer holds. (BLOCK_AFTER_HEAD is the leftover of such a
    // truncation, so its vote was already given up.)
    if (report.problem.reason !== 'BLOCK_AFTER_HEAD' && acceptor.voting && !options.unsafeRepairKeepsVote) acceptor = yield* giveUpVote(acceptor);
    let head: BlockRef | undefined;
    if (keep > 0) {
      // Replay the good prefix again: after a state root mismatch the state ran past it.
      const again = options.fullReplay ? undefined : yield* from(keep - 1);
      head = (yield* replayPlan(storedHead, sha256, { upTo: keep - 1, hashSeed: options.hashSeed, from: again?.ledger })).ledger.head!;
    }
    yield* truncatePlan(keep, head);
    start = head && !options.fullReplay ? yield* from(head.height) : undefined;
    checkpoint = start?.ledger?.head!.height;
    report = yield* replayPlan(head, sha256, { onProgress: options.onProgress, hashSeed: options.hashSeed, from: start?.ledger });
  }
  const ledger = report.ledger;
  const headHeight = ledger.head?.height ?? -1;
  // Headers the header chain lacked (or had damaged) come from the blocks, now verified.
  const headersRebuilt = report.problem || !start ? 0 : yield* rebuildHeadersPlan(start.headersChecked, headHeight);
  yield* dropOrphanChunksPlan();
  const accepted = yield* readAccepted(headHeight);
  const recentHashes: Array<{ height: number; hash: Uint8Array }> = [];
  for (let height = Math.max(0, headHeight - RECENT_HASHES_MAX + 1); height <= headHeight; height++) recentHashes.push({ height, hash: ledger.history.leaf(height) });
  return {
    restored: { ledger, acceptor, accepted, recentHashes },
    head: ledger.head,
    repaired,
    acceptorRepaired,
    blocks: report.blocks,
    checkpoint,
    droppedCheckpoints: dropped,
    headersRebuilt,
    prunedBelow,
  };
}

/**
 * startFromCheckpoint, and on a pruned store (bodies below P gone) nothing less than a checkpoint
 * at P-1 or above: without one the state cannot be rebuilt from this store (PRUNED).
 */
function* usableCheckpoint(
  upTo: number,
  sha256: Sha256,
  kvOptions: KvStateOptions,
  dropped: string[],
  prunedBelow: number,
): StorePlan<{ ledger: Ledger | undefined; headersChecked: number }> {
  const start = yield* startFromCheckpoint(upTo, sha256, kvOptions, dropped, prunedBelow - 1);
  if (prunedBelow > 1 && !start.ledger) {
    throw new PaxchainError(
      ErrorCode.PRUNED,
      `block bodies 1..${prunedBelow - 1} were pruned and no checkpoint at height ${prunedBelow - 1} or above (up to ${upTo}) checks out${dropped.length > 0 ? ` (${dropped.join('; ')})` : ''}: this store cannot rebuild its state; move the data directory aside and start the node empty to rejoin from its peers`,
      { oldestBody: prunedBelow, upTo },
    );
  }
  return start;
}

/**
 * Checks the header chain 0..upTo and resumes a ledger from the newest checkpoint at or below
 * it (and below the first bad header) that checks out; checkpoints that do not are dropped, with
 * why in `dropped`. `headersChecked`: how many headers from 0 are stored and link (the rest are
 * rebuilt after replay).
 */
function* startFromCheckpoint(
  upTo: number,
  sha256: Sha256,
  kvOptions: KvStateOptions,
  dropped: string[],
  lowest = 0,
  readOnly = false,
): StorePlan<{ ledger: Ledger | undefined; headersChecked: number }> {
  const chain = new HeaderChain(sha256);
  for (let from = 0; from <= upTo; ) {
    const found = yield* entries({ gte: headerKey(from), lt: headerKey(upTo + 1) }, PLAN_READ_MAX);
    if (found.length === 0) break;
    const heights = found.map(([key]) => headerHeightOfKey(key));
    if (chain.add(heights, found.map(([, value]) => value)) !== undefined) break;
    from = heights[heights.length - 1]! + 1;
  }
  const checked = chain.nextHeight;
  if (checked === 0) return { ledger: undefined, headersChecked: 0 };
  const genesisRecord = (yield* record(0)) ?? new Uint8Array(0);
  for (const { height, manifest } of yield* listCheckpointsPlan()) {
    if (height > upTo) continue; // a repair truncates those
    if (height < lowest) continue; // the bodies after it are pruned: of no use, and dropped by age
    let ledger: Ledger | string;
    if (typeof manifest === 'string') {
      ledger = manifest;
    } else if (height >= checked) {
      ledger = `checkpoint ${height} is above the checked header chain (0..${checked - 1})`;
    } else if (!bytesEqual(manifest.blockHash, chain.history.leaf(height))) {
      ledger = `checkpoint ${height} is of another block (${toHex(manifest.blockHash).slice(0, 16)})`;
    } else {
      // A fresh state per attempt: a failed load leaves one half full.
      const fresh = Ledger.genesisState(sha256, kvOptions, genesisRecord, chain.history.leaf(0));
      if (typeof fresh === 'string') return { ledger: undefined, headersChecked: checked }; // replay reports it
      const header = yield* get(headerKey(height));
      ledger = (yield* loadCheckpointPlan(sha256, manifest, fresh.state)) ?? (header ? Ledger.resume(sha256, kvOptions, genesisRecord, fresh.genesis, chain.history, header, fresh.state) : `header ${height} is missing`);
    }
    if (ledger instanceof Ledger) return { ledger, headersChecked: checked };
    dropped.push(ledger);
    if (!readOnly) yield* dropCheckpointPlan(height);
  }
  return { ledger: undefined, headersChecked: checked };
}

/**
 * What `chain verify` checks on a store whose old bodies are pruned, reading only: every header
 * link 0..head, the newest checkpoint at or above the pruned mark against its header's state
 * root, then a replay and verification of every block after it. `problem` set: it does not check
 * out (the reason PRUNED when no usable checkpoint is left, with why in `unusable`).
 */
export function* verifyPrunedPlan(
  storedHead: BlockRef,
  sha256: Sha256,
  prunedBelow: number,
  options: { onProgress?: (height: number, target: number) => void; expectHead?: BlockRef } = {},
): StorePlan<{ report: ReplayReport; checkpoint: number | undefined; headersChecked: number; unusable: string[] }> {
  const unusable: string[] = [];
  const start = yield* startFromCheckpoint(storedHead.height, sha256, {}, unusable, prunedBelow - 1, true);
  const checkpoint = start.ledger?.head?.height;
  const report = yield* replayPlan(storedHead, sha256, { onProgress: options.onProgress, expectHead: options.expectHead, from: start.ledger, prunedBelow });
  return { report, checkpoint, headersChecked: start.headersChecked, unusable };
}

/** Writes the headers of blocks from..to from the (verified) block records; returns how many. */
function* rebuildHeadersPlan(from: number, to: number): StorePlan<number> {
  let written = 0;
  for (let at = from; at <= to; ) {
    const chunk = yield* records(at, to, limits.replayChunkBlocks);
    if (chunk.records.length === 0) break;
    yield* write(chunk.records.map((stored, i) => ({ type: 'put', key: headerKey(chunk.heights[i]!), value: stored.slice(0, HEADER_BYTES) })), false);
    written += chunk.records.length;
    at = chunk.heights[chunk.heights.length - 1]! + 1;
  }
  if (written > 0) yield* write([], true);
  return written;
}

/**
 * Opens and restores a store on a synchronous backend (memory: the simulator, the harness,
 * bench-core) in one go: the same plans the node runs on LevelDB (ChainStore.open, restoreNode).
 */
export function restoreSync(backend: Backend & SyncBackend, sha256: Sha256, options: RestoreOptions = {}): { store: ChainStore; outcome: RestoreOutcome } {
  const store = ChainStore.withHead(backend, sha256, runPlanSync(ChainStore.openPlan(), backend));
  const outcome = runPlanSync(restorePlan(store.head, sha256, options), backend);
  store.committed(outcome.head);
  store.pruned(outcome.prunedBelow);
  return { store, outcome };
}

function* giveUpVote(acceptor: AcceptorDurableState): StorePlan<AcceptorDurableState> {
  const given: AcceptorDurableState = { promised: acceptor.promised, voting: false };
  yield* write([{ type: 'put', key: ACCEPTOR_KEY, value: encodeAcceptorState(given) }], true);
  return given;
}

/** The acceptor state; an unreadable record is replaced, durably, by a non-voting one. */
function* readAcceptor(): StorePlan<{ acceptor: AcceptorDurableState; repaired: boolean }> {
  const bytes = yield* get(ACCEPTOR_KEY);
  if (!bytes) return { acceptor: { promised: 0, voting: false }, repaired: false };
  try {
    return { acceptor: decodeAcceptorState(bytes), repaired: false };
  } catch (error) {
    if (!(error instanceof PaxchainError) || error.code !== ErrorCode.CORRUPT_DATA) throw error;
  }
  return { acceptor: yield* giveUpVote({ promised: 0, voting: false }), repaired: true };
}

/** Accepted entries of slots above the head (the others became blocks). */
function* readAccepted(headHeight: number): StorePlan<AcceptedEntry[]> {
  const accepted: AcceptedEntry[] = [];
  for (let from = acceptedRange.gte; ; ) {
    const found = yield* entries({ gte: from, lt: acceptedRange.lt }, PLAN_READ_MAX);
    for (const [key, value] of found) {
      const entry = decodeAcceptedEntry(key, value);
      if (entry.slot > headHeight) accepted.push({ ...entry, value: entry.value.slice() });
    }
    if (found.length < PLAN_READ_MAX) return accepted;
    from = acceptedKey(decodeAcceptedEntry(found[found.length - 1]![0], found[found.length - 1]![1]).slot + 1);
  }
}
