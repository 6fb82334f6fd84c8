/**
 * `chain prove KEY --at H`: a proof of KEY in the state of an older block H, which no node keeps in
 * memory (a node holds the state of its head only). The tool builds it itself and believes no node:
 * a verified read (made by the caller) brings a head H' >= H signed by a majority; the chain is
 * then fetched from a node and replayed from genesis (every link, body hash, history root and
 * state root checked) to H, where the key's proof is taken from the replayed state, and on to H',
 * whose hash must be the signed one; block H's place in H''s history tree gives the inclusion
 * proof. The assembled answer is checked by verifyAnswer, as `chain verify-proof` will check it.
 */
import { bytesEqual, toHex, utf8 } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { limits } from '../lib/limits.js';
import { type VerifiedAnswer, verifyAnswer } from '../ledger/verified.js';
import { fastSha256 } from '../native/sha256.js';
import { fastEd25519Verifier } from '../native/ed25519.js';
import { replayStore } from '../storage/replay.js';
import type { PaxchainClient, VerifiedReadResult } from '../client/client.js';
import { RemoteBlockSource } from '../cli/remote-chain.js';

/** The answer of `read` (a verified read of `key`) moved to block `height` of the same signed chain. */
export async function proveAt(
  client: PaxchainClient,
  endpoints: readonly string[],
  key: string,
  height: number,
  read: VerifiedReadResult,
  onProgress?: (height: number, target: number) => void,
): Promise<VerifiedAnswer> {
  const signed = read.certified;
  if (height > signed.height) {
    throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `--at ${height} is above the newest majority-signed head ${signed.height}`, { height, signedHeight: signed.height });
  }
  const source = await RemoteBlockSource.open(client, endpoints);
  const replay = await replayStore(source, fastSha256, { upTo: height, onProgress: (done) => onProgress?.(done, signed.height) });
  const { ledger, problem } = replay;
  if (problem) throw new PaxchainError(ErrorCode.CORRUPT_DATA, `${source.endpoint}: chain broken at height ${problem.height}: ${problem.reason}: ${problem.message}`, { ...problem });
  if (ledger.head?.height !== height) throw new PaxchainError(ErrorCode.NOT_FOUND, `${source.endpoint} holds no block ${height}`, { height });
  const header = ledger.headHeader!.slice();
  const proof = ledger.state.proveKey(utf8(key));
  // On to the signed head: its history tree holds block `height`.
  for await (const chunk of source.records(height + 1, signed.height, limits.replayChunkBlocks)) {
    for (let i = 0; i < chunk.records.length; i++) {
      const outcome = ledger.replay(chunk.heights[i]!, chunk.records[i]!);
      if ('problem' in outcome) throw new PaxchainError(ErrorCode.CORRUPT_DATA, `${source.endpoint}: chain broken at height ${outcome.problem.height}: ${outcome.problem.reason}`, { ...outcome.problem });
    }
    onProgress?.(ledger.head!.height, signed.height);
  }
  if (ledger.head?.height !== signed.height || !bytesEqual(ledger.head.hash, signed.hash)) {
    throw new PaxchainError(ErrorCode.VERIFICATION_FAILED, `${source.endpoint} serves a chain whose block ${signed.height} is not the majority-signed one ${toHex(signed.hash).slice(0, 16)}`, {
      reason: 'FORK',
      height: signed.height,
      endpoint: source.endpoint,
    });
  }
  const answer: VerifiedAnswer = {
    header,
    proof,
    certificate: read.answer.certificate,
    inclusion: height < signed.height ? ledger.history.inclusionProof(height, signed.height) : [],
    trusted: null,
    genesis: read.answer.genesis,
  };
  const verdict = verifyAnswer(fastSha256, { genesisHash: read.trust.genesisHash, members: read.trust.members, head: undefined }, utf8(key), answer, undefined, fastEd25519Verifier);
  if (!verdict.ok) throw new PaxchainError(ErrorCode.VERIFICATION_FAILED, `the proof at block ${height} does not check out: ${verdict.reason}: ${verdict.message}`, { reason: verdict.reason, height });
  return answer;
}
