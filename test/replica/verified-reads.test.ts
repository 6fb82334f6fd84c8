// Signed heads in the replica (src/replica/certify.ts, verified-reads.ts), driven by hand: a
// member signs only blocks its own chain holds, a signature counts only if it verifies under the
// key genesis lists for its sender, a majority completes a round that serves every read waiting on
// it, and a round without a majority fails its reads in time. Verified writes ride the same rounds,
// captured at the block that applied them.
import { describe, expect, it } from 'vitest';
import { encodeBatchBody } from '../../src/chain/body.js';
import { type Command, OP_PUT, ResultCode } from '../../src/kv/command.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { headStatement } from '../../src/ledger/signing.js';
import { type TrustState, verifyAnswer, verifyWrite } from '../../src/ledger/verified.js';
import { utf8 } from '../../src/lib/bytes.js';
import { fastEd25519Signer, fastEd25519Verifier } from '../../src/native/ed25519.js';
import { fastSha256 } from '../../src/native/sha256.js';
import type { HeadSigning } from '../../src/replica/certify.js';
import type { HeadSignatureMessage, Message } from '../../src/replica/messages.js';
import { VerifiedReads } from '../../src/replica/verified-reads.js';
import { bytes } from '../helpers.js';
import { type TestKey, testKeys } from '../ledger/signing-fixtures.js';

const keys = testKeys(7, 3);
const signingOf = (key: TestKey): HeadSigning => ({ sign: fastEd25519Signer(key.secretKey, key.publicKey), verify: (publicKey, statement, signature) => fastEd25519Verifier.verify(publicKey, statement, signature) });

function ledgerWith(blocks: number): Ledger {
  const ledger = new Ledger(fastSha256);
  ledger.replay(0, Ledger.genesisRecord(fastSha256, { clusterId: 'certify', members: [1, 2, 3], dedupCapacity: 10, createdAtMs: 1, memberKeys: keys.map((key) => key.publicKey) }));
  for (let i = 0; i < blocks; i++) ledger.append(encodeBatchBody(i, [[OP_PUT, null, 0, `k${i}`, bytes(`v${i}`)]]));
  return ledger;
}

const bounds = { waitingMax: 4, roundTimeoutTicks: 10 };
const signatureOf = (messages: Message[]) => messages.find((message): message is HeadSignatureMessage => message.type === 'head-signature');

describe('signed heads in the replica', () => {
  it('a member signs a block its chain holds, waits for one above its head, and never signs another hash', () => {
    const ledger = ledgerWith(3);
    const peer = new VerifiedReads(2, signingOf(keys[1]!), bounds);
    const held = peer.onSignRequest(ledger, { type: 'sign-request', from: 1, to: 2, height: 2, hash: ledger.history.leaf(2) });
    const signature = signatureOf(held.messages)!;
    expect(fastEd25519Verifier.verify(keys[1]!.publicKey, headStatement(ledger.genesisHash!, 2, ledger.history.leaf(2)), signature.signature)).toBe(true);
    const other = peer.onSignRequest(ledger, { type: 'sign-request', from: 1, to: 2, height: 2, hash: new Uint8Array(32).fill(9) });
    expect(other.messages).toEqual([]);
    expect(other.ignored).toContain('another hash');
    const ahead = peer.onSignRequest(ledger, { type: 'sign-request', from: 1, to: 2, height: 4, hash: new Uint8Array(32) });
    expect(ahead.messages).toEqual([]);
    ledger.append(encodeBatchBody(9, []));
    expect(peer.afterAppend(ledger)).toEqual([]); // block 4 not yet held
    ledger.append(encodeBatchBody(10, []));
    // Block 4 is now held, but with another hash than asked: still no signature.
    expect(peer.afterAppend(ledger)).toEqual([]);
  });

  it('a majority of valid member signatures completes the round and serves every read waiting on it', () => {
    const leader = ledgerWith(4);
    const reads = new VerifiedReads(1, signingOf(keys[0]!), bounds);
    const first = reads.answer(leader, 100, 'k1', { genesis: true }, 0);
    expect(first.replies).toEqual([]);
    const requests = first.messages.filter((message) => message.type === 'sign-request');
    expect(requests.map((message) => message.to)).toEqual([2, 3]);
    const second = reads.answer(leader, 101, 'absent', { genesis: true }, 1);
    expect(second).toEqual({ messages: [], replies: [] }); // joins the round in flight
    // A signature by a key genesis does not list for node 3 is not counted.
    const head = leader.head!;
    const forged = fastEd25519Signer(testKeys(8, 1)[0]!.secretKey, testKeys(8, 1)[0]!.publicKey)(headStatement(leader.genesisHash!, head.height, head.hash));
    expect(reads.onSignature(leader, { type: 'head-signature', from: 3, to: 1, height: head.height, hash: head.hash, signature: forged }, 2).ignored).toContain('does not verify');
    const peer = new VerifiedReads(2, signingOf(keys[1]!), bounds);
    const signed = signatureOf(peer.onSignRequest(ledgerWith(4), requests[0] as never).messages)!;
    const served = reads.onSignature(leader, signed, 3);
    expect(served.replies.map((reply) => reply.requestId)).toEqual([100, 101]);
    const trust: TrustState = { genesisHash: leader.genesisHash!, members: undefined, head: undefined };
    for (const [reply, key, value] of [[served.replies[0]!, 'k1', bytes('v1')], [served.replies[1]!, 'absent', null]] as const) {
      if (!reply.ok || reply.kind !== 'read' || !reply.verified) throw new Error('not a verified read reply');
      expect(verifyAnswer(fastSha256, trust, utf8(key), reply.verified, reply.value, fastEd25519Verifier)).toMatchObject({ ok: true, value });
    }
  });

  it('a round without a majority fails its reads UNAVAILABLE after certifyRoundTicks; the queue is bounded', () => {
    const ledger = ledgerWith(2);
    const reads = new VerifiedReads(1, signingOf(keys[0]!), bounds);
    for (let id = 0; id < 4; id++) reads.answer(ledger, id, 'k0', { genesis: false }, 0);
    expect(reads.answer(ledger, 9, 'k0', { genesis: false }, 0).replies).toMatchObject([{ requestId: 9, ok: false, error: 'OVERLOADED' }]);
    expect(reads.tick(9)).toEqual([]);
    expect(reads.tick(10).map((reply) => reply.ok === false && reply.error)).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE']);
    expect(reads.waitingCount).toBe(0);
  });

  it('a verified write is proven at the block that applied it; one it cannot prove keeps its result and says why', () => {
    const ledger = ledgerWith(3);
    const writes = new VerifiedReads(1, signingOf(keys[0]!), bounds);
    const put: Command = { op: 'put', session: null, seq: 1, key: 'w', value: bytes('mine') };
    const h = ledger.append(encodeBatchBody(20, [[OP_PUT, null, 0, 'w', bytes('mine')]])).ref.height;
    const waiting = writes.answerWrite(ledger, 200, put, ResultCode.OK, h, { genesis: true }, 0);
    expect(waiting.replies).toEqual([]);
    // Another block moves the head on before the round completes: the proof stays at block h.
    ledger.append(encodeBatchBody(21, [[OP_PUT, null, 0, 'w', bytes('theirs')]]));
    const request = waiting.messages.find((message) => message.type === 'sign-request')!;
    const peerLedger = ledgerWith(3);
    peerLedger.append(encodeBatchBody(20, [[OP_PUT, null, 0, 'w', bytes('mine')]]));
    const signed = signatureOf(new VerifiedReads(2, signingOf(keys[1]!), bounds).onSignRequest(peerLedger, request as never).messages)!;
    const [reply] = writes.onSignature(ledger, signed, 1).replies;
    if (!reply?.ok || reply.kind !== 'write' || !reply.verified) throw new Error(`not a verified write reply: ${JSON.stringify(reply)}`);
    expect(reply).toMatchObject({ requestId: 200, result: ResultCode.OK, height: h });
    const trust: TrustState = { genesisHash: ledger.genesisHash!, members: undefined, head: undefined };
    const claim = { effect: { holds: 'value', value: bytes('mine') } as const, height: h, duplicate: false };
    expect(verifyWrite(fastSha256, trust, utf8('w'), reply.verified, claim, fastEd25519Verifier)).toMatchObject({ ok: true, height: h, value: bytes('mine') });

    // A later command of the same block wrote the key again: the state of that block cannot prove
    // this write, so it is answered with its result and the reason, not with a proof.
    const both = ledger.append(encodeBatchBody(22, [[OP_PUT, null, 0, 'z', bytes('first')], [OP_PUT, null, 0, 'z', bytes('second')]])).ref.height;
    const first: Command = { op: 'put', session: null, seq: 2, key: 'z', value: bytes('first') };
    expect(writes.answerWrite(ledger, 201, first, ResultCode.OK, both, { genesis: false }, 2).replies).toMatchObject([
      { requestId: 201, ok: true, kind: 'write', result: ResultCode.OK, height: both, unprovable: expect.stringContaining(`block ${both} wrote the key after`) },
    ]);
    // A round that gets no majority leaves its writes applied and unproven, not failed.
    writes.answerWrite(ledger, 202, { op: 'put', session: null, seq: 3, key: 'z', value: bytes('second') }, ResultCode.OK, both, { genesis: false }, 2);
    expect(writes.tick(2 + bounds.roundTimeoutTicks)).toMatchObject([{ requestId: 202, ok: true, kind: 'write', unprovable: expect.stringContaining('no majority') }]);
  });
});
