// The peer handshake (src/transport/handshake.ts) as pure functions: both sides prove they hold the
// cluster secret over both fresh nonces; anything else is refused with a reason.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  answerChallenge,
  answerHello,
  buildClientHello,
  buildPeerHello,
  checkCredentials,
  type ClusterCredentials,
  computeProof,
  NONCE_BYTES,
  NonceHistory,
  type PeerChallenge,
  type PeerHello,
  proofTags,
  randomNonce,
  readHello,
  verifyProof,
} from '../../src/transport/handshake.js';
import { credentials, WRONG_SECRET } from './helpers.js';

const nodeA = credentials(1);
const nodeB = credentials(2);
const peersOfB = [1, 3];

/** Runs A's Hello through B's checks; returns what each side holds afterwards. */
function helloToChallenge(connector: ClusterCredentials = nodeA, acceptor: ClusterCredentials = nodeB) {
  const nonceA = randomNonce();
  const nonceB = randomNonce();
  const read = readHello(buildPeerHello(connector, nonceA));
  if (!read.ok || read.value.kind !== 'peer') throw new Error('a well-formed Hello must be readable');
  const hello: PeerHello = read.value;
  const challenge = answerHello(acceptor, peersOfB, hello, nonceB);
  return { nonceA, nonceB, hello, challenge };
}

function challengeOf(result: ReturnType<typeof helloToChallenge>): PeerChallenge {
  if (!result.challenge.ok) throw new Error(`challenge refused: ${result.challenge.reason}`);
  return result.challenge.value;
}

describe('peer handshake', () => {
  it('succeeds both ways with the same secret and yields the connector id', () => {
    const exchange = helloToChallenge();
    const proof = answerChallenge(nodeA, 2, exchange.nonceA, challengeOf(exchange));
    expect(proof.ok).toBe(true);
    if (!proof.ok) return;
    expect(verifyProof(nodeB, exchange.hello, exchange.nonceB, proof.value)).toEqual({ ok: true, value: 1 });
  });

  it('the connector refuses a Challenge made with another secret', () => {
    const exchange = helloToChallenge(nodeA, { ...nodeB, secret: WRONG_SECRET });
    const proof = answerChallenge(nodeA, 2, exchange.nonceA, challengeOf(exchange));
    expect(proof.ok).toBe(false);
  });

  it('the acceptor refuses a Proof made with another secret (and accepts the same Proof made with the right one)', () => {
    const exchange = helloToChallenge();
    const proofWith = (secret: Uint8Array) => ({
      v: 1,
      kind: 'proof',
      proof: computeProof({ ...nodeA, secret }, proofTags.connect, 1, 2, exchange.nonceA, exchange.nonceB),
    });
    expect(verifyProof(nodeB, exchange.hello, exchange.nonceB, proofWith(WRONG_SECRET)).ok).toBe(false);
    expect(verifyProof(nodeB, exchange.hello, exchange.nonceB, proofWith(nodeA.secret)).ok).toBe(true);
  });

  it('refuses a Hello for another cluster id', () => {
    const exchange = helloToChallenge(credentials(1, { clusterId: 'other-cluster' }), nodeB);
    expect(exchange.challenge.ok).toBe(false);
  });

  it('refuses a Hello from a node that is not a peer, or that claims to be the acceptor', () => {
    expect(helloToChallenge(credentials(9), nodeB).challenge.ok).toBe(false);
    expect(helloToChallenge(credentials(2), nodeB).challenge.ok).toBe(false);
    expect(helloToChallenge(credentials(3), nodeB).challenge.ok).toBe(true);
  });

  it('the connector refuses a Challenge from a node other than the one it dialled', () => {
    const exchange = helloToChallenge();
    expect(answerChallenge(nodeA, 3, exchange.nonceA, challengeOf(exchange)).ok).toBe(false);
  });

  it('refuses short nonces in a Hello and in a Challenge', () => {
    const shortHello = { ...buildPeerHello(nodeA, randomNonce()), nonce: new Uint8Array(NONCE_BYTES - 1) };
    expect(readHello(shortHello).ok).toBe(false);
    const exchange = helloToChallenge();
    const shortChallenge = { ...challengeOf(exchange), nonce: new Uint8Array(16) };
    expect(answerChallenge(nodeA, 2, exchange.nonceA, shortChallenge).ok).toBe(false);
  });

  it("domain separation: the acceptor's proof sent back as the connector's proof is refused", () => {
    const exchange = helloToChallenge();
    const reflected = { v: 1, kind: 'proof', proof: challengeOf(exchange).proof };
    expect(verifyProof(nodeB, exchange.hello, exchange.nonceB, reflected).ok).toBe(false);
  });

  it('a Proof recorded in one handshake does not pass in a handshake with a fresh acceptor nonce', () => {
    const first = helloToChallenge();
    const proof = answerChallenge(nodeA, 2, first.nonceA, challengeOf(first));
    if (!proof.ok) throw new Error(proof.reason);
    expect(verifyProof(nodeB, first.hello, first.nonceB, proof.value).ok).toBe(true);
    expect(verifyProof(nodeB, first.hello, randomNonce(), proof.value).ok).toBe(false);
  });

  it('the connector refuses a Challenge that echoes its own nonce', () => {
    const exchange = helloToChallenge();
    expect(answerChallenge(nodeA, 2, exchange.nonceA, { ...challengeOf(exchange), nonce: exchange.nonceA }).ok).toBe(false);
  });

  it('proofs are HMAC-SHA256(secret, tag || u16 len || clusterId || u32 A || u32 B || nonceA || nonceB)', () => {
    const exchange = helloToChallenge();
    const fields = (tag: string) =>
      Buffer.concat([
        Buffer.from(tag, 'utf8'),
        Buffer.from([0, 12]),
        Buffer.from('test-cluster', 'utf8'),
        Buffer.from([0, 0, 0, 1, 0, 0, 0, 2]),
        exchange.nonceA,
        exchange.nonceB,
      ]);
    const reference = (tag: string) => createHmac('sha256', nodeA.secret).update(fields(tag)).digest();
    expect(Buffer.from(challengeOf(exchange).proof)).toEqual(reference('paxchain/peer-accept/1\0'));
    const proof = answerChallenge(nodeA, 2, exchange.nonceA, challengeOf(exchange));
    if (!proof.ok) throw new Error(proof.reason);
    expect(Buffer.from(proof.value.proof)).toEqual(reference('paxchain/peer-connect/1\0'));
  });

  it('readHello accepts the client Hello and refuses anything that is not a version 1 Hello', () => {
    expect(readHello(buildClientHello())).toEqual({ ok: true, value: { v: 1, kind: 'client' } });
    const refused = [null, 7, 'hello', [1, 'peer'], { v: 2, kind: 'client' }, { kind: 'client' }, { v: 1, kind: 'admin' }, { v: 1, kind: 'peer' }];
    for (const message of refused) expect(readHello(message).ok, JSON.stringify(message)).toBe(false);
  });

  it('NonceHistory refuses a nonce it has seen and forgets the oldest beyond its capacity', () => {
    const history = new NonceHistory(2);
    const [n1, n2, n3] = [randomNonce(), randomNonce(), randomNonce()];
    expect(history.remember(n1)).toBe(true);
    expect(history.remember(n1)).toBe(false);
    expect(history.remember(n2)).toBe(true);
    expect(history.remember(n3)).toBe(true);
    expect(history.remember(n1)).toBe(true);
    expect(history.remember(n3)).toBe(false);
  });

  it('unusable credentials are a TypeError (configuration mistake)', () => {
    expect(() => checkCredentials(credentials(1, { secret: new Uint8Array(8) }))).toThrow(TypeError);
    expect(() => checkCredentials(credentials(0))).toThrow(TypeError);
    expect(() => checkCredentials(credentials(1, { clusterId: '' }))).toThrow(TypeError);
    expect(() => checkCredentials(nodeA)).not.toThrow();
  });
});
