// Head certificates (src/ledger/signing.ts): a head is accepted only with valid signatures of a
// majority of the genesis members, over a statement that names the cluster, the height and the
// block hash. Every refusal reason, in the documented order, on honest and forged certificates.
import { readFileSync } from 'node:fs';
import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/lib/bytes.js';
import { pack, unpackSafe } from '../../src/lib/msgpack.js';
import { limits } from '../../src/lib/limits.js';
import { Prng } from '../../src/lib/prng.js';
import {
  type CertificateVerdict,
  decodeHeadCertificate,
  type Ed25519Verifier,
  encodeHeadCertificate,
  generateMemberKey,
  HEAD_CERTIFICATE_SIGNATURES_MAX,
  HEAD_STATEMENT_TAG,
  type HeadCertificate,
  headCertificateFromJson,
  headCertificateToJson,
  type HeadSignature,
  headStatement,
  isValidMemberPublicKey,
  type Member,
  memberPublicKey,
  nobleEd25519Verifier,
  signHead,
  verifyHeadCertificate,
} from '../../src/ledger/signing.js';
import { hex } from '../helpers.js';
import { nodeCryptoVerifier, randomBytes, type TestKey, testKeys } from './signing-fixtures.js';

const golden = JSON.parse(readFileSync(new URL('./signing-golden.json', import.meta.url), 'utf8'));
const unhex = (text: string): Uint8Array => fromHex(text)!;

const pool = testKeys(1, 9); // nodes 1..9
const outsiders = testKeys(2, 3); // nodes 1..3 again, other keys: "a key not in the list"
const seeded = new Prng(3);
const clusterA = randomBytes(seeded, 32);
const clusterB = randomBytes(seeded, 32);

const membersOf = (keys: readonly TestKey[]): Member[] => keys.map(({ node, publicKey }) => ({ node, publicKey }));
const majority = (n: number): number => Math.floor(n / 2) + 1;

function certify(keys: readonly TestKey[], clusterId: Uint8Array, height: number, blockHash: Uint8Array): HeadSignature[] {
  const statement = headStatement(clusterId, height, blockHash);
  return keys.map(({ node, secretKey }) => ({ node, signature: signHead(secretKey, statement) }));
}

/** All subsets of `items` with exactly `size` elements, in order. */
function subsets<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  if (items.length < size) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, size - 1).map((subset) => [first!, ...subset]), ...subsets(rest, size)];
}

describe('golden vectors (produced with node:crypto, test/ledger/signing-golden.json)', () => {
  it('RFC 8032 test 1: the key derives and the signature verifies through noble', () => {
    const vector = golden.rfc8032Test1;
    expect(hex(memberPublicKey(unhex(vector.secretKey)))).toBe(vector.publicKey);
    expect(nobleEd25519Verifier.verify(unhex(vector.publicKey), new Uint8Array(0), unhex(vector.signature))).toBe(true);
  });

  for (const vector of golden.heads) {
    it(`head statement and signature at height ${vector.height} are byte-exact`, () => {
      const statement = headStatement(unhex(vector.clusterId), vector.height, unhex(vector.blockHash));
      expect(hex(statement)).toBe(vector.statement);
      const key = generateMemberKey(unhex(vector.secretKey));
      expect(hex(key.publicKey)).toBe(vector.publicKey);
      expect(hex(signHead(key.secretKey, statement))).toBe(vector.signature);
      const members = [{ node: vector.node, publicKey: key.publicKey }];
      const signatures = [{ node: vector.node, signature: unhex(vector.signature) }];
      expect(verifyHeadCertificate(members, unhex(vector.clusterId), vector.height, unhex(vector.blockHash), signatures)).toEqual({ ok: true, signers: [1] });
    });
  }
});

describe('headStatement, keys and signHead', () => {
  it('the statement is tag || clusterId || u64 BE height || blockHash, 88 bytes', () => {
    const blockHash = new Uint8Array(32).fill(0xbb);
    const statement = headStatement(clusterA, 0x01_0203_0405, blockHash);
    expect(statement.length).toBe(88);
    expect(hex(statement)).toBe(hex(HEAD_STATEMENT_TAG) + hex(clusterA) + '0000000102030405' + 'bb'.repeat(32));
    expect(new TextDecoder().decode(HEAD_STATEMENT_TAG)).toBe('paxchain/head/1\0');
  });

  it('headStatement refuses wrong lengths and heights with a TypeError', () => {
    const hash = new Uint8Array(32);
    expect(() => headStatement(new Uint8Array(31), 1, hash)).toThrow(TypeError);
    expect(() => headStatement(clusterA, -1, hash)).toThrow(TypeError);
    expect(() => headStatement(clusterA, 2 ** 53, hash)).toThrow(TypeError);
    expect(() => headStatement(clusterA, 1.5, hash)).toThrow(TypeError);
    expect(() => headStatement(clusterA, 1, new Uint8Array(33))).toThrow(TypeError);
  });

  it('generateMemberKey is a function of its 32 bytes and keeps no alias to them', () => {
    const seed = new Uint8Array(32).fill(9);
    const first = generateMemberKey(seed);
    seed[0] = 1;
    expect(hex(first.secretKey)).toBe('09'.repeat(32));
    expect(hex(generateMemberKey(new Uint8Array(32).fill(9)).publicKey)).toBe(hex(first.publicKey));
    expect(() => generateMemberKey(new Uint8Array(31))).toThrow(TypeError);
  });

  it('signHead signs head statements only, so a member key never signs anything else', () => {
    const { secretKey } = pool[0]!;
    expect(() => signHead(secretKey, new Uint8Array(88))).toThrow(TypeError); // no tag
    expect(() => signHead(secretKey, headStatement(clusterA, 1, new Uint8Array(32)).subarray(0, 87))).toThrow(TypeError);
    expect(() => signHead(new Uint8Array(64), headStatement(clusterA, 1, new Uint8Array(32)))).toThrow(TypeError);
  });

  it('isValidMemberPublicKey: real keys yes; small-order points, non-canonical encodings, wrong lengths no', () => {
    for (const key of pool) expect(isValidMemberPublicKey(key.publicKey)).toBe(true);
    for (const point of ED25519_TORSION_SUBGROUP) expect(isValidMemberPublicKey(unhex(point)), point).toBe(false);
    const nonCanonical = unhex('ed' + 'ff'.repeat(30) + '7f'); // y = p: reduces to y = 0
    expect(isValidMemberPublicKey(nonCanonical)).toBe(false);
    expect(isValidMemberPublicKey(pool[0]!.publicKey.subarray(0, 31))).toBe(false);
    expect(isValidMemberPublicKey('03a1')).toBe(false);
  });
});

describe('strict verification', () => {
  // Under the identity point as public key, (R = identity, S = 0) satisfies the verification
  // equation for every message. ZIP-215 and OpenSSL accept it; strict RFC 8032 (noble with
  // zip215: false) refuses small-order keys, and so does the member list check.
  const identity = unhex('01' + '00'.repeat(31));
  const universal = new Uint8Array([...identity, ...new Uint8Array(32)]);

  it('the default verifier refuses the small-order-key universal forgery (OpenSSL accepts it)', () => {
    const statement = headStatement(clusterA, 5, new Uint8Array(32));
    expect(nobleEd25519Verifier.verify(identity, statement, universal)).toBe(false);
    expect(nodeCryptoVerifier.verify(identity, statement, universal)).toBe(true);
  });

  it('a member list with a small-order key is a TypeError, whichever verifier is injected', () => {
    const members = [...membersOf(pool.slice(0, 2)), { node: 3, publicKey: identity }];
    const signatures = [{ node: 3, signature: universal }, ...certify(pool.slice(0, 1), clusterA, 5, new Uint8Array(32))];
    expect(() => verifyHeadCertificate(members, clusterA, 5, new Uint8Array(32), signatures, nodeCryptoVerifier)).toThrow(TypeError);
  });
});

describe('verifyHeadCertificate: honest certificates', () => {
  const blockHash = randomBytes(new Prng(4), 32);

  for (let n = 1; n <= 7; n++) {
    it(`${n} member(s): every subset of exactly ${majority(n)} signers is accepted, all ${n} too, ${majority(n) - 1} is NO_MAJORITY`, () => {
      const keys = pool.slice(0, n);
      const members = membersOf(keys);
      const all = certify(keys, clusterA, 1000 + n, blockHash);
      for (const subset of subsets(all, majority(n))) {
        const verdict = verifyHeadCertificate(members, clusterA, 1000 + n, blockHash, [...subset].reverse());
        expect(verdict).toEqual({ ok: true, signers: subset.map(({ node }) => node) });
      }
      expect(verifyHeadCertificate(members, clusterA, 1000 + n, blockHash, all)).toEqual({ ok: true, signers: keys.map(({ node }) => node) });
      const short = verifyHeadCertificate(members, clusterA, 1000 + n, blockHash, all.slice(0, majority(n) - 1));
      expect(short).toMatchObject({ ok: false, reason: 'NO_MAJORITY' });
    });
  }

  it('heights 0 and 2^53 - 1 certify like any other', () => {
    const members = membersOf(pool.slice(0, 3));
    for (const height of [0, 2 ** 53 - 1]) {
      const signatures = certify(pool.slice(0, 2), clusterA, height, blockHash);
      expect(verifyHeadCertificate(members, clusterA, height, blockHash, signatures)).toEqual({ ok: true, signers: [1, 2] });
    }
  });
});

describe('verifyHeadCertificate: each refusal, in the documented order', () => {
  const blockHash = new Uint8Array(32).fill(0x5a);
  const keys = pool.slice(0, 5);
  const members = membersOf(keys);
  const honest = certify(keys, clusterA, 77, blockHash);
  const check = (signatures: readonly unknown[], height: unknown = 77, hash: unknown = blockHash): CertificateVerdict =>
    verifyHeadCertificate(members, clusterA, height as number, hash as Uint8Array, signatures as HeadSignature[]);

  it('MALFORMED: wrong types, ranges and lengths, and more than the bound of signatures', () => {
    const first = honest[0]!;
    const malformed = [
      check([{ ...first, signature: first.signature.subarray(0, 63) }, ...honest.slice(1)]),
      check([{ ...first, signature: Array.from(first.signature) }, ...honest.slice(1)]),
      check([{ ...first, node: 0 }]),
      check([{ ...first, node: 256 }]),
      check([{ ...first, node: 1.5 }]),
      check([{ ...first, node: '1' }]),
      check([null]),
      check(honest, -1),
      check(honest, 2 ** 53),
      check(honest, 77, blockHash.subarray(1)),
      check('not a list' as unknown as unknown[]),
      check(Array.from({ length: HEAD_CERTIFICATE_SIGNATURES_MAX + 1 }, () => first)),
    ];
    for (const verdict of malformed) expect(verdict).toMatchObject({ ok: false, reason: 'MALFORMED' });
    expect(HEAD_CERTIFICATE_SIGNATURES_MAX).toBe(limits.membersMax);
  });

  it('DUPLICATE_SIGNER: the same node twice, even with both signatures valid, names the node', () => {
    expect(check([...honest, honest[2]!])).toMatchObject({ ok: false, reason: 'DUPLICATE_SIGNER', node: 3 });
  });

  it('UNKNOWN_SIGNER: a node id not in the member list, even with a valid signature of its own', () => {
    const stranger = certify(pool.slice(5, 6), clusterA, 77, blockHash); // node 6, a real key, not a member
    expect(check([...honest.slice(0, 3), ...stranger])).toMatchObject({ ok: false, reason: 'UNKNOWN_SIGNER', node: 6 });
  });

  it('BAD_SIGNATURE: one bad signature refuses a certificate that has a majority without it, and names the signer', () => {
    const forged = certify(outsiders.slice(1, 2), clusterA, 77, blockHash); // labelled node 2, not node 2's key
    const verdict = check([...honest.slice(2), ...forged]);
    expect(verdict).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE', node: 2 });
    expect(verdict.ok || verdict.message).toContain('node 2');
  });

  it('NO_MAJORITY: fewer than floor(n/2) + 1 valid signatures, none at all included', () => {
    expect(check(honest.slice(0, 2))).toMatchObject({ ok: false, reason: 'NO_MAJORITY' });
    expect(check([])).toMatchObject({ ok: false, reason: 'NO_MAJORITY' });
  });

  it('order: MALFORMED before DUPLICATE before UNKNOWN before BAD_SIGNATURE before NO_MAJORITY', () => {
    const bad = { node: 1, signature: new Uint8Array(64) };
    const unknown = { node: 9, signature: new Uint8Array(64) };
    expect(check([bad, unknown, bad, { node: 0, signature: bad.signature }])).toMatchObject({ reason: 'MALFORMED' });
    expect(check([bad, unknown, bad])).toMatchObject({ reason: 'DUPLICATE_SIGNER' });
    expect(check([bad, unknown])).toMatchObject({ reason: 'UNKNOWN_SIGNER' });
    expect(check([bad])).toMatchObject({ reason: 'BAD_SIGNATURE', node: 1 });
    expect(check(honest.slice(0, 1))).toMatchObject({ reason: 'NO_MAJORITY' });
  });

  it('structural refusals cost no signature verification; any certificate costs at most the bound', () => {
    let calls = 0;
    const counting: Ed25519Verifier = { name: 'counting', verify: (...args) => (calls++, nobleEd25519Verifier.verify(...args)) };
    const run = (signatures: HeadSignature[]): CertificateVerdict => verifyHeadCertificate(members, clusterA, 77, blockHash, signatures, counting);
    expect(run([...honest, honest[0]!])).toMatchObject({ reason: 'DUPLICATE_SIGNER' });
    expect(run([...honest, { node: 9, signature: new Uint8Array(64) }])).toMatchObject({ reason: 'UNKNOWN_SIGNER' });
    expect(calls).toBe(0);
    expect(run(honest)).toMatchObject({ ok: true });
    expect(calls).toBe(honest.length);
  });

  it('the member list and cluster id are the caller\'s own: a bad one is a TypeError', () => {
    const verify = (list: Member[], clusterId = clusterA) => () => verifyHeadCertificate(list, clusterId, 77, blockHash, honest);
    expect(verify([])).toThrow(TypeError);
    expect(verify(membersOf(pool).concat(membersOf(outsiders)))).toThrow(TypeError); // more than membersMax
    expect(verify([...members, members[0]!])).toThrow(TypeError); // node listed twice
    expect(verify([...members, { node: 9, publicKey: members[0]!.publicKey }])).toThrow(TypeError); // one key, two votes
    expect(verify([{ node: 1, publicKey: new Uint8Array(31) }])).toThrow(TypeError);
    expect(verify(members, new Uint8Array(16))).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized forgeries from a seeded PRNG: every one refused, with the reason its kind predicts.

interface Head {
  readonly height: number;
  readonly blockHash: Uint8Array;
  /** Signatures of every pool key over this head, for cluster A and for cluster B, by node. */
  readonly signaturesA: Map<number, Uint8Array>;
  readonly signaturesB: Map<number, Uint8Array>;
  /** Signatures of the outsider keys (nodes 1..3, keys not in the pool) for cluster A. */
  readonly outsiderA: Map<number, Uint8Array>;
}

interface Forgery {
  readonly kind: string;
  readonly members: Member[];
  readonly clusterId: Uint8Array;
  readonly height: number;
  readonly blockHash: Uint8Array;
  readonly signatures: unknown[];
  readonly expected: { reason: string; node?: number };
}

function signedHead(prng: Prng): Head {
  const height = prng.nextInt(2 ** 21) * 2 ** 32 + prng.nextU32();
  const blockHash = randomBytes(prng, 32);
  const byNode = (keys: readonly TestKey[], clusterId: Uint8Array) => new Map(certify(keys, clusterId, height, blockHash).map(({ node, signature }) => [node, signature]));
  return { height, blockHash, signaturesA: byNode(pool, clusterA), signaturesB: byNode(pool, clusterB), outsiderA: byNode(outsiders, clusterA) };
}

const flipBit = (bytes: Uint8Array, bit: number): Uint8Array => {
  const copy = bytes.slice();
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
};
const flipHeightBit = (height: number, bit: number): number => Number(BigInt(height) ^ (1n << BigInt(bit)));

/** Fisher-Yates with the seeded PRNG. */
function shuffled<T>(prng: Prng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.nextInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const MALFORMATIONS: Array<(signatures: HeadSignature[], prng: Prng) => { signatures: unknown[]; height?: number; blockHash?: Uint8Array }> = [
  (s, prng) => ({ signatures: s.map((entry, i) => (i === 0 ? { ...entry, signature: entry.signature.subarray(0, prng.nextInt(64)) } : entry)) }),
  (s, prng) => ({ signatures: [...s, { node: s[0]!.node, signature: randomBytes(prng, 65) }] }),
  (s, prng) => ({ signatures: [{ node: prng.pick([0, -1, 256, 1.5, NaN, '2', null]), signature: s[0]!.signature }, ...s.slice(1)] }),
  (s) => ({ signatures: [...s.slice(1), 'entry'] }),
  (s, prng) => ({ signatures: s, height: prng.pick([-1, 2 ** 53, 0.5]) }),
  (s, prng) => ({ signatures: s, blockHash: randomBytes(prng, prng.pick([0, 31, 33, 64])) }),
  (s) => ({ signatures: Array.from({ length: HEAD_CERTIFICATE_SIGNATURES_MAX + 1 }, (_, i) => s[i % s.length]) }),
];

/** One forgery: a random cluster of 1..7 of the pool, an honest certificate, then one change. */
function forge(prng: Prng, heads: readonly Head[]): Forgery {
  const n = prng.between(1, 7);
  const keys = shuffled(prng, pool).slice(0, n).sort((a, b) => a.node - b.node);
  const members = membersOf(keys);
  const head = prng.pick(heads);
  const signers = shuffled(prng, keys).slice(0, prng.between(majority(n), n));
  const honest: HeadSignature[] = signers.map(({ node }) => ({ node, signature: head.signaturesA.get(node)! }));
  const base = { members, clusterId: clusterA, height: head.height, blockHash: head.blockHash, signatures: honest as unknown[] };
  const i = prng.nextInt(honest.length);
  const target = honest[i]!.node;
  const replace = (signature: Uint8Array): unknown[] => honest.map((entry, j) => (j === i ? { node: entry.node, signature } : entry));
  const badFirst = { reason: 'BAD_SIGNATURE', node: honest[0]!.node };
  const badTarget = { reason: 'BAD_SIGNATURE', node: target };
  const kinds: Record<string, () => Omit<Forgery, 'kind'>> = {
    'flip a signature bit': () => ({ ...base, signatures: replace(flipBit(honest[i]!.signature, prng.nextInt(512))), expected: badTarget }),
    'flip a height bit': () => ({ ...base, height: flipHeightBit(head.height, prng.nextInt(53)), expected: badFirst }),
    'flip a block hash bit': () => ({ ...base, blockHash: flipBit(head.blockHash, prng.nextInt(256)), expected: badFirst }),
    'flip a cluster id bit': () => ({ ...base, clusterId: flipBit(clusterA, prng.nextInt(256)), expected: badFirst }),
    "another cluster's certificate": () => ({ ...base, signatures: honest.map(({ node }) => ({ node, signature: head.signaturesB.get(node)! })), expected: badFirst }),
    'a key not in the list': () => ({ ...base, signatures: replace(head.outsiderA.get(prng.between(1, 3))!), expected: badTarget }),
    "another member's signature": () => {
      const other = prng.pick(pool.filter(({ node }) => node !== target)).node;
      return { ...base, signatures: replace(head.signaturesA.get(other)!), expected: badTarget };
    },
    'a signature of another head': () => {
      const older = heads.find((each) => each !== head)!;
      return { ...base, signatures: replace(older.signaturesA.get(target)!), expected: badTarget };
    },
    'a signer not in the list': () => {
      const strangers = [...pool.filter(({ node }) => !members.some((m) => m.node === node)).map(({ node }) => node), prng.between(10, 255)];
      const node = prng.pick(strangers);
      const signature = head.signaturesA.get(node) ?? randomBytes(prng, 64);
      const signatures: unknown[] = [...honest];
      signatures.splice(prng.nextInt(honest.length + 1), 0, { node, signature });
      return { ...base, signatures, expected: { reason: 'UNKNOWN_SIGNER', node } };
    },
    'a minority': () => ({ ...base, signatures: honest.slice(0, prng.nextInt(majority(n))), expected: { reason: 'NO_MAJORITY' } }),
    'a duplicate': () => {
      const signatures: unknown[] = [...honest];
      const copy = prng.chance(0.5) ? honest[i]! : { node: target, signature: flipBit(honest[i]!.signature, prng.nextInt(512)) };
      signatures.splice(prng.nextInt(honest.length + 1), 0, copy);
      return { ...base, signatures, expected: { reason: 'DUPLICATE_SIGNER', node: target } };
    },
    'a malformed field': () => ({ ...base, ...prng.pick(MALFORMATIONS)(honest, prng), expected: { reason: 'MALFORMED' } }),
  };
  const kind = prng.pick(Object.keys(kinds));
  return { ...kinds[kind]!(), kind };
}

const FORGERIES = 1200;

describe('verifyHeadCertificate: randomized forgeries (seed 12)', () => {
  const prng = new Prng(12);
  const heads = Array.from({ length: 8 }, () => signedHead(prng));
  const forgeries = Array.from({ length: FORGERIES }, () => forge(prng, heads));
  const judge = (forgery: Forgery, verifier: Ed25519Verifier): CertificateVerdict =>
    verifyHeadCertificate(forgery.members, forgery.clusterId, forgery.height, forgery.blockHash, forgery.signatures as HeadSignature[], verifier);

  it(`all ${FORGERIES} are refused with the reason (and node) their kind predicts; every kind is drawn often`, () => {
    const perKind = new Map<string, number>();
    for (const [index, forgery] of forgeries.entries()) {
      const verdict = judge(forgery, nobleEd25519Verifier);
      expect(verdict, `forgery ${index} (seed 12): ${forgery.kind}`).toMatchObject({ ok: false, ...forgery.expected });
      if (forgery.expected.node === undefined) expect(verdict).not.toHaveProperty('node');
      perKind.set(forgery.kind, (perKind.get(forgery.kind) ?? 0) + 1);
    }
    expect(perKind.size).toBe(12);
    for (const [kind, count] of perKind) expect(count, kind).toBeGreaterThanOrEqual(50);
  });

  it('the same certificates, un-forged, are accepted (the forgery is what is refused)', () => {
    for (const head of heads.slice(0, 3)) {
      for (let n = 1; n <= 7; n++) {
        const signatures = pool.slice(0, n).map(({ node }) => ({ node, signature: head.signaturesA.get(node)! }));
        expect(verifyHeadCertificate(membersOf(pool.slice(0, n)), clusterA, head.height, head.blockHash, signatures)).toMatchObject({ ok: true });
      }
    }
  });

  it('an injected node:crypto (OpenSSL) verifier gives the same verdict on every forgery', () => {
    for (const [index, forgery] of forgeries.entries()) {
      expect(judge(forgery, nodeCryptoVerifier), `forgery ${index}: ${forgery.kind}`).toEqual(judge(forgery, nobleEd25519Verifier));
    }
  });

  it('the verifier is really injected: one that accepts everything lets a flipped signature through', () => {
    const gullible: Ed25519Verifier = { name: 'gullible', verify: () => true };
    const forgery = forgeries.find(({ kind }) => kind === 'flip a signature bit')!;
    expect(judge(forgery, gullible)).toMatchObject({ ok: true });
  });
});

// ---------------------------------------------------------------------------------------------
// Encodings: msgpack on the wire, JSON (hex) in proof files.

describe('head certificate encodings', () => {
  const blockHash = randomBytes(new Prng(5), 32);
  const members = membersOf(pool.slice(0, 5));
  const certificate: HeadCertificate = { height: 2 ** 40 + 3, blockHash, signatures: certify(pool.slice(0, 3), clusterA, 2 ** 40 + 3, blockHash).reverse() };
  const viaWire = (value: HeadCertificate): HeadCertificate | string => {
    const decoded = unpackSafe(pack(encodeHeadCertificate(value)));
    return decoded.ok ? decodeHeadCertificate(decoded.value) : decoded.error;
  };
  const viaJson = (value: HeadCertificate): HeadCertificate | string => headCertificateFromJson(JSON.parse(JSON.stringify(headCertificateToJson(value))));
  const sortedNodes = (value: HeadCertificate | string) => (typeof value === 'string' ? value : value.signatures.map(({ node }) => node));

  for (const [form, roundTrip] of [['msgpack', viaWire], ['JSON', viaJson]] as const) {
    it(`${form}: round trip keeps every byte, sorts signatures by node, and the result still verifies`, () => {
      const decoded = roundTrip(certificate);
      if (typeof decoded === 'string') throw new Error(decoded);
      expect(decoded.height).toBe(certificate.height);
      expect(hex(decoded.blockHash)).toBe(hex(blockHash));
      expect(sortedNodes(decoded)).toEqual([1, 2, 3]);
      const signatureOf = (value: HeadCertificate, node: number) => hex(value.signatures.find((entry) => entry.node === node)!.signature);
      for (const node of [1, 2, 3]) expect(signatureOf(decoded, node)).toBe(signatureOf(certificate, node));
      expect(verifyHeadCertificate(members, clusterA, decoded.height, decoded.blockHash, decoded.signatures)).toEqual({ ok: true, signers: [1, 2, 3] });
      expect(roundTrip({ ...certificate, signatures: [] })).toMatchObject({ signatures: [] });
    });
  }

  it('the JSON form is exactly the documented one', () => {
    const json = headCertificateToJson({ height: 7, blockHash: new Uint8Array(32).fill(1), signatures: [{ node: 2, signature: new Uint8Array(64).fill(2) }] });
    expect(json).toEqual({ format: 'paxchain-head-certificate', version: 1, height: 7, blockHash: '01'.repeat(32), signatures: [{ node: 2, signature: '02'.repeat(64) }] });
  });

  it('the wire decoder copies bytes, so the frame it came from may be reused', () => {
    const wire = encodeHeadCertificate(certificate);
    const decoded = decodeHeadCertificate(wire) as HeadCertificate;
    wire.blockHash.fill(0);
    wire.signatures[0]!.signature.fill(0);
    expect(verifyHeadCertificate(members, clusterA, decoded.height, decoded.blockHash, decoded.signatures)).toMatchObject({ ok: true });
  });

  it('encoders refuse a malformed certificate with a TypeError', () => {
    expect(() => encodeHeadCertificate({ ...certificate, height: -1 })).toThrow(TypeError);
    expect(() => headCertificateToJson({ ...certificate, blockHash: new Uint8Array(3) })).toThrow(TypeError);
  });
});

describe('head certificate decoders: a reason, never an exception', () => {
  const json = headCertificateToJson({ height: 9, blockHash: new Uint8Array(32), signatures: [{ node: 1, signature: new Uint8Array(64) }] });
  const wire = encodeHeadCertificate({ height: 9, blockHash: new Uint8Array(32), signatures: [{ node: 1, signature: new Uint8Array(64) }] });

  it('each field is checked: format, version, height, hash, signature count, entry shape, hex, unknown fields', () => {
    const signature = json.signatures[0]!;
    const bad: Array<[unknown, string]> = [
      [null, 'not an object'],
      [[json], 'not an object'],
      [{ ...json, format: 'paxchain-members' }, 'format'],
      [{ ...json, version: 2 }, 'unknown version 2'],
      [{ ...json, height: '9' }, 'height'],
      [{ ...json, height: 2 ** 53 }, 'height'],
      [{ ...json, blockHash: 'zz'.repeat(32) }, 'blockHash'],
      [{ ...json, blockHash: '00'.repeat(31) }, 'blockHash'],
      [{ ...json, signatures: {} }, 'not an array'],
      [{ ...json, signatures: Array.from({ length: HEAD_CERTIFICATE_SIGNATURES_MAX + 1 }, () => signature) }, 'more than'],
      [{ ...json, signatures: [{ ...signature, signature: signature.signature.slice(2) }] }, '64 bytes'],
      [{ ...json, signatures: [{ ...signature, node: 0 }] }, 'node 0'],
      [{ ...json, signatures: [{ node: 1 }] }, 'no "signature"'],
      [{ ...json, signatures: [{ ...signature, weight: 2 }] }, 'unknown field "weight"'],
      [{ ...json, clusterId: '00'.repeat(32) }, 'unknown field "clusterId"'],
      [(({ height: _height, ...rest }) => rest)(json), 'no "height"'],
    ];
    for (const [value, reason] of bad) expect(headCertificateFromJson(value), JSON.stringify(value)).toContain(reason);
    expect(decodeHeadCertificate({ ...wire, blockHash: '00'.repeat(32) })).toContain('blockHash');
    expect(decodeHeadCertificate({ ...wire, signatures: [{ node: 1, signature: '00'.repeat(64) }] })).toContain('64 bytes');
    expect(decodeHeadCertificate({ ...wire, format: 'paxchain-head-certificate' })).toContain('unknown field "format"');
    expect(decodeHeadCertificate(json)).toEqual(expect.any(String));
  });

  it('500 random mutations of valid encodings: decoders return a certificate or a reason, and never throw', () => {
    const prng = new Prng(21);
    const junk = (): unknown => prng.pick([null, 0, -1, 1.5, 2 ** 60, '', 'ab', [], {}, new Uint8Array(prng.nextInt(70)), true]);
    const mutate = (value: unknown, depth: number): unknown => {
      if (depth > 3 || prng.chance(0.25)) return junk();
      if (Array.isArray(value)) return value.map((item) => (prng.chance(0.5) ? mutate(item, depth + 1) : item));
      if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) {
        const entries = Object.entries(value).map(([key, item]) => [key, prng.chance(0.4) ? mutate(item, depth + 1) : item]);
        if (prng.chance(0.2)) entries.push(['extra', junk()]);
        return Object.fromEntries(prng.chance(0.2) ? entries.slice(1) : entries);
      }
      return junk();
    };
    for (let i = 0; i < 500; i++) {
      for (const [decode, valid] of [[headCertificateFromJson, json], [decodeHeadCertificate, wire]] as const) {
        const result = decode(mutate(valid, 0));
        expect(typeof result === 'string' || (typeof result === 'object' && result.blockHash.length === 32)).toBe(true);
      }
    }
  });
});
