/**
 * The client's trusted state on disk (`--state-file`, default under the user's config directory):
 * the pinned genesis hash, the member keys genesis lists, and the newest head the client verified.
 * Verified commands read it before and write it after each answer, so a later answer that rolls
 * back below that head or forks from it is refused (src/ledger/verified.ts).
 *
 *   { "format": "paxchain-trust", "version": 1, "genesisHash": hex,
 *     "members": [{ "node": N, "publicKey": hex }], "head": { "height": N, "hash": hex } | null }
 *
 * One file per cluster: a file pinned to another genesis hash than --genesis-hash is refused.
 * Written atomically (a temp file renamed over it), mode 0600 (it is not secret, but it is trust).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fromHex, toHex } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import type { Member } from '../ledger/signing.js';
import type { TrustState } from '../ledger/verified.js';
import type { InitialTrust } from '../client/client.js';

const TRUST_FORMAT = 'paxchain-trust';
const TRUST_VERSION = 1;
/** Longest trust file read (9 members and a head are well under 4 KiB). */
const TRUST_FILE_BYTES_MAX = 64 * 1024;

/** $XDG_CONFIG_HOME/paxchain/trusted-state.json (else ~/.config/...). */
export function defaultTrustFile(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'paxchain', 'trusted-state.json');
}

/** The trust to start from: the file's, checked against a --genesis-hash pin; or the pin alone; or none. */
export function loadTrust(path: string, pinned: Uint8Array | undefined): InitialTrust {
  if (!existsSync(path)) return pinned ? { genesisHash: pinned, members: undefined, head: undefined } : { genesisHash: undefined };
  if (statSync(path).size > TRUST_FILE_BYTES_MAX) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${path}: longer than any trust file`, { path });
  const state = parseTrust(readFileSync(path, 'utf8'), path);
  if (pinned && toHex(pinned) !== toHex(state.genesisHash)) {
    throw new PaxchainError(ErrorCode.VERIFICATION_FAILED, `${path} trusts the cluster with genesis ${toHex(state.genesisHash).slice(0, 16)}, not the --genesis-hash ${toHex(pinned).slice(0, 16)}; use another --state-file`, {
      reason: 'GENESIS_MISMATCH',
      path,
    });
  }
  return state;
}

export function saveTrust(path: string, state: TrustState): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const json = {
    format: TRUST_FORMAT,
    version: TRUST_VERSION,
    genesisHash: toHex(state.genesisHash),
    members: (state.members ?? []).map((member) => ({ node: member.node, publicKey: toHex(member.publicKey) })),
    head: state.head ? { height: state.head.height, hash: toHex(state.head.hash) } : null,
  };
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(json, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

function parseTrust(text: string, path: string): TrustState {
  const bad = (why: string) => new PaxchainError(ErrorCode.CORRUPT_DATA, `${path}: not a trust file (${why})`, { path });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  const { format, version, genesisHash, members, head } = (json ?? {}) as Record<string, unknown>;
  if (format !== TRUST_FORMAT || version !== TRUST_VERSION) throw bad(`format ${String(format)} version ${String(version)}`);
  const genesis = typeof genesisHash === 'string' ? fromHex(genesisHash) : undefined;
  if (!genesis || genesis.length !== 32) throw bad('genesisHash');
  if (!Array.isArray(members)) throw bad('members');
  const parsed: Member[] = members.map((member: unknown) => {
    const { node, publicKey } = (member ?? {}) as Record<string, unknown>;
    const key = typeof publicKey === 'string' ? fromHex(publicKey) : undefined;
    if (!Number.isInteger(node) || !key || key.length !== 32) throw bad('a member');
    return { node: node as number, publicKey: key };
  });
  let trustedHead: TrustState['head'];
  if (head !== null) {
    const { height, hash } = (head ?? {}) as Record<string, unknown>;
    const bytes = typeof hash === 'string' ? fromHex(hash) : undefined;
    if (!Number.isSafeInteger(height) || (height as number) < 0 || !bytes || bytes.length !== 32) throw bad('head');
    trustedHead = { height: height as number, hash: bytes };
  }
  return { genesisHash: genesis, members: parsed.length > 0 ? parsed : undefined, head: trustedHead };
}
