/**
 * Ballots: (round, nodeId), totally ordered by round, then node id. Encoded as one safe integer,
 * round * 256 + nodeId, so comparison is plain `<` and a ballot fits every message and key as a
 * number. Node ids are in [1, 255]; ballot 0 means "none" (below every real ballot).
 * Rounds stay below 2^45, far beyond any number of elections.
 */
import { assert } from '../lib/assert.js';

export type Ballot = number;
export type NodeId = number;

export const NO_BALLOT: Ballot = 0;
export const NODE_ID_MAX = 255;
const ROUND_MAX = 2 ** 45;

export function ballot(round: number, nodeId: NodeId): Ballot {
  assert(Number.isInteger(round) && round >= 0 && round < ROUND_MAX, () => `ballot round out of range: ${round}`);
  assert(Number.isInteger(nodeId) && nodeId >= 1 && nodeId <= NODE_ID_MAX, () => `node id out of range: ${nodeId}`);
  return round * 256 + nodeId;
}

export function roundOf(value: Ballot): number {
  return Math.floor(value / 256);
}

export function nodeOf(value: Ballot): NodeId {
  return value % 256;
}

/** The smallest ballot owned by `nodeId` that is higher than `above`. */
export function nextBallot(above: Ballot, nodeId: NodeId): Ballot {
  const round = roundOf(above);
  const candidate = ballot(round, nodeId);
  return candidate > above ? candidate : ballot(round + 1, nodeId);
}

export function formatBallot(value: Ballot): string {
  return value === NO_BALLOT ? '-' : `${roundOf(value)}.${nodeOf(value)}`;
}

export function isBallot(value: unknown): value is Ballot {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < ROUND_MAX * 256;
}
