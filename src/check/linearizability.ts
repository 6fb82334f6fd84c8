/**
 * Linearizability checker for key-value client histories (what the simulator and the demo record).
 *
 * Model. Every key is an independent register that starts absent. Linearizability is
 * compositional (Herlihy & Wing 1990, "locality"): a history is linearizable iff its restriction to
 * every key is, so each key is checked on its own and a violation names one key.
 *
 * Real time. An operation occupies the closed interval [call, return]. `a` precedes `b` only when
 * `a.return < b.call`; an operation that returns at t and one invoked at t are concurrent, so a
 * history recorded with coarse ticks never produces a false violation.
 *
 * Operations without a response (`return` undefined) may have taken effect at any point after
 * their call, or never. Their result is unknown, so the model accepts whatever they do to the
 * register (a put writes, a delete removes, a cas applies iff the register then holds `expect`).
 * "Never" is the same as "at the very end, after everything observed", so the search succeeds as
 * soon as every operation WITH a response is linearized. Reads without a response cannot change
 * anything and are dropped before the search.
 *
 * Algorithm (per key): Wing & Gong's depth-first search over the order of linearization points
 * with Lowe's memoization, as in Porcupine and Knossos. The call and return events of the
 * operations with a response sit in one time-ordered doubly linked list; the operations whose
 * call comes before the first remaining return are the candidates to take effect next.
 * Linearizing one unlinks its two events (dancing links); when no candidate can go next, the
 * search backtracks. A cache of every configuration reached, (set of linearized operations as a
 * bitset, register value), cuts every subtree already explored: a configuration seen before
 * failed before. Operations without a response have no return event; they are candidates from
 * their call on, kept in classes of operations that act alike.
 *
 * Pruning. Each rule keeps the search complete (the argument is at the code that applies it):
 * - an observer (a get, a cas that reported a mismatch, ...) the register accepts now is
 *   linearized at once instead of branched on (KeySearch.acceptedObserver);
 * - values no operation compares against are one value (UNOBSERVED), so configurations that
 *   differ only in which unread value the register holds are one cache entry;
 * - an operation without a response is only linearized right before an operation that depends
 *   on it, otherwise it might as well happen later or never (KeySearch.mayFollowPending);
 * - operations without a response that act alike are used in call order (KeySearch.nextOfClass);
 * - candidates are tried writes-that-a-waiting-read-needs first (phases; order only).
 * When the whole history runs out of budget, the search tries to prove a violation on windows
 * that end where it got stuck: a window is a relaxation of the history, so a violation there is
 * a violation of the history (checkWindow). A window never proves a history linearizable.
 *
 * Complexity and bounds (n operations on a key, c of them with a response; k candidates at a
 * time, about the number of clients; W = ceil(c / 32) + ceil((n - c) / 32) bitset words):
 * - Deciding linearizability is NP-complete in general (Gibbons & Korach 1997), so the search of
 *   a key is bounded by `statesMax` cached configurations (default 1,000,000), and the local
 *   proofs by another `statesMax` in all; cached bitsets by `cacheWordsMax` words. Past a bound
 *   the key's verdict is 'unknown', never a guess.
 * - A configuration costs O(W) (canonical bitset, hash, compare) plus O(k + classes) to walk its
 *   candidates once per phase, so a key takes O(statesMax * (W + k + classes)) time and
 *   O(statesMax * W) memory at worst. A cached bitset is stored trimmed (the completed region
 *   between its first word that is not all ones and its last word that is not zero), so W is in
 *   practice about the concurrency window. Every loop has a bound derived from these figures;
 *   exceeding one is an assertion failure (a bug), not a verdict.
 * - In practice: a linearizable history caches about n to a few times n configurations.
 *   Measured on the development machine: 2,000 operations from 8 clients on one key with 1%
 *   timeouts, about 20-80 ms; 5,000 operations from 16 clients without timeouts, about 150 ms;
 *   a search that spends the default budget, 2-4 s. Many clients on one key with many
 *   timeouts (16 clients, 5% timeouts) can still end as 'unknown'.
 */
import { assert } from '../lib/assert.js';

export type OpKind = 'put' | 'get' | 'delete' | 'cas';

export interface HistoryOp {
  readonly id: number;
  /** Client or session that issued it (not used by the check: real time alone orders operations). */
  readonly process: number;
  readonly kind: OpKind;
  readonly key: string;
  /** put: the value written. cas: the new value (null = delete on match). */
  readonly value?: string | null;
  /** cas only: the expected current value (null = key must be absent). */
  readonly expect?: string | null;
  /** Invocation time (any non-decreasing unit, e.g. simulator ticks or ms). */
  readonly call: number;
  /** Response time; undefined = no response: the op may or may not have taken effect, at any time after `call`. */
  readonly return?: number;
  /**
   * Observed result, only read when `return` is set:
   *  get -> { value: string | null } (null = absent)
   *  put -> { ok: true } (may be omitted; a put that failed took no effect and is not recorded)
   *  delete -> { deleted: boolean } (false = key was absent)
   *  cas -> { ok: boolean } (false = mismatch, nothing changed)
   */
  readonly result?: { value?: string | null; ok?: boolean; deleted?: boolean };
}

export interface LinearizabilityResult {
  /** False only for a proven violation. */
  readonly ok: boolean;
  /** 'violation' wins over 'unknown' (search budget exhausted on some key). */
  readonly verdict: 'linearizable' | 'violation' | 'unknown';
  /** Distinct keys in the history. */
  readonly keys: number;
  /** Operations that entered the search (the history minus reads without a response). */
  readonly operations: number;
  /** The first key (in order of first appearance) found not linearizable. */
  readonly violation?: { key: string; message: string; operations: HistoryOp[] };
  /** Keys whose search ran out of budget, in order of first appearance. */
  readonly unknownKeys?: string[];
}

export interface LinearizabilityOptions {
  /** Configurations the search may cache per key before giving up with 'unknown'. */
  readonly statesMax?: number;
}

const linearizabilityLimits = {
  /** Default per-key budget of cached configurations. */
  statesMaxDefault: 1_000_000,
  /** Cached bitset words per key (4 bytes each): caps memory when bitsets are wide. */
  cacheWordsMax: 32 * 1024 * 1024,
  /** Operations quoted in a violation report. */
  violationOperationsMax: 64,
} as const;

const GET = 0;
const PUT = 1;
const DELETE = 2;
const CAS = 3;
const kindCodes: ReadonlyMap<string, number> = new Map([
  ['get', GET],
  ['put', PUT],
  ['delete', DELETE],
  ['cas', CAS],
]);

/** Register value id of "absent". */
const ABSENT = 0;
/**
 * Register value id shared by every value that no operation compares against (no completed get
 * returned it, no cas expects it). The model cannot tell such values apart, so one id for all of
 * them loses nothing and lets the cache merge configurations that differ only in which unread
 * value the register holds. Values that are compared against get ids 2, 3, …
 */
const UNOBSERVED = 1;
/** What the model returns for an operation that cannot take effect in the current state. */
const REJECTED = -1;
/** "No entry": the end of the event list, or no such operation. */
const NONE = -1;
/** The event list's head sentinel. */
const HEAD = 0;

export function checkLinearizability(history: readonly HistoryOp[], options: LinearizabilityOptions = {}): LinearizabilityResult {
  if (!Array.isArray(history)) throw new TypeError('history must be an array of operations');
  const statesMax = options.statesMax ?? linearizabilityLimits.statesMaxDefault;
  if (!Number.isSafeInteger(statesMax) || statesMax < 1) throw new TypeError(`statesMax must be a positive integer, got ${statesMax}`);
  validateHistory(history);
  const byKey = splitByKey(history);
  let operations = 0;
  let violation: LinearizabilityResult['violation'];
  const unknownKeys: string[] = [];
  for (const [key, keyOperations] of byKey) {
    operations += keyOperations.length;
    const outcome = checkKey(key, keyOperations, statesMax);
    if (outcome.verdict === 'unknown') unknownKeys.push(key);
    if (outcome.verdict === 'violation' && violation === undefined) violation = outcome.violation;
  }
  const verdict = violation !== undefined ? 'violation' : unknownKeys.length > 0 ? 'unknown' : 'linearizable';
  return {
    ok: verdict !== 'violation',
    verdict,
    keys: byKey.size,
    operations,
    ...(violation !== undefined ? { violation } : {}),
    ...(unknownKeys.length > 0 ? { unknownKeys } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Input checks: a malformed history is the caller's bug, so it is a TypeError, not a verdict.

function validateHistory(history: readonly HistoryOp[]): void {
  const ids = new Set<number>();
  for (let index = 0; index < history.length; index++) {
    const operation = history[index];
    if (typeof operation !== 'object' || operation === null) throw new TypeError(`history[${index}] is not an operation`);
    validateOperation(operation, `history[${index}] (id ${String(operation.id)})`);
    if (ids.has(operation.id)) throw new TypeError(`history[${index}]: duplicate operation id ${operation.id}`);
    ids.add(operation.id);
  }
}

function validateOperation(operation: HistoryOp, where: string): void {
  if (!Number.isSafeInteger(operation.id)) throw new TypeError(`${where}: id must be an integer`);
  if (!Number.isSafeInteger(operation.process)) throw new TypeError(`${where}: process must be an integer`);
  if (!kindCodes.has(operation.kind)) throw new TypeError(`${where}: unknown kind ${JSON.stringify(operation.kind)}`);
  if (typeof operation.key !== 'string') throw new TypeError(`${where}: key must be a string`);
  if (!Number.isFinite(operation.call)) throw new TypeError(`${where}: call must be a finite number`);
  if (operation.return !== undefined) {
    if (!Number.isFinite(operation.return)) throw new TypeError(`${where}: return must be a finite number or undefined`);
    if (operation.return < operation.call) throw new TypeError(`${where}: returns at ${operation.return}, before its call at ${operation.call}`);
  }
  validateArguments(operation, where);
  if (operation.return !== undefined) validateResult(operation, where);
}

function isValue(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

function validateArguments(operation: HistoryOp, where: string): void {
  if (operation.kind === 'put' && typeof operation.value !== 'string') throw new TypeError(`${where}: put needs a string value`);
  if (operation.kind === 'cas' && !isValue(operation.value)) throw new TypeError(`${where}: cas needs value (string or null)`);
  if (operation.kind === 'cas' && !isValue(operation.expect)) throw new TypeError(`${where}: cas needs expect (string or null)`);
}

function validateResult(operation: HistoryOp, where: string): void {
  const result = operation.result;
  switch (operation.kind) {
    case 'get':
      if (!isValue(result?.value)) throw new TypeError(`${where}: a completed get needs result.value (string or null)`);
      return;
    case 'put':
      // A put cannot be refused by the state machine; one that failed with an error took no effect.
      if (result?.ok === false) throw new TypeError(`${where}: a put result cannot be ok:false (leave out failed puts, or the return if unsure)`);
      return;
    case 'delete':
      if (typeof result?.deleted !== 'boolean') throw new TypeError(`${where}: a completed delete needs result.deleted (boolean)`);
      return;
    case 'cas':
      if (typeof result?.ok !== 'boolean') throw new TypeError(`${where}: a completed cas needs result.ok (boolean)`);
      return;
  }
}

/** Operations per key, keys in order of first appearance; reads without a response left out. */
function splitByKey(history: readonly HistoryOp[]): Map<string, HistoryOp[]> {
  const byKey = new Map<string, HistoryOp[]>();
  for (const operation of history) {
    let keyOperations = byKey.get(operation.key);
    if (keyOperations === undefined) {
      keyOperations = [];
      byKey.set(operation.key, keyOperations);
    }
    if (operation.kind === 'get' && operation.return === undefined) continue;
    keyOperations.push(operation);
  }
  return byKey;
}

// ---------------------------------------------------------------------------------------------
// One key's operations compiled to integers: the search touches no strings or objects.

class CompiledOperations {
  /** Search order: operations with a response by call time, then those without, by call time. */
  readonly operations: HistoryOp[];
  readonly completedCount: number;
  readonly kinds: Uint8Array;
  /** put / cas: id of the value written (ABSENT for a cas that deletes). */
  readonly writes: Int32Array;
  /** cas: id of the expected value. */
  readonly expects: Int32Array;
  /** Completed get: id of the value read. Completed delete: 1 = deleted. Completed cas: 1 = ok. */
  readonly observed: Int32Array;
  /**
   * 1 for an operation with a response that leaves the register unchanged whenever the model
   * accepts it: a get, a cas that reported a mismatch, a delete that found the key absent, a cas
   * that wrote back its expected value. The search linearizes these greedily (KeySearch).
   */
  readonly observer: Uint8Array;
  /** Call times, by operation index. */
  readonly calls: Float64Array;
  /**
   * Classes of the operations without a response: those that act alike (same kind, value id and
   * expected value id). Members of class c, in call order, are
   * classMembers[classStarts[c] .. classStarts[c + 1]). Any member can stand in for another, so
   * the search uses each class in call order (KeySearch.nextOfClass).
   */
  readonly classStarts: Int32Array;
  readonly classMembers: Int32Array;
  /** The class of an operation without a response; NONE for the others. */
  readonly classOf: Int32Array;
  /** Value ids to strings; ABSENT and UNOBSERVED hold null. */
  readonly values: (string | null)[] = [null, null];
  private readonly valueIds = new Map<string, number>();
  /** The values some operation compares the register against. */
  private readonly observable = new Set<string>();

  constructor(keyOperations: readonly HistoryOp[]) {
    const byCall = (a: HistoryOp, b: HistoryOp): number => a.call - b.call;
    const completed = keyOperations.filter((operation) => operation.return !== undefined).sort(byCall);
    const pending = keyOperations.filter((operation) => operation.return === undefined).sort(byCall);
    this.operations = [...completed, ...pending];
    this.completedCount = completed.length;
    const count = this.operations.length;
    this.kinds = new Uint8Array(count);
    this.writes = new Int32Array(count);
    this.expects = new Int32Array(count);
    this.observed = new Int32Array(count);
    this.observer = new Uint8Array(count);
    this.calls = Float64Array.from(this.operations, (operation) => operation.call);
    for (const operation of this.operations) this.noteObservable(operation);
    for (let index = 0; index < count; index++) this.compile(index);
    this.classOf = new Int32Array(count).fill(NONE);
    const classes = this.groupPending();
    this.classStarts = new Int32Array(classes.length + 1);
    this.classMembers = new Int32Array(count - this.completedCount);
    let filled = 0;
    for (let index = 0; index < classes.length; index++) {
      this.classStarts[index] = filled;
      for (const member of classes[index]!) this.classMembers[filled++] = member;
    }
    this.classStarts[classes.length] = filled;
  }

  private noteObservable(operation: HistoryOp): void {
    const compared = operation.kind === 'cas' ? operation.expect : operation.kind === 'get' ? operation.result?.value : null;
    if (typeof compared === 'string') this.observable.add(compared);
  }

  /** The classes of the operations without a response, members in call order; sets classOf. */
  private groupPending(): number[][] {
    const classIds = new Map<string, number>();
    const classes: number[][] = [];
    for (let index = this.completedCount; index < this.operations.length; index++) {
      const key = `${this.kinds[index]}:${this.writes[index]}:${this.expects[index]}`;
      let id = classIds.get(key);
      if (id === undefined) {
        id = classes.length;
        classIds.set(key, id);
        classes.push([]);
      }
      classes[id]!.push(index);
      this.classOf[index] = id;
    }
    return classes;
  }

  private compile(index: number): void {
    const operation = this.operations[index]!;
    const kind = kindCodes.get(operation.kind)!;
    this.kinds[index] = kind;
    if (kind === PUT || kind === CAS) this.writes[index] = this.valueId(operation.value ?? null);
    if (kind === CAS) this.expects[index] = this.valueId(operation.expect ?? null);
    if (operation.return === undefined) return;
    if (kind === GET) this.observed[index] = this.valueId(operation.result?.value ?? null);
    if (kind === DELETE) this.observed[index] = operation.result?.deleted === true ? 1 : 0;
    if (kind === CAS) this.observed[index] = operation.result?.ok === true ? 1 : 0;
    this.observer[index] = this.isObserver(index) ? 1 : 0;
  }

  private isObserver(index: number): boolean {
    switch (this.kinds[index]) {
      case GET:
        return true;
      case PUT:
        return false;
      case DELETE:
        return this.observed[index] === 0;
      default:
        return this.observed[index] === 0 || this.expects[index] === this.writes[index];
    }
  }

  /** The value id of `value` (ABSENT for null; new values get the next id). */
  valueId(value: string | null): number {
    if (value === null) return ABSENT;
    if (!this.observable.has(value)) return UNOBSERVED;
    let id = this.valueIds.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.valueIds.set(value, id);
    }
    return id;
  }

  /** The register after operation `index` takes effect in `state`, or REJECTED if it cannot. */
  step(index: number, state: number): number {
    const completed = index < this.completedCount;
    switch (this.kinds[index]) {
      case GET:
        return state === this.observed[index] ? state : REJECTED;
      case PUT:
        return this.writes[index]!;
      case DELETE:
        if (completed && (state !== ABSENT) !== (this.observed[index] === 1)) return REJECTED;
        return ABSENT;
      default: {
        const matches = state === this.expects[index];
        if (completed && matches !== (this.observed[index] === 1)) return REJECTED;
        return matches ? this.writes[index]! : state;
      }
    }
  }

  /** The one register value observer `index` accepts, or NONE (not an observer, or any value but one). */
  wantedState(index: number): number {
    if (this.observer[index] === 0) return NONE;
    switch (this.kinds[index]) {
      case GET:
        return this.observed[index]!;
      case DELETE:
        return ABSENT;
      default:
        return this.observed[index] === 1 ? this.expects[index]! : NONE;
    }
  }

  /** Whether operation `index`, taking effect in `state`, sets the register (for reports). */
  writesIn(index: number, state: number): boolean {
    const kind = this.kinds[index];
    return kind === PUT || kind === DELETE || (kind === CAS && state === this.expects[index]);
  }
}

// ---------------------------------------------------------------------------------------------
// The cache of configurations: an open-addressing hash set over (trimmed bitset, register value).

const INSERTED = 0;
const PRESENT = 1;
const FULL = 2;
type InsertOutcome = typeof INSERTED | typeof PRESENT | typeof FULL;

const ALL_ONES = 0xffff_ffff;
const SLOTS_INITIAL = 1024;
const ENTRIES_INITIAL = SLOTS_INITIAL / 2;
const ARENA_WORDS_INITIAL = 4096;

class ConfigurationCache {
  /** Entry index + 1 per slot, 0 = empty. At most half full, so every probe sequence ends. */
  private slots = new Int32Array(SLOTS_INITIAL);
  private hashes = new Int32Array(ENTRIES_INITIAL);
  private states = new Int32Array(ENTRIES_INITIAL);
  /** KeySearch.contextAfter() of the configuration: which restriction its branching is under. */
  private contexts = new Float64Array(ENTRIES_INITIAL);
  /** First stored word of the completed region and stored word count of that region. */
  private starts = new Int32Array(ENTRIES_INITIAL);
  private lengths = new Int32Array(ENTRIES_INITIAL);
  private offsets = new Int32Array(ENTRIES_INITIAL);
  private arena = new Uint32Array(ARENA_WORDS_INITIAL);
  private arenaUsed = 0;
  size = 0;

  /**
   * @param completedWords bitset words for operations with a response: [0, completedWords)
   * @param totalWords all bitset words; [completedWords, totalWords) is the pending region
   */
  constructor(
    private readonly completedWords: number,
    private readonly totalWords: number,
    private readonly statesMax: number,
  ) {}

  /** Adds (bits, state, context) unless present; FULL when the budget does not allow another entry. */
  insert(bits: Uint32Array, state: number, context: number): InsertOutcome {
    const start = firstIncompleteWord(bits, this.completedWords);
    const length = lastUsedWord(bits, start, this.completedWords) - start;
    const hash = hashConfiguration(bits, start, length, this.completedWords, this.totalWords, state, context);
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    for (let probe = 0; probe <= mask && this.slots[slot] !== 0; probe++) {
      const entry = this.slots[slot]! - 1;
      if (this.hashes[entry] === hash && this.contexts[entry] === context && this.matches(entry, bits, state, start, length)) return PRESENT;
      slot = (slot + 1) & mask;
    }
    assert(this.slots[slot] === 0, 'configuration cache has a free slot');
    const words = length + this.totalWords - this.completedWords;
    if (this.size >= this.statesMax || this.arenaUsed + words > linearizabilityLimits.cacheWordsMax) return FULL;
    this.append(bits, state, context, start, length, hash);
    this.slots[slot] = this.size;
    if (this.size * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    return INSERTED;
  }

  private matches(entry: number, bits: Uint32Array, state: number, start: number, length: number): boolean {
    if (this.states[entry] !== state || this.starts[entry] !== start || this.lengths[entry] !== length) return false;
    const arena = this.arena;
    const offset = this.offsets[entry]!;
    for (let word = 0; word < length; word++) if (arena[offset + word] !== bits[start + word]) return false;
    const pendingOffset = offset + length;
    for (let word = this.completedWords; word < this.totalWords; word++) {
      if (arena[pendingOffset + word - this.completedWords] !== bits[word]) return false;
    }
    return true;
  }

  private append(bits: Uint32Array, state: number, context: number, start: number, length: number, hash: number): void {
    if (this.size === this.hashes.length) this.growEntries();
    const words = length + this.totalWords - this.completedWords;
    while (this.arenaUsed + words > this.arena.length) this.arena = grown(this.arena, this.arena.length * 2);
    const entry = this.size++;
    this.hashes[entry] = hash;
    this.states[entry] = state;
    this.contexts[entry] = context;
    this.starts[entry] = start;
    this.lengths[entry] = length;
    this.offsets[entry] = this.arenaUsed;
    this.arena.set(bits.subarray(start, start + length), this.arenaUsed);
    this.arena.set(bits.subarray(this.completedWords, this.totalWords), this.arenaUsed + length);
    this.arenaUsed += words;
  }

  private growEntries(): void {
    const size = this.hashes.length * 2;
    this.hashes = grown(this.hashes, size);
    this.states = grown(this.states, size);
    this.contexts = grown(this.contexts, size);
    this.starts = grown(this.starts, size);
    this.lengths = grown(this.lengths, size);
    this.offsets = grown(this.offsets, size);
  }

  private rehash(slotCount: number): void {
    const slots = new Int32Array(slotCount);
    const mask = slotCount - 1;
    for (let entry = 0; entry < this.size; entry++) {
      let slot = this.hashes[entry]! & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    this.slots = slots;
  }
}

function grown<T extends Int32Array | Uint32Array | Float64Array>(array: T, size: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(size);
  bigger.set(array);
  return bigger;
}

/** The first word of the completed region with a zero bit (all words before it are all ones). */
function firstIncompleteWord(bits: Uint32Array, completedWords: number): number {
  let word = 0;
  while (word < completedWords && bits[word] === ALL_ONES) word++;
  return word;
}

/** One past the last non-zero word of the completed region, at least `start`. */
function lastUsedWord(bits: Uint32Array, start: number, completedWords: number): number {
  let end = completedWords;
  while (end > start && bits[end - 1] === 0) end--;
  return end;
}

/** MurmurHash3-style hash of the canonical configuration (trim bounds, words, state, context). */
function hashConfiguration(
  bits: Uint32Array,
  start: number,
  length: number,
  completedWords: number,
  totalWords: number,
  state: number,
  context: number,
): number {
  let hash = mixWord(mixWord(0x9747b28c, state), start);
  hash = mixWord(mixWord(hash, context >>> 0), Math.floor(context / 0x1_0000_0000));
  for (let word = start; word < start + length; word++) hash = mixWord(hash, bits[word]!);
  for (let word = completedWords; word < totalWords; word++) hash = mixWord(hash, bits[word]!);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) | 0;
}

function mixWord(hash: number, word: number): number {
  let mixed = Math.imul(word, 0xcc9e2d51);
  mixed = (mixed << 15) | (mixed >>> 17);
  mixed = Math.imul(mixed, 0x1b873593);
  hash ^= mixed;
  hash = (hash << 13) | (hash >>> 19);
  return (Math.imul(hash, 5) + 0xe6546b64) | 0;
}

// ---------------------------------------------------------------------------------------------
// The search over one key.

/**
 * The order in which a configuration's candidates are branched on (observers never are: they are
 * forced or rejected). Every other candidate belongs to exactly one phase, so the order changes
 * how fast a linearization is found, never whether one is: first the writes that produce a value
 * some waiting observer reads (a read names what has to come next), those with a response before
 * those without; then the other operations with a response; then the other operations without
 * one (they may as well never happen). Even phases walk the event list, odd phases the classes
 * of operations without a response.
 */
const WANTED_COMPLETED_PHASE = 0;
const WANTED_PENDING_PHASE = 1;
const COMPLETED_PHASE = 2;
const PENDING_PHASE = 3;
const SKIPPED = -2;
type SearchStep = 'continue' | 'failed' | 'full';

type KeyOutcome =
  | { readonly verdict: 'linearizable' }
  | { readonly verdict: 'unknown' }
  | { readonly verdict: 'violation'; readonly violation: NonNullable<LinearizabilityResult['violation']> };

/** A search over a window of the history (checkWindow) instead of all of it. */
interface SearchWindow {
  /** The register before the first operation: a value id of the search's CompiledOperations. */
  readonly initialState: number;
  /** What a violation report says the proof covers. */
  readonly scope: string;
  /** The history's operation behind each relaxed copy, for reports. */
  readonly originals: ReadonlyMap<HistoryOp, HistoryOp>;
}

/** Where the search got furthest before it had to back off: what a violation report shows. */
interface Furthest {
  depth: number;
  /** The operation whose return event stopped the search there. */
  blocking: number;
  state: number;
  /** The last linearized operation that set the register, or NONE (still initially absent). */
  writer: number;
}

class KeySearch {
  private readonly compiled: CompiledOperations;
  /**
   * Event list of the operations with a response: entries 1..2c in time order (call and return
   * of each), HEAD = 0, NONE ends it. Linearizing an operation unlinks both of its events.
   */
  private readonly next: Int32Array;
  private readonly previous: Int32Array;
  private readonly entryOperation: Int32Array;
  private readonly entryIsReturn: Uint8Array;
  private readonly callEntry: Int32Array;
  private readonly returnEntry: Int32Array;
  /** Per class of operations without a response: how many of its members are linearized. */
  private readonly classUsed: Int32Array;
  /** Linearized set: bit of operation i is bitWord[i] / bitMask[i]. */
  private readonly bits: Uint32Array;
  private readonly bitWord: Int32Array;
  private readonly bitMask: Uint32Array;
  /** The linearization so far: operations in order and the register before each. */
  private readonly stackOperations: Int32Array;
  private readonly stackStates: Int32Array;
  /** 1 where the operation was forced (an observer), not branched on. */
  private readonly stackForced: Uint8Array;
  private depth = 0;
  private state = ABSENT;
  /** Operations with a response in the stack; the search succeeds when it reaches completedCount. */
  private completedLinearized = 0;
  private readonly cache: ConfigurationCache;
  private readonly furthest: Furthest = { depth: -1, blocking: NONE, state: ABSENT, writer: NONE };
  /** The cursor: the phase, and the next event (list phases) or class (class phases) in it. */
  private phase = WANTED_COMPLETED_PHASE;
  private position = NONE;
  /**
   * Of the current configuration: its first return event (NONE when every operation with a
   * response is linearized), whose time bounds the calls of the candidates, and the register
   * values its candidate observers wait for (wantedMarks[value] === wantedStamp).
   */
  private firstReturn = NONE;
  private candidateCallMax = Infinity;
  private readonly wantedMarks: Int32Array;
  private wantedStamp = 0;

  constructor(
    private readonly key: string,
    compiled: CompiledOperations,
    private readonly statesMax: number,
    private readonly window: SearchWindow = { initialState: ABSENT, scope: '', originals: new Map() },
  ) {
    this.compiled = compiled;
    this.state = window.initialState;
    const count = compiled.operations.length;
    const completedCount = compiled.completedCount;
    const entryCount = 2 * completedCount;
    this.next = new Int32Array(entryCount + 1);
    this.previous = new Int32Array(entryCount + 1);
    this.entryOperation = new Int32Array(entryCount + 1).fill(NONE);
    this.entryIsReturn = new Uint8Array(entryCount + 1);
    this.callEntry = new Int32Array(count).fill(NONE);
    this.returnEntry = new Int32Array(count).fill(NONE);
    this.linkEvents();
    this.classUsed = new Int32Array(compiled.classStarts.length - 1);
    const completedWords = Math.ceil(completedCount / 32);
    const totalWords = completedWords + Math.ceil((count - completedCount) / 32);
    this.bits = new Uint32Array(totalWords);
    this.bitWord = new Int32Array(count);
    this.bitMask = new Uint32Array(count);
    for (let index = 0; index < count; index++) {
      const position = index < completedCount ? index : completedWords * 32 + index - completedCount;
      this.bitWord[index] = position >>> 5;
      this.bitMask[index] = (1 << (position & 31)) >>> 0;
    }
    this.stackOperations = new Int32Array(count);
    this.stackStates = new Int32Array(count);
    this.stackForced = new Uint8Array(count);
    this.wantedMarks = new Int32Array(compiled.values.length);
    this.cache = new ConfigurationCache(completedWords, totalWords, statesMax);
  }

  /** Builds the time-ordered event list. At equal times calls come first: closed intervals. */
  private linkEvents(): void {
    const operations = this.compiled.operations;
    const events: Array<{ time: number; isReturn: boolean; operation: number }> = [];
    for (let index = 0; index < this.compiled.completedCount; index++) {
      const operation = operations[index]!;
      events.push({ time: operation.call, isReturn: false, operation: index });
      events.push({ time: operation.return!, isReturn: true, operation: index });
    }
    events.sort((a, b) => a.time - b.time || Number(a.isReturn) - Number(b.isReturn) || a.operation - b.operation);
    for (let position = 0; position < events.length; position++) {
      const entry = position + 1;
      const event = events[position]!;
      this.entryOperation[entry] = event.operation;
      this.entryIsReturn[entry] = event.isReturn ? 1 : 0;
      if (event.isReturn) this.returnEntry[event.operation] = entry;
      else this.callEntry[event.operation] = entry;
      this.previous[entry] = entry - 1;
      this.next[entry - 1] = entry;
    }
    this.next[events.length] = NONE;
  }

  run(): KeyOutcome {
    const walkMax = this.entryOperation.length + this.classUsed.length + 2;
    // Pushes need a new cache entry and pops undo pushes, so there are at most 2 * statesMax + 1
    // of them; between two of them the cursor walks the list or the classes once per phase.
    const stepsMax = (2 * this.statesMax + 2) * (PENDING_PHASE + 1) * walkMax;
    let outcome = this.descend();
    for (let step = 0; step < stepsMax; step++) {
      if (outcome === 'full') return { verdict: 'unknown' };
      if (outcome === 'failed') {
        if (!this.backtrack()) return this.violation();
        outcome = 'continue';
      }
      if (this.completedLinearized === this.compiled.completedCount) return { verdict: 'linearizable' };
      outcome = this.advance();
    }
    assert(false, `linearizability search of key ${JSON.stringify(this.key)} exceeded its step bound`);
  }

  /** One step of the cursor over the candidates of the current configuration. */
  private advance(): SearchStep {
    const operation = this.phase % 2 === 0 ? this.nextFromList() : this.nextFromClasses();
    if (operation === SKIPPED) return 'continue';
    if (operation === NONE) return this.nextPhase();
    if (this.phaseOf(operation) !== this.phase) return 'continue';
    const inserted = this.tryLinearize(operation, false);
    if (inserted === FULL) return 'full';
    return inserted === INSERTED ? this.descend() : 'continue';
  }

  /** The candidate at the cursor in a list phase (NONE past the last one), cursor moved on. */
  private nextFromList(): number {
    const entry = this.position;
    if (entry === NONE || this.entryIsReturn[entry] === 1) return NONE;
    this.position = this.next[entry]!;
    return this.entryOperation[entry]!;
  }

  /** The candidate of the class at the cursor in a class phase (SKIPPED if none), cursor moved on. */
  private nextFromClasses(): number {
    const index = this.position;
    if (index >= this.classUsed.length) return NONE;
    this.position = index + 1;
    const member = this.nextOfClass(index);
    return member === NONE ? SKIPPED : member;
  }

  /**
   * The member of class `index` the search may use next, if it is a candidate, else NONE.
   * Members are used in call order. WLOG: whenever one is a candidate so is every earlier one
   * (candidacy depends only on the call time), and they act alike, so in any linearization the
   * members used can be relabelled to be the earliest ones, in call order, without changing a
   * single state.
   */
  private nextOfClass(index: number): number {
    const compiled = this.compiled;
    const member = compiled.classStarts[index]! + this.classUsed[index]!;
    if (member >= compiled.classStarts[index + 1]!) return NONE;
    const operation = compiled.classMembers[member]!;
    return compiled.calls[operation]! <= this.candidateCallMax ? operation : NONE;
  }

  /** Starts the next phase over the same configuration; 'failed' after the last one. */
  private nextPhase(): SearchStep {
    if (this.phase < PENDING_PHASE) {
      this.phase++;
      this.position = this.phase % 2 === 0 ? this.next[HEAD]! : 0;
      return 'continue';
    }
    assert(this.firstReturn !== NONE, 'a configuration with operations left to linearize has a return event');
    this.noteFurthest(this.entryOperation[this.firstReturn]!);
    return 'failed';
  }

  /**
   * Enters the configuration just reached: linearizes the observers it forces, then points the
   * cursor at its first candidate. 'failed' when a forced configuration was already explored.
   */
  private descend(): SearchStep {
    // Each pass pushes one operation or ends, so there are at most (operations + 1) passes.
    for (let pass = 0; pass <= this.compiled.operations.length; pass++) {
      const observer = this.acceptedObserver();
      if (observer === NONE) {
        this.survey();
        this.phase = WANTED_COMPLETED_PHASE;
        this.position = this.next[HEAD]!;
        return 'continue';
      }
      const inserted = this.tryLinearize(observer, true);
      if (inserted === FULL) return 'full';
      if (inserted === PRESENT) return 'failed';
    }
    assert(false, 'forced observers exceed the operation count');
  }

  /**
   * A candidate observer (CompiledOperations.observer) that the register accepts now, or NONE.
   * Linearizing it at once loses no solution: it leaves the register unchanged and, being a
   * candidate, is preceded by no remaining operation, so in any linearization that completes
   * the current prefix it can be moved to the front and every state after stays the same. That
   * is why it is forced instead of branched on, and why its failure fails the configuration.
   */
  private acceptedObserver(): number {
    for (let entry = this.next[HEAD]!; entry !== NONE && this.entryIsReturn[entry] === 0; entry = this.next[entry]!) {
      const operation = this.entryOperation[entry]!;
      if (this.compiled.observer[operation] === 0 || this.compiled.step(operation, this.state) === REJECTED) continue;
      assert(this.mayFollowPending(operation), 'a forced observer may follow the pending operation before it');
      return operation;
    }
    return NONE;
  }

  /** Records what the current configuration's candidates depend on (see firstReturn). */
  private survey(): void {
    if (this.wantedStamp === 0x3fff_ffff) {
      this.wantedMarks.fill(0);
      this.wantedStamp = 0;
    }
    const stamp = ++this.wantedStamp;
    let entry = this.next[HEAD]!;
    for (; entry !== NONE && this.entryIsReturn[entry] === 0; entry = this.next[entry]!) {
      const wanted = this.compiled.wantedState(this.entryOperation[entry]!);
      if (wanted !== NONE) this.wantedMarks[wanted] = stamp;
    }
    this.firstReturn = entry;
    this.candidateCallMax = entry === NONE ? Infinity : this.compiled.operations[this.entryOperation[entry]!]!.return!;
  }

  /** The phase in which the current configuration branches on candidate `operation`, or SKIPPED. */
  private phaseOf(operation: number): number {
    if (this.compiled.observer[operation] === 1) return SKIPPED;
    const nextState = this.compiled.step(operation, this.state);
    if (nextState === REJECTED) return SKIPPED;
    const pending = operation >= this.compiled.completedCount;
    // A pending operation that changes nothing now is never needed now (see mayFollowPending).
    if (pending && nextState === this.state) return SKIPPED;
    if (!this.mayFollowPending(operation)) return SKIPPED;
    if (this.wantedMarks[nextState] === this.wantedStamp) return pending ? WANTED_PENDING_PHASE : WANTED_COMPLETED_PHASE;
    return pending ? PENDING_PHASE : COMPLETED_PHASE;
  }

  /**
   * Whether `operation` may come right after the operation on top of the linearization, if that
   * one is pending (has no response). Without this, every pending operation that never took
   * effect would double the configurations from its call on: it is a candidate forever, and the
   * search would try it, and everything after it, at every point.
   *
   * Canonical form: a pending operation p (register x0 -> x) can always be delayed or dropped
   * unless its successor o depends on it. Pending operations have no response, so no real-time
   * order forbids moving p later or dropping it (= never applied). If o takes effect in x0 with
   * the same outcome and state as in x, then "p; o" is the same as "o" and p is dropped. If o has
   * a response, takes effect in x0, and p after o ends in the same state as o after p, then "p; o"
   * is the same as "o; p" and p is delayed. Delaying only past operations with a response, and
   * dropping, strictly increases the positions of pending operations or removes one, so every
   * linearization can be rewritten until no pending operation is followed by such an o: it is
   * enough to try only the other successors. The forced observers agree with this: one accepted
   * in x0 would have been forced before p was tried, so one forced after p is rejected in x0.
   * Configurations reached under this restriction are cached apart (contextAfter).
   */
  private mayFollowPending(operation: number): boolean {
    if (this.depth === 0) return true;
    const compiled = this.compiled;
    const pending = this.stackOperations[this.depth - 1]!;
    if (pending < compiled.completedCount) return true;
    const withoutPending = compiled.step(operation, this.stackStates[this.depth - 1]!);
    if (withoutPending === REJECTED) return true;
    const withPending = compiled.step(operation, this.state);
    if (withPending === REJECTED || withPending === withoutPending) return false;
    return operation >= compiled.completedCount || compiled.step(pending, withoutPending) !== withPending;
  }

  /**
   * The cache context of the configuration that pushing `operation` now reaches: 0, or, when
   * the operation is pending, which one it is and the register before it, because then the next
   * step is restricted (mayFollowPending) and a failure there proves less.
   */
  private contextAfter(operation: number): number {
    if (operation < this.compiled.completedCount) return 0;
    return 1 + operation * this.compiled.values.length + this.state;
  }

  /**
   * Takes back the last branched-on operation (and the forced ones above it) and moves the
   * cursor to the candidate after it. False when nothing is left to take back: no linearization.
   */
  private backtrack(): boolean {
    while (this.depth > 0) {
      const forced = this.stackForced[this.depth - 1] === 1;
      const operation = this.pop();
      if (forced) continue;
      this.survey();
      this.phase = this.phaseOf(operation);
      assert(this.phase !== SKIPPED, 'an operation taken back was a candidate of the configuration below');
      const pending = operation >= this.compiled.completedCount;
      this.position = pending ? this.compiled.classOf[operation]! + 1 : this.next[this.callEntry[operation]!]!;
      return true;
    }
    return false;
  }

  /**
   * Makes `operation` take effect next if the model allows it and the configuration is new.
   * Returns INSERTED when it did; PRESENT also stands for "the model rejects it": either way the
   * caller moves on to the next candidate.
   */
  private tryLinearize(operation: number, forced: boolean): InsertOutcome {
    const nextState = this.compiled.step(operation, this.state);
    if (nextState === REJECTED) return PRESENT;
    const word = this.bitWord[operation]!;
    const mask = this.bitMask[operation]!;
    this.bits[word] = (this.bits[word]! | mask) >>> 0;
    const outcome = this.cache.insert(this.bits, nextState, this.contextAfter(operation));
    if (outcome !== INSERTED) {
      this.bits[word] = (this.bits[word]! & ~mask) >>> 0;
      return outcome;
    }
    this.stackOperations[this.depth] = operation;
    this.stackStates[this.depth] = this.state;
    this.stackForced[this.depth] = forced ? 1 : 0;
    this.depth++;
    this.state = nextState;
    this.lift(operation, 1);
    return INSERTED;
  }

  /** Undoes the last linearization step; returns the operation taken back. */
  private pop(): number {
    assert(this.depth > 0, 'pop from an empty linearization');
    this.depth--;
    const operation = this.stackOperations[this.depth]!;
    this.state = this.stackStates[this.depth]!;
    const word = this.bitWord[operation]!;
    this.bits[word] = (this.bits[word]! & ~this.bitMask[operation]!) >>> 0;
    this.lift(operation, -1);
    return operation;
  }

  /**
   * Takes the operation out of the candidates (direction 1) or puts it back (-1): for one with a
   * response its two events (dancing links: unlinked call then return, relinked in reverse
   * order, which restores every link exactly), for one without, its class's use count.
   */
  private lift(operation: number, direction: 1 | -1): void {
    if (operation >= this.compiled.completedCount) {
      this.classUsed[this.compiled.classOf[operation]!]! += direction;
      return;
    }
    this.completedLinearized += direction;
    if (direction === 1) {
      this.unlink(this.callEntry[operation]!);
      this.unlink(this.returnEntry[operation]!);
    } else {
      this.relink(this.returnEntry[operation]!);
      this.relink(this.callEntry[operation]!);
    }
  }

  private unlink(entry: number): void {
    const after = this.next[entry]!;
    this.next[this.previous[entry]!] = after;
    if (after !== NONE) this.previous[after] = this.previous[entry]!;
  }

  private relink(entry: number): void {
    const after = this.next[entry]!;
    this.next[this.previous[entry]!] = entry;
    if (after !== NONE) this.previous[after] = entry;
  }

  private noteFurthest(blocking: number): void {
    if (this.depth <= this.furthest.depth) return;
    this.furthest.depth = this.depth;
    this.furthest.blocking = blocking;
    this.furthest.state = this.state;
    this.furthest.writer = this.lastWriter();
  }

  private lastWriter(): number {
    for (let position = this.depth - 1; position >= 0; position--) {
      const operation = this.stackOperations[position]!;
      if (this.compiled.writesIn(operation, this.stackStates[position]!)) return operation;
    }
    return NONE;
  }

  /** Configurations cached so far: the budget this search used. */
  get statesUsed(): number {
    return this.cache.size;
  }

  /** How far a failed search got: a violation report's depth, and its blocking operation. */
  get furthestDepth(): number {
    return this.furthest.depth;
  }

  get furthestBlocking(): HistoryOp | undefined {
    return this.furthest.blocking === NONE ? undefined : this.compiled.operations[this.furthest.blocking];
  }

  private violation(): KeyOutcome {
    const compiled = this.compiled;
    const furthest = this.furthest;
    assert(furthest.blocking !== NONE, 'a violation was reached through a return event');
    const original = (operation: HistoryOp): HistoryOp => this.window.originals.get(operation) ?? operation;
    const blocking = original(compiled.operations[furthest.blocking]!);
    const writer = furthest.writer === NONE ? undefined : original(compiled.operations[furthest.writer]!);
    // An unobserved value has no single string; the writer that set it names it, if any.
    const unread = writer === undefined ? 'holding a value no operation reads' : describeValue(writer.value);
    const holds = furthest.state === UNOBSERVED ? unread : describeValue(compiled.values[furthest.state]);
    const setBy = writer === undefined ? 'no write linearized yet' : `last set by ${describeOperation(writer)}`;
    const message =
      `key ${JSON.stringify(this.key)} is not linearizable${this.window.scope}: the longest linearizable prefix found has ` +
      `${furthest.depth} of ${compiled.operations.length} operations and leaves the key ${holds} (${setBy}); ` +
      `from there ${describeOperation(blocking)} cannot take effect before its response`;
    const operations = violationWindow(compiled.operations.map(original), blocking, writer);
    return { verdict: 'violation', violation: { key: this.key, message, operations } };
  }
}

// ---------------------------------------------------------------------------------------------
// One key: the whole history, then, if that runs out of budget, a local proof.

/**
 * Window sizes for local proofs: completed operations called before the one the full search
 * could not get past. Each window is tried only if the smaller ones proved nothing.
 */
const PROOF_WINDOW_SPANS = [16, 64, 256, 1024, 4096] as const;

function checkKey(key: string, operations: readonly HistoryOp[], statesMax: number): KeyOutcome {
  const search = new KeySearch(key, new CompiledOperations(operations), statesMax);
  const outcome = search.run();
  const blocking = search.furthestBlocking;
  if (outcome.verdict !== 'unknown' || blocking === undefined) return outcome;
  return proveLocally(key, operations, blocking, statesMax) ?? outcome;
}

/**
 * Tries to prove a violation from the operations near where the full search got stuck, with a
 * further budget of statesMax configurations in all. A proof on a window is a proof for the
 * whole history, because the window is a relaxation of it (checkWindow). Undefined: no proof.
 */
function proveLocally(key: string, operations: readonly HistoryOp[], blocking: HistoryOp, statesMax: number): KeyOutcome | undefined {
  const completed = operations.filter((operation) => operation.return !== undefined).sort((a, b) => a.call - b.call);
  const blockingIndex = completed.indexOf(blocking);
  assert(blockingIndex >= 0, 'the blocking operation has a response');
  let budget = statesMax;
  for (const span of PROOF_WINDOW_SPANS) {
    // A window reaching the first operation is the whole history, already searched.
    if (blockingIndex - span <= 0 || budget <= 0) return undefined;
    const window = checkWindow(key, operations, completed[blockingIndex - span]!.call, budget);
    if (window.outcome?.verdict === 'violation') return window.outcome;
    budget -= window.statesUsed;
  }
  return undefined;
}

/**
 * Searches the operations from time `start` on, from every register value possible at `start`.
 * The window relaxes the history: operations that returned before `start` are gone (all of them
 * precede everything called from `start` on, so their effect is the value at `start`), and
 * operations called before `start` that had not returned by then become operations without a
 * response (they may have taken effect before `start` or after, and their results are no longer
 * checked). Every linearization of the history gives one of the window from the value the
 * register held after the last operation gone, which some operation called before `start` wrote
 * (or it is absent). So if the window has no linearization from any such value, neither has the
 * history. Returns the violation if proven, else undefined, and the configurations used.
 */
function checkWindow(key: string, operations: readonly HistoryOp[], start: number, budget: number): { outcome?: KeyOutcome; statesUsed: number } {
  const windowOperations: HistoryOp[] = [];
  const originals = new Map<HistoryOp, HistoryOp>();
  const startValues = new Set<string | null>([null]);
  for (const operation of operations) {
    if (operation.call < start && typeof operation.value === 'string') startValues.add(operation.value);
    if (operation.return !== undefined && operation.return < start) continue;
    if (operation.call >= start) {
      windowOperations.push(operation);
    } else if (operation.kind !== 'get') {
      const relaxed: HistoryOp = { ...operation, return: undefined, result: undefined };
      originals.set(relaxed, operation);
      windowOperations.push(relaxed);
    }
  }
  const compiled = new CompiledOperations(windowOperations);
  const initialStates = new Set([...startValues].map((value) => compiled.valueId(value)));
  const scope = ` (whatever it held at time ${start}, the operations from then on have no linearization)`;
  let statesUsed = 0;
  let deepest: { search: KeySearch; outcome: KeyOutcome } | undefined;
  for (const initialState of initialStates) {
    if (statesUsed >= budget) return { statesUsed };
    const search = new KeySearch(key, compiled, budget - statesUsed, { initialState, scope, originals });
    const outcome = search.run();
    statesUsed += search.statesUsed;
    if (outcome.verdict !== 'violation') return { statesUsed };
    if (deepest === undefined || search.furthestDepth > deepest.search.furthestDepth) deepest = { search, outcome };
  }
  assert(deepest !== undefined, 'a window starts from at least one value');
  return { outcome: deepest.outcome, statesUsed };
}

// ---------------------------------------------------------------------------------------------
// Reports.

/**
 * The operations a reader needs to see the violation: those overlapping the span from the last
 * write the search could place to the response of the operation it could not place. Capped at
 * violationOperationsMax, keeping the ones nearest the blocking operation and the writer.
 */
function violationWindow(operations: readonly HistoryOp[], blocking: HistoryOp, writer: HistoryOp | undefined): HistoryOp[] {
  const end = blocking.return!;
  const start = Math.min(blocking.call, writer?.call ?? blocking.call);
  const window = operations
    .filter((operation) => operation.call <= end && (operation.return ?? Infinity) >= start)
    .sort((a, b) => a.call - b.call || a.id - b.id);
  const limit = linearizabilityLimits.violationOperationsMax;
  if (window.length <= limit) return window;
  const kept = window.slice(window.length - limit);
  if (writer !== undefined && !kept.includes(writer)) kept[0] = writer;
  if (!kept.includes(blocking)) kept[kept.length - 1] = blocking;
  return kept.sort((a, b) => a.call - b.call || a.id - b.id);
}

function describeValue(value: string | null | undefined): string {
  return value === null || value === undefined ? 'absent' : JSON.stringify(value);
}

/** e.g. `op 7 (process 2: get -> "v1", [30, 40])`. */
function describeOperation(operation: HistoryOp): string {
  const span = `[${operation.call}, ${operation.return ?? 'no response'}]`;
  return `op ${operation.id} (process ${operation.process}: ${describeAction(operation)}, ${span})`;
}

function describeAction(operation: HistoryOp): string {
  const done = operation.return !== undefined;
  const result = operation.result;
  switch (operation.kind) {
    case 'get':
      return `get -> ${done ? describeValue(result?.value) : '?'}`;
    case 'put':
      return `put ${describeValue(operation.value)}`;
    case 'delete':
      return `delete -> ${done ? (result?.deleted === true ? 'deleted' : 'was absent') : '?'}`;
    case 'cas':
      return `cas ${describeValue(operation.expect)} => ${describeValue(operation.value)} -> ${done ? (result?.ok === true ? 'ok' : 'mismatch') : '?'}`;
  }
}
