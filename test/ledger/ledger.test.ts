// The ledger builds and replays blocks with one set of rules (ARCHITECTURE §2).
import { describe, expect, it } from 'vitest';
import { BLOCK_FORMAT_VERSION, encodeRecord, hashBody, HISTORY_ROOT_OFFSET } from '../../src/chain/block.js';
import { encodeBatchBody } from '../../src/chain/body.js';
import { DUPLICATE_FLAG, OP_PUT, ResultCode } from '../../src/kv/command.js';
import { KvState } from '../../src/kv/state.js';
import { Workload } from '../../src/check/workload.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { bytes, hex, referenceRoot, sid } from '../helpers.js';

const genesis = { clusterId: 't', members: [1, 2, 3], dedupCapacity: 64, createdAtMs: 1 };

function buildChain(blocks: number, perBlock: number, seed = 1): { records: Uint8Array[]; commands: unknown[][]; ledger: Ledger } {
  const ledger = new Ledger(fastSha256);
  const records = [Ledger.genesisRecord(fastSha256, genesis)];
  ledger.replay(0, records[0]!);
  const workload = new Workload({ seed, keys: 200, valueBytes: 30, clients: 100, mix: { put: 70, delete: 15, cas: 15 }, duplicateRate: 0.05 });
  const commands: unknown[][] = [];
  for (let height = 1; height <= blocks; height++) {
    const batch = workload.batch(perBlock);
    commands.push(batch);
    records.push(ledger.append(encodeBatchBody(1000 + height, batch)).record);
  }
  return { records, commands, ledger };
}

describe('Ledger', () => {
  it('replaying a chain gives the same state digest as applying its commands directly', () => {
    const { records, commands, ledger } = buildChain(40, 25);
    const direct = new KvState(fastSha256, genesis.dedupCapacity);
    commands.forEach((batch, i) => batch.forEach((command) => direct.apply(command, i + 1)));
    const replayed = new Ledger(fastSha256);
    records.forEach((record, height) => expect(replayed.replay(height, record)).not.toHaveProperty('problem'));
    expect(hex(replayed.state.root())).toBe(hex(direct.root()));
    expect(hex(replayed.state.root())).toBe(hex(ledger.state.root()));
    expect(hex(replayed.state.root())).toBe(referenceRoot(replayed.state));
    expect(hex(replayed.head!.hash)).toBe(hex(ledger.head!.hash));
  });

  it('replaying twice gives identical heads, digests, states and results', () => {
    const { records } = buildChain(30, 20, 4);
    const run = () => {
      const ledger = new Ledger(fastSha256);
      const results: number[][] = [];
      records.forEach((record, height) => {
        const outcome = ledger.replay(height, record);
        if ('problem' in outcome) throw new Error(outcome.problem.message);
        results.push(outcome.results);
      });
      return { head: hex(ledger.head!.hash), digest: hex(ledger.state.root()), entries: [...ledger.state.allEntries()].sort(), results };
    };
    expect(run()).toEqual(run());
  });

  it('a repeated (clientId, seq) inside the chain is applied once and answered with its first result', () => {
    const ledger = new Ledger(fastSha256);
    ledger.replay(0, Ledger.genesisRecord(fastSha256, genesis));
    const first = ledger.append(encodeBatchBody(2, [[OP_PUT, sid(5), 1, 'k', bytes('v1')]]));
    // A retry of the same request lands in a later block, after another client changed the key.
    const second = ledger.append(encodeBatchBody(3, [[OP_PUT, sid(6), 1, 'k', bytes('other')], [OP_PUT, sid(5), 1, 'k', bytes('v1')]]));
    expect(first.results).toEqual([ResultCode.OK]);
    expect(second.results).toEqual([ResultCode.OK, ResultCode.OK | DUPLICATE_FLAG]);
    expect(ledger.state.get('k')).toEqual(bytes('other'));
    expect(ledger.state.session(sid(5)!)).toMatchObject({ seq: 1, height: first.ref.height });
  });

  it('rejects a block whose state root disagrees with this replica\'s execution', () => {
    const ledger = new Ledger(fastSha256);
    const genesisRecord = Ledger.genesisRecord(fastSha256, genesis);
    ledger.replay(0, genesisRecord);
    const body = encodeBatchBody(2, [[OP_PUT, null, 0, 'k', bytes('v')]]);
    const lying = encodeRecord(
      { version: BLOCK_FORMAT_VERSION, height: 1, prevHash: ledger.head!.hash, bodyHash: hashBody(fastSha256, body), stateRoot: new Uint8Array(32).fill(1), historyRoot: ledger.history.root() },
      body,
    );
    const outcome = ledger.replay(1, lying);
    expect(outcome).toMatchObject({ problem: { height: 1, reason: 'STATE_ROOT_MISMATCH' } });
  });

  it('rejects a block whose history root is not the root over the blocks below it, before running it', () => {
    const ledger = new Ledger(fastSha256);
    ledger.replay(0, Ledger.genesisRecord(fastSha256, genesis));
    const source = new Ledger(fastSha256);
    source.replay(0, Ledger.genesisRecord(fastSha256, genesis));
    const good = source.append(encodeBatchBody(2, [[OP_PUT, null, 0, 'k', bytes('v')]])).record;
    const lying = good.slice();
    lying[HISTORY_ROOT_OFFSET + 4]! ^= 1;
    expect(ledger.replay(1, lying)).toMatchObject({ problem: { height: 1, reason: 'HISTORY_ROOT_MISMATCH' } });
    expect(ledger.state.keyCount).toBe(0);
    expect(ledger.replay(1, good)).toMatchObject({ results: [0] });
    expect(hex(ledger.history.root())).toBe(hex(source.history.root()));
    expect(hex(good.subarray(HISTORY_ROOT_OFFSET, HISTORY_ROOT_OFFSET + 32))).toBe(hex(ledger.history.rootAt(1)));
  });

  it('a block with a well-formed envelope but a malformed command tuple still verifies: the command is INVALID', () => {
    const ledger = new Ledger(fastSha256);
    ledger.replay(0, Ledger.genesisRecord(fastSha256, genesis));
    const block = ledger.append(encodeBatchBody(2, [['garbage'], [OP_PUT, null, 0, 'k', bytes('v')]]));
    expect(block.results).toEqual([ResultCode.INVALID, ResultCode.OK]);
    const replayed = new Ledger(fastSha256);
    replayed.replay(0, Ledger.genesisRecord(fastSha256, genesis));
    expect(replayed.replay(1, block.record)).toEqual({ results: [ResultCode.INVALID, ResultCode.OK] });
  });

  it('append() refuses a body that is not a well-formed batch: a chosen value cannot be taken back', () => {
    const ledger = new Ledger(fastSha256);
    ledger.replay(0, Ledger.genesisRecord(fastSha256, genesis));
    expect(() => ledger.append(Uint8Array.of(0x93, 0x01))).toThrow(/invariant/);
  });
});
