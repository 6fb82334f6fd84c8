/**
 * Opening a node's data directory: replay the chain (every link, body hash and state digest),
 * load the acceptor state and accepted entries.
 *
 * Corruption at rest: if replay finds a bad block at height h, the node keeps blocks 0..h-1,
 * drops h and above (they are refetched from peers and verified again), and, because the dropped
 * blocks may have held votes the cluster counted, it stops voting until it has rejoined like a
 * wiped node (ARCHITECTURE §4). It never serves the bad part. A lost head pointer with intact
 * blocks (NO_HEAD_POINTER) takes the same path: the blocks are verified, the pointer is written
 * above the last good one (truncateFrom), and the node rejoins before it votes.
 */
import type { Sha256 } from '../lib/sha256.js';
import type { AcceptorDurableState } from '../paxos/acceptor.js';
import { RECENT_HASHES_MAX } from '../replica/config.js';
import type { AcceptedEntry } from '../paxos/messages.js';
import type { ChainProblem } from '../replica/ledger.js';
import type { RestoredState } from '../replica/replica.js';
import { acceptedRange, decodeAcceptedEntry, decodeAcceptorState, encodeAcceptorState } from '../storage/acceptor-store.js';
import type { ChainStore } from '../storage/chain-store.js';
import { ACCEPTOR_KEY } from '../storage/keys.js';
import { replayStore } from '../storage/replay.js';

export interface RestoreReport {
  readonly restored: RestoredState;
  /** The corruption found and cut off, if any. */
  readonly repaired: ChainProblem | undefined;
  readonly blocks: number;
  readonly seconds: number;
}


export async function restoreNode(
  store: ChainStore,
  sha256: Sha256,
  onProgress?: (height: number, target: number) => void,
): Promise<RestoreReport> {
  const started = performance.now();
  let recentHashes: Array<{ height: number; hash: Uint8Array }> = [];
  const collect = (height: number, _record: Uint8Array, _results: readonly number[], hash: Uint8Array): void => {
    const top = store.head?.height ?? -1;
    if (height > top - RECENT_HASHES_MAX) recentHashes.push({ height, hash });
  };
  let report = await replayStore(store, sha256, { onProgress, onBlock: collect });
  let repaired: ChainProblem | undefined;
  let acceptor = await readAcceptor(store);
  if (report.problem?.reason === 'NO_GENESIS' && acceptor.voting) {
    // Votes without a chain: the blocks (and the accepted entries they replaced) are gone, so
    // this node must rejoin before it votes again.
    acceptor = { promised: acceptor.promised, voting: false };
    await store.backend.write([{ type: 'put', key: ACCEPTOR_KEY, value: encodeAcceptorState(acceptor) }], { sync: true });
  }
  if (report.problem && report.problem.reason !== 'NO_GENESIS') {
    repaired = report.problem;
    const keep = report.problem.height;
    // Stop voting first, durably: a crash during the truncation below must not leave a node that
    // votes with blocks it no longer holds. (BLOCK_AFTER_HEAD is the leftover of such a
    // truncation, so its vote was already given up.)
    if (report.problem.reason !== 'BLOCK_AFTER_HEAD' && acceptor.voting) {
      acceptor = { promised: acceptor.promised, voting: false };
      await store.backend.write([{ type: 'put', key: ACCEPTOR_KEY, value: encodeAcceptorState(acceptor) }], { sync: true });
    }
    if (keep === 0) {
      await store.truncateFrom(0, undefined);
    } else {
      // Replay the good prefix again: after a state digest mismatch the state ran past it.
      const prefix = await replayStore(store, sha256, { upTo: keep - 1 });
      await store.truncateFrom(keep, prefix.ledger.head!);
    }
    recentHashes = [];
    report = await replayStore(store, sha256, { onProgress, onBlock: collect });
  }
  const headHeight = report.ledger.head?.height ?? -1;
  const accepted: AcceptedEntry[] = [];
  for await (const entries of store.backend.entries(acceptedRange, 1024)) {
    for (const [key, value] of entries) {
      const entry = decodeAcceptedEntry(key, value);
      if (entry.slot > headHeight) accepted.push({ ...entry, value: entry.value.slice() });
    }
  }
  return {
    restored: { ledger: report.ledger, acceptor, accepted, recentHashes },
    repaired,
    blocks: report.blocks,
    seconds: (performance.now() - started) / 1000,
  };
}

async function readAcceptor(store: ChainStore): Promise<AcceptorDurableState> {
  const bytes = await store.backend.get(ACCEPTOR_KEY);
  return bytes ? decodeAcceptorState(bytes) : { promised: 0, voting: false };
}
