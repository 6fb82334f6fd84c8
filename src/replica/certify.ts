/**
 * Signed heads: collecting a majority of the members' Ed25519 signatures of one head (a head
 * certificate, src/ledger/signing.ts) for the verified answers waiting on it.
 *
 * A client accepts a state only at a head signed by a majority of the members genesis lists, so
 * one lying node cannot make it accept a forged state. Signing every block would cost a signature
 * per block per member; instead the node answering verified requests runs signature rounds on
 * demand, like ReadIndex rounds: a verified answer captured at height h (its proof is built at
 * once, from the state at h) waits for a certificate of some head H >= h, and one round serves
 * every answer waiting when it completes (the answer then carries "block h is in the chain of H",
 * an O(log n) history proof). A round signs this node's head, asks every peer to sign the same
 * (height, hash) and completes when a majority's signatures verified; a peer signs only a block it
 * holds as chosen (src/replica/replica.ts onSignRequest).
 *
 * Bounds: waiting answers (waitingMax), one round in flight, a round's lifetime
 * (roundTimeoutTicks: then its waiters fail UNAVAILABLE and the next answer starts a new one).
 */
import { assert } from '../lib/assert.js';
import type { NodeId } from '../paxos/ballot.js';
import { headStatement, type HeadSignature, type Member } from '../ledger/signing.js';
import { bytesEqual } from '../lib/bytes.js';

/** Signing as an injected capability: the node holds its member key; the core never sees it. */
export interface HeadSigning {
  /** This member's signature of `statement` (headStatement). */
  sign(statement: Uint8Array): Uint8Array;
  /** Whether `signature` signs `statement` under `publicKey`. */
  verify(publicKey: Uint8Array, statement: Uint8Array, signature: Uint8Array): boolean;
}

export interface Certificate {
  readonly height: number;
  readonly hash: Uint8Array;
  /** The certified block's header (its state and history roots). */
  readonly header: Uint8Array;
  readonly signatures: readonly HeadSignature[];
}

interface Round {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly header: Uint8Array;
  readonly signatures: Map<NodeId, Uint8Array>;
  readonly startedTick: number;
}

interface Waiting<T> {
  readonly height: number;
  readonly payload: T;
}

export class Certifier<T> {
  /** The newest certificate this node formed. */
  private latest: Certificate | undefined;
  private round: Round | undefined;
  private waiting: Array<Waiting<T>> = [];
  private readonly keys = new Map<NodeId, Uint8Array>();
  private readonly majority: number;

  constructor(
    private readonly self: NodeId,
    members: readonly Member[],
    private readonly clusterId: Uint8Array,
    private readonly signing: HeadSigning,
    private readonly bounds: { readonly waitingMax: number; readonly roundTimeoutTicks: number },
  ) {
    assert(members.some((member) => member.node === self), 'Certifier: this node is not a member');
    for (const member of members) this.keys.set(member.node, member.publicKey);
    this.majority = Math.floor(members.length / 2) + 1;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /**
   * Queues `payload`, an answer captured at `height`. Returns 'ready' when a certificate at or
   * above it exists (take it with takeServable), 'round' when the caller must start a round at
   * its head (startRound), 'waiting' when a round in flight covers it, 'overloaded' when full.
   */
  want(height: number, payload: T): 'ready' | 'round' | 'waiting' | 'overloaded' {
    if (this.waiting.length >= this.bounds.waitingMax) return 'overloaded';
    this.waiting.push({ height, payload });
    if (this.latest && this.latest.height >= height) return 'ready';
    if (this.round && this.round.height >= height) return 'waiting';
    return this.round ? 'waiting' : 'round';
  }

  /** Starts a round for this node's head: signs it itself; the caller sends the sign requests. */
  startRound(height: number, hash: Uint8Array, header: Uint8Array, tick: number): void {
    assert(!this.round, 'Certifier.startRound: a round is in flight');
    const signature = this.signing.sign(headStatement(this.clusterId, height, hash));
    this.round = { height, hash, header, signatures: new Map([[this.self, signature]]), startedTick: tick };
    this.maybeComplete();
  }

  /** The round in flight, if any (to send its sign requests). */
  get roundHead(): { height: number; hash: Uint8Array } | undefined {
    return this.round ? { height: this.round.height, hash: this.round.hash } : undefined;
  }

  /**
   * A peer's signature. Counted only for the round in flight and only if it verifies under the
   * key genesis lists for the sender. Returns why it was not counted, or undefined.
   */
  onSignature(from: NodeId, height: number, hash: Uint8Array, signature: Uint8Array): string | undefined {
    const round = this.round;
    if (!round || round.height !== height || !bytesEqual(round.hash, hash)) return 'no round for that head';
    const key = this.keys.get(from);
    if (!key) return 'not a member';
    if (!this.signing.verify(key, headStatement(this.clusterId, height, hash), signature)) return 'signature does not verify';
    round.signatures.set(from, signature);
    this.maybeComplete();
    return undefined;
  }

  /**
   * The waiting answers a certificate now covers, with it; and whether answers are left that need
   * a new round (the caller starts one at its head).
   */
  takeServable(): { certificate: Certificate | undefined; served: T[]; needRound: boolean } {
    const latest = this.latest;
    const served: T[] = [];
    if (latest) {
      const left: Array<Waiting<T>> = [];
      for (const waiting of this.waiting) {
        if (waiting.height <= latest.height) served.push(waiting.payload);
        else left.push(waiting);
      }
      this.waiting = left;
    }
    return { certificate: latest, served, needRound: this.waiting.length > 0 && !this.round };
  }

  /** Ends a round past its lifetime; returns the answers that waited on it (they fail). */
  tick(tick: number): T[] {
    const round = this.round;
    if (!round || tick - round.startedTick < this.bounds.roundTimeoutTicks) return [];
    this.round = undefined;
    const failed = this.waiting.map((waiting) => waiting.payload);
    this.waiting = [];
    return failed;
  }

  /** Fails every waiting answer (this node stopped serving them, e.g. it lost the lead). */
  failAll(): T[] {
    const failed = this.waiting.map((waiting) => waiting.payload);
    this.waiting = [];
    this.round = undefined;
    return failed;
  }

  private maybeComplete(): void {
    const round = this.round;
    if (!round || round.signatures.size < this.majority) return;
    const signatures = [...round.signatures].sort(([a], [b]) => a - b).map(([node, signature]) => ({ node, signature }));
    this.latest = { height: round.height, hash: round.hash, header: round.header, signatures };
    this.round = undefined;
  }
}
