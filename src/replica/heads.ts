/**
 * Peer heads and the divergence verdict (ARCHITECTURE §4): what each peer last said of its chain
 * (head, genesis, voting), this node's recent block hashes to compare with, each peer's last
 * comparison, and whether this node has condemned its own chain. Divergence is symmetric (each
 * side sees the other's hash differ), so a node condemns its own chain only when a majority of
 * the members hold another block at one height: at most one block per height can be backed by a
 * majority, so that side is right. A single disagreeing peer is an alarm, not a verdict.
 */
import { bytesEqual, toHex } from '../lib/bytes.js';
import type { NodeId } from '../paxos/ballot.js';
import { majority } from '../paxos/quorum.js';
import type { HeadRef } from './messages.js';

/** A peer whose block at some height has another hash than ours. */
export interface PeerDisagreement {
  readonly height: number;
  readonly ours: string;
  readonly theirs: string;
}

/** This node's own chain condemned: at `height`, against `peer`. */
export interface Divergence extends PeerDisagreement {
  readonly peer: NodeId;
}

interface PeerView {
  head: HeadRef | null;
  /** The peer's genesis hash, from its status messages. */
  genesis: Uint8Array | null;
  /** Highest height this peer is known to hold (heads, promises); only raised, -1 = unknown. */
  height: number;
  voting: boolean;
  /** The last comparison with our chain at a height both hold: undefined until one was possible. */
  agreement: 'same' | PeerDisagreement | undefined;
}

/** What comparing a peer's hash with ours found. */
export interface Comparison {
  /** The peer had not disagreed before: raise the alarm. */
  readonly alarm: PeerDisagreement | undefined;
  /** This comparison made a majority disagree: this node's chain is condemned. */
  readonly verdict: Divergence | undefined;
}

const NOTHING: Comparison = { alarm: undefined, verdict: undefined };

export class Heads {
  /** One view per member other than this node (members as configured at start). */
  private readonly peers = new Map<NodeId, PeerView>();
  /** Our block hashes by height, the last recentHashesMax heights at most. */
  private readonly recentHashes = new Map<number, Uint8Array>();
  /** Set once, never cleared (a restart re-examines the chain). */
  private condemned: Divergence | undefined;
  /**
   * Set when a fetched block's state root disagreed with this replica's own execution of it:
   * the in-memory state ran past the head, so nothing may be appended any more (a wrong block is
   * worse than a stopped node). Implies `condemned`. The node reports DIVERGED; a restart replays.
   */
  private stateRanAhead = false;

  constructor(
    members: readonly NodeId[],
    self: NodeId,
    private readonly recentHashesMax: number,
  ) {
    for (const member of members) if (member !== self) this.peers.set(member, { head: null, genesis: null, height: -1, voting: true, agreement: undefined });
  }

  get divergence(): Divergence | undefined {
    return this.condemned;
  }

  get frozen(): boolean {
    return this.stateRanAhead;
  }

  peerHead(node: NodeId): HeadRef | null {
    return this.peers.get(node)?.head ?? null;
  }

  ourHash(height: number): Uint8Array | undefined {
    return this.recentHashes.get(height);
  }

  /** Remembers our block at `height`, forgetting the one recentHashesMax below. */
  recordOurs(height: number, hash: Uint8Array): void {
    this.recentHashes.set(height, hash);
    this.recentHashes.delete(height - this.recentHashesMax);
  }

  /** Whether `node`'s last comparison found another block than ours at a height both hold. */
  disagrees(node: NodeId): boolean {
    const view = this.peers.get(node);
    return view !== undefined && disagreeing(view);
  }

  /** Peers whose chain differs from ours at a height both hold (each peer's last comparison). */
  get disagreeing(): Array<{ peer: NodeId } & PeerDisagreement> {
    const found: Array<{ peer: NodeId } & PeerDisagreement> = [];
    for (const [peer, view] of this.peers) if (disagreeing(view)) found.push({ peer, ...(view.agreement as PeerDisagreement) });
    return found;
  }

  /**
   * True while more peers disagree with our chain than agree with it, counting ourselves as
   * agreeing: on a tie nobody can tell which chain is right, so this node must not stand for
   * election (it still votes and follows until a majority is known to disagree).
   */
  get chainOutvoted(): boolean {
    let differ = 0;
    let same = 1;
    for (const view of this.peers.values()) {
      if (disagreeing(view)) differ++;
      else if (view.agreement === 'same') same++;
    }
    return differ > 0 && differ >= same;
  }

  noteStatus(node: NodeId, voting: boolean, genesis: Uint8Array | null): void {
    const peer = this.peers.get(node);
    if (!peer) return;
    peer.voting = voting;
    peer.genesis = genesis;
  }

  /** Raises what `node` is known to hold (e.g. from its promise). */
  noteHeight(node: NodeId, height: number): void {
    const peer = this.peers.get(node);
    if (peer && height > peer.height) peer.height = height;
  }

  /**
   * Records a peer's head and compares it with our block at that height. Returns the comparison
   * and whether the head counts as evidence of what is chosen (a disagreeing peer's does not).
   */
  notePeerHead(node: NodeId, head: HeadRef, memberCount: number): Comparison & { evidence: boolean } {
    const peer = this.peers.get(node);
    if (!peer) return { ...NOTHING, evidence: false };
    peer.head = head;
    const ours = this.recentHashes.get(head.height);
    const comparison = ours ? this.compare(node, head.height, ours, head.hash, memberCount) : NOTHING;
    // A peer whose chain differs from ours is no evidence of what is chosen, nor a source of blocks.
    if (disagreeing(peer)) return { ...comparison, evidence: false };
    if (head.height > peer.height) peer.height = head.height;
    return { ...comparison, evidence: true };
  }

  /** Compares our hash at `height` with `node`'s; a majority disagreeing condemns our chain. */
  compare(node: NodeId, height: number, ours: Uint8Array, theirs: Uint8Array, memberCount: number): Comparison {
    const peer = this.peers.get(node);
    if (!peer) return NOTHING;
    if (bytesEqual(ours, theirs)) {
      peer.agreement = 'same';
      return NOTHING;
    }
    const disagreement = { height, ours: toHex(ours), theirs: toHex(theirs) };
    const alarm = peer.agreement === undefined || peer.agreement === 'same' ? disagreement : undefined;
    peer.agreement = disagreement;
    if (this.condemned) return { alarm, verdict: undefined };
    let differ = 0;
    for (const view of this.peers.values()) if (disagreeing(view)) differ++;
    if (differ < majority(memberCount)) return { alarm, verdict: undefined };
    this.condemned = { peer: node, ...disagreement };
    return { alarm, verdict: this.condemned };
  }

  /** Our execution of `peer`'s block at `height` gave another state root than its header. */
  freeze(height: number, peer: NodeId, theirsDigest: string): Divergence {
    this.stateRanAhead = true;
    this.condemned ??= { height, peer, ours: 'state root differs', theirs: theirsDigest };
    return this.condemned;
  }

  /** Peers known to hold `height`, agreeing with us, and not excluded by `avoided`. */
  holdersOf(height: number, avoided: (node: NodeId) => boolean): NodeId[] {
    const found: NodeId[] = [];
    for (const [node, view] of this.peers) if (view.height >= height && !disagreeing(view) && !avoided(node)) found.push(node);
    return found;
  }

  /** Peers reporting `genesis` as their block 0. */
  genesisHolders(genesis: Uint8Array): NodeId[] {
    const found: NodeId[] = [];
    for (const [node, view] of this.peers) if (view.genesis && bytesEqual(view.genesis, genesis)) found.push(node);
    return found;
  }

  /**
   * The genesis hash a majority of the members report (counting only peers: this node has none
   * yet), or the pinned one once at least one peer has it. Trust is pinned to that hash, never to
   * whichever peer answers a fetch.
   */
  agreedGenesis(pinned: Uint8Array | undefined, memberCount: number): Uint8Array | undefined {
    const counts = new Map<string, { hash: Uint8Array; count: number }>();
    for (const peer of this.peers.values()) {
      if (!peer.genesis) continue;
      const key = toHex(peer.genesis);
      const entry = counts.get(key) ?? { hash: peer.genesis, count: 0 };
      entry.count++;
      counts.set(key, entry);
    }
    if (pinned) return counts.has(toHex(pinned)) ? pinned : undefined;
    for (const entry of counts.values()) if (entry.count >= majority(memberCount)) return entry.hash;
    return undefined;
  }
}

function disagreeing(view: PeerView): boolean {
  return view.agreement !== undefined && view.agreement !== 'same';
}
