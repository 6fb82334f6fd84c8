/**
 * `put/delete/cas --verify`: the flags and the one path they share. The write is made as usual;
 * the client then checks, trusting no node, that the block which applied it holds its effect and
 * is in the history of a majority-signed head that extends the trusted head in --state-file
 * (src/client/client.ts putVerified, src/ledger/verified.ts verifyWrite).
 */
import { Flags } from '@oclif/core';
import type { InitialTrust, PaxchainClient, VerifiedWriteResult, WriteResult } from '../client/client.js';
import { toHex } from '../lib/bytes.js';
import { withClient, writeLine } from './client-ops.js';
import { parseHash } from './flags.js';
import { defaultTrustFile, loadTrust, saveTrust } from './trust-file.js';

export const verifiedWriteFlags = {
  verify: Flags.boolean({ default: false, summary: 'Check that the block which applied the write holds it, under a majority-signed head; trust no node.' }),
  'state-file': Flags.string({ summary: 'Trusted state of --verify (default ~/.config/paxchain/trusted-state.json).' }),
  'genesis-hash': Flags.string({ summary: 'Pin the cluster for --verify: the genesis block hash (64 hex digits).' }),
};

export interface VerifiedWriteFlags {
  readonly 'state-file'?: string;
  readonly 'genesis-hash'?: string;
  readonly endpoints?: string;
  readonly timeout?: number;
}

export interface VerifiedWriteView {
  readonly result: WriteResult;
  /** What to print: the write's line and what was verified. */
  readonly line: string;
  /** Set when this write pinned the cluster on first use. */
  readonly warning?: string;
  /** The --json record's `verified` field. */
  readonly verified: { readonly certifiedHeight: number; readonly certifiedHash: string; readonly stateFile: string; readonly pinnedOnFirstUse: boolean };
}

/** Runs `write` with the trust of --state-file (and --genesis-hash), then saves the advanced trust. */
export async function verifiedWrite(flags: VerifiedWriteFlags, write: (client: PaxchainClient, trust: InitialTrust) => Promise<VerifiedWriteResult>): Promise<VerifiedWriteView> {
  const path = flags['state-file'] ?? defaultTrustFile();
  const trust = loadTrust(path, flags['genesis-hash'] === undefined ? undefined : parseHash(flags['genesis-hash'], '--genesis-hash'));
  const done = await withClient(flags, (client) => write(client, trust));
  saveTrust(path, done.trust);
  const { value: _value, certified, trust: _trust, pinnedOnFirstUse, answer: _answer, ...result } = done;
  return {
    result,
    line: `${writeLine(result)}  [verified in block ${result.height}, head ${certified.height} ${toHex(certified.hash).slice(0, 16)} signed by a majority]`,
    ...(pinnedOnFirstUse ? { warning: `pinned cluster genesis ${toHex(done.trust.genesisHash)} on first use (in ${path}); pass --genesis-hash to pin it yourself` } : {}),
    verified: { certifiedHeight: certified.height, certifiedHash: toHex(certified.hash), stateFile: path, pinnedOnFirstUse },
  };
}
