/**
 * What the `chain` commands do against a stopped node's data directory. Results are plain
 * objects: the commands print them as JSON or as lines.
 */
import { bytesEqual, toHex } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { limits } from '../lib/limits.js';
import type { BlockRef } from '../chain/block.js';
import { decodeBody } from '../chain/body.js';
import { hashRecord, HEADER_BYTES } from '../chain/block.js';
import { fastSha256 } from '../native/sha256.js';
import { ChainStore } from '../storage/chain-store.js';
import { openDataDir } from '../storage/data-dir.js';
import { type BlockSource, type ReplayReport, replayStore } from '../storage/replay.js';
import { runPlan } from '../storage/plan.js';
import { verifyPrunedPlan } from '../host/restore.js';
import { withClient } from './client-ops.js';
import { RemoteBlockSource } from './remote-chain.js';
import type { ChainProblem, Ledger } from '../ledger/ledger.js';
import { type CertificateCheck, checkChainCertificate } from '../ledger/verified.js';
import { fastEd25519Verifier } from '../native/ed25519.js';
import { readCertificate } from '../storage/acceptor-store.js';
import { type BlockSummary, type CommandView, summarizeHeader, summarizeRecord, viewCommand } from './render.js';

export async function withStore<T>(dataDir: string, work: (store: ChainStore) => Promise<T>): Promise<T> {
  const store = await openDataDir(dataDir, fastSha256, { create: false });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Where a chain command reads: a stopped node's --data, or a running node (--endpoints). */
export interface ChainTarget {
  readonly data?: string;
  readonly endpoints?: string;
  readonly timeout?: number;
}

function describeTarget(target: ChainTarget, source: BlockSource): string {
  return target.data ?? (source instanceof RemoteBlockSource ? source.endpoint : 'node');
}

export async function withSource<T>(target: ChainTarget, work: (source: BlockSource) => Promise<T>): Promise<T> {
  if (target.data) return withStore(target.data, work);
  return withClient(target, async (client, endpoints) => work(await RemoteBlockSource.open(client, endpoints)));
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly dataDir: string;
  /** Blocks that checked out, genesis included. */
  readonly blocksVerified: number;
  readonly commands: number;
  readonly bytes: number;
  /** The verified head (last good block). */
  readonly verifiedHead: { height: number; hash: string } | null;
  /** The head pointer as stored. */
  readonly storedHead: { height: number; hash: string } | null;
  readonly stateRoot: string | null;
  readonly problem: ChainProblem | null;
  /** The newest head certificate the store holds, checked against genesis's keys and the chain (null: none). */
  readonly certificate: CertificateCheck | null;
  readonly seconds: number;
  readonly blocksPerSecond: number;
  /** Bodies 1..prunedBelow-1 were dropped by retention (0: none): the chain was checked by its headers up to a checkpoint. */
  readonly prunedBelow: number;
  /** On a pruned store: the checkpoint the state was loaded from (checked against its header's state root), replayed from there. */
  readonly checkpoint: number | null;
}

export async function verifyDataDir(
  dataDir: string,
  options: { expectHead?: BlockRef; onProgress?: (height: number, target: number) => void },
): Promise<VerifyResult> {
  return withStore(dataDir, async (store) => {
    const started = performance.now();
    let checkpoint: number | null = null;
    let report: ReplayReport;
    if (store.prunedBelow > 1 && store.head) {
      // Old bodies are gone: every header link, the checkpoint's state root, and the blocks after it.
      const pruned = await runPlan(verifyPrunedPlan(store.head, fastSha256, store.prunedBelow, options), store);
      checkpoint = pruned.checkpoint ?? null;
      report = pruned.report;
      if (pruned.unusable.length > 0 && report.problem?.reason === 'PRUNED') report = { ...report, problem: { ...report.problem, message: `${report.problem.message}; no usable checkpoint at ${store.prunedBelow - 1} or above: ${pruned.unusable.join('; ')}` } };
      const expected = options.expectHead;
      if (!report.problem && expected && expected.height <= (checkpoint ?? -1) && !bytesEqual(report.ledger.history.leaf(expected.height), expected.hash)) {
        report = { ...report, problem: { height: expected.height, reason: 'EXPECTED_HEAD_MISMATCH', message: `header ${expected.height} hashes to ${toHex(report.ledger.history.leaf(expected.height)).slice(0, 16)}, expected ${toHex(expected.hash).slice(0, 16)}` } };
      }
    } else {
      report = await replayStore(store, fastSha256, { expectHead: options.expectHead, onProgress: options.onProgress });
    }
    const seconds = (performance.now() - started) / 1000;
    const head = report.ledger.head;
    const certificate = await storedCertificate(store, report.ledger);
    return {
      ok: report.problem === undefined && (certificate === null || certificate.ok),
      dataDir,
      blocksVerified: report.blocks,
      commands: report.commands,
      bytes: report.bytes,
      verifiedHead: head ? { height: head.height, hash: toHex(head.hash) } : null,
      storedHead: report.storedHead ? { height: report.storedHead.height, hash: toHex(report.storedHead.hash) } : null,
      stateRoot: report.ledger.hasGenesis ? toHex(report.ledger.state.root()) : null,
      problem: report.problem ?? null,
      certificate,
      seconds,
      blocksPerSecond: seconds > 0 ? Math.round(report.blocks / seconds) : 0,
      prunedBelow: store.prunedBelow,
      checkpoint,
    };
  });
}

/** The store's head certificate checked against the replayed chain (blocks up to its verified head). */
async function storedCertificate(store: ChainStore, ledger: Ledger): Promise<CertificateCheck | null> {
  const stored = await readCertificate(store);
  if (stored === undefined || !ledger.genesisRecord) return null;
  if (typeof stored === 'string') return { ok: false, height: -1, blockHash: '', signers: [], reason: 'MALFORMED', message: stored };
  const head = ledger.head;
  const blockHash = head && stored.height <= head.height ? ledger.history.leaf(stored.height) : undefined;
  return checkChainCertificate(fastSha256, ledger.genesisRecord, stored, blockHash, fastEd25519Verifier);
}

async function requireRecord(store: BlockSource, height: number): Promise<Uint8Array> {
  const record = await store.getRecord(height);
  if (record === undefined && height >= 1 && height < (store.prunedBelow ?? 0)) {
    throw new PaxchainError(ErrorCode.PRUNED, `the body of block ${height} was pruned (this store keeps bodies from ${store.prunedBelow} up; its header is kept: \`chain list\` shows it)`, { height, oldestBody: store.prunedBelow });
  }
  if (record === undefined) {
    const head = store.head;
    throw new PaxchainError(ErrorCode.NOT_FOUND, `no block at height ${height} (head is ${head ? head.height : 'empty'})`, { height });
  }
  return record;
}

function summarize(record: Uint8Array, height: number): BlockSummary {
  const summary = summarizeRecord(record, hashRecord(fastSha256, record));
  if (typeof summary === 'string') throw new PaxchainError(ErrorCode.CORRUPT_DATA, `block ${height}: ${summary}`, { height });
  return summary;
}

export interface HeadResult extends BlockSummary {
  readonly genesisHash: string;
  readonly clusterId: string;
}

/**
 * The head pointer; undefined for an empty store. Blocks without a head pointer are CORRUPT_DATA
 * (reason NO_HEAD_POINTER), never "no blocks": that store is not empty, and a node started on it
 * rebuilds the pointer.
 */
async function storedHead(target: ChainTarget, store: BlockSource): Promise<BlockRef | undefined> {
  if (store.head || (await store.getRecord(0)) === undefined) return store.head;
  const where = describeTarget(target, store);
  throw new PaxchainError(
    ErrorCode.CORRUPT_DATA,
    `${where} holds blocks but its head pointer is missing (NO_HEAD_POINTER); \`paxchain chain verify --data ${where}\` checks the blocks, and a node started on it rebuilds the pointer from them`,
    { reason: 'NO_HEAD_POINTER' },
  );
}

/** The head block as stored (not verified: run `chain verify` for that). */
export async function headOf(target: ChainTarget): Promise<HeadResult> {
  return withSource(target, async (store) => {
    const head = await storedHead(target, store);
    if (!head) throw new PaxchainError(ErrorCode.NOT_FOUND, `${describeTarget(target, store)} has no blocks`);
    const genesis = summarize(await requireRecord(store, 0), 0);
    const summary = summarize(await requireRecord(store, head.height), head.height);
    return { ...summary, genesisHash: genesis.hash, clusterId: genesis.clusterId ?? '' };
  });
}

export interface ShowResult {
  readonly block: BlockSummary;
  readonly commands: CommandView[];
  /** False when results were not computed (--no-results) or the chain below is broken. */
  readonly resultsVerified: boolean;
  readonly problem: ChainProblem | null;
}

/**
 * One block with its commands. With `results`, replays the chain up to `height` (verifying it)
 * to get each command's result, because results are derived state, not stored.
 */
export async function showBlock(
  target: ChainTarget,
  height: number,
  options: { results: boolean; onProgress?: (height: number, target: number) => void },
): Promise<ShowResult> {
  return withSource(target, async (store) => {
    const record = await requireRecord(store, height);
    const block = summarize(record, height);
    const body = decodeBody(record.subarray(HEADER_BYTES));
    const tuples = typeof body !== 'string' && body.kind === 'batch' ? body.commands : [];
    let results: readonly number[] | undefined;
    let problem: ChainProblem | null = null;
    if (options.results && height > 0) {
      const report = await replayStore(store, fastSha256, {
        upTo: height,
        onProgress: options.onProgress,
        onBlock: (at, _record, blockResults) => {
          if (at === height) results = blockResults;
        },
      });
      problem = report.problem && report.problem.height <= height ? report.problem : null;
      if (problem) results = undefined;
    }
    return {
      block,
      commands: tuples.map((tuple, i) => viewCommand(tuple, results?.[i])),
      resultsVerified: results !== undefined,
      problem,
    };
  });
}

export interface ListResult {
  readonly from: number;
  readonly to: number;
  readonly blocks: BlockSummary[];
}

/** Block summaries for heights [from, to], at most limits.listBlocksMax of them. */
export async function listBlocks(target: ChainTarget, range: { from?: number; to?: number }): Promise<ListResult> {
  if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
    throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `--from ${range.from} is above --to ${range.to}`);
  }
  return withSource(target, async (store) => {
    const head = await storedHead(target, store);
    if (!head) return { from: 0, to: -1, blocks: [] };
    const to = Math.min(range.to ?? head.height, head.height);
    const from = range.from ?? Math.max(0, to - 19);
    if (to - from + 1 > limits.listBlocksMax) {
      throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `at most ${limits.listBlocksMax} blocks per list; narrow --from/--to`);
    }
    const blocks: BlockSummary[] = [];
    // Blocks whose bodies retention dropped are listed from their headers (a stopped node's store).
    const prunedBelow = store.prunedBelow ?? 0;
    if (from < prunedBelow && store instanceof ChainStore) {
      const first = Math.max(1, from);
      if (from === 0) blocks.push(summarize(await requireRecord(store, 0), 0));
      const headers = await store.headers(first, Math.min(to, prunedBelow - 1));
      headers.forEach((header, i) => {
        const summary = summarizeHeader(header, hashRecord(fastSha256, header));
        if (typeof summary === 'string') throw new PaxchainError(ErrorCode.CORRUPT_DATA, `header ${first + i}: ${summary}`, { height: first + i });
        blocks.push(summary);
      });
    }
    for await (const chunk of store.records(Math.max(from, prunedBelow), to, 256)) {
      for (let i = 0; i < chunk.records.length; i++) blocks.push(summarize(chunk.records[i]!, chunk.heights[i]!));
    }
    return { from, to, blocks };
  });
}
