/**
 * The client protocol spoken on a node's port after ClientHello: requests `{ id, op, ... }`,
 * replies `{ id, ok, ... }` echoing the id (src/transport/server.ts). parseClientRequest() checks
 * a request before the node acts on it; anything malformed is answered INVALID_ARGUMENT.
 */
import { isU53 } from '../lib/bytes.js';
import type { ErrorCode } from '../lib/errors.js';
import { limits } from '../lib/limits.js';

/** Most blocks one `blocks` request returns, and most hashes one `hashes` request returns. */
export const BLOCKS_PER_REQUEST_MAX = 256;
export const HASHES_PER_REQUEST_MAX = 65_536;

export type ClientRequestBody =
  | { readonly op: 'write'; readonly command: readonly unknown[] }
  | { readonly op: 'read'; readonly key: string; readonly stale: boolean }
  | { readonly op: 'status' }
  | { readonly op: 'blocks'; readonly from: number; readonly to: number }
  | { readonly op: 'hashes'; readonly from: number; readonly to: number }
  | { readonly op: 'headers'; readonly from: number; readonly to: number };

/**
 * The codes a node answers on the wire: a subset of the one vocabulary (src/lib/errors.ts), and a
 * superset of the replica's own (ReplyError in src/replica/ready.ts).
 */
export type ErrorReplyCode = Extract<ErrorCode, 'NOT_LEADER' | 'OVERLOADED' | 'DIVERGED' | 'INVALID_ARGUMENT' | 'NOT_READY' | 'NOT_FOUND' | 'UNAVAILABLE'>;

export interface ErrorReply {
  readonly ok: false;
  readonly error: ErrorReplyCode;
  readonly message: string;
  /** NOT_LEADER: the leader's node id (0 = unknown) and client endpoint. */
  readonly leader?: number;
  readonly leaderEndpoint?: string;
}

export interface WriteReply {
  readonly ok: true;
  /** Result name (OK, DELETED, NOT_FOUND, CAS_MISMATCH, INVALID, STALE). */
  readonly result: string;
  readonly code: number;
  /** Answered from the dedup table: the first result of this (clientId, seq). */
  readonly duplicate: boolean;
  readonly height: number;
}

export interface ReadReply {
  readonly ok: true;
  readonly value: Uint8Array | null;
  readonly height: number;
  readonly hash: Uint8Array;
  readonly stale: boolean;
}

export interface MemberStatus {
  readonly id: number;
  readonly endpoint: string;
  /** This node's link to the member (or 'self'). */
  readonly link: 'self' | 'connected' | 'connecting' | 'down';
  /** Why this node's link to the member last failed (e.g. "AUTH_FAILED: ..."), while it is not connected. */
  readonly linkError?: string;
  readonly head: { readonly height: number; readonly hash: string } | null;
}

export interface NodeStatus {
  readonly nodeId: number;
  readonly clusterId: string | null;
  readonly endpoint: string;
  readonly role: string;
  readonly leader: number;
  readonly ballot: string;
  readonly promised: string;
  readonly voting: boolean;
  readonly commitIndex: number;
  readonly head: { readonly height: number; readonly hash: string } | null;
  readonly stateDigest: string | null;
  readonly keys: number;
  readonly diverged: {
    readonly height: number;
    readonly peer: number;
    readonly ours: string;
    readonly theirs: string;
    /** First height where the two chains differ, once the node has found it by bisection. */
    readonly firstHeight?: number;
    readonly firstOurs?: string;
    readonly firstTheirs?: string;
  } | null;
  /** Peers whose block at some height has another hash than this node's (alarm, not verdict). */
  readonly disagreeingPeers?: ReadonlyArray<{ readonly peer: number; readonly height: number; readonly ours: string; readonly theirs: string }>;
  readonly members: readonly MemberStatus[];
  /**
   * Set when this node has peers but no working link to any of them (each tried and failed):
   * whatever its role says, it takes no part in the cluster. `reason` gives each link's error.
   */
  readonly cutOff?: { readonly reason: string } | null;
  readonly uptimeMs: number;
  readonly counters: Readonly<Record<string, number>>;
}

export interface BlocksReply {
  readonly ok: true;
  readonly from: number;
  readonly records: readonly Uint8Array[];
  readonly head: { readonly height: number; readonly hash: Uint8Array } | null;
}

export interface HeadersReply {
  readonly ok: true;
  readonly from: number;
  /** Stored block headers of heights from, from + 1, ... (105 bytes each, concatenated). */
  readonly headers: Uint8Array;
}

export interface HashesReply {
  readonly ok: true;
  readonly from: number;
  /** Block hashes of heights from, from + 1, ... (32 bytes each, concatenated). */
  readonly hashes: Uint8Array;
}

export function parseClientRequest(request: Record<string, unknown>): ClientRequestBody | string {
  switch (request.op) {
    case 'write':
      return Array.isArray(request.command) && request.command.length <= 8 ? { op: 'write', command: request.command } : 'write needs a command tuple';
    case 'read':
      if (typeof request.key !== 'string' || request.key.length === 0 || request.key.length > limits.keyBytesMax) return 'read needs a key';
      return { op: 'read', key: request.key, stale: request.stale === true };
    case 'status':
      return { op: 'status' };
    case 'blocks':
    case 'hashes':
    case 'headers': {
      const { from, to } = request;
      if (!isU53(from) || !isU53(to) || to < from) return `${request.op} needs 0 <= from <= to`;
      return { op: request.op, from, to };
    }
    default:
      return `unknown op ${String(request.op)}`;
  }
}
