/**
 * State sync: a node whose next block no peer keeps any more (retention pruned it, so catch-up by
 * blocks cannot go on) loads the state of a recent checkpoint instead, and then catches up by
 * blocks from there (ARCHITECTURE §2, §4). Owns the sync in flight; the replica routes the
 * messages and installs the result. Nothing a peer sends is trusted:
 *
 *   1. offers    every peer is asked for its newest checkpoint; the highest one above our head
 *                wins, and the peers offering that same checkpoint are its sources;
 *   2. headers   the headers from our head up to the checkpoint's height, in bounded batches,
 *                each link and history root checked (src/ledger/header-chain.ts); then the offer
 *                must name that header's block, and its two trie roots must hash to that
 *                header's state root;
 *   3. chunks    fetched from the sources, followers before the leader (it has the most to do),
 *                a few in flight, under a bytes-per-tick budget; each is checked on its own
 *                against the trie roots (a range proof: src/kv/snapshot.ts) before it is kept. A
 *                bad or missing chunk is fetched from another source, and the peer that sent it
 *                is not asked again in this sync;
 *   4. finish    the loaded state's root must be the header's state root (Ledger.resume): then
 *                the ledger is the chain's at that height, exactly what replaying it would give.
 *
 * A sync that cannot go on (no offers, every source avoided, a final check that fails) ends; the
 * next empty `blocks` reply from a pruned peer starts another. Bounds: one sync at a time;
 * offers <= members; headers per request <= HEADERS_PER_MESSAGE_MAX; chunks in flight and kept
 * ahead of the load order <= chunksInFlight.
 */
import { bytesEqual, concatBytes } from '../lib/bytes.js';
import { SHA256_BYTES } from '../lib/sha256.js';
import { HEADER_BYTES, STATE_ROOT_OFFSET } from '../chain/block.js';
import { chunkHash, SnapshotLoader, verifyChunk } from '../kv/snapshot.js';
import { STATE_ROOT_TAG } from '../kv/state-proof.js';
import type { KvState, KvStateOptions } from '../kv/state.js';
import { HeaderChain } from '../ledger/header-chain.js';
import { Ledger } from '../ledger/ledger.js';
import type { NodeId } from '../paxos/ballot.js';
import type { ChunkMessage, HeadersMessage, Message, SnapshotOffer, SnapshotOfferMessage } from './messages.js';
import { HEADERS_PER_MESSAGE_MAX } from './messages.js';
import type { EventLevel, SnapshotInstall, SyncWrites } from './ready.js';

/** How long (in request timeouts) a peer that sent a bad chunk or header is passed over. */
const DISTRUST_REQUEST_TIMEOUTS = 30;

export interface StateSyncLimits {
  /** Chunk requests in flight at once (and chunks kept ahead of the load order). */
  readonly chunksInFlight: number;
  /** Chunk bytes that may arrive per tick (Infinity: no limit); the bucket holds one second's worth at most. */
  readonly snapshotBytesPerTick: number;
  /** Ticks a request (offer, headers, chunk) waits for its answer. */
  readonly requestTimeoutTicks: number;
}

interface Flight {
  readonly peer: NodeId;
  readonly sentTick: number;
}

export interface SyncContext {
  readonly self: NodeId;
  readonly tick: number;
  readonly leader: NodeId;
  /** This chain's genesis record and the options its states are made with. */
  readonly genesisRecord: Uint8Array;
  readonly stateOptions: KvStateOptions;
  send(message: Message): void;
  event(level: EventLevel, message: string, fields?: Record<string, unknown>): void;
}

/** What a finished sync hands the replica: the ledger at the checkpoint, and what to persist. */
export interface SyncResult {
  readonly ledger: Ledger;
  readonly install: Omit<SnapshotInstall, 'blocksBefore'>;
}

type Phase =
  | { readonly kind: 'idle' }
  | { readonly kind: 'offers'; readonly since: number; readonly asked: ReadonlySet<NodeId>; readonly answered: Set<NodeId>; readonly offers: Map<NodeId, SnapshotOffer> }
  | { readonly kind: 'headers'; readonly offer: SnapshotOffer; readonly chain: HeaderChain; flight: (Flight & { from: number }) | undefined; header: Uint8Array | undefined }
  | {
      readonly kind: 'chunks';
      readonly offer: SnapshotOffer;
      readonly chain: HeaderChain;
      readonly header: Uint8Array;
      readonly state: KvState;
      readonly loader: SnapshotLoader;
      readonly genesis: NonNullable<Ledger['genesis']>;
      readonly inFlight: Map<number, Flight>;
      readonly received: Map<number, { readonly bytes: Uint8Array; readonly peer: NodeId }>;
      readonly chunkHashes: Uint8Array;
      /** Chunks loaded, kept to be stored with the install (none is written before the sync succeeds). */
      readonly loaded: Uint8Array[];
      nextRequest: number;
      nextLoad: number;
    };

export class StateSync {
  private phase: Phase = { kind: 'idle' };
  /** Sources of the current sync, followers first; those that failed it are skipped. */
  private sources: NodeId[] = [];
  private readonly avoided = new Set<NodeId>();
  /**
   * Peers that sent something that failed a check (a chunk's proof, a header link), until the
   * tick given: their offers are passed over for DISTRUST_REQUEST_TIMEOUTS request timeouts, so a
   * faulty member that alone offers the newest checkpoint cannot hold a sync up. Size <= members.
   */
  private readonly distrusted = new Map<NodeId, number>();
  private turn = 0;
  /** The members asked for offers, and the tick before which no new sync starts (after a failure). */
  private members: readonly NodeId[] = [];
  private retryAt = 0;
  /** The leader when the sources were chosen (asked last). */
  private leader: NodeId = 0;
  private tokens: number;
  /** What to persist, handed to the Ready by takeWrites(). */
  private writes: SyncWrites = { headers: [], chunks: [] };
  /** Syncs finished, chunks refused (their proof failed) and chunks loaded, for status and tests. */
  readonly stats = { syncs: 0, chunksRefused: 0, chunksLoaded: 0 };

  constructor(private readonly limits: StateSyncLimits) {
    this.tokens = this.burst;
  }

  private get burst(): number {
    return Number.isFinite(this.limits.snapshotBytesPerTick) ? this.limits.snapshotBytesPerTick * 100 : Infinity;
  }

  get active(): boolean {
    return this.phase.kind !== 'idle';
  }

  /** Where the sync is, for status: the phase, and the checkpoint's height and chunks loaded once chosen. */
  get progress(): { phase: Phase['kind']; height: number | null; chunks: number | null; loaded: number } {
    const phase = this.phase;
    if (phase.kind === 'idle' || phase.kind === 'offers') return { phase: phase.kind, height: null, chunks: null, loaded: 0 };
    return { phase: phase.kind, height: phase.offer.height, chunks: phase.offer.chunks, loaded: phase.kind === 'chunks' ? phase.nextLoad : 0 };
  }

  takeWrites(): SyncWrites | undefined {
    if (this.writes.headers.length === 0 && this.writes.chunks.length === 0) return undefined;
    const writes = this.writes;
    this.writes = { headers: [], chunks: [] };
    return writes;
  }

  /** Starts a sync (if none runs, and the last one did not fail just now) by asking every peer for its newest checkpoint. */
  begin(context: SyncContext, peers: readonly NodeId[], why: string): void {
    if (this.phase.kind !== 'idle' || context.tick < this.retryAt) return;
    this.members = peers;
    this.avoided.clear();
    const asked = new Set(peers.filter((peer) => peer !== context.self));
    if (asked.size === 0) return;
    context.event('info', `state sync: ${why}; asking ${asked.size} peers for their newest checkpoint`);
    this.phase = { kind: 'offers', since: context.tick, asked, answered: new Set(), offers: new Map() };
    for (const peer of asked) context.send({ type: 'snapshot-request', from: context.self, to: peer });
  }

  onOffer(context: SyncContext, ledger: Ledger, message: SnapshotOfferMessage): void {
    const phase = this.phase;
    if (phase.kind !== 'offers' || !phase.asked.has(message.from)) return;
    phase.answered.add(message.from);
    if (message.offer) phase.offers.set(message.from, message.offer);
    if (phase.answered.size === phase.asked.size) this.choose(context, ledger);
  }

  tick(context: SyncContext, ledger: Ledger): void {
    this.tokens = Math.min(this.burst, this.tokens + this.limits.snapshotBytesPerTick);
    const phase = this.phase;
    const timeout = this.limits.requestTimeoutTicks;
    if (phase.kind === 'offers' && context.tick - phase.since >= timeout) this.choose(context, ledger);
    else if (phase.kind === 'headers' && phase.flight && context.tick - phase.flight.sentTick >= timeout) {
      this.avoid(context, phase.flight.peer, 'did not answer a headers request in time');
      phase.flight = undefined;
      this.requestHeaders(context);
    } else if (phase.kind === 'chunks') {
      for (const [index, flight] of phase.inFlight) {
        if (context.tick - flight.sentTick < timeout) continue;
        phase.inFlight.delete(index);
        this.avoid(context, flight.peer, `did not send chunk ${index} in time`);
      }
      this.requestChunks(context);
    }
  }

  onHeaders(context: SyncContext, message: HeadersMessage): void {
    const phase = this.phase;
    if (phase.kind !== 'headers' || !phase.flight || phase.flight.peer !== message.from || message.fromHeight !== phase.flight.from) return;
    phase.flight = undefined;
    const count = message.headers.length / HEADER_BYTES;
    const wanted = Math.min(phase.offer.height - message.fromHeight + 1, count);
    const headers: Uint8Array[] = [];
    const heights: number[] = [];
    for (let i = 0; i < wanted; i++) {
      headers.push(message.headers.slice(i * HEADER_BYTES, (i + 1) * HEADER_BYTES));
      heights.push(message.fromHeight + i);
    }
    const problem = wanted > 0 ? phase.chain.add(heights, headers) : { reason: 'MISSING_BLOCK', message: 'no headers' };
    if (problem) {
      this.avoid(context, message.from, `sent headers that do not link (${problem.message})`, true);
      return this.requestHeaders(context);
    }
    for (let i = 0; i < headers.length; i++) this.writes.headers.push({ height: heights[i]!, header: headers[i]! });
    if (phase.chain.nextHeight > phase.offer.height) phase.header = headers[headers.length - 1];
    this.requestHeaders(context);
  }

  /** A chunk from a source: checked on its own against the trie roots, then loaded in order. */
  onChunk(context: SyncContext, ledger: Ledger, message: ChunkMessage): SyncResult | undefined {
    const phase = this.phase;
    if (phase.kind !== 'chunks' || message.height !== phase.offer.height) return undefined;
    const flight = phase.inFlight.get(message.index);
    if (!flight || flight.peer !== message.from) return undefined;
    phase.inFlight.delete(message.index);
    const bytes = message.bytes;
    if (bytes === null) {
      // The source dropped that checkpoint (a newer one replaced it): start over with the newest.
      this.avoided.add(message.from);
      if (this.sources.every((peer) => this.avoided.has(peer))) {
        this.phase = { kind: 'idle' };
        context.event('info', `state sync: the sources dropped the checkpoint at ${phase.offer.height}; asking for their newest`);
        this.begin(context, this.members, 'the chosen checkpoint is gone');
      } else {
        this.requestChunks(context);
      }
      return undefined;
    }
    const refused = verifyChunk(ledger.sha256, bytes, phase.offer);
    if (refused !== undefined) {
      this.stats.chunksRefused++;
      this.avoid(context, message.from, `sent chunk ${message.index} of checkpoint ${phase.offer.height} that was refused: ${refused}`, true);
      this.requestChunks(context);
      return undefined;
    }
    this.tokens -= bytes.length;
    phase.received.set(message.index, { bytes, peer: message.from });
    for (let entry = phase.received.get(phase.nextLoad); entry !== undefined; entry = phase.received.get(phase.nextLoad)) {
      phase.received.delete(phase.nextLoad);
      const next = entry.bytes;
      const problem = phase.loader.add(next);
      if (problem) {
        // A chunk that proves but does not fit (another index's subtree, a key twice): its sender lied.
        this.avoid(context, entry.peer, `sent chunk ${phase.nextLoad} that proves but does not load (${problem})`, true);
        return this.fail(context, `chunk ${phase.nextLoad} of checkpoint ${phase.offer.height} does not load (${problem})`);
      }
      phase.chunkHashes.set(chunkHash(ledger.sha256, next), phase.nextLoad * SHA256_BYTES);
      phase.loaded.push(next);
      this.stats.chunksLoaded++;
      phase.nextLoad++;
    }
    if (phase.nextLoad === phase.offer.chunks) return this.finish(context, ledger);
    this.requestChunks(context);
    return undefined;
  }

  private choose(context: SyncContext, ledger: Ledger): void {
    const phase = this.phase;
    if (phase.kind !== 'offers') return;
    const head = ledger.head?.height ?? -1;
    for (const [peer, until] of this.distrusted) if (until <= context.tick) this.distrusted.delete(peer);
    let best: SnapshotOffer | undefined;
    for (const [peer, offer] of phase.offers) if (offer.height > head && !this.distrusted.has(peer) && (!best || offer.height > best.height)) best = offer;
    if (!best) {
      this.phase = { kind: 'idle' };
      context.event('warn', `state sync: no peer offers a checkpoint above our head ${head}; trying again later`);
      return;
    }
    const chosen = best;
    const same = (offer: SnapshotOffer) => offer.height === chosen.height && bytesEqual(offer.blockHash, chosen.blockHash) && bytesEqual(offer.kvRoot, chosen.kvRoot) && bytesEqual(offer.sessionsRoot, chosen.sessionsRoot) && offer.chunks === chosen.chunks;
    this.leader = context.leader;
    this.sources = [...phase.offers].filter(([peer, offer]) => same(offer) && !this.distrusted.has(peer)).map(([peer]) => peer).sort((a, b) => Number(a === context.leader) - Number(b === context.leader) || a - b);
    context.event('info', `state sync: chose the checkpoint at height ${chosen.height} (${chosen.keys} keys, ${chosen.chunks} chunks) offered by nodes ${this.sources.join(', ')}`, { height: chosen.height });
    const chain = HeaderChain.continuing(ledger.sha256, ledger.history, head + 1);
    this.phase = { kind: 'headers', offer: chosen, chain, flight: undefined, header: undefined };
    this.requestHeaders(context);
  }

  /** The next batch of headers, or on to the chunks once the checkpoint's header is in. */
  private requestHeaders(context: SyncContext): void {
    const phase = this.phase;
    if (phase.kind !== 'headers' || phase.flight) return;
    if (phase.header) return this.startChunks(context, phase.offer, phase.chain, phase.header);
    const peer = this.nextSource();
    if (peer === undefined) return void this.fail(context, 'no source left for the headers');
    const from = phase.chain.nextHeight;
    const count = Math.min(HEADERS_PER_MESSAGE_MAX, phase.offer.height - from + 1);
    phase.flight = { peer, sentTick: context.tick, from };
    context.send({ type: 'headers-request', from: context.self, to: peer, fromHeight: from, count });
  }

  private startChunks(context: SyncContext, offer: SnapshotOffer, chain: HeaderChain, header: Uint8Array): void {
    // The offer must be of the chain's block at its height, with roots that make its state root.
    const stateRoot = sha256Of(chain, offer);
    if (!bytesEqual(chain.history.leaf(offer.height), offer.blockHash) || !bytesEqual(stateRoot, header.subarray(STATE_ROOT_OFFSET, STATE_ROOT_OFFSET + SHA256_BYTES))) {
      for (const peer of this.sources) this.avoided.add(peer);
      return void this.fail(context, `the offered checkpoint at ${offer.height} is not of the chain's block there (block hash or trie roots do not match header ${offer.height})`);
    }
    const genesisRecord = context.genesisRecord;
    const fresh = Ledger.genesisState(chain.sha256, context.stateOptions, genesisRecord, chain.history.leaf(0));
    if (typeof fresh === 'string') return void this.fail(context, fresh);
    this.phase = {
      kind: 'chunks',
      offer,
      chain,
      header,
      state: fresh.state,
      loader: new SnapshotLoader(fresh.state),
      genesis: fresh.genesis,
      inFlight: new Map(),
      received: new Map(),
      chunkHashes: new Uint8Array(offer.chunks * SHA256_BYTES),
      loaded: [],
      nextRequest: 0,
      nextLoad: 0,
    };
    context.event('info', `state sync: headers up to ${offer.height} check out; fetching ${offer.chunks} chunks`, { height: offer.height });
    this.requestChunks(context);
  }

  private requestChunks(context: SyncContext): void {
    const phase = this.phase;
    if (phase.kind !== 'chunks') return;
    // Chunks refused or timed out are asked for again first (the lowest missing index).
    for (let index = phase.nextLoad; index < phase.nextRequest && phase.inFlight.size < this.limits.chunksInFlight && this.tokens > 0; index++) {
      if (phase.inFlight.has(index) || phase.received.has(index)) continue;
      if (!this.requestChunk(context, phase, index)) return;
    }
    while (phase.nextRequest < phase.offer.chunks && phase.inFlight.size + phase.received.size < this.limits.chunksInFlight && this.tokens > 0) {
      if (!this.requestChunk(context, phase, phase.nextRequest)) return;
      phase.nextRequest++;
    }
  }

  private requestChunk(context: SyncContext, phase: Extract<Phase, { kind: 'chunks' }>, index: number): boolean {
    const peer = this.nextSource();
    if (peer === undefined) {
      this.fail(context, `no source left for chunk ${index}`);
      return false;
    }
    phase.inFlight.set(index, { peer, sentTick: context.tick });
    context.send({ type: 'chunk-request', from: context.self, to: peer, height: phase.offer.height, index });
    return true;
  }

  private finish(context: SyncContext, ledger: Ledger): SyncResult | undefined {
    const phase = this.phase;
    if (phase.kind !== 'chunks') return undefined;
    const { offer } = phase;
    const counted = phase.loader.finish(offer);
    const resumed = counted ?? Ledger.resume(ledger.sha256, context.stateOptions, context.genesisRecord, phase.genesis, phase.chain.history, phase.header, phase.state);
    if (typeof resumed === 'string') {
      for (const peer of this.sources) this.avoided.add(peer);
      return this.fail(context, `the checkpoint at ${offer.height} does not check out: ${resumed}`);
    }
    this.phase = { kind: 'idle' };
    this.stats.syncs++;
    for (const [index, bytes] of phase.loaded.entries()) this.writes.chunks.push({ height: offer.height, index, bytes });
    context.event('info', `state sync: loaded the checkpoint at height ${offer.height} (${offer.keys} keys, ${offer.sessions} sessions); its root is header ${offer.height}'s state root`, { height: offer.height });
    const install: Omit<SnapshotInstall, 'blocksBefore'> = {
      height: offer.height,
      blockHash: offer.blockHash,
      stateRoot: resumed.state.root(),
      kvRoot: offer.kvRoot,
      sessionsRoot: offer.sessionsRoot,
      keys: offer.keys,
      bytes: offer.bytes,
      sessions: offer.sessions,
      chunkHashes: phase.chunkHashes,
    };
    return { ledger: resumed, install };
  }

  private fail(context: SyncContext, why: string): undefined {
    context.event('warn', `state sync stopped: ${why}; another starts after ${this.limits.requestTimeoutTicks} ticks`);
    this.phase = { kind: 'idle' };
    this.retryAt = context.tick + this.limits.requestTimeoutTicks;
    return undefined;
  }

  private avoid(context: SyncContext, peer: NodeId, why: string, distrust = false): void {
    this.avoided.add(peer);
    if (distrust) this.distrusted.set(peer, context.tick + DISTRUST_REQUEST_TIMEOUTS * this.limits.requestTimeoutTicks);
    context.event('warn', `state sync: node ${peer} ${why}; asking another source`, { peer });
  }

  /**
   * The next source in turn that has not failed this sync: the followers among them in turn, the
   * leader only when no follower is left (it carries the cluster's writes).
   */
  private nextSource(): NodeId | undefined {
    const usable = this.sources.filter((peer) => !this.avoided.has(peer));
    if (usable.length === 0) return undefined;
    const followers = usable.filter((peer) => peer !== this.leader);
    const pool = followers.length > 0 ? followers : usable;
    return pool[this.turn++ % pool.length];
  }
}

function sha256Of(chain: HeaderChain, offer: SnapshotOffer): Uint8Array {
  return chain.sha256.hash(concatBytes(STATE_ROOT_TAG, offer.kvRoot, offer.sessionsRoot));
}
