/**
 * Bootstrapping a founding member, written once: the genesis block, its head pointer and the
 * acceptor state, in one synced batch on an empty store. The node (`node start --bootstrap`,
 * after asking its peers), the simulator, the harness and bench-core all write this batch.
 */
import type { Sha256 } from '../lib/sha256.js';
import type { BlockRef } from '../chain/block.js';
import type { GenesisConfig } from '../chain/body.js';
import { Ledger } from '../ledger/ledger.js';
import { encodeAcceptorState } from '../storage/acceptor-store.js';
import type { Backend, BatchOp, SyncBackend } from '../storage/backend.js';
import { ChainStore } from '../storage/chain-store.js';
import { ACCEPTOR_KEY } from '../storage/keys.js';

export interface GenesisBatch {
  /** Write synced, then record `head` as the store's head. */
  readonly ops: BatchOp[];
  readonly head: BlockRef;
  readonly record: Uint8Array;
}

/**
 * The batch that makes `store` (empty) a member of a new cluster: voting at once (a founding
 * member), or not (it found peers already voting, so it gets its vote through rejoin).
 */
export function genesisBatch(store: ChainStore, sha256: Sha256, config: GenesisConfig, voting: boolean): GenesisBatch {
  const record = Ledger.genesisRecord(sha256, config);
  const { ops, head } = store.prepareAppend([record]);
  ops.push({ type: 'put', key: ACCEPTOR_KEY, value: encodeAcceptorState({ promised: 0, voting }) });
  return { ops, head, record };
}

/** Bootstraps an empty synchronous backend (memory) as a founding member, voting or not. */
export function bootstrapSync(backend: Backend & SyncBackend, sha256: Sha256, config: GenesisConfig, voting: boolean): void {
  const store = ChainStore.withHead(backend, sha256, undefined);
  backend.writeSync(genesisBatch(store, sha256, config, voting).ops, { sync: true });
}
