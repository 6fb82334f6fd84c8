/**
 * Named upper bounds. Every queue, frame, batch and loop in paxchain is bounded by one of these
 * (TigerBeetle: "put a limit on everything"). Values that must agree across replicas (they change
 * the replicated state) live in the genesis block instead: GenesisConfig in src/chain/body.ts.
 */
export const limits = {
  /** Longest key, in UTF-8 bytes. */
  keyBytesMax: 1024,
  /** Longest value, in bytes. */
  valueBytesMax: 1024 * 1024,
  /** Longest encoded block body (one chosen Paxos value). */
  bodyBytesMax: 4 * 1024 * 1024,
  /** Most commands in one block body. */
  bodyCommandsMax: 10_000,
  /** Most members in a cluster. */
  membersMax: 9,
  /** Longest cluster id, in UTF-8 bytes. */
  clusterIdBytesMax: 128,
  /** Most client sessions the dedup table may hold; the genesis block picks the actual bound. */
  dedupClientsMax: 1_000_000,
  /** Blocks read from the store per iterator step during replay and verify. */
  replayChunkBlocks: 1024,
  /** Bytes hashed per batch call of the state-digest hasher before it flushes. */
  hashScratchBytes: 4 * 1024 * 1024,
  /** Messages hashed per batch call. */
  hashBatchMessages: 65_536,
  /** Blocks `chain list` prints at most in one call. */
  listBlocksMax: 10_000,
  /** Accepted entries in one Promise message (more are sent in continuation promises). */
  promiseEntriesMax: 64,
  /** Bytes of accepted values in one Promise message. */
  promiseBytesMax: 8 * 1024 * 1024,
  /** Blocks in one catch-up fetch. */
  fetchBlocksMax: 1024,
  /** Bytes of records in one catch-up reply (at least one block is always sent). */
  fetchBytesMax: 8 * 1024 * 1024,
} as const;
