/**
 * Errors with stable codes (the abstract-level convention).
 *
 * - Expected outcomes (a follower asked to write, a timeout, a corrupt file) are `PaxchainError`s
 *   with an uppercase `code` that scripts and tests can rely on. Codes never change meaning.
 * - Programming mistakes (wrong argument types, calls out of order) are plain `TypeError`s.
 * - Broken invariants are `AssertionError`s from `assert()` (src/lib/assert.ts): they crash the
 *   process on purpose, because writing a wrong block is worse than stopping.
 *
 * This is the one vocabulary: the codes a replica answers (ReplyError, src/replica/ready.ts) and
 * a node puts on the wire (ErrorReplyCode, src/transport/protocol.ts) are subsets of it, so the
 * client passes them on unchanged.
 */
export const ErrorCode = {
  /** A CLI argument or API input is malformed or out of range. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** A requested key, block or file does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** A data directory does not hold a paxchain store (or the wrong format version). */
  NO_STORE: 'NO_STORE',
  /** Stored bytes failed a check: hash, link, length, encoding. `details.height` says where. */
  CORRUPT_DATA: 'CORRUPT_DATA',
  /** An append did not extend the head (wrong height or prevHash). */
  CHAIN_MISMATCH: 'CHAIN_MISMATCH',
  /** Something already exists that a command would overwrite (e.g. genesis). */
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** The store is locked by another process. */
  STORE_LOCKED: 'STORE_LOCKED',
  /** The node that was asked is not the leader; `details.leader` names the leader's node id (0 = unknown). */
  NOT_LEADER: 'NOT_LEADER',
  /** No answer within the deadline; a write may or may not have been applied. */
  TIMEOUT: 'TIMEOUT',
  /** No majority is reachable. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** This node's chain differs from a peer's at the same height; writes are refused. */
  DIVERGED: 'DIVERGED',
  /** A request's (clientId, seq) is older than the one this client last had applied. */
  STALE_REQUEST: 'STALE_REQUEST',
  /**
   * A verified answer failed a check (src/ledger/verified.ts): `details.reason` names which
   * (ROLLBACK, FORK, BAD_CERTIFICATE, BAD_PROOF, GENESIS_MISMATCH, ...) and `details.height` where.
   */
  VERIFICATION_FAILED: 'VERIFICATION_FAILED',
  /** A frame was longer than the limit. */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** A frame could not be decoded or had an unknown type or version. */
  BAD_FRAME: 'BAD_FRAME',
  /** A peer failed the cluster-secret handshake. */
  AUTH_FAILED: 'AUTH_FAILED',
  /** A bounded queue is full; the caller should back off and retry. */
  OVERLOADED: 'OVERLOADED',
  /** The node is shutting down or not yet serving. */
  NOT_READY: 'NOT_READY',
  /**
   * A write would take the replicated state past a limit its genesis sets (entries, or bytes of
   * keys plus values): it was applied as a no-op. Delete keys, or start a cluster with larger limits.
   */
  STATE_FULL: 'STATE_FULL',
  /**
   * The body of the block asked for was dropped by retention (`--retain-blocks`, `chain prune`):
   * its header is kept and still verifies; read the body from a replica that keeps it.
   */
  PRUNED: 'PRUNED',
  /** A watch asked for changes older than the node holds (its history is bounded). */
  COMPACTED: 'COMPACTED',
  /** A watch whose client read too slowly was ended; resume from its last height. */
  FELL_BEHIND: 'FELL_BEHIND',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class PaxchainError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'PaxchainError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isPaxchainError(error: unknown, code?: ErrorCode): error is PaxchainError {
  return error instanceof PaxchainError && (code === undefined || error.code === code);
}
