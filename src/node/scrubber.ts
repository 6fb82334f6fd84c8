/**
 * The node's scrub (src/host/scrub.ts): re-verifies its stored blocks against the chain's hashes,
 * `scrubBlocksPerSecond` of them spread over SCRUB_INTERVAL_MS steps, cycling from the oldest kept
 * body to the written head; a damaged block (found by the scrub, or by serving it: `serveCheck`)
 * is fetched again from a peer (BodyRepair) and rewritten once it checks out. The simulator runs
 * the same host pieces in test/sim/node.ts.
 */
import type { Sha256 } from '../lib/sha256.js';
import type { NodeId } from '../paxos/ballot.js';
import { BodyRepair, scrubPlan } from '../host/scrub.js';
import type { ServeCheck } from '../host/serve.js';
import type { BlocksMessage, FetchMessage } from '../replica/messages.js';
import type { ChainStore } from '../storage/chain-store.js';
import { runPlan } from '../storage/plan.js';
import type { NodeLog } from './log.js';

/** How often the scrub takes a step (its rate is spread over these). */
const SCRUB_INTERVAL_MS = 100;
/** How long a repair fetch waits for its answer before the next peer is asked. */
const SCRUB_REPAIR_RETRY_MS = 2_000;

export interface ScrubberOptions {
  readonly nodeId: NodeId;
  readonly peers: readonly NodeId[];
  readonly store: ChainStore;
  readonly sha256: Sha256;
  readonly log: NodeLog;
  readonly blocksPerSecond: number;
  /** The chain's block hash at `height` (undefined above the replica's head). */
  blockHash(height: number): Uint8Array | undefined;
  /** Height of the store's head as written (the scrub stops there). */
  writtenHeight(): number;
  send(message: FetchMessage): void;
  context(): { ballot: string; height: number };
  /** A write failed: the node must stop. */
  fatal(message: string): never;
}

export class Scrubber {
  private cursor: number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private readonly repairs: BodyRepair;
  readonly serveCheck: ServeCheck;
  readonly counters = { scrubbedBlocks: 0, scrubPasses: 0, scrubDamaged: 0, scrubRepaired: 0, scrubHeadersRewritten: 0 };

  constructor(private readonly options: ScrubberOptions) {
    this.cursor = options.store.oldestBody;
    this.repairs = new BodyRepair(options.nodeId, options.peers, SCRUB_REPAIR_RETRY_MS);
    this.serveCheck = {
      sha256: options.sha256,
      blockHash: (height) => options.blockHash(height),
      onDamaged: (height, what) => this.queueRepair(height, what === 'block' ? 'BLOCK_DAMAGED' : 'HEADER_DAMAGED', `found while serving it: its ${what} does not match the chain's hash`),
    };
  }

  start(): void {
    if (this.options.blocksPerSecond > 0) this.timer = setInterval(() => void this.step(), SCRUB_INTERVAL_MS);
  }

  /** Stops the timer and waits for a step in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    while (this.running) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Whether `message` answers a repair fetch; if so it is handled here (not a catch-up reply). */
  onBlocks(message: BlocksMessage): boolean {
    if (!this.repairs.awaits(message.fromHeight)) return false;
    void this.onRepairBlock(message);
    return true;
  }

  private async step(): Promise<void> {
    if (this.running || this.stopped) return;
    const { store, sha256, log } = this.options;
    // Up to what is written: the store's head moves when a batch is planned, before it is written.
    const head = store.head ? Math.min(store.head.height, this.options.writtenHeight()) : -1;
    if (head < 1) return;
    this.running = true;
    try {
      for (const request of this.repairs.retry(performance.now(), (height) => store.isPruned(height))) this.options.send(request);
      if (this.cursor > head || this.cursor < store.oldestBody) {
        if (this.cursor > head) this.counters.scrubPasses++;
        this.cursor = store.oldestBody;
      }
      const count = Math.max(1, Math.round((this.options.blocksPerSecond * SCRUB_INTERVAL_MS) / 1000));
      const step = await runPlan(scrubPlan(sha256, this.cursor, head, count, (height) => this.options.blockHash(height)!), store);
      this.cursor = step.next;
      this.counters.scrubbedBlocks += step.checked;
      if (step.headersRewritten > 0) {
        this.counters.scrubHeadersRewritten += step.headersRewritten;
        log.log('warn', `scrub: rewrote ${step.headersRewritten} damaged header index entries from their verified blocks`, this.options.context());
      }
      for (const finding of step.damaged) this.queueRepair(finding.height, finding.reason, finding.message);
    } catch (error) {
      log.log('warn', `scrub step at height ${this.cursor} failed: ${error instanceof Error ? error.message : String(error)}`, this.options.context());
    } finally {
      this.running = false;
    }
  }

  /** A stored block found damaged (by the scrub, or when serving it): fetched again from a peer. */
  private queueRepair(height: number, reason: string, message: string): void {
    // Pruned meanwhile: nothing to repair.
    if (this.options.store.isPruned(height) || this.repairs.awaits(height)) return;
    this.counters.scrubDamaged++;
    const request = this.repairs.queue(height, reason, performance.now());
    if (!request) return; // as many repairs in progress as allowed: the scrub's next pass finds it again
    this.options.log.log('error', `stored block ${height} is damaged (${reason}: ${message}); not served, fetching it again from a peer`, this.options.context());
    this.options.send(request);
  }

  /** A peer's answer to a repair fetch: stored if it is the chain's block at that height. */
  private async onRepairBlock(message: BlocksMessage): Promise<void> {
    const expected = this.options.blockHash(message.fromHeight);
    if (this.stopped || !expected) return;
    const outcome = this.repairs.onBlocks(this.options.sha256, message, expected);
    if (!outcome) return;
    if (outcome.kind === 'refused') {
      this.options.log.log('warn', `repair of block ${outcome.height} from node ${message.from} refused: ${outcome.why}; another peer is asked next`, this.options.context());
      return;
    }
    try {
      await this.options.store.backend.write(outcome.ops, { sync: true });
    } catch (error) {
      this.options.fatal(`write to disk failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.counters.scrubRepaired++;
    this.options.log.log('info', `repaired block ${outcome.height} (${outcome.reason}) from node ${message.from}; it verifies against the chain again`, this.options.context());
  }
}
