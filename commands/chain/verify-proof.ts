import { readFileSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { parseHash } from '../../src/cli/flags.js';
import { viewValue } from '../../src/cli/render.js';
import { fromUtf8, toHex } from '../../src/lib/bytes.js';
import { ErrorCode, PaxchainError } from '../../src/lib/errors.js';
import { proofFileFromJson, verifyAnswer } from '../../src/ledger/verified.js';
import { fastEd25519Verifier } from '../../src/native/ed25519.js';
import { fastSha256 } from '../../src/native/sha256.js';

interface ProofCheck {
  readonly valid: true;
  readonly key: string;
  readonly found: boolean;
  readonly value: string | null;
  readonly encoding: 'utf8' | 'base64';
  readonly height: number;
  readonly certifiedHeight: number;
  readonly certifiedHash: string;
  readonly genesisHash: string;
}

export default class ChainVerifyProof extends BaseCommand {
  static override summary = 'Check a proof file offline: the value, the majority-signed head and every link between them.';
  static override description = `Checks a file written by \`chain prove\` with no cluster at hand: the genesis record hashes to
the pinned genesis hash, a majority of the members it lists signed the certified head, the proven
block is in that head's history, and the state proof gives the value (or absence). Pin the
cluster with --genesis-hash; without it the file's own genesis hash is used and the output says so.
Exits 1 with VERIFICATION_FAILED and the failed check otherwise.`;

  static override examples = ['<%= config.bin %> chain verify-proof proof.json --genesis-hash 52b4…'];
  static override args = { file: Args.string({ required: true, description: 'Proof file (chain prove).' }) };
  static override flags = {
    'genesis-hash': Flags.string({ summary: 'The genesis block hash to trust (64 hex digits).' }),
  };

  async run(): Promise<ProofCheck> {
    const { args, flags } = await this.parse(ChainVerifyProof);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(args.file, 'utf8'));
    } catch (error) {
      throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${args.file}: not a readable JSON file (${(error as Error).message})`);
    }
    const file = proofFileFromJson(json);
    if (typeof file === 'string') throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${args.file}: ${file}`);
    const pinned = flags['genesis-hash'] === undefined ? undefined : parseHash(flags['genesis-hash'], '--genesis-hash');
    const genesisHash = pinned ?? file.genesisHash;
    const verdict = verifyAnswer(fastSha256, { genesisHash, members: undefined, head: undefined }, file.key, file.answer, undefined, fastEd25519Verifier);
    if (!verdict.ok) {
      throw new PaxchainError(ErrorCode.VERIFICATION_FAILED, `INVALID: ${verdict.reason}${verdict.height === undefined ? '' : ` at height ${verdict.height}`}: ${verdict.message}`, { reason: verdict.reason, height: verdict.height ?? null });
    }
    const key = fromUtf8(file.key);
    const view = verdict.value === null ? null : viewValue(verdict.value);
    this.say(`VALID: ${key} ${view ? `= ${view.data}` : 'is absent'} at block ${verdict.height}, head ${verdict.certified.height} ${toHex(verdict.certified.hash).slice(0, 16)} signed by a majority`);
    if (!pinned) this.say(`(trusting the file's genesis hash ${toHex(genesisHash)}; pass --genesis-hash to pin your own)`);
    return {
      valid: true,
      key,
      found: verdict.value !== null,
      value: view?.data ?? null,
      encoding: view?.encoding ?? 'utf8',
      height: verdict.height,
      certifiedHeight: verdict.certified.height,
      certifiedHash: toHex(verdict.certified.hash),
      genesisHash: toHex(genesisHash),
    };
  }
}
