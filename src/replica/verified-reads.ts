/**
 * Verified reads: answers a client can check without trusting this node (src/ledger/verified.ts
 * is the client's side), and this node's part in signing heads for other nodes' answers.
 *
 * A linearizable read with `verify` is served like any other (ReadIndex at the leader); when it is
 * served at head h, its proof is captured at once from the state at h (the state moves on) and it
 * waits for a certificate of some head H >= h (src/replica/certify.ts). The answer then carries
 * block h's header, the proof, the certificate, "block h is in H's history" and, if the client
 * said which head it trusts (m <= H), "block m is in H's history". A write with `verify` is
 * captured the same way right after the block that applied it (answerWrite): the written key's
 * proof at that block; a write whose proof cannot be had keeps its result and says why.
 *
 * As a peer, this node signs (height, hash) when asked only if its own chain holds that block; a
 * request for a height above its head waits (one per peer, the newest) until the block arrives.
 * The replica owns the ledger; every call here gets it and returns what to send and reply.
 */
import { bytesEqual, utf8 } from '../lib/bytes.js';
import type { NodeId } from '../paxos/ballot.js';
import type { Ledger } from '../ledger/ledger.js';
import { type HeadCertificate, headStatement, type Member } from '../ledger/signing.js';
import type { VerifiedAnswer, VerifyRequest } from '../ledger/verified.js';
import { type Command, effectHolds, writeEffect } from '../kv/command.js';
import type { KeyProof } from '../kv/state-proof.js';
import { Certifier, type HeadSigning } from './certify.js';
import type { HeadSignatureMessage, Message, SignRequestMessage } from './messages.js';
import type { ClientReply } from './ready.js';

interface Capture {
  readonly requestId: number;
  /** A verified write's result and block (the capture is of the state that block left). */
  readonly write?: { readonly result: number; readonly height: number };
  readonly value: Uint8Array | null;
  readonly height: number;
  readonly hash: Uint8Array;
  readonly header: Uint8Array;
  readonly proof: KeyProof;
  readonly verify: VerifyRequest;
}

export interface Decisions {
  readonly messages: Message[];
  readonly replies: ClientReply[];
  /** A certificate newer than any handed out before: for the store (Ready.certificate). */
  readonly certificate?: HeadCertificate;
}

export class VerifiedReads {
  private certifier: Certifier<Capture> | undefined;
  /** Peers' sign requests for blocks above our head, the newest per peer. */
  private readonly pendingSigns = new Map<NodeId, { height: number; hash: Uint8Array }>();
  /** Height of the newest certificate handed out for storing (-1: none yet). */
  private storedHeight = -1;
  /** Verified writes waiting for their block, by request id (at most bounds.waitingMax). */
  private readonly writes = new Map<number, { readonly command: Command; readonly verify: VerifyRequest }>();

  constructor(
    private readonly self: NodeId,
    private readonly signing: HeadSigning | undefined,
    private readonly bounds: { readonly waitingMax: number; readonly roundTimeoutTicks: number },
  ) {}

  /** Serves a verified read at the ledger's head (the caller checked it may: ReadIndex). */
  answer(ledger: Ledger, requestId: number, key: string, verify: VerifyRequest, tick: number): Decisions {
    const certifier = this.certifierFor(ledger);
    if (!certifier) return refuse(requestId, 'NOT_READY', 'this node cannot sign heads: its genesis lists no member keys or it has no member key');
    const head = ledger.head!;
    const value = ledger.state.get(key) ?? null;
    const capture: Capture = { requestId, value, height: head.height, hash: head.hash, header: ledger.headHeader!, proof: ledger.state.proveKey(utf8(key)), verify };
    return this.enqueue(ledger, certifier, capture, tick, () => refuse(requestId, 'OVERLOADED', 'too many verified reads waiting for a signed head'));
  }

  /** Waits `capture` for a certificate of its height or later (starting a round if none is due). */
  private enqueue(ledger: Ledger, certifier: Certifier<Capture>, capture: Capture, tick: number, overloaded: () => Decisions): Decisions {
    const wanted = certifier.want(capture.height, capture);
    if (wanted === 'overloaded') return overloaded();
    const messages: Message[] = wanted === 'round' ? this.startRound(ledger, certifier, tick) : [];
    const served = this.serve(ledger, certifier, tick);
    return { messages: [...messages, ...served.messages], replies: served.replies };
  }

  /**
   * Remembers that write `requestId` is a verified one (the caller admits it next); false when
   * bounds.waitingMax verified writes are already waiting: refuse it OVERLOADED.
   */
  trackWrite(requestId: number, command: Command, verify: VerifyRequest): boolean {
    if (this.writes.size >= this.bounds.waitingMax) return false;
    this.writes.set(requestId, { command, verify });
    return true;
  }

  /** Forgets a tracked write the caller did not admit after all. */
  untrackWrite(requestId: number): void {
    this.writes.delete(requestId);
  }

  /**
   * A write's reply from admission: as it is, or for a tracked verified write that succeeded, the
   * decisions of answerWrite (its proof, once a head is signed).
   */
  onWriteReply(ledger: Ledger, reply: ClientReply, tick: number): Decisions {
    const tracked = this.writes.get(reply.requestId);
    if (tracked) this.writes.delete(reply.requestId);
    if (!tracked || !reply.ok || reply.kind !== 'write') return { messages: [], replies: [reply] };
    return this.answerWrite(ledger, reply.requestId, tracked.command, reply.result, reply.height, tracked.verify, tick);
  }

  /**
   * Serves a verified write this node just answered (`result`, applied at block `height`): the
   * written key's proof from the state at the head, which is that block when the write was just
   * appended (a retry answered from the dedup table is proven at the head, later). Where the state
   * does not hold the write's effect (a later command of the same block wrote the key again, or a
   * retry's key changed since), or no certificate can be had, the write is answered unproven.
   */
  answerWrite(ledger: Ledger, requestId: number, command: Command, result: number, height: number, verify: VerifyRequest, tick: number): Decisions {
    const unproven = (why: string): Decisions => ({ messages: [], replies: [{ requestId, ok: true, kind: 'write', result, height, unprovable: why }] });
    const effect = writeEffect(command, result);
    if (effect === undefined || command.op === 'noop' || command.op === 'txn') return { messages: [], replies: [{ requestId, ok: true, kind: 'write', result, height }] };
    const certifier = this.certifierFor(ledger);
    if (!certifier) return unproven('this node cannot sign heads: its genesis lists no member keys or it has no member key');
    const head = ledger.head!;
    const value = ledger.state.get(command.key) ?? null;
    if (!effectHolds(effect, value)) {
      return unproven(head.height === height ? `another command of block ${height} wrote the key after this one` : `the key changed between block ${height} and the head ${head.height}`);
    }
    const capture: Capture = { requestId, write: { result, height }, value, height: head.height, hash: head.hash, header: ledger.headHeader!, proof: ledger.state.proveKey(utf8(command.key)), verify };
    return this.enqueue(ledger, certifier, capture, tick, () => unproven('too many verified answers waiting for a signed head'));
  }

  /** A peer's signature for the round in flight. */
  onSignature(ledger: Ledger, message: HeadSignatureMessage, tick: number): Decisions & { ignored?: string } {
    const certifier = this.certifier;
    if (!certifier) return { messages: [], replies: [], ignored: 'no round in flight' };
    const ignored = certifier.onSignature(message.from, message.height, message.hash, message.signature);
    if (ignored) return { messages: [], replies: [], ignored };
    return this.serve(ledger, certifier, tick);
  }

  /** A peer asks this node to sign a block: signed now if held, later if above the head, never if it differs. */
  onSignRequest(ledger: Ledger, message: SignRequestMessage): { messages: Message[]; ignored?: string } {
    if (!this.signing || !ledger.genesisHash) return { messages: [], ignored: 'this node has no member key or no chain' };
    const head = ledger.head!;
    if (message.height > head.height) {
      this.pendingSigns.set(message.from, { height: message.height, hash: message.hash });
      return { messages: [] };
    }
    const signed = this.sign(ledger, message.from, message.height, message.hash);
    return signed ? { messages: [signed] } : { messages: [], ignored: `our block ${message.height} has another hash` };
  }

  /** After blocks were appended: sign what peers asked for that we now hold. */
  afterAppend(ledger: Ledger): Message[] {
    if (this.pendingSigns.size === 0) return [];
    const head = ledger.head!;
    const messages: Message[] = [];
    for (const [peer, wanted] of this.pendingSigns) {
      if (wanted.height > head.height) continue;
      this.pendingSigns.delete(peer);
      const signed = this.sign(ledger, peer, wanted.height, wanted.hash);
      if (signed) messages.push(signed);
    }
    return messages;
  }

  /** Ends an expired round: its waiting reads fail UNAVAILABLE (its writes stand, unproven). */
  tick(tick: number): ClientReply[] {
    const failed = this.certifier?.tick(tick) ?? [];
    return failed.map((capture) => unsigned(capture, 'UNAVAILABLE', `no majority signed head ${capture.height} in time`));
  }

  /** This node stopped serving reads (it lost the lead): every waiting read fails (writes stand, unproven). */
  failAll(why: string): ClientReply[] {
    const failed = this.certifier?.failAll() ?? [];
    return failed.map((capture) => unsigned(capture, 'NOT_LEADER', why));
  }

  get waitingCount(): number {
    return this.certifier?.waitingCount ?? 0;
  }

  private certifierFor(ledger: Ledger): Certifier<Capture> | undefined {
    if (this.certifier) return this.certifier;
    const genesis = ledger.genesis;
    const keys = genesis?.memberKeys ?? [];
    if (!this.signing || !genesis || keys.length === 0 || !genesis.members.includes(this.self)) return undefined;
    const members: Member[] = genesis.members.map((node, i) => ({ node, publicKey: keys[i]! }));
    this.certifier = new Certifier(this.self, members, ledger.genesisHash!, this.signing, this.bounds);
    return this.certifier;
  }

  private startRound(ledger: Ledger, certifier: Certifier<Capture>, tick: number): Message[] {
    const head = ledger.head!;
    certifier.startRound(head.height, head.hash, ledger.headHeader!, tick);
    if (!certifier.roundHead) return [];
    return ledger.genesis!.members
      .filter((node) => node !== this.self)
      .map((to) => ({ type: 'sign-request', from: this.self, to, height: head.height, hash: head.hash }) as const);
  }

  /** Replies for every read the newest certificate covers; starts the next round if reads are left. */
  private serve(ledger: Ledger, certifier: Certifier<Capture>, tick: number): Decisions {
    const { certificate, served, needRound } = certifier.takeServable();
    const replies: ClientReply[] = [];
    if (certificate) {
      for (const capture of served) {
        const trustedHeight = capture.verify.trustedHeight;
        const verified: VerifiedAnswer = {
          header: capture.header,
          proof: capture.proof,
          certificate: { header: certificate.header, signatures: certificate.signatures },
          inclusion: capture.height < certificate.height ? ledger.history.inclusionProof(capture.height, certificate.height) : [],
          trusted: trustedHeight !== undefined && trustedHeight < certificate.height ? ledger.history.inclusionProof(trustedHeight, certificate.height) : null,
          genesis: capture.verify.genesis ? (ledger.genesisRecord ?? null) : null,
        };
        const write = capture.write;
        if (write) replies.push({ requestId: capture.requestId, ok: true, kind: 'write', result: write.result, height: write.height, verified });
        else replies.push({ requestId: capture.requestId, ok: true, kind: 'read', value: capture.value, height: capture.height, hash: capture.hash, stale: false, verified });
      }
    }
    const messages = needRound ? this.startRound(ledger, certifier, tick) : [];
    let stored: HeadCertificate | undefined;
    if (certificate && certificate.height > this.storedHeight) {
      this.storedHeight = certificate.height;
      stored = { height: certificate.height, blockHash: certificate.hash, signatures: certificate.signatures };
    }
    if (needRound && !certifier.roundHead) {
      // A one-member round completes at once: serve what it covers.
      const next = this.serve(ledger, certifier, tick);
      return { messages: [...messages, ...next.messages], replies: [...replies, ...next.replies], ...(next.certificate ?? stored ? { certificate: next.certificate ?? stored } : {}) };
    }
    return { messages, replies, ...(stored ? { certificate: stored } : {}) };
  }

  private sign(ledger: Ledger, to: NodeId, height: number, hash: Uint8Array): HeadSignatureMessage | undefined {
    const ours = ledger.history.leaf(height);
    if (!bytesEqual(ours, hash)) return undefined;
    const signature = this.signing!.sign(headStatement(ledger.genesisHash!, height, hash));
    return { type: 'head-signature', from: this.self, to, height, hash, signature };
  }
}

/** The reply to a capture whose certificate will not come: a read fails, a write stands unproven. */
function unsigned(capture: Capture, error: 'UNAVAILABLE' | 'NOT_LEADER', why: string): ClientReply {
  const write = capture.write;
  if (write) return { requestId: capture.requestId, ok: true, kind: 'write', result: write.result, height: write.height, unprovable: why };
  return { requestId: capture.requestId, ok: false, error, message: why, leader: 0 };
}

function refuse(requestId: number, error: 'NOT_READY' | 'OVERLOADED', message: string): Decisions {
  return { messages: [], replies: [{ requestId, ok: false, error, message, leader: 0 }] };
}
