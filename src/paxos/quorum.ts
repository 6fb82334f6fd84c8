/**
 * Quorum arithmetic, kept in a leaf module (etcd raft's quorum/majority.go): no protocol state,
 * checked against a naive version on random inputs in test/paxos/quorum.test.ts.
 */
import type { NodeId } from './ballot.js';

/** Votes needed out of `members`: a strict majority. */
export function majority(members: number): number {
  return Math.floor(members / 2) + 1;
}

/** A set of node ids in [0, 255] as a 256-bit mask (eight 32-bit words). */
export class NodeSet {
  private readonly words = new Uint32Array(8);
  private count = 0;

  add(node: NodeId): boolean {
    const word = node >>> 5;
    const bit = 1 << (node & 31);
    if ((this.words[word]! & bit) !== 0) return false;
    this.words[word] = this.words[word]! | bit;
    this.count++;
    return true;
  }

  has(node: NodeId): boolean {
    return (this.words[node >>> 5]! & (1 << (node & 31))) !== 0;
  }

  get size(): number {
    return this.count;
  }
}
