/**
 * The key-value state machine: what replaying the chain yields.
 *
 * State = KV entries + the dedup table (client sessions). Both are replicated state: every
 * replica applies the same commands in the same order and must reach the same bytes, which the
 * state root over both sets checks at every block.
 *
 * The state root authenticates both sets: each is a Merkle crit-bit trie (src/kv/state-trie.ts),
 * KV entries keyed by their key bytes, sessions by their 16-byte id, and
 *
 *   stateRoot = SHA-256("paxchain/state/1\0" || kvRoot || sessionsRoot)
 *
 * A trie leaf's hash is SHA-256 of its element (one byte of domain tag each, so the two kinds, and
 * the tries' internal nodes with their 0x03 tag, can never hash alike):
 *   KV entry   0x01 || u16 keyBytes || key || u64 createHeight || u64 modHeight || u64 version || value
 *              (big-endian; the revisions of src/kv/table.ts: a key's value and revisions are one proof)
 *   session    0x02 || session id (16 bytes) || u64 seq || u8 result || u64 height
 * Proofs against the root: src/kv/state-proof.ts.
 *
 * Commands are read straight from block bodies with a msgpack cursor (src/lib/msgpack-cursor.ts)
 * and keys and values are copied into the KV table's arena (src/kv/table.ts): no object per
 * command or per entry, which is what makes replay fast.
 *
 * Dedup (exactly-once): each session id (src/kv/session.ts) has one session record holding the
 * seq, result and height of its last applied command. A command with that seq again is not applied and is answered with the
 * stored result (DUPLICATE_FLAG set); an older seq is answered STALE. The table holds at most
 * `dedupCapacity` sessions (from genesis); past that the least recently active session is
 * evicted: sessions form a list in order of their last applied command, which every replica
 * builds identically, so eviction is deterministic. A client whose session was evicted loses exactly-once for commands
 * retried after that; with the default capacity that takes 100k more recently active clients.
 *
 * Limits: the genesis block bounds the entries and the bytes of keys plus values (bytes); a put
 * (or cas) that would pass either is answered STATE_FULL and changes nothing but its session, on
 * every replica alike, so a full state refuses writes instead of exhausting memory. Deletes and
 * writes that do not grow the state past the limit still go through.
 */
import { equalAt, fromUtf8, readU64, utf8, writeU32, writeU64 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { pack, unpackSafe } from '../lib/msgpack.js';
import { MalformedMsgpack, MsgpackCursor } from '../lib/msgpack-cursor.js';
import type { Sha256 } from '../lib/sha256.js';
import { CommandArguments, CommandHead, decodeCommand, DUPLICATE_FLAG, OP_CAS, OP_DELETE, OP_PUT, OP_TXN, readCommandArguments, readCommandHead, ResultCode, type TxnCompare, type TxnOp } from './command.js';
import { SHA256_BYTES } from '../lib/sha256.js';
import { SESSION_ID_BYTES } from './session.js';
import { SessionElements } from './session-elements.js';
import { type KeyProof, STATE_ROOT_TAG } from './state-proof.js';
import { KIND_ENTRIES, KIND_SESSIONS, packChunks, SNAPSHOT_CHUNK_BYTES, SNAPSHOT_SESSION_BYTES, type StateSnapshot } from './snapshot.js';
import { StateTrie } from './state-trie.js';
import { SessionMap } from './session-map.js';
import { KeyValueTable, REVISION_BYTES, type Revisions } from './table.js';
import { assert } from '../lib/assert.js';
import { compareBytes, prefixEnd, RANGE_PAGE_BYTES_MAX, type RangeEntry, type RangePage, type RangeQuery } from './range.js';

const SESSION_TAG = 0x02;
const WORDS = SHA256_BYTES / 4;
const SESSION_ELEMENT_BYTES = 1 + SESSION_ID_BYTES + 8 + 1 + 8;

export interface Session {
  /** The session id (SESSION_ID_BYTES bytes). */
  readonly id: Uint8Array;
  seq: number;
  result: number;
  height: number;
  /** Slot of this version's element (src/kv/session-elements.ts). */
  slot: number;
  /** Leaf number in the sessions trie. */
  leaf: number;
  /** Neighbours in activity order (least recently active first); null at the ends. */
  older: Session | null;
  newer: Session | null;
}

/** What genesis bounds (src/chain/body.ts stateLimitsOf gives it). */
export interface StateLimits {
  readonly entriesMax: number;
  readonly bytesMax: number;
}

export interface KvStateOptions {
  /** Seed of the in-memory key hash (not replicated; a random seed resists hash flooding). */
  readonly hashSeed?: number;
  /**
   * The state's limits, from genesis (src/chain/body.ts stateLimitsOf): a write that would take the
   * entries past entriesMax, or the keys' plus values' bytes past bytesMax, is answered STATE_FULL
   * and changes nothing. Part of the replicated state's rules; none (a version 2 genesis): no limit
   * but the table's own.
   */
  readonly limits?: StateLimits;
}

/** The root of the empty state (two empty tries): what the genesis header carries. */
export function emptyStateRoot(sha256: Sha256): Uint8Array {
  const message = new Uint8Array(STATE_ROOT_TAG.length + 2 * SHA256_BYTES);
  message.set(STATE_ROOT_TAG, 0);
  return sha256.hash(message);
}

export class KvState {
  private readonly table: KeyValueTable;
  private readonly sessions: SessionMap<Session>;
  /** Least and most recently active sessions: the ends of the activity list. */
  private oldest: Session | null = null;
  private newest: Session | null = null;
  private readonly sessionElements: SessionElements;
  private readonly kvTrie: StateTrie;
  private readonly sessionTrie: StateTrie;
  private readonly sha256: Sha256;
  /** The state root as of the last settle(), or undefined when the state changed since. */
  private rootCache: Uint8Array | undefined;
  /** Bytes of keys plus values now; the genesis limits bound it and the entry count. */
  private entryBytes = 0;
  private readonly stateLimits: StateLimits;
  private readonly rootMessage = new Uint8Array(STATE_ROOT_TAG.length + 2 * SHA256_BYTES);
  /**
   * KV hash jobs since the last settle(): job i hashes the element of record jobRecords[i]
   * (-1 = cancelled because that version was replaced or deleted before being hashed).
   */
  private jobRecords: Int32Array = new Int32Array(1024);
  private jobCount = 0;
  private jobStarts = new Uint32Array(1024);
  private jobEnds = new Uint32Array(1024);
  private jobOut = new Uint8Array(1024 * 32);
  /** Word view of jobOut; replaced whenever jobOut is. */
  private jobOutWords = new Uint32Array(this.jobOut.buffer);
  /** Cursor for apply(tuple); applyCommands() reads from the caller's cursor. */
  private readonly ownCursor = new MsgpackCursor();
  /** Height of the block being applied: a write's modHeight (and createHeight for a new key). */
  private applyHeight = 0;
  /** Set while a txn's branch runs: its limits were checked for the whole branch before it. */
  private limitsChecked = false;
  /** What the txns of the last applyCommands() read and deleted, by command index. */
  private txnOutputs: TxnOutput[] = [];
  /** Changes since the last takeChanges(), when the change log is on (watches); null: off. */
  private changeLog: KvChange[] | null = null;
  private commandIndex = 0;
  /** Scratch for reading one command (src/kv/command.ts owns the layout). */
  private readonly head = new CommandHead();
  private readonly arguments = new CommandArguments();

  /**
   * @param sha256 hash implementation (all produce the same bytes)
   * @param dedupCapacity most sessions kept, from the genesis block, in [1, limits.dedupClientsMax]
   */
  constructor(
    sha256: Sha256,
    readonly dedupCapacity: number,
    private readonly options: KvStateOptions = {},
  ) {
    if (!Number.isInteger(dedupCapacity) || dedupCapacity < 1 || dedupCapacity > limits.dedupClientsMax) {
      throw new TypeError(`dedupCapacity must be in [1, ${limits.dedupClientsMax}]`);
    }
    this.sha256 = sha256;
    this.stateLimits = options.limits ?? { entriesMax: Number.MAX_SAFE_INTEGER, bytesMax: Number.MAX_SAFE_INTEGER };
    this.table = new KeyValueTable(options.hashSeed);
    this.sessionElements = new SessionElements(sha256);
    const table = this.table;
    this.kvTrie = new StateTrie(sha256, {
      keyBytes: () => table.arena,
      keyStart: (at) => table.keyStart(at),
      keyLength: (at) => table.keyLength(at),
      hashWords: () => table.words,
      hashWord: (at) => table.hashWord(at),
    });
    this.sessionTrie = new StateTrie(sha256, this.sessionElements);
    this.sessions = new SessionMap(options.hashSeed === undefined ? undefined : options.hashSeed ^ 0x5bd1e995);
  }

  get(key: string): Uint8Array | undefined {
    const bytes = utf8(key);
    const at = this.table.find(bytes, 0, bytes.length);
    return at < 0 ? undefined : this.table.value(at);
  }

  /** The value and revisions of `key` (UTF-8 bytes), or undefined when absent. */
  entry(key: Uint8Array): { value: Uint8Array; revisions: Revisions } | undefined {
    const at = this.table.find(key, 0, key.length);
    return at < 0 ? undefined : { value: this.table.value(at), revisions: this.table.revisions(at) };
  }

  session(id: Uint8Array): Readonly<Session> | undefined {
    return id.length === SESSION_ID_BYTES ? this.sessions.get(id, 0) : undefined;
  }

  get keyCount(): number {
    return this.table.size;
  }

  /** Bytes of keys plus values in the state (what KvStateOptions.limits.bytesMax bounds). */
  get bytes(): number {
    return this.entryBytes;
  }

  /** The limits genesis set, or undefined for none. */
  get limits(): StateLimits | undefined {
    return this.options.limits;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * One page of a range read (src/kv/range.ts), in key order: at most query.limit entries and
   * about RANGE_PAGE_BYTES_MAX bytes, `more` set when keys of the range remain. A countOnly query
   * counts the whole range instead (a walk of its keys, no copies).
   */
  range(query: RangeQuery): RangePage {
    const table = this.table;
    const arena = table.arena;
    const { end, limit, keysOnly, countOnly } = query;
    const entries: RangeEntry[] = [];
    let bytes = 0;
    let count = 0;
    let more = false;
    this.kvTrie.forEachFrom(query.start, 0, query.start.length, query.after, (at) => {
      if (end !== null && compareBytes(arena, table.keyStart(at), table.keyLength(at), end) >= 0) return false;
      if (countOnly) {
        count++;
        return true;
      }
      if (entries.length >= limit || bytes >= RANGE_PAGE_BYTES_MAX) {
        more = true;
        return false;
      }
      const value = keysOnly ? null : table.value(at);
      entries.push({ key: table.key(at), value, revisions: table.revisions(at) });
      bytes += table.keyLength(at) + (value?.length ?? 0);
      return true;
    });
    return { entries, more, count: countOnly ? count : entries.length };
  }

  /** Entries in no particular order (callers sort for display); keys decoded as UTF-8. */
  *allEntries(): IterableIterator<[string, Uint8Array]> {
    for (const at of this.table.records()) yield [fromUtf8(this.table.key(at)), this.table.value(at)];
  }

  /** Sessions from least to most recently active (the eviction order). */
  *allSessions(): IterableIterator<Readonly<Session>> {
    for (let session = this.oldest; session !== null; session = session.newer) yield session;
  }

  /**
   * The whole state now as snapshot chunks (src/kv/snapshot.ts): the KV trie's and the sessions
   * trie's subtrees with their paths, in key order. Synchronous (a walk of both tries and a copy
   * of every element), so that it is the state after exactly one block; the caller writes the
   * chunks afterwards, while the state moves on.
   */
  snapshot(chunkBytes: number = SNAPSHOT_CHUNK_BYTES): StateSnapshot {
    const root = this.root();
    const { kvRoot, sessionsRoot } = this.trieRoots();
    const table = this.table;
    const arena = table.arena;
    const kv = this.kvTrie.subtrees((at) => 4 + table.elementLength(at), chunkBytes).map(({ steps, refs }) => {
      let bytes = 0;
      for (const at of refs) bytes += 4 + table.elementLength(at);
      return {
        steps,
        count: refs.length,
        bytes,
        write: (target: Uint8Array, offset: number) => {
          for (const at of refs) {
            const length = table.elementLength(at);
            writeU32(target, offset, length);
            const start = table.elementStart(at);
            target.set(arena.subarray(start, start + length), offset + 4);
            offset += 4 + length;
          }
        },
      };
    });
    // Each session's rank in the activity order, by its element's slot (the trie's leaf reference).
    const bySlot = new Map<number, { session: Session; rank: number }>();
    let rank = 0;
    for (let session = this.oldest; session !== null; session = session.newer) bySlot.set(session.slot, { session, rank: rank++ });
    const sessions = this.sessionTrie.subtrees(() => SNAPSHOT_SESSION_BYTES, chunkBytes).map(({ steps, refs }) => ({
      steps,
      count: refs.length,
      bytes: refs.length * SNAPSHOT_SESSION_BYTES,
      write: (target: Uint8Array, offset: number) => {
        for (const slot of refs) {
          const { session, rank: at } = bySlot.get(slot)!;
          writeU32(target, offset, at);
          target.set(session.id, offset + 4);
          writeU64(target, offset + 4 + SESSION_ID_BYTES, session.seq);
          target[offset + 4 + SESSION_ID_BYTES + 8] = session.result;
          writeU64(target, offset + 4 + SESSION_ID_BYTES + 9, session.height);
          offset += SNAPSHOT_SESSION_BYTES;
        }
      },
    }));
    const chunks = [...packChunks(KIND_ENTRIES, kv, chunkBytes), ...packChunks(KIND_SESSIONS, sessions, chunkBytes)];
    return { root, kvRoot, sessionsRoot, keys: table.size, bytes: this.entryBytes, sessions: this.sessions.size, chunks };
  }

  /**
   * Adds one KV entry from a snapshot: the key is source[keyStart, +keyLength), its revisions the
   * REVISION_BYTES after it, its value the valueLength bytes after those. Only into a state being
   * loaded: returns why not, if the entry is not one a state could hold (a bad length, a key twice,
   * revisions out of order, past a limit). The caller checks the root afterwards; this only keeps
   * bad input from breaking the structures.
   */
  loadEntry(source: Uint8Array, keyStart: number, keyLength: number, valueLength: number): string | undefined {
    if (keyLength === 0 || keyLength > limits.keyBytesMax) return `a key of ${keyLength} bytes`;
    if (valueLength < 0 || valueLength > limits.valueBytesMax) return `a value of ${valueLength} bytes`;
    if (this.table.find(source, keyStart, keyLength) >= 0) return 'a key given twice';
    const revisionStart = keyStart + keyLength;
    const [createHeight, modHeight, version] = [readU64(source, revisionStart), readU64(source, revisionStart + 8), readU64(source, revisionStart + 16)];
    if (createHeight < 1 || modHeight < createHeight || version < 1) return 'an entry whose revisions are out of order';
    this.applyHeight = createHeight;
    if (this.write(source, keyStart, keyLength, revisionStart + REVISION_BYTES, valueLength) !== ResultCode.OK) return 'more than the state limits allow';
    const at = this.table.find(source, keyStart, keyLength);
    this.table.setRevisions(at, createHeight, modHeight, version);
    return undefined;
  }

  /**
   * Adds the session record source[at, at + SNAPSHOT_SESSION_BYTES) as the most recently active
   * (a snapshot lists them oldest first). Returns why not, if it cannot be one.
   */
  loadSession(source: Uint8Array, at: number): string | undefined {
    if (this.sessions.get(source, at) !== undefined) return 'a session given twice';
    if (this.sessions.size >= this.dedupCapacity) return 'more sessions than the dedup capacity';
    const seq = readU64(source, at + SESSION_ID_BYTES);
    const height = readU64(source, at + SESSION_ID_BYTES + 9);
    if (seq < 0 || height < 0) return 'a session field out of range';
    this.recordSession(source, at, seq, source[at + SESSION_ID_BYTES + 8]!, height);
    return undefined;
  }

  /** The 32-byte state root now (a fresh copy). */
  root(): Uint8Array {
    return this.settledRoot().slice();
  }

  /** Whether the state root now equals `bytes[offset, offset + 32)`. */
  rootEquals(bytes: Uint8Array, offset: number): boolean {
    return equalAt(this.settledRoot(), 0, bytes, offset, SHA256_BYTES);
  }

  /** The KV trie's and the sessions trie's roots now (what a proof of one key needs beside its path). */
  trieRoots(): { kvRoot: Uint8Array; sessionsRoot: Uint8Array } {
    this.settle();
    return { kvRoot: this.kvTrie.rootHash(), sessionsRoot: this.sessionTrie.rootHash() };
  }

  /**
   * The proof of what the state holds for `key` (UTF-8 bytes) against root() (src/kv/state-proof.ts):
   * its value, or its absence.
   */
  proveKey(key: Uint8Array): KeyProof {
    const { sessionsRoot } = this.trieRoots();
    const path = this.kvTrie.path(key, 0, key.length);
    if (path === undefined) return { key: key.slice(), leaf: undefined, steps: [], sessionsRoot };
    const table = this.table;
    const at = path.leafRef;
    return { key: key.slice(), leaf: { key: table.key(at), value: table.value(at), revisions: table.revisions(at) }, steps: path.steps, sessionsRoot };
  }

  private settledRoot(): Uint8Array {
    if (this.rootCache) return this.rootCache;
    this.settle();
    const message = this.rootMessage;
    message.set(STATE_ROOT_TAG, 0);
    this.kvTrie.rootInto(message, STATE_ROOT_TAG.length);
    this.sessionTrie.rootInto(message, STATE_ROOT_TAG.length + SHA256_BYTES);
    this.rootCache = this.sha256.hash(message);
    return this.rootCache;
  }

  /** Runs every pending hash job and rehashes the tries' dirty paths. */
  private settle(): void {
    this.runJobs();
    this.sessionElements.flush();
    // Safe now: no arena range is waiting to be hashed. Moved records tell the trie where they went.
    if (this.table.wantsCompaction) {
      this.table.compact();
      for (const at of this.table.records()) this.kvTrie.move(this.table.leaf(at), at);
    }
    this.kvTrie.settle();
    this.sessionTrie.settle();
  }

  /** Hashes the staged KV elements in place (each record's hash is its trie leaf's). */
  private runJobs(): void {
    const count = this.jobCount;
    if (count === 0) return;
    const table = this.table;
    const records = this.jobRecords;
    for (let i = 0; i < count; i++) {
      const at = records[i]!;
      const start = at < 0 ? 0 : table.elementStart(at);
      this.jobStarts[i] = start;
      this.jobEnds[i] = at < 0 ? 0 : start + table.elementLength(at);
    }
    this.sha256.hashMany(table.arena, this.jobStarts, this.jobEnds, count, this.jobOut);
    const out = this.jobOutWords;
    const words = table.words;
    for (let i = 0; i < count; i++) {
      const at = records[i]!;
      if (at < 0) continue;
      const target = table.hashWord(at);
      for (let w = 0; w < WORDS; w++) words[target + w] = out[i * WORDS + w]!;
      table.setPending(at, 0);
    }
    this.jobCount = 0;
  }

  /** Queues hashing record `at`'s element; bounded by KV_JOBS_MAX (runs the queue when full). */
  private addJob(at: number): void {
    if (this.jobCount === this.jobRecords.length) {
      if (this.jobCount >= KV_JOBS_MAX) {
        this.runJobs();
      } else {
        const size = this.jobRecords.length * 2;
        this.jobRecords = growInt32(this.jobRecords, size);
        this.jobStarts = new Uint32Array(size);
        this.jobEnds = new Uint32Array(size);
        this.jobOut = new Uint8Array(size * 32);
        this.jobOutWords = new Uint32Array(this.jobOut.buffer);
      }
    }
    this.jobRecords[this.jobCount] = at;
    this.table.setPending(at, ++this.jobCount);
  }

  /** Cancels record `at`'s queued hash job, if any (its element is about to change or go). */
  private retire(at: number): void {
    const job = this.table.pending(at);
    if (job > 0) {
      this.jobRecords[job - 1] = -1;
      this.table.setPending(at, 0);
    }
  }

  /**
   * Applies one command given as a tuple (src/kv/command.ts), for tests and tools. Goes through
   * the same byte path as blocks do.
   */
  apply(command: unknown, height: number): number {
    let bytes: Uint8Array;
    try {
      bytes = pack(command);
    } catch {
      return ResultCode.INVALID;
    }
    return this.applyNext(this.ownCursor.reset(bytes), height);
  }

  /**
   * Applies `count` commands read from `cursor` (positioned at the first). The caller has checked
   * that the commands are well-formed msgpack (src/chain/body.ts scanBatchBody); a command of the
   * wrong shape is answered INVALID and changes nothing but its client's session.
   */
  applyCommands(cursor: MsgpackCursor, count: number, height: number): number[] {
    const results = new Array<number>(count);
    if (this.txnOutputs.length > 0) this.txnOutputs = [];
    for (let i = 0; i < count; i++) {
      this.commandIndex = i;
      results[i] = this.applyNext(cursor, height);
    }
    return results;
  }

  /**
   * Keeps a log of every change from now on (each put and each delete that removed a key, with
   * the command's index in its block, the value and the revisions): what watches stream. Off by
   * default, so replay and tools pay nothing for it.
   */
  enableChangeLog(): void {
    this.changeLog ??= [];
  }

  /** The changes since the last call (in apply order), and a fresh log; [] when the log is off. */
  takeChanges(): KvChange[] {
    const changes = this.changeLog;
    if (changes === null || changes.length === 0) return [];
    this.changeLog = [];
    return changes;
  }

  /** What the txns of the last applyCommands() read (their gets) and how many keys they deleted. */
  get lastTxnOutputs(): readonly TxnOutput[] {
    return this.txnOutputs;
  }

  /** Applies the command at the cursor and leaves the cursor after it. */
  private applyNext(cursor: MsgpackCursor, height: number): number {
    const start = cursor.position;
    const head = this.head;
    try {
      if (!readCommandHead(cursor, head)) return skipInvalid(cursor, start);
      const source = cursor.bytes;
      const idStart = head.sessionStart;
      if (idStart >= 0) {
        const session = this.sessions.get(source, idStart);
        if (session !== undefined && head.seq <= session.seq) {
          cursor.position = start;
          cursor.skipValue();
          return head.seq === session.seq ? session.result | DUPLICATE_FLAG : ResultCode.STALE;
        }
      }
      this.applyHeight = height;
      const result = head.op === OP_TXN ? this.applyTxn(cursor, start) : readCommandArguments(cursor, head, this.arguments) ? this.execute(source, head.op) : ResultCode.INVALID;
      if (result === ResultCode.INVALID) {
        cursor.position = start;
        cursor.skipValue();
      }
      if (idStart >= 0) this.recordSession(source, idStart, head.seq, result, height);
      return result;
    } catch (error) {
      // scanBatchBody checked the structure; truncation here means the caller skipped that.
      if (error instanceof MalformedMsgpack) throw new TypeError(`applyCommands on unchecked bytes: ${error.message}`);
      throw error;
    }
  }

  /** Runs a well-formed command whose arguments are in this.arguments (ranges of `source`). */
  private execute(source: Uint8Array, op: number): number {
    const { keyStart, keyLength, expectStart, expectLength, valueStart, valueLength } = this.arguments;
    if (op === OP_PUT) return this.write(source, keyStart, keyLength, valueStart, valueLength);
    if (op === OP_DELETE) return this.remove(source, keyStart, keyLength);
    if (op !== OP_CAS) return ResultCode.OK; // a no-op
    const at = this.table.find(source, keyStart, keyLength);
    const matches = expectStart < 0 ? at < 0 : at >= 0 && this.table.valueEquals(at, source, expectStart, expectLength);
    if (!matches) return ResultCode.CAS_MISMATCH;
    return valueStart < 0 ? this.remove(source, keyStart, keyLength) : this.write(source, keyStart, keyLength, valueStart, valueLength);
  }

  /**
   * Runs the txn at `start` (the cursor is left after it): its compares against the state now,
   * then the branch they choose, as one command. Decoded in full (a txn is rarer than a put and
   * has nested lists); a malformed one is INVALID, one whose branch would take the state past a
   * limit STATE_FULL, and both change nothing.
   */
  private applyTxn(cursor: MsgpackCursor, start: number): number {
    cursor.position = start;
    cursor.skipValue();
    const unpacked = unpackSafe(cursor.bytes.subarray(start, cursor.position));
    const command = unpacked.ok ? decodeCommand(unpacked.value) : 'undecodable';
    if (typeof command === 'string' || command.op !== 'txn') return ResultCode.INVALID;
    const holds = command.compares.every((compare) => this.compareHolds(compare));
    const ops = holds ? command.success : command.failure;
    if (!this.branchFits(ops)) return ResultCode.STATE_FULL;
    const output: TxnOutput = { index: this.commandIndex, gets: [], deleted: 0 };
    this.limitsChecked = true;
    try {
      for (const op of ops) this.runTxnOp(op, output);
    } finally {
      this.limitsChecked = false;
    }
    if (output.gets.length > 0 || output.deleted > 0) this.txnOutputs.push(output);
    return holds ? ResultCode.OK : ResultCode.COMPARE_FAILED;
  }

  private compareHolds(compare: TxnCompare): boolean {
    const key = utf8(compare.key);
    const at = this.table.find(key, 0, key.length);
    let order: number;
    if (compare.target === 'value') {
      // An absent key has no value: only "!=" holds for it.
      if (at < 0) return compare.relation === '!=';
      const value = this.table.value(at);
      order = compareBytes(value, 0, value.length, compare.operand as Uint8Array);
    } else {
      const revisions = at < 0 ? { createHeight: 0, modHeight: 0, version: 0 } : this.table.revisions(at);
      order = revisions[compare.target] - (compare.operand as number);
    }
    switch (compare.relation) {
      case '=':
        return order === 0;
      case '!=':
        return order !== 0;
      case '<':
        return order < 0;
      case '>':
        return order > 0;
    }
  }

  /** Whether a branch's writes keep the state within its limits (exact: a branch's writes never overlap). */
  private branchFits(ops: readonly TxnOp[]): boolean {
    const table = this.table;
    let entries = 0;
    let bytes = 0;
    for (const op of ops) {
      if (op.kind === 'get') continue;
      if (op.kind === 'delete-prefix') {
        for (const key of this.keysWithPrefix(op.prefix)) {
          const at = table.find(key, 0, key.length);
          entries--;
          bytes -= table.keyLength(at) + table.valueLength(at);
        }
        continue;
      }
      const key = utf8(op.key);
      const at = table.find(key, 0, key.length);
      if (op.kind === 'put') {
        entries += at < 0 ? 1 : 0;
        bytes += at < 0 ? key.length + op.value.length : op.value.length - table.valueLength(at);
      } else if (at >= 0) {
        entries--;
        bytes -= key.length + table.valueLength(at);
      }
    }
    return !((entries > 0 && table.size + entries > this.stateLimits.entriesMax) || (bytes > 0 && this.entryBytes + bytes > this.stateLimits.bytesMax));
  }

  /** The keys that start with `prefix` (copies, in key order): what a delete-prefix removes. */
  private keysWithPrefix(prefix: string): Uint8Array[] {
    const start = utf8(prefix);
    const end = prefixEnd(start);
    const keys: Uint8Array[] = [];
    const table = this.table;
    this.kvTrie.forEachFrom(start, 0, start.length, false, (at) => {
      if (end !== null && compareBytes(table.arena, table.keyStart(at), table.keyLength(at), end) >= 0) return false;
      keys.push(table.key(at));
      return true;
    });
    return keys;
  }

  private runTxnOp(op: TxnOp, output: TxnOutput): void {
    if (op.kind === 'get') {
      const entry = this.entry(utf8(op.key));
      output.gets.push({ key: op.key, value: entry?.value ?? null, revisions: entry?.revisions ?? null });
      return;
    }
    if (op.kind === 'delete-prefix') {
      for (const key of this.keysWithPrefix(op.prefix)) if (this.remove(key, 0, key.length) === ResultCode.DELETED) output.deleted++;
      return;
    }
    const key = utf8(op.key);
    if (op.kind === 'delete') {
      if (this.remove(key, 0, key.length) === ResultCode.DELETED) output.deleted++;
      return;
    }
    const source = new Uint8Array(key.length + op.value.length);
    source.set(key, 0);
    source.set(op.value, key.length);
    const result = this.write(source, 0, key.length, key.length, op.value.length);
    assert(result === ResultCode.OK, 'a txn put failed after its branch was checked');
  }

  private write(source: Uint8Array, keyStart: number, keyLength: number, valueStart: number, valueLength: number): number {
    const table = this.table;
    this.rootCache = undefined;
    let at = table.find(source, keyStart, keyLength);
    const grows = at < 0 ? keyLength + valueLength : valueLength - table.valueLength(at);
    if (!this.limitsChecked && ((at < 0 && table.size >= this.stateLimits.entriesMax) || (grows > 0 && this.entryBytes + grows > this.stateLimits.bytesMax))) return ResultCode.STATE_FULL;
    this.entryBytes += grows;
    if (at < 0) {
      at = table.insert(source, keyStart, keyLength, source, valueStart, valueLength);
      table.setRevisions(at, this.applyHeight, this.applyHeight, 1);
      table.setLeaf(at, this.kvTrie.insert(at));
      this.changeLog?.push({ index: this.commandIndex, key: source.slice(keyStart, keyStart + keyLength), value: source.subarray(valueStart, valueStart + valueLength), revisions: { createHeight: this.applyHeight, modHeight: this.applyHeight, version: 1 } });
    } else {
      this.retire(at);
      const version = table.version(at) + 1;
      const createHeight = table.createHeight(at);
      const moved = table.overwrite(at, source, valueStart, valueLength);
      table.setRevisions(moved, createHeight, this.applyHeight, version);
      this.changeLog?.push({ index: this.commandIndex, key: source.slice(keyStart, keyStart + keyLength), value: source.subarray(valueStart, valueStart + valueLength), revisions: { createHeight, modHeight: this.applyHeight, version } });
      const leaf = table.leaf(moved);
      if (moved !== at) this.kvTrie.move(leaf, moved);
      this.kvTrie.touch(leaf);
      at = moved;
    }
    this.addJob(at);
    return ResultCode.OK;
  }

  private remove(source: Uint8Array, keyStart: number, keyLength: number): number {
    const table = this.table;
    const at = table.find(source, keyStart, keyLength);
    if (at < 0) return ResultCode.NOT_FOUND;
    this.rootCache = undefined;
    this.retire(at);
    this.entryBytes -= table.keyLength(at) + table.valueLength(at);
    this.kvTrie.remove(table.leaf(at));
    table.remove(at);
    this.changeLog?.push({ index: this.commandIndex, key: source.slice(keyStart, keyStart + keyLength), value: null, revisions: null });
    return ResultCode.DELETED;
  }

  /** Records the command of the session whose id is at `source[idStart, idStart + SESSION_ID_BYTES)`. */
  private recordSession(source: Uint8Array, idStart: number, seq: number, result: number, height: number): void {
    this.rootCache = undefined;
    const elements = this.sessionElements;
    const at = elements.begin(SESSION_ELEMENT_BYTES);
    const scratch = elements.scratch;
    scratch[at] = SESSION_TAG;
    // Bytewise: a subarray() view per command costs more than 16 byte copies.
    for (let i = 0; i < SESSION_ID_BYTES; i++) scratch[at + 1 + i] = source[idStart + i]!;
    let offset = at + 1 + SESSION_ID_BYTES;
    writeU64(scratch, offset, seq);
    scratch[offset + 8] = result;
    writeU64(scratch, offset + 9, height);
    offset += 17;
    const slot = elements.finish(offset, at + 1);
    const sessions = this.sessions;
    const trie = this.sessionTrie;
    let session = sessions.get(source, idStart);
    if (session === undefined) {
      // A copy (not a view that would pin the block body; Buffer's slice() is a view).
      const id = new Uint8Array(source.subarray(idStart, idStart + SESSION_ID_BYTES));
      session = { id, seq, result, height, slot, leaf: trie.insert(slot), older: null, newer: null };
      sessions.set(id, 0, 0, session);
    } else {
      elements.release(session.slot);
      session.seq = seq;
      session.result = result;
      session.height = height;
      session.slot = slot;
      trie.move(session.leaf, slot);
      trie.touch(session.leaf);
      this.unlink(session);
    }
    this.linkNewest(session);
    if (sessions.size > this.dedupCapacity) {
      // Evict the least recently active session.
      const oldest = this.oldest!;
      elements.release(oldest.slot);
      trie.remove(oldest.leaf);
      this.unlink(oldest);
      sessions.delete(oldest.id, 0);
    }
  }

  private unlink(session: Session): void {
    if (session.older) session.older.newer = session.newer;
    else this.oldest = session.newer;
    if (session.newer) session.newer.older = session.older;
    else this.newest = session.older;
    session.older = null;
    session.newer = null;
  }

  private linkNewest(session: Session): void {
    session.older = this.newest;
    session.newer = null;
    if (this.newest) this.newest.newer = session;
    else this.oldest = session;
    this.newest = session;
  }
}

/** One change a block made (the change log, for watches). */
export interface KvChange {
  /** Index of the command among its block's commands. */
  readonly index: number;
  readonly key: Uint8Array;
  /** The value written (a view into the block body), or null for a delete. */
  readonly value: Uint8Array | null;
  /** The key's revisions after a put; null for a delete. */
  readonly revisions: Revisions | null;
}

/** What one txn read and deleted (src/kv/command.ts): its reply carries it to the client. */
export interface TxnOutput {
  /** Index of the txn among its block's commands. */
  readonly index: number;
  /** The gets of the branch that ran, in order, each seeing the ops before it. */
  readonly gets: Array<{ readonly key: string; readonly value: Uint8Array | null; readonly revisions: Revisions | null }>;
  /** Keys the branch deleted (delete and delete-prefix). */
  deleted: number;
}

/** Most KV hash jobs queued before they are run in one batch. */
const KV_JOBS_MAX = 65_536;

function growInt32(from: Int32Array, size: number): Int32Array {
  const to = new Int32Array(size);
  to.set(from);
  return to;
}

function skipInvalid(cursor: MsgpackCursor, start: number): number {
  cursor.position = start;
  cursor.skipValue();
  return ResultCode.INVALID;
}
