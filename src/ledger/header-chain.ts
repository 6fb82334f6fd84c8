/**
 * The header chain alone: every link from genesis to a head checked without reading a body. What
 * a restart from a checkpoint does before trusting anything below the checkpoint (the bodies
 * there were verified when they were appended and are re-verified by the scrub and by
 * `chain verify`; their headers, and so every block hash, are checked at every start).
 *
 * For each header in height order: its format version and height, prevHash = the previous block's
 * hash, historyRoot = the history tree's root over the blocks before it. The block hashes go into
 * a history tree (src/ledger/history.ts), which the resumed ledger keeps.
 */
import { equalAt, readU64, toHex } from '../lib/bytes.js';
import { SHA256_BYTES, type Sha256 } from '../lib/sha256.js';
import { BLOCK_FORMAT_VERSION, HEADER_BYTES, HEIGHT_OFFSET, HISTORY_ROOT_OFFSET, PREV_HASH_OFFSET, ZERO_HASH } from '../chain/block.js';
import { hashHeaders } from '../chain/hash-batch.js';
import type { ChainProblem } from './ledger.js';
import { HistoryTree } from './history.js';

export class HeaderChain {
  readonly history: HistoryTree;
  private lastHash: Uint8Array = ZERO_HASH;

  constructor(readonly sha256: Sha256) {
    this.history = new HistoryTree(sha256);
  }

  /**
   * A header chain that goes on from the first `size` block hashes of `history` (already checked:
   * a ledger's own chain), so that only the headers after them need checking (state sync).
   */
  static continuing(sha256: Sha256, history: HistoryTree, size: number): HeaderChain {
    const chain = new HeaderChain(sha256);
    for (let height = 0; height < size; height++) chain.history.append(history.leaf(height));
    if (size > 0) chain.lastHash = history.leaf(size - 1).slice();
    return chain;
  }

  /** Height the next header must have. */
  get nextHeight(): number {
    return this.history.size;
  }

  /** Hash of the last header checked (ZERO_HASH before genesis). */
  get headHash(): Uint8Array {
    return this.lastHash;
  }

  /** Checks headers stored at `heights`, in order; returns the first problem (the chain then stops there). */
  add(heights: readonly number[], headers: readonly Uint8Array[]): ChainProblem | undefined {
    const hashes = hashHeaders(this.sha256, headers);
    for (let i = 0; i < headers.length; i++) {
      const height = this.nextHeight;
      const header = headers[i]!;
      const problem = (reason: ChainProblem['reason'], message: string): ChainProblem => ({ height, reason, message: `header ${height}: ${message}` });
      if (heights[i] !== height) return problem('MISSING_BLOCK', `missing (next stored header is ${heights[i]})`);
      if (header.length !== HEADER_BYTES || header[0] !== BLOCK_FORMAT_VERSION) return problem('BAD_HEADER', 'not a header of this format');
      if (readU64(header, HEIGHT_OFFSET) !== height) return problem('HEIGHT_MISMATCH', `says it is height ${readU64(header, HEIGHT_OFFSET)}`);
      if (!equalAt(header, PREV_HASH_OFFSET, this.lastHash, 0, SHA256_BYTES)) {
        return problem('PREV_HASH_MISMATCH', `prevHash ${toHex(header.subarray(PREV_HASH_OFFSET, PREV_HASH_OFFSET + 8))} is not block ${height - 1}'s hash`);
      }
      if (!equalAt(header, HISTORY_ROOT_OFFSET, this.history.root(), 0, SHA256_BYTES)) return problem('HISTORY_ROOT_MISMATCH', `history root is not the root over blocks 0..${height - 1}`);
      this.lastHash = hashes.slice(i * SHA256_BYTES, (i + 1) * SHA256_BYTES);
      this.history.append(this.lastHash);
    }
    return undefined;
  }
}
