/**
 * The ledger: a verified chain head plus the KV state it yields. Pure (no I/O): the node driver,
 * the offline tools and the simulator all build and replay blocks through this one class.
 *
 * Two ways in, same rules:
 * - append(body): a chosen Paxos value becomes the next block (the header is built here, when the
 *   block is appended, so its state root reflects this replica's execution);
 * - replay(record): a stored or fetched block is checked (height, link, body hash, body shape,
 *   history root, state root) before its commands change anything.
 *
 * The ledger also keeps the history tree over its block hashes (src/ledger/history.ts), whose
 * root before block h goes into block h's header, and the head's header bytes. The first failed check is returned as a
 *   ChainProblem with its height; the ledger is unchanged by a rejected block.
 */
import { assert } from '../lib/assert.js';
import { bytesEqual, equalAt, readU64, toHex } from '../lib/bytes.js';
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';
import {
  BLOCK_FORMAT_VERSION,
  BODY_HASH_OFFSET,
  type BlockRef,
  encodeRecord,
  hashBody,
  hashRecord,
  HEADER_BYTES,
  HEIGHT_OFFSET,
  HISTORY_ROOT_OFFSET,
  PREV_HASH_OFFSET,
  STATE_ROOT_OFFSET,
  ZERO_HASH,
} from '../chain/block.js';
import { BODY_KIND_GENESIS, bodyKind, decodeBody, encodeGenesisBody, type GenesisBody, type GenesisConfig, scanBatchBody, stateLimitsOf } from '../chain/body.js';
import { MsgpackCursor } from '../lib/msgpack-cursor.js';
import { emptyStateRoot, KvState, type KvStateOptions, type TxnOutput } from '../kv/state.js';
import { HistoryTree } from './history.js';

export type ProblemReason =
  | 'NO_GENESIS'
  | 'MISSING_BLOCK'
  | 'BAD_HEADER'
  | 'HEIGHT_MISMATCH'
  | 'PREV_HASH_MISMATCH'
  | 'BODY_HASH_MISMATCH'
  | 'MALFORMED_BODY'
  | 'BAD_GENESIS'
  | 'GENESIS_MISMATCH'
  | 'STATE_ROOT_MISMATCH'
  | 'HISTORY_ROOT_MISMATCH'
  | 'HEAD_MISMATCH'
  | 'BLOCK_AFTER_HEAD'
  /** Blocks are stored but the head pointer is gone (the blocks themselves may be intact). */
  | 'NO_HEAD_POINTER'
  | 'EXPECTED_HEAD_MISMATCH'
  /** A replay from genesis of a store whose old bodies were dropped by retention (not damage). */
  | 'PRUNED';

/** The first thing wrong with a chain: where and why. */
export interface ChainProblem {
  readonly height: number;
  readonly reason: ProblemReason;
  readonly message: string;
}

export interface AppendedBlock {
  readonly record: Uint8Array;
  readonly ref: BlockRef;
  /** One ResultCode (maybe | DUPLICATE_FLAG) per command of the body. */
  readonly results: number[];
  /** Where the body's commands start (so callers can walk them without scanning again). */
  readonly commandsOffset: number;
  /** What the block's txns read and deleted (for their replies), by command index. */
  readonly txnOutputs: readonly TxnOutput[];
}

/** Hashes for records computed ahead of time in a batch (src/chain/hash-batch.ts). */
export interface PrecomputedHashes {
  /** Block hash of record `index` at [32 index, 32 index + 32). */
  readonly blockHashes: Uint8Array;
  /** Body hash of record `index` at [32 index, 32 index + 32). */
  readonly bodyHashes: Uint8Array;
  readonly index: number;
}

export class Ledger {
  /** Head of the verified chain; undefined before genesis. */
  private headRef: BlockRef | undefined;
  private genesisBody: GenesisBody | undefined;
  private genesisBlockHash: Uint8Array | undefined;
  private kv: KvState | undefined;
  private readonly cursor = new MsgpackCursor();
  /** The history tree over the block hashes of heights 0 .. head. */
  readonly history: HistoryTree;
  private headHeaderBytes: Uint8Array | undefined;
  private genesisRecordBytes: Uint8Array | undefined;

  /** @param kvOptions options of the KV state created at genesis (e.g. its hash seed) */
  constructor(
    readonly sha256: Sha256,
    private readonly kvOptions: KvStateOptions = {},
    history?: HistoryTree,
  ) {
    this.history = history ?? new HistoryTree(sha256);
  }

  /**
   * The empty KV state a chain starts from, with the rules of its genesis (dedup capacity, limits):
   * what a checkpoint of that chain is loaded into. `genesisHash`: block 0's hash as the checked
   * header chain has it; the record must hash to it, and its body to the header's body hash.
   */
  static genesisState(sha256: Sha256, kvOptions: KvStateOptions, genesisRecord: Uint8Array, genesisHash: Uint8Array): { genesis: GenesisBody; state: KvState } | string {
    if (genesisRecord.length < HEADER_BYTES || !bytesEqual(hashRecord(sha256, genesisRecord), genesisHash)) return 'the genesis block does not hash to header 0';
    if (!hashAt(genesisRecord, BODY_HASH_OFFSET, hashBody(sha256, genesisRecord.subarray(HEADER_BYTES)), 0)) return 'the genesis body does not match its header';
    const decoded = decodeBody(genesisRecord.subarray(HEADER_BYTES));
    if (typeof decoded === 'string' || decoded.kind !== 'genesis') return 'block 0 is not a genesis block';
    const stateLimits = stateLimitsOf(decoded);
    return { genesis: decoded, state: new KvState(sha256, decoded.dedupCapacity, stateLimits ? { ...kvOptions, limits: stateLimits } : kvOptions) };
  }

  /**
   * A ledger resumed after block `header`'s height H from a checkpoint: `history` holds the checked
   * header chain's block hashes (src/ledger/header-chain.ts; cut back to 0..H here), `state` the
   * loaded checkpoint (from genesisState()). Its root must be header H's state root, and header H
   * must hash to the history's block H; otherwise returns why not. Blocks after H are then
   * replayed and verified as usual.
   */
  static resume(
    sha256: Sha256,
    kvOptions: KvStateOptions,
    genesisRecord: Uint8Array,
    genesis: GenesisBody,
    history: HistoryTree,
    header: Uint8Array,
    state: KvState,
  ): Ledger | string {
    if (header.length !== HEADER_BYTES) return 'not a header';
    const height = readU64(header, HEIGHT_OFFSET);
    if (height < 0 || height >= history.size) return `header ${height} is above the checked chain`;
    const hash = hashRecord(sha256, header);
    if (!bytesEqual(hash, history.leaf(height))) return `header ${height} is not the checked chain's block ${height}`;
    if (!state.rootEquals(header, STATE_ROOT_OFFSET)) return `the checkpoint's state root ${hexAt(state.root(), 0)} is not block ${height}'s ${hexAt(header, STATE_ROOT_OFFSET)}`;
    history.truncate(height + 1);
    const ledger = new Ledger(sha256, kvOptions, history);
    ledger.genesisBody = genesis;
    ledger.genesisBlockHash = history.leaf(0);
    ledger.genesisRecordBytes = genesisRecord.slice();
    ledger.kv = state;
    ledger.headRef = { height, hash };
    ledger.headHeaderBytes = header.slice();
    return ledger;
  }

  /** Builds the genesis record for a new cluster (height 0, no state yet). */
  static genesisRecord(sha256: Sha256, config: GenesisConfig): Uint8Array {
    const body = encodeGenesisBody(config);
    return encodeRecord(
      { version: BLOCK_FORMAT_VERSION, height: 0, prevHash: ZERO_HASH, bodyHash: hashBody(sha256, body), stateRoot: emptyStateRoot(sha256), historyRoot: new HistoryTree(sha256).root() },
      body,
    );
  }

  get head(): BlockRef | undefined {
    return this.headRef;
  }

  /** Height the next block will have (0 before genesis). */
  get nextHeight(): number {
    return this.headRef ? this.headRef.height + 1 : 0;
  }

  /** The options this ledger's KV states are made with (a checkpoint's state is made the same way). */
  get stateOptions(): KvStateOptions {
    return this.kvOptions;
  }

  get genesis(): GenesisBody | undefined {
    return this.genesisBody;
  }

  /** The genesis block's record as stored (what a client checks the pinned genesis hash against). */
  get genesisRecord(): Uint8Array | undefined {
    return this.genesisRecordBytes;
  }

  /** The head block's header (HEADER_BYTES), or undefined before genesis. */
  get headHeader(): Uint8Array | undefined {
    return this.headHeaderBytes;
  }

  /** The block hash of a record (its header), with this ledger's SHA-256. */
  blockHash(record: Uint8Array): Uint8Array {
    return hashRecord(this.sha256, record);
  }

  /** Hash of block 0, the cluster's identity (trust is pinned to it, never to a peer's word). */
  get genesisHash(): Uint8Array | undefined {
    return this.genesisBlockHash;
  }

  get state(): KvState {
    assert(this.kv, 'ledger has no state before genesis');
    return this.kv;
  }

  get hasGenesis(): boolean {
    return this.kv !== undefined;
  }

  /**
   * Appends a chosen batch body as the next block and returns it with its commands' results.
   * The body must be a well-formed batch (the proposer built it); anything else is an invariant
   * failure, because a chosen value cannot be taken back.
   */
  append(body: Uint8Array): AppendedBlock {
    const head = this.headRef;
    assert(head && this.kv, 'append before genesis');
    const scan = scanBatchBody(body, this.cursor);
    assert(typeof scan !== 'string', () => `append: chosen body is not a well-formed batch (${String(scan)})`);
    const height = head.height + 1;
    this.cursor.reset(body, scan.commandsOffset);
    const results = this.kv.applyCommands(this.cursor, scan.commandCount, height);
    const record = encodeRecord(
      {
        version: BLOCK_FORMAT_VERSION,
        height,
        prevHash: head.hash,
        bodyHash: hashBody(this.sha256, body),
        stateRoot: this.kv.root(),
        historyRoot: this.history.root(),
      },
      body,
    );
    const ref = { height, hash: hashRecord(this.sha256, record) };
    this.headRef = ref;
    this.history.append(ref.hash);
    this.headHeaderBytes = record.slice(0, HEADER_BYTES);
    return { record, ref, results, commandsOffset: scan.commandsOffset, txnOutputs: this.kv.lastTxnOutputs };
  }

  /**
   * Checks `record`, stored at `height`, against the head and applies it. Returns a problem and
   * leaves the ledger unchanged (except after STATE_ROOT_MISMATCH, see below) if a check fails.
   * `hashes` may be precomputed in a batch; otherwise they are computed here.
   *
   * A state root mismatch is only known after the commands ran, so the KV state has moved past
   * the head; the caller must stop using this ledger (verify and replay do: they report and end).
   */
  replay(height: number, record: Uint8Array, hashes?: PrecomputedHashes): { problem: ChainProblem } | { results: number[] } {
    const expected = this.nextHeight;
    if (height !== expected) {
      return problem(expected, 'MISSING_BLOCK', `block ${expected} is missing (next stored block is ${height})`);
    }
    if (record.length < HEADER_BYTES) return problem(height, 'BAD_HEADER', `record is ${record.length} bytes, shorter than a header`);
    if (record[0] !== BLOCK_FORMAT_VERSION) return problem(height, 'BAD_HEADER', `unknown block format version ${record[0]}`);
    const storedHeight = readU64(record, HEIGHT_OFFSET);
    if (storedHeight !== height) {
      return problem(height, 'HEIGHT_MISMATCH', `block stored at height ${height} says it is height ${storedHeight}`);
    }
    const prevHash = this.headRef ? this.headRef.hash : ZERO_HASH;
    if (!hashAt(record, PREV_HASH_OFFSET, prevHash, 0)) {
      return problem(height, 'PREV_HASH_MISMATCH', `prevHash ${hexAt(record, PREV_HASH_OFFSET)} does not match block ${height - 1} hash ${hexAt(prevHash, 0)}`);
    }
    let bodyHashes: Uint8Array;
    let hashIndex = 0;
    if (hashes) {
      bodyHashes = hashes.bodyHashes;
      hashIndex = hashes.index;
    } else {
      bodyHashes = hashBody(this.sha256, record.subarray(HEADER_BYTES));
    }
    if (!hashAt(record, BODY_HASH_OFFSET, bodyHashes, hashIndex * SHA256_BYTES)) {
      return problem(height, 'BODY_HASH_MISMATCH', `body hashes to ${hexAt(bodyHashes, hashIndex * SHA256_BYTES)}, header says ${hexAt(record, BODY_HASH_OFFSET)}`);
    }
    if (!hashAt(record, HISTORY_ROOT_OFFSET, this.history.root(), 0)) {
      return problem(height, 'HISTORY_ROOT_MISMATCH', `history root ${hexAt(record, HISTORY_ROOT_OFFSET)} is not the root over blocks 0..${height - 1}`);
    }
    let results: number[] = [];
    if (height === 0) {
      const decoded = decodeBody(record.subarray(HEADER_BYTES));
      if (typeof decoded === 'string') return problem(0, 'BAD_GENESIS', decoded);
      if (decoded.kind !== 'genesis') return problem(0, 'BAD_GENESIS', 'block 0 is not a genesis block');
      if (!hashAt(record, STATE_ROOT_OFFSET, emptyStateRoot(this.sha256), 0)) return problem(0, 'BAD_GENESIS', 'genesis state root is not the empty state\'s');
      this.genesisBody = decoded;
      const stateLimits = stateLimitsOf(decoded);
      this.kv = new KvState(this.sha256, decoded.dedupCapacity, stateLimits ? { ...this.kvOptions, limits: stateLimits } : this.kvOptions);
    } else {
      if (bodyKind(record, this.cursor, HEADER_BYTES) === BODY_KIND_GENESIS) {
        return problem(height, 'MALFORMED_BODY', `block ${height} has a genesis body`);
      }
      const scan = scanBatchBody(record, this.cursor, HEADER_BYTES);
      if (typeof scan === 'string') return problem(height, 'MALFORMED_BODY', scan);
      this.cursor.reset(record, scan.commandsOffset);
      results = this.kv!.applyCommands(this.cursor, scan.commandCount, height);
      if (!this.kv!.rootEquals(record, STATE_ROOT_OFFSET)) {
        const root = this.kv!.root();
        return problem(height, 'STATE_ROOT_MISMATCH', `state after block ${height} has root ${hexAt(root, 0)}, header says ${hexAt(record, STATE_ROOT_OFFSET)}`);
      }
    }
    const hash = hashes ? hashes.blockHashes.slice(hashes.index * SHA256_BYTES, (hashes.index + 1) * SHA256_BYTES) : hashRecord(this.sha256, record);
    if (height === 0) {
      this.genesisBlockHash = hash;
      this.genesisRecordBytes = record.slice();
    }
    this.headRef = { height, hash };
    this.history.append(hash);
    this.headHeaderBytes = record.slice(0, HEADER_BYTES);
    return { results };
  }

}

function problem(height: number, reason: ProblemReason, message: string): { problem: ChainProblem } {
  return { problem: { height, reason, message } };
}

/** a[aOffset, +32) equals b[bOffset, +32). */
function hashAt(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number): boolean {
  return equalAt(a, aOffset, b, bOffset, SHA256_BYTES);
}

/** First 8 bytes of the hash at `offset`, in hex, for messages. */
function hexAt(bytes: Uint8Array, offset: number): string {
  return toHex(bytes.subarray(offset, offset + 8));
}
