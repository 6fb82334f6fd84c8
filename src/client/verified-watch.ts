/**
 * A watch whose every event is checked against a majority-signed head before it is delivered
 * (PaxchainClient.watchVerified, `watch --verify`; the checks are src/ledger/watch-proof.ts).
 *
 * For an event at block h: when h is above the verified window, a verified read (checked against
 * the client's trust state like `get --verify`) brings a signed head H >= h, and the headers from
 * h (or from the window's top) up to H are fetched and linked to it. Block h is then fetched, its
 * header hash must be the window's at h and its body hash the header's, and the command the event
 * names must write that change; the key's previous event must lead to it (revisions). Any failed
 * check ends the watch with VERIFICATION_FAILED, naming the check and the height; nothing
 * unverified is delivered. Events of a block share one fetch; one signed head covers every event
 * up to it, so a busy watch needs a verified read only when it passes the newest signed head.
 */
import { bytesEqual, toHex } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import type { Sha256 } from '../lib/sha256.js';
import { type BlockRef, decodeHeader, HEADER_BYTES, hashBody, hashRecord } from '../chain/block.js';
import { decodeBody } from '../chain/body.js';
import { type Command, decodeCommand } from '../kv/command.js';
import { commandExplains, HeaderWindow, KeyContinuity } from '../ledger/watch-proof.js';
import type { WatchEvent } from './watch.js';

/** Verified reads made at most while waiting for a signed head that covers an event's block. */
const SIGNED_HEAD_ATTEMPTS_MAX = 40;
/** Pause between those reads. */
const SIGNED_HEAD_PAUSE_MS = 50;
/** Header requests per run of headers at most (each brings up to the node's per-request bound). */
const HEADER_REQUESTS_MAX = 100_000;

/** What a verified watch needs from the cluster; the answers are checked, not believed. */
export interface WatchProofSource {
  /** A head signed by a majority, checked by a verified read against the trust state. */
  signedHead(): Promise<BlockRef>;
  /** Stored headers from `from` (at least one, at most up to `to`), concatenated. */
  headers(from: number, to: number): Promise<Uint8Array>;
  /** Block record `height` (header and body). */
  block(height: number): Promise<Uint8Array>;
}

export interface VerifiedWatchEvent extends WatchEvent {
  /** The majority-signed head the event was checked under. */
  readonly signedHead: BlockRef;
}

export class VerifiedWatch implements AsyncIterableIterator<VerifiedWatchEvent> {
  private readonly window: HeaderWindow;
  private readonly continuity = new KeyContinuity();
  private signed: BlockRef | undefined;
  private block: { height: number; commands: readonly unknown[] } | undefined;
  private failed = false;

  constructor(
    private readonly inner: AsyncIterableIterator<WatchEvent> & { readonly resumeHeight: number | undefined },
    private readonly source: WatchProofSource,
    private readonly sha256: Sha256,
  ) {
    this.window = new HeaderWindow(sha256);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<VerifiedWatchEvent> {
    return this;
  }

  /** Where a later watch would go on from (see Watch.resumeHeight). */
  get resumeHeight(): number | undefined {
    return this.inner.resumeHeight;
  }

  async next(): Promise<IteratorResult<VerifiedWatchEvent>> {
    if (this.failed) return { value: undefined, done: true };
    const result = await this.inner.next();
    if (result.done) return result;
    const event = result.value;
    try {
      await this.cover(event.height);
      const command = await this.command(event.height, event.index);
      const reason = commandExplains(command, event) ?? this.continuity.check(event);
      if (reason) throw failure('EVENT_MISMATCH', event.height, reason, event.endpoint);
    } catch (error) {
      this.failed = true;
      await this.inner.return?.();
      throw error;
    }
    this.window.forgetBelow(event.height);
    return { value: { ...event, signedHead: this.signed! }, done: false };
  }

  async return(): Promise<IteratorResult<VerifiedWatchEvent>> {
    this.failed = true;
    await this.inner.return?.();
    return { value: undefined, done: true };
  }

  /** Makes the window hold `height`: a signed head at or above it, and the headers linked to it. */
  private async cover(height: number): Promise<void> {
    if (this.window.hashAt(height) !== undefined) return;
    let signed = await this.source.signedHead();
    for (let attempt = 1; signed.height < height && attempt < SIGNED_HEAD_ATTEMPTS_MAX; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, SIGNED_HEAD_PAUSE_MS));
      signed = await this.source.signedHead();
    }
    if (signed.height < height) throw failure('NO_SIGNED_HEAD', height, `no majority-signed head reached block ${height} (newest ${signed.height})`);
    // From the event's block: below it every event was delivered (it extends the window when it is top + 1).
    const from = height;
    const begun = this.window.begin(from, signed);
    if (begun) throw failure('BAD_HEADERS', height, begun);
    for (let request = 0; this.window.nextHeight <= signed.height; request++) {
      if (request >= HEADER_REQUESTS_MAX) throw failure('BAD_HEADERS', height, `headers ${from}..${signed.height} took over ${HEADER_REQUESTS_MAX} requests`);
      const next = this.window.nextHeight;
      const headers = await this.source.headers(next, signed.height);
      if (headers.length === 0) throw failure('BAD_HEADERS', next, `no node sent header ${next}`);
      const problem = this.window.add(headers);
      if (problem) throw failure('BAD_HEADERS', next, problem);
    }
    const committed = this.window.commit();
    if (committed) throw failure('BAD_HEADERS', signed.height, committed);
    this.signed = signed;
  }

  /** Command `index` of block `height`, from the block checked against the window. */
  private async command(height: number, index: number): Promise<Command> {
    if (this.block?.height !== height) {
      const record = await this.source.block(height);
      const expected = this.window.hashAt(height)!;
      const hash = hashRecord(this.sha256, record);
      if (!bytesEqual(hash, expected)) throw failure('BAD_BLOCK', height, `block ${height} hashes to ${toHex(hash).slice(0, 16)}, not the signed chain's ${toHex(expected).slice(0, 16)}`);
      const header = decodeHeader(record);
      const body = record.subarray(HEADER_BYTES);
      if (typeof header === 'string' || !bytesEqual(hashBody(this.sha256, body), header.bodyHash)) throw failure('BAD_BLOCK', height, `the body of block ${height} does not match its header`);
      const decoded = decodeBody(body);
      if (typeof decoded === 'string' || decoded.kind !== 'batch') throw failure('BAD_BLOCK', height, `block ${height} holds no commands${typeof decoded === 'string' ? `: ${decoded}` : ''}`);
      this.block = { height, commands: decoded.commands };
    }
    const tuple = this.block.commands[index];
    const command = tuple === undefined ? `block ${height} has ${this.block.commands.length} commands, none at ${index}` : decodeCommand(tuple);
    if (typeof command === 'string') throw failure('EVENT_MISMATCH', height, command);
    return command;
  }
}

function failure(reason: string, height: number, message: string, endpoint?: string): PaxchainError {
  return new PaxchainError(ErrorCode.VERIFICATION_FAILED, `${reason} at height ${height}: ${message}${endpoint ? ` (event from ${endpoint})` : ''}`, { reason, height, ...(endpoint ? { endpoint } : {}) });
}
