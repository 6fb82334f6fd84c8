/**
 * A running node's chain as a BlockSource, read over the client protocol in bounded requests,
 * so `chain head | show | list` work online with the same code as offline, and every block read
 * this way can be verified locally.
 */
import { fromHex } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import type { BlockRef } from '../chain/block.js';
import type { PaxchainClient } from '../client/client.js';
import type { RecordChunk } from '../storage/chain-store.js';
import type { BlockSource } from '../storage/replay.js';
import { BLOCKS_PER_REQUEST_MAX } from '../transport/protocol.js';

export class RemoteBlockSource implements BlockSource {
  private constructor(
    private readonly client: PaxchainClient,
    readonly endpoint: string,
    readonly head: BlockRef | undefined,
    /** The node's oldest body, when retention pruned the ones below it (a replay from genesis then says PRUNED). */
    readonly prunedBelow: number | undefined,
  ) {}

  /** Uses the first endpoint that answers. */
  static async open(client: PaxchainClient, endpoints: readonly string[]): Promise<RemoteBlockSource> {
    const errors: string[] = [];
    for (const endpoint of endpoints) {
      try {
        const status = await client.status(endpoint);
        const head = status.head ? { height: status.head.height, hash: fromHex(status.head.hash)! } : undefined;
        const prunedBelow = status.oldestBody != null && status.oldestBody > 1 ? status.oldestBody : undefined;
        return new RemoteBlockSource(client, endpoint, head, prunedBelow);
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      }
    }
    throw new PaxchainError(ErrorCode.UNAVAILABLE, `no node reachable (${errors.join('; ')})`);
  }

  async *records(from: number, to: number, chunk: number): AsyncIterable<RecordChunk> {
    const step = Math.min(chunk, BLOCKS_PER_REQUEST_MAX);
    for (let start = from; start <= to; start += step) {
      const reply = await this.client.blocks(start, Math.min(to, start + step - 1), this.endpoint);
      if (reply.records.length === 0) return;
      yield { heights: reply.records.map((_, i) => start + i), records: [...reply.records] };
      if (reply.records.length < Math.min(step, to - start + 1)) return;
    }
  }

  async getRecord(height: number): Promise<Uint8Array | undefined> {
    const reply = await this.client.blocks(height, height, this.endpoint);
    return reply.records[0];
  }
}
