// Watch event checks (src/ledger/watch-proof.ts) on a real ledger's chain and change log: every
// honest event is accepted; forged values, keys, command indexes and revisions are refused; an
// event left out between two delivered ones is caught (all but a put between a put and a delete); a
// forged header, a broken link and a run that does not end at the signed head are refused; and
// the client's VerifiedWatch delivers an honest stream and stops at the first lie of its source.
import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, hashRecord } from '../../src/chain/block.js';
import { decodeBody, encodeBatchBody } from '../../src/chain/body.js';
import { type Command, decodeCommand, encodeCommand, OP_DELETE, OP_PUT } from '../../src/kv/command.js';
import { Prng } from '../../src/lib/prng.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { commandExplains, HeaderWindow, KeyContinuity, type WatchedChange, WATCH_VERIFY_WINDOW_BLOCKS_MAX } from '../../src/ledger/watch-proof.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { VerifiedWatch, type WatchProofSource } from '../../src/client/verified-watch.js';
import type { WatchEvent } from '../../src/client/watch.js';
import { isPaxchainError } from '../../src/lib/errors.js';
import { bytes } from '../helpers.js';

const sha = fastSha256;

interface Chain {
  readonly records: Uint8Array[];
  readonly changes: WatchedChange[];
}

function randomCommand(prng: Prng, height: number, i: number): readonly unknown[] {
  const key = `k${prng.nextInt(12)}`;
  const value = bytes(`v${height}.${i}`);
  const roll = prng.nextInt(10);
  if (roll < 5) return [OP_PUT, null, 0, key, value];
  if (roll < 7) return [OP_DELETE, null, 0, key];
  if (roll < 8) return encodeCommand({ op: 'cas', session: null, seq: 0, key, expect: null, value });
  const txn: Command = {
    op: 'txn',
    session: null,
    seq: 0,
    compares: [{ target: 'version', key, relation: '>', operand: 0 }],
    success: [{ kind: 'put', key, value }, { kind: 'delete', key: `k${prng.nextInt(12)}x` }],
    failure: [{ kind: 'delete-prefix', prefix: 'k1' }],
  };
  return encodeCommand(txn);
}

function chain(seed: number, blocks: number): Chain {
  const prng = new Prng(seed);
  const ledger = new Ledger(sha);
  const genesis = Ledger.genesisRecord(sha, { clusterId: 'watch-proof', members: [1, 2, 3], dedupCapacity: 100, createdAtMs: 1, memberKeys: [] });
  expect(ledger.replay(0, genesis)).toEqual({ results: [] });
  ledger.state.enableChangeLog();
  const records = [genesis];
  const changes: WatchedChange[] = [];
  for (let height = 1; height <= blocks; height++) {
    const commands = Array.from({ length: 1 + prng.nextInt(4) }, (_, i) => randomCommand(prng, height, i));
    records.push(ledger.append(encodeBatchBody(height, commands)).record.slice());
    for (const change of ledger.state.takeChanges()) {
      const key = Buffer.from(change.key).toString();
      changes.push({ height, index: change.index, op: change.value === null ? 'delete' : 'put', key, value: change.value?.slice() ?? null, revisions: change.revisions });
    }
  }
  return { records, changes };
}

function commandOf(c: Chain, change: WatchedChange): Command {
  const body = decodeBody(c.records[change.height]!.subarray(HEADER_BYTES));
  if (typeof body === 'string' || body.kind !== 'batch') throw new Error(String(body));
  const command = decodeCommand(body.commands[change.index]);
  if (typeof command === 'string') throw new Error(command);
  return command;
}

function headers(c: Chain, from: number, to: number): Uint8Array {
  const out = new Uint8Array((to - from + 1) * HEADER_BYTES);
  for (let h = from; h <= to; h++) out.set(c.records[h]!.subarray(0, HEADER_BYTES), (h - from) * HEADER_BYTES);
  return out;
}

const head = (c: Chain, height: number) => ({ height, hash: hashRecord(sha, c.records[height]!) });

describe('watch events against the block that made them', () => {
  it('accepts every honest event (put, delete, cas, txn with delete-prefix) and refuses forged ones', () => {
    const c = chain(11, 400);
    expect(c.changes.length).toBeGreaterThan(400);
    const continuity = new KeyContinuity();
    for (const change of c.changes) {
      const command = commandOf(c, change);
      expect(commandExplains(command, change), JSON.stringify(change)).toBeUndefined();
      expect(continuity.check(change)).toBeUndefined();
    }
    const kinds = new Set(c.changes.map((change) => commandOf(c, change).op));
    expect([...kinds].sort()).toEqual(['cas', 'delete', 'put', 'txn']);
    const prng = new Prng(5);
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const change = c.changes[prng.nextInt(c.changes.length)]!;
      const command = commandOf(c, change);
      const forgeries: WatchedChange[] = [
        { ...change, key: `z${change.key}` },
        change.op === 'put' ? { ...change, value: bytes('forged') } : { ...change, op: 'put', value: bytes('forged'), revisions: { createHeight: change.height, modHeight: change.height, version: 1 } },
      ];
      if (change.revisions) forgeries.push({ ...change, revisions: { ...change.revisions, modHeight: change.height - 1 } });
      for (const forged of forgeries) {
        expect(commandExplains(command, forged), JSON.stringify(forged)).toBeDefined();
        refused++;
      }
      // Another command of the same block (a forged index) explains it only if it writes the same.
      const noop: Command = { op: 'noop', session: null, seq: 0 };
      expect(commandExplains(noop, change)).toMatch(/does not/);
    }
    expect(refused).toBeGreaterThan(600);
  });

  it('catches an event left out between two delivered events of a key, except a put between a put and a delete', () => {
    const c = chain(12, 600);
    const byKey = new Map<string, WatchedChange[]>();
    for (const change of c.changes) byKey.set(change.key, [...(byKey.get(change.key) ?? []), change]);
    let caught = 0;
    let uncatchable = 0;
    for (const events of byKey.values()) {
      for (let drop = 1; drop < events.length - 1; drop++) {
        const continuity = new KeyContinuity();
        const problems = events.filter((_, i) => i !== drop).map((change) => continuity.check(change)).filter((problem) => problem !== undefined);
        // Put, put, delete: without the middle put the rest still follows (a delete carries no revisions).
        const putBeforeDelete = events[drop - 1]!.op === 'put' && events[drop]!.op === 'put' && events[drop + 1]!.op === 'delete';
        if (putBeforeDelete) {
          uncatchable++;
          expect(problems).toEqual([]);
        } else {
          caught++;
          expect(problems.length, `dropping ${JSON.stringify(events[drop])}`).toBe(1);
        }
      }
    }
    expect(caught).toBeGreaterThan(300);
    expect(uncatchable).toBeGreaterThan(0);
  });
});

describe('the header window', () => {
  it('takes runs that link up to the signed head, in any chunking, and extends or restarts', () => {
    const c = chain(13, 300);
    const window = new HeaderWindow(sha);
    expect(window.begin(50, head(c, 120))).toBeUndefined();
    for (const [from, to] of [[50, 50], [51, 99], [100, 120]] as const) expect(window.add(headers(c, from, to))).toBeUndefined();
    expect(window.commit()).toBeUndefined();
    expect(window.top).toBe(120);
    for (let h = 50; h <= 120; h++) expect(window.hashAt(h)).toEqual(hashRecord(sha, c.records[h]!));
    expect(window.hashAt(49)).toBeUndefined();
    // Extend from the top: the first header must link to it.
    expect(window.begin(121, head(c, 200))).toBeUndefined();
    expect(window.add(headers(c, 121, 200))).toBeUndefined();
    expect(window.commit()).toBeUndefined();
    expect(window.hashAt(60)).toEqual(hashRecord(sha, c.records[60]!));
    // Restart higher up: nothing below is kept.
    expect(window.begin(250, head(c, 260))).toBeUndefined();
    expect(window.add(headers(c, 250, 260))).toBeUndefined();
    expect(window.commit()).toBeUndefined();
    expect(window.hashAt(200)).toBeUndefined();
    expect(window.hashAt(255)).toEqual(hashRecord(sha, c.records[255]!));
    expect(window.begin(255, head(c, 270))).toMatch(/above the window's top/);
  });

  it('refuses a flipped byte in any header, a broken link, and a run that is not the signed one', () => {
    const c = chain(14, 120);
    const prng = new Prng(9);
    for (let i = 0; i < 200; i++) {
      const window = new HeaderWindow(sha);
      const run = headers(c, 10, 100);
      run[prng.nextInt(run.length)]! ^= 1 << prng.nextInt(8);
      expect(window.begin(10, head(c, 100))).toBeUndefined();
      const added = window.add(run);
      const outcome = added ?? window.commit();
      expect(outcome, `run ${i}`).toBeDefined();
      expect(window.hashAt(50)).toBeUndefined();
    }
    // Another block at the top: every link holds, but the head is not the signed one.
    const other = chain(15, 120);
    const window = new HeaderWindow(sha);
    expect(window.begin(10, head(c, 100))).toBeUndefined();
    expect(window.add(headers(other, 10, 100))).toBeUndefined();
    expect(window.commit()).toMatch(/not the majority-signed/);
    // Extending with a run from another chain: the first header does not link to the top.
    expect(window.begin(10, head(c, 100))).toBeUndefined();
    expect(window.add(headers(c, 10, 100))).toBeUndefined();
    expect(window.commit()).toBeUndefined();
    expect(window.begin(101, head(other, 110))).toBeUndefined();
    expect(window.add(headers(other, 101, 110))).toMatch(/does not link to block 100/);
    // A run that stops short of the signed head, and one too long to hold.
    expect(window.begin(101, head(c, 110))).toBeUndefined();
    expect(window.add(headers(c, 101, 105))).toBeUndefined();
    expect(window.commit()).toMatch(/ends at 105, not at the signed head 110/);
    expect(window.begin(101, { height: 101 + WATCH_VERIFY_WINDOW_BLOCKS_MAX, hash: new Uint8Array(32) })).toMatch(/over the/);
  });
});

/** A watch's events from the chain's change log, as the client's Watch would deliver them. */
function events(c: Chain, changes = c.changes): WatchEvent[] {
  let seq = 0;
  return changes.map((change, i) => {
    seq = i > 0 && changes[i - 1]!.height === change.height ? seq + 1 : 0;
    return { ...change, seq, endpoint: 'test:1' };
  });
}

function inner(list: WatchEvent[]): AsyncIterableIterator<WatchEvent> & { resumeHeight: number | undefined } {
  let next = 0;
  const iterator = {
    resumeHeight: undefined as number | undefined,
    [Symbol.asyncIterator]: () => iterator,
    next: async (): Promise<IteratorResult<WatchEvent>> => (next < list.length ? { value: list[next++]!, done: false } : { value: undefined, done: true }),
    return: async (): Promise<IteratorResult<WatchEvent>> => ({ value: undefined, done: true }),
  };
  return iterator;
}

/** The chain served as it is (or as `lie` changes it); the signed head moves up `step` blocks per read. */
function source(c: Chain, step: number, lie: Partial<WatchProofSource> = {}): WatchProofSource & { reads: number } {
  const top = c.records.length - 1;
  const served: WatchProofSource & { reads: number } = {
    reads: 0,
    signedHead: async () => head(c, Math.min(top, ++served.reads * step)),
    headers: async (from: number, to: number) => headers(c, from, Math.min(to, from + 16)),
    block: async (height: number) => c.records[height]!,
    ...lie,
  };
  return served;
}

async function drain(watch: VerifiedWatch): Promise<{ delivered: number; error?: unknown }> {
  let delivered = 0;
  try {
    for await (const event of watch) {
      expect(event.signedHead.height).toBeGreaterThanOrEqual(event.height);
      delivered++;
    }
  } catch (error) {
    return { delivered, error };
  }
  return { delivered };
}

describe('VerifiedWatch', () => {
  it('delivers every honest event, each under a signed head at or above its block, a verified read per signed head passed', async () => {
    const c = chain(21, 200);
    const list = events(c);
    const served = source(c, 25);
    const outcome = await drain(new VerifiedWatch(inner(list), served, sha));
    expect(outcome).toEqual({ delivered: list.length });
    expect(served.reads).toBeLessThanOrEqual(Math.ceil(200 / 25) + 1);
  });

  it('stops at a forged event, a tampered block, a header from another chain and a missing head, naming the check', async () => {
    const c = chain(22, 120);
    const list = events(c);
    const reason = async (watch: VerifiedWatch): Promise<{ delivered: number; reason: unknown }> => {
      const { delivered, error } = await drain(watch);
      expect(isPaxchainError(error) && error.code).toBe('VERIFICATION_FAILED');
      return { delivered, reason: isPaxchainError(error) ? error.details?.reason : undefined };
    };
    const at = 40;
    const forged = list.map((event, i) => (i === at ? { ...event, key: `z${event.key}` } : event));
    expect(await reason(new VerifiedWatch(inner(forged), source(c, 30), sha))).toEqual({ delivered: at, reason: 'EVENT_MISMATCH' });
    // Leave out a put whose key's next event is a put: its version gap gives it away.
    const gap = list.findIndex((event, i) => i > at && event.op === 'put' && list.slice(i + 1).find((later) => later.key === event.key)?.op === 'put');
    const droppedOutcome = await reason(new VerifiedWatch(inner(list.filter((_, i) => i !== gap)), source(c, 30), sha));
    expect(droppedOutcome.reason).toBe('EVENT_MISMATCH');
    expect(droppedOutcome.delivered).toBeGreaterThanOrEqual(gap);
    const tampered = (height: number): Uint8Array => {
      const record = c.records[height]!.slice();
      record[record.length - 1]! ^= 1;
      return record;
    };
    const lyingBlocks = source(c, 30, { block: async (height) => (height === list[at]!.height ? tampered(height) : c.records[height]!) });
    const tamperedOutcome = await reason(new VerifiedWatch(inner(list), lyingBlocks, sha));
    expect(tamperedOutcome.reason).toBe('BAD_BLOCK');
    expect(list[tamperedOutcome.delivered]!.height).toBe(list[at]!.height);
    const other = chain(23, 120);
    expect((await reason(new VerifiedWatch(inner(list), source(c, 30, { headers: async (from, to) => headers(other, from, Math.min(to, from + 16)) }), sha))).reason).toBe('BAD_HEADERS');
    expect((await reason(new VerifiedWatch(inner(list), source(c, 30, { signedHead: async () => head(c, 0) }), sha))).reason).toBe('NO_SIGNED_HEAD');
  }, 30_000);
});
