/**
 * Verified reads: answers a client can check without trusting this node (src/ledger/verified.ts
 * is the client's side), and this node's part in signing heads for other nodes' answers.
 *
 * A linearizable read with `verify` is served like any other (ReadIndex at the leader); when it is
 * served at head h, its proof is captured at once from the state at h (the state moves on) and it
 * waits for a certificate of some head H >= h (src/replica/certify.ts). The answer then carries
 * block h's header, the proof, the certificate, "block h is in H's history" and, if the client
 * said which head it trusts (m <= H), "block m is in H's history".
 *
 * As a peer, this node signs (height, hash) when asked only if its own chain holds that block; a
 * request for a height above its head waits (one per peer, the newest) until the block arrives.
 * The replica owns the ledger; every call here gets it and returns what to send and reply.
 */
import { bytesEqual, utf8 } from '../lib/bytes.js';
import type { NodeId } from '../paxos/ballot.js';
import type { Ledger } from '../ledger/ledger.js';
import { headStatement, type Member } from '../ledger/signing.js';
import type { VerifiedAnswer, VerifyRequest } from '../ledger/verified.js';
import type { KeyProof } from '../kv/state-proof.js';
import { Certifier, type HeadSigning } from './certify.js';
import type { HeadSignatureMessage, Message, SignRequestMessage } from './messages.js';
import type { ClientReply } from './ready.js';

interface Capture {
  readonly requestId: number;
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
}

export class VerifiedReads {
  private certifier: Certifier<Capture> | undefined;
  /** Peers' sign requests for blocks above our head, the newest per peer. */
  private readonly pendingSigns = new Map<NodeId, { height: number; hash: Uint8Array }>();

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
    const wanted = certifier.want(head.height, capture);
    if (wanted === 'overloaded') return refuse(requestId, 'OVERLOADED', 'too many verified reads waiting for a signed head');
    const messages: Message[] = wanted === 'round' ? this.startRound(ledger, certifier, tick) : [];
    const served = this.serve(ledger, certifier, tick);
    return { messages: [...messages, ...served.messages], replies: served.replies };
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

  /** Ends an expired round: its waiting reads fail UNAVAILABLE. */
  tick(tick: number): ClientReply[] {
    const failed = this.certifier?.tick(tick) ?? [];
    return failed.map((capture) => ({ requestId: capture.requestId, ok: false, error: 'UNAVAILABLE', message: `no majority signed head ${capture.height} in time`, leader: 0 }) as const);
  }

  /** This node stopped serving reads (it lost the lead): every waiting read fails. */
  failAll(why: string): ClientReply[] {
    const failed = this.certifier?.failAll() ?? [];
    return failed.map((capture) => ({ requestId: capture.requestId, ok: false, error: 'NOT_LEADER', message: why, leader: 0 }) as const);
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
        replies.push({ requestId: capture.requestId, ok: true, kind: 'read', value: capture.value, height: capture.height, hash: capture.hash, stale: false, verified });
      }
    }
    const messages = needRound ? this.startRound(ledger, certifier, tick) : [];
    if (needRound && !certifier.roundHead) {
      // A one-member round completes at once: serve what it covers.
      const next = this.serve(ledger, certifier, tick);
      return { messages: [...messages, ...next.messages], replies: [...replies, ...next.replies] };
    }
    return { messages, replies };
  }

  private sign(ledger: Ledger, to: NodeId, height: number, hash: Uint8Array): HeadSignatureMessage | undefined {
    const ours = ledger.history.leaf(height);
    if (!bytesEqual(ours, hash)) return undefined;
    const signature = this.signing!.sign(headStatement(ledger.genesisHash!, height, hash));
    return { type: 'head-signature', from: this.self, to, height, hash, signature };
  }
}

function refuse(requestId: number, error: 'NOT_READY' | 'OVERLOADED', message: string): Decisions {
  return { messages: [], replies: [{ requestId, ok: false, error, message, leader: 0 }] };
}
