/** `paxchain status`: every node's own view, gathered in parallel. */
import type { PaxchainClient } from '../client/client.js';
import type { NodeStatus } from '../transport/protocol.js';
import { formatTable, shortHash } from './render.js';

export interface NodeRow {
  readonly endpoint: string;
  readonly reachable: boolean;
  readonly error?: string;
  readonly status?: NodeStatus;
}

export async function gatherStatus(client: PaxchainClient, endpoints: readonly string[]): Promise<NodeRow[]> {
  return Promise.all(
    endpoints.map(async (endpoint) => {
      try {
        return { endpoint, reachable: true, status: await client.status(endpoint) };
      } catch (error) {
        return { endpoint, reachable: false, error: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
}

export function statusTable(rows: readonly NodeRow[]): string[] {
  const header = ['ID', 'ENDPOINT', 'ROLE', 'BALLOT', 'VOTING', 'CHOSEN', 'APPLIED', 'HEAD HASH', 'STATE', 'CHECKPOINT', 'BODIES', 'DISK', 'REACHABLE'];
  const lines = rows.map((row) => {
    const status = row.status;
    if (!status) return ['?', row.endpoint, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', 'no'];
    // A node with no working link to any peer is no healthy follower, whatever its role says.
    const role = status.diverged ? `${status.role} DIVERGED@${status.diverged.firstHeight ?? status.diverged.height}` : status.cutOff ? `${status.role} CUT-OFF` : status.role;
    return [
      String(status.nodeId),
      status.endpoint,
      role,
      status.ballot,
      status.voting ? 'yes' : 'learner',
      String(status.commitIndex),
      status.head ? String(status.head.height) : '-',
      status.head ? shortHash(status.head.hash) : '-',
      stateCell(status.state),
      status.checkpointHeight != null ? String(status.checkpointHeight) : '-',
      // Which bodies the node keeps: `1..` is all of them; retention raises the start.
      status.oldestBody != null && status.head ? `${status.oldestBody}..` : '-',
      status.diskBytes != null ? formatBytes(status.diskBytes) : '-',
      'yes',
    ];
  });
  return [...formatTable(header, lines), ...unreachableLines(rows), ...cutOffLines(rows), ...chainAlarms(rows)];
}

/** `3 keys, 62 B`, with the share of a limit once a tenth of it is used (`(91% of keys)`). */
function stateCell(state: NodeStatus['state']): string {
  if (!state) return '-';
  const size = `${state.keys} keys, ${formatBytes(state.bytes)}`;
  // A node reports its limits; one that reports none (or nonsense) gets no share.
  if (!state.entriesMax || !state.bytesMax || state.entriesMax < 1 || state.bytesMax < 1) return size;
  const keyShare = state.keys / state.entriesMax;
  const byteShare = state.bytes / state.bytesMax;
  const share = Math.max(keyShare, byteShare);
  return share >= 0.1 ? `${size} (${Math.floor(share * 100)}% of ${keyShare >= byteShare ? 'keys' : 'bytes'})` : size;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** The first node asked that says it leads. */
export function leaderRow(rows: readonly NodeRow[]): NodeRow | undefined {
  return rows.find((row) => row.status?.role === 'leader');
}

/**
 * The line under the status table: the leader among the nodes asked, else whom the asked nodes
 * say they follow (a partial endpoint list may leave the leader out), else "no leader".
 */
export function leaderLine(rows: readonly NodeRow[]): string {
  const leader = leaderRow(rows)?.status;
  if (leader) return `leader: node ${leader.nodeId}`;
  const followed = rows.map((row) => row.status).filter((status) => status !== undefined && status.leader > 0 && status.role !== 'candidate');
  if (followed.length === 0) return 'no leader';
  return `no leader among the nodes asked; ${followed.map((status) => `node ${status!.nodeId} follows node ${status!.leader}`).join(', ')}`;
}

/** One line per chain disagreement a node reports with a peer (the start of a divergence). */
function chainAlarms(rows: readonly NodeRow[]): string[] {
  const alarms: string[] = [];
  for (const row of rows) {
    for (const other of row.status?.disagreeingPeers ?? []) {
      alarms.push(`ALARM node ${row.status!.nodeId}: node ${other.peer} holds another block at height ${other.height} (ours ${shortHash(other.ours)}, theirs ${shortHash(other.theirs)})`);
    }
  }
  return alarms;
}

/** One line per node that has no working link to any of its peers, with each link's error. */
function cutOffLines(rows: readonly NodeRow[]): string[] {
  return rows.filter((row) => row.status?.cutOff).map((row) => `CUT OFF node ${row.status!.nodeId}: no working link to any peer (${row.status!.cutOff!.reason})`);
}

/** Why each node that did not answer did not (refused, timed out, not a paxchain node, ...). */
function unreachableLines(rows: readonly NodeRow[]): string[] {
  return rows.filter((row) => !row.reachable).map((row) => `UNREACHABLE ${row.endpoint}: ${row.error ?? 'no answer'}`);
}
