/**
 * Replica configuration: timing in ticks and the named bounds of every queue and window.
 * A tick is 10 ms in the node driver (src/node) and one step of simulated time in test/sim.
 */
import { assert } from '../lib/assert.js';
import { limits } from '../lib/limits.js';
import type { NodeId } from '../paxos/ballot.js';

export interface Timing {
  /** Leader heartbeat interval. */
  readonly heartbeatTicks: number;
  /** Election timeout, drawn uniformly from [min, max] with the injected PRNG. */
  readonly electionTicksMin: number;
  readonly electionTicksMax: number;
  /**
   * A candidate's phase 1 must complete within this many ticks of sending its prepares, or it is
   * abandoned and late promises are ignored. Wipe safety depends on it (see rejoinDelayTicks).
   */
  readonly prepareTimeoutTicks: number;
  /** A leader that heard from no majority for this long steps down. */
  readonly checkQuorumTicks: number;
  /** Heads and voting state to every peer. */
  readonly statusTicks: number;
  /** Resend an accept that has not been acknowledged for this long. */
  readonly retransmitTicks: number;
  /** Give up on a catch-up fetch after this long and try another peer. */
  readonly fetchTimeoutTicks: number;
  /**
   * A wiped node waits this long before asking to rejoin: longer than prepareTimeoutTicks (with
   * margin for clock-rate differences), so every phase 1 that may have counted a promise it made
   * before losing its disk has completed or been abandoned.
   */
  readonly rejoinDelayTicks: number;
  /** How often a learner repeats its rejoin request. */
  readonly rejoinRetryTicks: number;
  /** A head-signature round (src/replica/certify.ts) that has no majority after this long fails its reads. */
  readonly certifyRoundTicks: number;
}

export interface ReplicaConfig {
  readonly nodeId: NodeId;
  /** Cluster members from the node's configuration; genesis's member list wins once known. */
  readonly members: readonly NodeId[];
  /** Expected cluster id; a genesis from a peer with another id is refused. */
  readonly clusterId?: string;
  /** Pinned genesis block hash (e.g. from an operator); any other genesis is refused. */
  readonly genesisHash?: Uint8Array;
  readonly timing: Timing;
  /** Slots a leader keeps in phase 2 at once. */
  readonly pipelineMax: number;
  /** Most commands in one proposed batch. */
  readonly batchCommandsMax: number;
  /** Most bytes of commands in one proposed batch. */
  readonly batchBytesMax: number;
  /** Client writes queued at the leader; beyond this, OVERLOADED. */
  readonly pendingWritesMax: number;
  /** Bytes of client writes queued at the leader; beyond this, OVERLOADED. */
  readonly pendingWriteBytesMax: number;
  /** Linearizable reads waiting at the leader; beyond this, OVERLOADED. */
  readonly pendingReadsMax: number;
  /** Slots above its head an acceptor holds entries for (flow control for laggards). */
  readonly acceptAheadMax: number;
  /** Blocks asked for in one catch-up fetch. */
  readonly fetchBlocks: number;
  /** Catch-up fetches in flight at once (consecutive ranges, applied in order). */
  readonly fetchPipelineMax: number;
  /**
   * Flow control for catch-up: at most this many blocks fetched per tick on average (a token
   * bucket holding one pipeline of fetches). Verifying a block means executing it, so an
   * unthrottled catch-up takes a whole core; this keeps some for the leader on shared machines.
   * Infinity = no limit.
   */
  readonly catchupBlocksPerTick: number;
  /** Recent block hashes kept for comparing heads with peers. */
  readonly recentHashesMax: number;
  /** State sync: snapshot chunks requested at once (each up to ~1 MiB plus one entry). */
  readonly snapshotChunksInFlight: number;
  /** State sync flow control: snapshot chunk bytes fetched per tick on average (Infinity = no limit). */
  readonly snapshotBytesPerTick: number;
  /**
   * Report what each appended block changed (Ready.changes: the keys written and deleted, with
   * values and revisions), for watches (src/node/watch-hub.ts). Off: no change log is kept.
   */
  readonly changeEvents?: boolean;
}

/** Block hashes kept from the end of the chain for comparing heads with peers. */
export const RECENT_HASHES_MAX = 4096;

export const defaultTiming: Timing = {
  heartbeatTicks: 5,
  electionTicksMin: 15,
  electionTicksMax: 30,
  prepareTimeoutTicks: 50,
  checkQuorumTicks: 60,
  statusTicks: 10,
  retransmitTicks: 10,
  fetchTimeoutTicks: 100,
  rejoinDelayTicks: 120,
  rejoinRetryTicks: 20,
  certifyRoundTicks: 50,
};

export function replicaConfig(nodeId: NodeId, members: readonly NodeId[], overrides: Partial<ReplicaConfig> = {}): ReplicaConfig {
  const config: ReplicaConfig = {
    nodeId,
    members,
    timing: defaultTiming,
    pipelineMax: 32,
    batchCommandsMax: 4096,
    batchBytesMax: 1024 * 1024,
    pendingWritesMax: 50_000,
    pendingWriteBytesMax: 64 * 1024 * 1024,
    pendingReadsMax: 50_000,
    acceptAheadMax: 512,
    fetchBlocks: 1024,
    fetchPipelineMax: 2,
    catchupBlocksPerTick: Infinity,
    recentHashesMax: RECENT_HASHES_MAX,
    snapshotChunksInFlight: 2,
    snapshotBytesPerTick: Infinity,
    ...overrides,
  };
  checkConfig(config);
  return config;
}

/** Asserts the relationships between the limits that safety and liveness rely on (TIGER_STYLE). */
function checkConfig(config: ReplicaConfig): void {
  const t = config.timing;
  const positive = (name: string, value: number): void => assert(Number.isInteger(value) && value >= 1, () => `${name} must be a positive integer, got ${value}`);
  for (const [name, value] of Object.entries(t)) positive(`timing.${name}`, value);
  // Wipe safety: every phase 1 that may have counted a promise made before the disk was lost has
  // completed or been abandoned before the wiped node asks to rejoin (with margin for clock rates).
  assert(t.rejoinDelayTicks > 2 * t.prepareTimeoutTicks, () => `rejoinDelayTicks ${t.rejoinDelayTicks} must exceed 2 × prepareTimeoutTicks ${t.prepareTimeoutTicks}`);
  assert(t.electionTicksMin <= t.electionTicksMax, () => `electionTicksMin ${t.electionTicksMin} > electionTicksMax ${t.electionTicksMax}`);
  // A live leader's heartbeats must arrive well within every follower's election timeout.
  assert(t.heartbeatTicks < t.electionTicksMin, () => `heartbeatTicks ${t.heartbeatTicks} must be below electionTicksMin ${t.electionTicksMin}`);
  assert(t.checkQuorumTicks > t.heartbeatTicks, () => `checkQuorumTicks ${t.checkQuorumTicks} must exceed heartbeatTicks ${t.heartbeatTicks}`);
  positive('fetchBlocks', config.fetchBlocks);
  assert(config.fetchBlocks <= limits.fetchBlocksMax, () => `fetchBlocks ${config.fetchBlocks} exceeds limits.fetchBlocksMax ${limits.fetchBlocksMax}: peers would refuse the fetch`);
  for (const name of ['pipelineMax', 'batchCommandsMax', 'batchBytesMax', 'pendingWritesMax', 'pendingWriteBytesMax', 'pendingReadsMax', 'acceptAheadMax', 'fetchPipelineMax', 'recentHashesMax'] as const) positive(name, config[name]);
  assert(config.batchBytesMax <= limits.bodyBytesMax, () => `batchBytesMax ${config.batchBytesMax} exceeds limits.bodyBytesMax ${limits.bodyBytesMax}: accepts would be refused`);
  assert(Number.isInteger(config.snapshotChunksInFlight) && config.snapshotChunksInFlight >= 1 && config.snapshotChunksInFlight <= 16, () => `snapshotChunksInFlight must be in [1, 16], got ${config.snapshotChunksInFlight}`);
  assert(config.snapshotBytesPerTick > 0, () => `snapshotBytesPerTick must be > 0, got ${config.snapshotBytesPerTick}`);
  assert(config.catchupBlocksPerTick > 0, () => `catchupBlocksPerTick must be > 0, got ${config.catchupBlocksPerTick}`);
}
