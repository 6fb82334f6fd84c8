/**
 * Multi-Paxos messages. Values are opaque bytes here (a block body to the replica layer); slots
 * are block heights. Every message names its sender and receiver; a message to oneself is
 * delivered like any other, after the state it depends on is persisted (see Ready).
 */
import type { Ballot, NodeId } from './ballot.js';

export interface AcceptedEntry {
  readonly slot: number;
  readonly ballot: Ballot;
  readonly value: Uint8Array;
}

/** Phase 1a: "promise me `ballot` and tell me what you accepted from `fromSlot` on". */
export interface PrepareMessage {
  readonly type: 'prepare';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly ballot: Ballot;
  readonly fromSlot: number;
}

/**
 * Phase 1b. `chosenThrough` is the acceptor's chain head height: every slot up to it is chosen
 * and stored as a block (its accepted entry is gone), so the leader must fetch, not re-propose,
 * those. `accepted` lists entries for slots > max(fromSlot - 1, chosenThrough), in slot order,
 * up to a byte budget; if cut short, `complete` is false and `nextSlot` says where to continue.
 */
export interface PromiseMessage {
  readonly type: 'promise';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly ballot: Ballot;
  readonly chosenThrough: number;
  readonly accepted: readonly AcceptedEntry[];
  readonly complete: boolean;
  readonly nextSlot: number;
}

export type PrepareRejectReason = 'promised-higher' | 'leader-alive' | 'not-voting';

export interface PrepareRejectMessage {
  readonly type: 'prepare-reject';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly ballot: Ballot;
  /** The acceptor's promised ballot (for 'promised-higher'). */
  readonly promised: Ballot;
  readonly reason: PrepareRejectReason;
  /** The leader the acceptor follows, if any. */
  readonly leader: NodeId;
}

/** Phase 2a. `chosenThrough`: the leader's commit index; every slot up to it is chosen. */
export interface AcceptMessage {
  readonly type: 'accept';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly ballot: Ballot;
  readonly slot: number;
  readonly value: Uint8Array;
  readonly chosenThrough: number;
}

/** Phase 2b. */
export interface AcceptedMessage {
  readonly type: 'accepted';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly ballot: Ballot;
  readonly slot: number;
}

export type AcceptRejectReason = 'promised-higher' | 'not-voting' | 'too-far-ahead';

export interface AcceptRejectMessage {
  readonly type: 'accept-reject';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly ballot: Ballot;
  readonly slot: number;
  readonly promised: Ballot;
  readonly reason: AcceptRejectReason;
}

export type PaxosMessage =
  | PrepareMessage
  | PromiseMessage
  | PrepareRejectMessage
  | AcceptMessage
  | AcceptedMessage
  | AcceptRejectMessage;
