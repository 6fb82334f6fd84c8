/**
 * `paxchain chain audit`: every chain, link by link, across nodes.
 *
 * Sources are running nodes (--endpoints; their stored headers are read over the client
 * protocol) and stopped nodes' data directories (--data, repeatable). For every source the audit
 * reads the headers from genesis to the head in bounded chunks, hashes them itself (it trusts no
 * hash a node reports), checks that each header names its own height and links to the previous
 * block, and compares the sources height by height. It reports, per source, its height, head hash
 * and lag; whether all chains agree on their common prefix; and for a fork the first divergent
 * height with each side's block hash. It also checks the newest head certificate each source
 * holds: signed by a majority of the member keys genesis lists, for a block of that source's chain.
 */
import { bytesEqual, readU64, toHex } from '../lib/bytes.js';
import { SHA256_BYTES } from '../lib/sha256.js';
import { BLOCK_FORMAT_VERSION, BODY_HASH_OFFSET, HEADER_BYTES, HEIGHT_OFFSET, PREV_HASH_OFFSET, ZERO_HASH } from '../chain/block.js';
import { PaxchainClient, parseEndpoints } from '../client/client.js';
import { hashHeaders } from '../chain/hash-batch.js';
import { fastSha256 } from '../native/sha256.js';
import { majority } from '../paxos/quorum.js';
import type { ChainStore } from '../storage/chain-store.js';
import { openDataDir } from '../storage/data-dir.js';
import { HASHES_PER_REQUEST_MAX } from '../transport/protocol.js';
import { type HeadCertificate, headCertificateFromJson } from '../ledger/signing.js';
import { type CertificateCheck, checkChainCertificate } from '../ledger/verified.js';
import { fastEd25519Verifier } from '../native/ed25519.js';
import { readCertificate } from '../storage/acceptor-store.js';

/** Heights audited per step: one bounded request per source. */
const AUDIT_CHUNK = 4096;

export interface AuditSourceReport {
  readonly source: string;
  readonly kind: 'node' | 'data';
  readonly reachable: boolean;
  readonly error?: string;
  readonly height: number | null;
  readonly headHash: string | null;
  readonly lag: number | null;
  /** First height where this source's own chain does not link up, if any. */
  readonly brokenAt: { readonly height: number; readonly reason: string } | null;
  /** Its newest head certificate, checked (null: it holds none, or it was not reachable). */
  readonly certificate?: CertificateCheck | null;
}

export interface Fork {
  readonly height: number;
  /** Each side: the block hash at the fork height and the sources holding it. */
  readonly sides: ReadonlyArray<{ readonly hash: string; readonly sources: readonly string[] }>;
}

export interface AuditReport {
  readonly ok: boolean;
  readonly sources: AuditSourceReport[];
  /** Heights every reachable, intact source agrees on (0..commonPrefix), or -1. */
  readonly commonPrefix: number;
  readonly fork: Fork | null;
  readonly linksChecked: number;
  readonly problems: string[];
}

interface Source {
  readonly name: string;
  readonly kind: 'node' | 'data';
  head: number;
  headHash: string | null;
  headers(from: number, to: number): Promise<Uint8Array[]>;
  /** Block 0's record (the member keys), if held. */
  genesis(): Promise<Uint8Array | undefined>;
  /** The newest head certificate held, or why the stored one is unreadable. */
  certificate(): Promise<HeadCertificate | undefined | string>;
  close(): Promise<void>;
}

async function nodeSource(client: PaxchainClient, endpoint: string): Promise<Source> {
  const status = await client.status(endpoint);
  return {
    name: endpoint,
    kind: 'node',
    head: status.head?.height ?? -1,
    headHash: status.head?.hash ?? null,
    async headers(from, to) {
      const out: Uint8Array[] = [];
      for (let start = from; start <= to; start += HASHES_PER_REQUEST_MAX) {
        const end = Math.min(to, start + HASHES_PER_REQUEST_MAX - 1);
        const reply = await client.headers(start, end, endpoint);
        for (let i = 0; i * HEADER_BYTES < reply.headers.length; i++) out.push(reply.headers.subarray(i * HEADER_BYTES, (i + 1) * HEADER_BYTES));
        if (end - start + 1 > reply.headers.length / HEADER_BYTES) break;
      }
      return out;
    },
    genesis: async () => (await client.blocks(0, 0, endpoint)).records[0],
    certificate: async () => (status.certificate ? headCertificateFromJson(status.certificate) : undefined),
    close: async () => undefined,
  };
}

async function dataSource(dir: string): Promise<Source> {
  const store: ChainStore = await openDataDir(dir, fastSha256, { create: false });
  return {
    name: dir,
    kind: 'data',
    head: store.head?.height ?? -1,
    headHash: store.head ? toHex(store.head.hash) : null,
    async headers(from, to) {
      // The header index holds every height (pruned bodies' too); a store without one has records.
      const out: Uint8Array[] = await store.headers(from, to);
      if (from + out.length > to) return out;
      for await (const chunk of store.records(from + out.length, to, 1024)) {
        for (let i = 0; i < chunk.records.length; i++) {
          if (chunk.heights[i] !== from + out.length) return out; // a gap: stop at the missing block
          out.push(chunk.records[i]!.subarray(0, HEADER_BYTES));
        }
      }
      return out;
    },
    genesis: () => store.getRecord(0),
    certificate: () => readCertificate(store),
    close: () => store.close(),
  };
}

/** A source's head certificate checked against genesis's keys and that source's own block at its height. */
async function checkSourceCertificate(source: Source): Promise<CertificateCheck | null> {
  const certificate = await source.certificate();
  if (certificate === undefined) return null;
  if (typeof certificate === 'string') return { ok: false, height: -1, blockHash: '', signers: [], reason: 'MALFORMED', message: certificate };
  const genesis = await source.genesis();
  if (!genesis) return { ok: false, height: certificate.height, blockHash: toHex(certificate.blockHash), signers: [], reason: 'NO_GENESIS', message: 'no genesis block to read the member keys from' };
  const [header] = certificate.height <= source.head ? await source.headers(certificate.height, certificate.height) : [];
  const blockHash = header ? hashHeaders(fastSha256, [header]).slice(0, 32) : undefined;
  return checkChainCertificate(fastSha256, genesis, certificate, blockHash, fastEd25519Verifier);
}

export async function audit(options: {
  readonly endpoints: readonly string[];
  readonly dataDirs: readonly string[];
  readonly timeoutMs: number;
  readonly onProgress?: (height: number, target: number) => void;
}): Promise<AuditReport> {
  const client = new PaxchainClient({ endpoints: options.endpoints.length > 0 ? options.endpoints : parseEndpoints(undefined), timeoutMs: options.timeoutMs });
  const reports = new Map<string, AuditSourceReport>();
  const sources: Source[] = [];
  const problems: string[] = [];
  try {
    for (const endpoint of options.endpoints) {
      try {
        sources.push(await nodeSource(client, endpoint));
      } catch (error) {
        reports.set(endpoint, { source: endpoint, kind: 'node', reachable: false, error: String((error as Error).message ?? error), height: null, headHash: null, lag: null, brokenAt: null });
      }
    }
    for (const dir of options.dataDirs) {
      try {
        sources.push(await dataSource(dir));
      } catch (error) {
        reports.set(dir, { source: dir, kind: 'data', reachable: false, error: String((error as Error).message ?? error), height: null, headHash: null, lag: null, brokenAt: null });
      }
    }
    const result = await compare(sources, options.onProgress);
    const maxHeight = Math.max(-1, ...sources.map((source) => source.head));
    for (const source of sources) {
      const certificate = await checkSourceCertificate(source).catch((error: Error) => ({ ok: false, height: -1, blockHash: '', signers: [], reason: 'UNREADABLE', message: error.message }));
      if (certificate && !certificate.ok) problems.push(`${source.name}: head certificate ${certificate.reason}: ${certificate.message}`);
      reports.set(source.name, {
        source: source.name,
        kind: source.kind,
        reachable: true,
        height: source.head,
        headHash: source.headHash,
        lag: maxHeight - source.head,
        brokenAt: result.broken.get(source.name) ?? null,
        certificate,
      });
    }
    const unreachableNodes = options.endpoints.filter((endpoint) => !reports.get(endpoint)?.reachable).length;
    if (options.endpoints.length > 0 && options.endpoints.length - unreachableNodes < majority(options.endpoints.length)) {
      problems.push(`only ${options.endpoints.length - unreachableNodes} of ${options.endpoints.length} nodes reachable: no majority`);
    }
    if (result.fork) problems.push(`chains fork at height ${result.fork.height}`);
    for (const [name, broken] of result.broken) problems.push(`${name}: chain broken at height ${broken.height} (${broken.reason})`);
    if (sources.length === 0) problems.push('no source could be read');
    const ordered = [...options.endpoints, ...options.dataDirs].map((name) => reports.get(name)!).filter(Boolean);
    return { ok: problems.length === 0, sources: ordered, commonPrefix: result.commonPrefix, fork: result.fork, linksChecked: result.links, problems };
  } finally {
    await Promise.all(sources.map((source) => source.close().catch(() => undefined)));
    await client.close();
  }
}

async function compare(
  sources: Source[],
  onProgress?: (height: number, target: number) => void,
): Promise<{ commonPrefix: number; fork: Fork | null; broken: Map<string, { height: number; reason: string }>; links: number }> {
  const broken = new Map<string, { height: number; reason: string }>();
  const previous = new Map<string, Uint8Array>();
  let fork: Fork | null = null;
  let commonPrefix = -1;
  let links = 0;
  const target = Math.max(-1, ...sources.map((source) => source.head));
  for (let from = 0; from <= target; from += AUDIT_CHUNK) {
    const to = Math.min(target, from + AUDIT_CHUNK - 1);
    const active = sources.filter((source) => !broken.has(source.name) && source.head >= from);
    if (active.length === 0) break;
    const chunks = await Promise.all(active.map((source) => source.headers(from, Math.min(to, source.head))));
    const hashes = chunks.map((headers) => hashHeaders(fastSha256, headers));
    for (let height = from; height <= to; height++) {
      const seen = new Map<string, string[]>();
      active.forEach((source, index) => {
        if (broken.has(source.name) || height > source.head) return;
        const header = chunks[index]![height - from];
        const problem = header ? checkHeader(header, height, previous.get(source.name)) : 'block missing';
        if (problem) {
          broken.set(source.name, { height, reason: problem });
          return;
        }
        links++;
        const hash = hashes[index]!.subarray((height - from) * SHA256_BYTES, (height - from + 1) * SHA256_BYTES);
        previous.set(source.name, hash);
        const key = toHex(hash);
        seen.set(key, [...(seen.get(key) ?? []), source.name]);
      });
      if (seen.size > 1 && !fork) fork = { height, sides: [...seen].map(([hash, names]) => ({ hash, sources: names })) };
      if (seen.size === 1 && !fork && [...seen.values()][0]!.length === sources.filter((s) => !broken.has(s.name) && s.head >= height).length) commonPrefix = height;
    }
    onProgress?.(to, target);
  }
  return { commonPrefix, fork, broken, links };
}

function checkHeader(header: Uint8Array, height: number, previousHash: Uint8Array | undefined): string | undefined {
  if (header.length < HEADER_BYTES || header[0] !== BLOCK_FORMAT_VERSION) return 'bad header';
  if (readU64(header, HEIGHT_OFFSET) !== height) return `header says height ${readU64(header, HEIGHT_OFFSET)}`;
  const prev = header.subarray(PREV_HASH_OFFSET, BODY_HASH_OFFSET);
  if (!bytesEqual(prev, previousHash ?? ZERO_HASH)) return 'prevHash does not link to the block below';
  return undefined;
}
