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
import { ChainStore, truncatePlan } from '../storage/chain-store.js';
import { ACCEPTOR_KEY, acceptedKey } from '../storage/keys.js';
import { entries, get, PLAN_READ_MAX, runPlanSync, type StorePlan, write } from '../storage/plan.js';
import { replayPlan } from '../storage/replay.js';

export interface RestoreOptions {
  readonly onProgress?: (height: number, target: number) => void;
  /** Seed of the state's in-memory hash indexes (KvStateOptions.hashSeed); a node passes a random one. */
  readonly hashSeed?: number;
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
  /** Blocks replayed. */
  readonly blocks: number;
}

export function* restorePlan(storedHead: BlockRef | undefined, sha256: Sha256, options: RestoreOptions = {}): StorePlan<RestoreOutcome> {
  let recentHashes: Array<{ height: number; hash: Uint8Array }> = [];
  let top = storedHead?.height ?? -1;
  const onBlock = (height: number, _record: Uint8Array, _results: readonly number[], hash: Uint8Array): void => {
    if (height > top - RECENT_HASHES_MAX) recentHashes.push({ height, hash });
  };
  let report = yield* replayPlan(storedHead, sha256, { onProgress: options.onProgress, onBlock, hashSeed: options.hashSeed });
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
      head = (yield* replayPlan(storedHead, sha256, { upTo: keep - 1, hashSeed: options.hashSeed })).ledger.head!;
    }
    yield* truncatePlan(keep, head);
    recentHashes = [];
    top = head?.height ?? -1;
    report = yield* replayPlan(head, sha256, { onProgress: options.onProgress, onBlock, hashSeed: options.hashSeed });
  }
  const headHeight = report.ledger.head?.height ?? -1;
  const accepted = yield* readAccepted(headHeight);
  return { restored: { ledger: report.ledger, acceptor, accepted, recentHashes }, head: report.ledger.head, repaired, acceptorRepaired, blocks: report.blocks };
}

/**
 * Opens and restores a store on a synchronous backend (memory: the simulator, the harness,
 * bench-core) in one go: the same plans the node runs on LevelDB (ChainStore.open, restoreNode).
 */
export function restoreSync(backend: Backend & SyncBackend, sha256: Sha256, options: RestoreOptions = {}): { store: ChainStore; outcome: RestoreOutcome } {
  const store = ChainStore.withHead(backend, sha256, runPlanSync(ChainStore.openPlan(), backend));
  const outcome = runPlanSync(restorePlan(store.head, sha256, options), backend);
  store.committed(outcome.head);
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
