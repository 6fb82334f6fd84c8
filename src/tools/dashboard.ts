/**
 * `paxchain dashboard`: a web page of a running cluster (src/tools/dashboard-page.ts) and the
 * small JSON API behind it, served from this process on 127.0.0.1 (or --listen).
 *
 * - A sampler asks every endpoint for its status once a second (one request each, a short
 *   deadline) and keeps the last SERIES_POINTS_MAX samples: per member role, ballot, heights, lag
 *   behind the highest head, health (ok, down, no leader, diverged, cut off, catching up); and the
 *   cluster's writes/s, blocks/s and the latency of a linearizable read it makes itself (a probe
 *   of one ReadIndex round trip; the dashboard never writes).
 * - The page reads /api/overview every second and /api/blocks every two; the chain explorer asks
 *   for one block (/api/block/HEIGHT or /api/block/HASH, a hash looked up among the newest
 *   HASH_SEARCH_BLOCKS_MAX blocks) or a key's history (/api/history?key=K, replayed from the
 *   chain as `paxchain history` does; one at a time).
 * - It never blocks the cluster: every request it makes is bounded in time, a dead node is shown
 *   down, and its own server is bounded (connections, request time, GET only, URL length).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ErrorCode, isPaxchainError, PaxchainError } from '../lib/errors.js';
import { PaxchainClient } from '../client/client.js';
import { listBlocks, showBlock } from '../cli/chain-ops.js';
import type { NodeStatus } from '../transport/protocol.js';
import { toHex } from '../lib/bytes.js';
import { keyHistory } from './history.js';
import { dashboardPage } from './dashboard-page.js';

/** Samples kept (one a second: ten minutes). */
const SERIES_POINTS_MAX = 600;
/** How often every node's status is sampled. */
const SAMPLE_MS = 1_000;
/** Deadline of one status request (a stopped node answers nothing). */
const STATUS_TIMEOUT_MS = 800;
/** Latest blocks the page may ask for at once. */
const LATEST_BLOCKS_MAX = 50;
/** How far below the head a block is looked up by hash. */
const HASH_SEARCH_BLOCKS_MAX = 10_000;
/** Hashes asked of a node per request while searching. */
const HASH_SEARCH_CHUNK = 2_000;
/** Connections the dashboard's server holds open at most. */
const CONNECTIONS_MAX = 64;
/** Longest request URL accepted. */
const URL_BYTES_MAX = 4_096;
/** A request must be read and answered within this. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Key histories replayed at once (each replays the chain). */
const HISTORIES_AT_ONCE_MAX = 1;

export interface DashboardOptions {
  readonly endpoints: readonly string[];
  readonly host: string;
  readonly port: number;
  /** Called with a line for people (errors serving a request). */
  readonly log?: (line: string) => void;
}

export interface MemberView {
  readonly endpoint: string;
  readonly up: boolean;
  readonly error: string | null;
  readonly nodeId: number | null;
  readonly role: string | null;
  readonly leader: number | null;
  readonly ballot: string | null;
  readonly voting: boolean | null;
  readonly commitIndex: number | null;
  readonly head: number | null;
  readonly headHash: string | null;
  /** Blocks behind the highest head any member has. */
  readonly lag: number | null;
  readonly health: string;
  readonly keys: number | null;
  readonly diskBytes: number | null;
  readonly uptimeMs: number | null;
}

export interface SeriesPoint {
  readonly atMs: number;
  readonly height: number | null;
  readonly writesPerSecond: number | null;
  readonly blocksPerSecond: number | null;
  /** The probe read's round trip (null: it failed). */
  readonly readMs: number | null;
}

export interface Dashboard {
  readonly url: string;
  close(): Promise<void>;
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const sampler = new Sampler(options.endpoints);
  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: 10_000 }, (request, response) => {
    void route(sampler, options, request, response);
  });
  server.maxConnections = CONNECTIONS_MAX;
  await listen(server, options.host, options.port);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  sampler.start();
  return {
    url: `http://${options.host}:${port}/`,
    async close() {
      await sampler.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      // A taken port is the machine's state, not a bad flag: UNAVAILABLE, with the OS's code.
      reject(new PaxchainError(ErrorCode.UNAVAILABLE, `cannot listen on ${host}:${port}: ${error.message}`, { host, port, os: error.code ?? null }));
    });
    server.listen(port, host, () => resolve());
  });
}

/** Samples every member's status once a second; keeps the views and a bounded series. */
class Sampler {
  private readonly client: PaxchainClient;
  members: MemberView[];
  readonly series: SeriesPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private previous: { atMs: number; writes: number; height: number } | undefined;
  histories = 0;
  /** The node id each endpoint last answered with (a down node keeps its id on the page). */
  private readonly knownIds = new Map<string, number>();

  constructor(readonly endpoints: readonly string[]) {
    this.client = new PaxchainClient({ endpoints: [...endpoints], timeoutMs: STATUS_TIMEOUT_MS });
    this.members = endpoints.map((endpoint) => downView(endpoint, 'not sampled yet'));
  }

  start(): void {
    const tick = (): void => {
      if (this.running) return;
      this.running = this.sample().finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, SAMPLE_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.client.close();
  }

  private async sample(): Promise<void> {
    const statuses = await Promise.all(this.endpoints.map((endpoint) => this.client.status(endpoint).then((status) => ({ status }), (error: unknown) => ({ error: describe(error) }))));
    const heads = statuses.map((answer) => ('status' in answer ? (answer.status.head?.height ?? 0) : 0));
    const top = Math.max(0, ...heads);
    const anyLeader = statuses.some((answer) => 'status' in answer && answer.status.leader !== 0);
    this.members = statuses.map((answer, i) => {
      const endpoint = this.endpoints[i]!;
      if (!('status' in answer)) return { ...downView(endpoint, answer.error), nodeId: this.knownIds.get(endpoint) ?? null };
      this.knownIds.set(endpoint, answer.status.nodeId);
      return memberView(endpoint, answer.status, top, anyLeader);
    });
    const writes = statuses.reduce((sum, answer) => sum + ('status' in answer ? (answer.status.counters.writes ?? 0) : 0), 0);
    const readMs = await this.probe();
    const atMs = Date.now();
    const up = statuses.some((answer) => 'status' in answer);
    let writesPerSecond: number | null = null;
    let blocksPerSecond: number | null = null;
    if (up && this.previous) {
      const seconds = (atMs - this.previous.atMs) / 1000;
      // A restarted node's counters start again from 0: never a negative rate.
      writesPerSecond = Math.max(0, (writes - this.previous.writes) / seconds);
      blocksPerSecond = Math.max(0, (top - this.previous.height) / seconds);
    }
    if (up) this.previous = { atMs, writes, height: top };
    this.series.push({ atMs, height: up ? top : null, writesPerSecond, blocksPerSecond, readMs });
    if (this.series.length > SERIES_POINTS_MAX) this.series.shift();
  }

  /** One linearizable read's round trip (of a key no one needs to have). */
  private async probe(): Promise<number | null> {
    const started = performance.now();
    try {
      await this.client.get('paxchain/dashboard-probe');
      return performance.now() - started;
    } catch {
      return null;
    }
  }
}

function memberView(endpoint: string, status: NodeStatus, top: number, anyLeader: boolean): MemberView {
  const head = status.head?.height ?? 0;
  let health = 'ok';
  if (status.diverged) health = `diverged at ${status.diverged.height} from node ${status.diverged.peer}`;
  else if (status.cutOff) health = 'cut off from its peers';
  else if (status.stateSync && status.stateSync.phase !== 'idle') health = `catching up (state sync: ${status.stateSync.phase})`;
  else if (status.leader === 0) health = anyLeader ? 'no leader here' : 'no leader';
  else if (!status.voting) health = 'rejoining (not voting yet)';
  else if (top - head > 1000) health = `catching up (${top - head} blocks behind)`;
  return {
    endpoint,
    up: true,
    error: null,
    nodeId: status.nodeId,
    role: status.role,
    leader: status.leader,
    ballot: status.ballot,
    voting: status.voting,
    commitIndex: status.commitIndex,
    head,
    headHash: status.head?.hash ?? null,
    lag: top - head,
    health,
    keys: status.state?.keys ?? status.keys,
    diskBytes: status.diskBytes ?? null,
    uptimeMs: status.uptimeMs,
  };
}

function downView(endpoint: string, error: string): MemberView {
  return { endpoint, up: false, error, nodeId: null, role: null, leader: null, ballot: null, voting: null, commitIndex: null, head: null, headHash: null, lag: null, health: 'down', keys: null, diskBytes: null, uptimeMs: null };
}

function describe(error: unknown): string {
  return isPaxchainError(error) ? `${error.code}: ${error.message}` : String(error);
}

async function route(sampler: Sampler, options: DashboardOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  try {
    const raw = request.url ?? '/';
    if (raw.length > URL_BYTES_MAX) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `URL longer than ${URL_BYTES_MAX} bytes`);
    if (request.method !== 'GET') throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${request.method} is not served: GET only`);
    const url = new URL(raw, 'http://dashboard');
    const target = { endpoints: sampler.endpoints.join(','), timeout: 5_000 };
    if (url.pathname === '/') return send(response, 200, 'text/html; charset=utf-8', dashboardPage());
    if (url.pathname === '/api/overview') return sendJson(response, 200, overview(sampler));
    if (url.pathname === '/api/blocks') {
      const limit = boundedInt(url.searchParams.get('limit') ?? '20', 'limit', 1, LATEST_BLOCKS_MAX);
      const latest = await listBlocks(target, {});
      const from = Math.max(0, latest.to - limit + 1);
      return sendJson(response, 200, from >= latest.from ? { blocks: latest.blocks.filter((block) => block.height >= from).reverse() } : { blocks: (await listBlocks(target, { from, to: latest.to })).blocks.reverse() });
    }
    if (url.pathname.startsWith('/api/block/')) return sendJson(response, 200, await blockById(sampler, target, decodeURIComponent(url.pathname.slice('/api/block/'.length))));
    if (url.pathname === '/api/history') return sendJson(response, 200, await history(sampler, target, url.searchParams.get('key')));
    throw new PaxchainError(ErrorCode.NOT_FOUND, `no page ${url.pathname}`);
  } catch (error) {
    const code = isPaxchainError(error) ? error.code : 'ERROR';
    const status = code === ErrorCode.NOT_FOUND ? 404 : code === ErrorCode.INVALID_ARGUMENT ? 400 : code === ErrorCode.OVERLOADED ? 429 : code === ErrorCode.UNAVAILABLE ? 503 : 500;
    if (status === 500) options.log?.(`dashboard: ${request.url}: ${describe(error)}`);
    sendJson(response, status, { error: { code, message: isPaxchainError(error) ? error.message : String(error) } });
  }
}

function overview(sampler: Sampler): Record<string, unknown> {
  const leaders = new Set(sampler.members.filter((member) => member.up && member.leader).map((member) => member.leader));
  const leader = sampler.members.find((member) => member.role === 'leader') ?? null;
  return {
    members: sampler.members,
    leader: leader ? { nodeId: leader.nodeId, endpoint: leader.endpoint, ballot: leader.ballot } : null,
    leadersSeen: [...leaders],
    series: sampler.series,
    sampledAtMs: sampler.series.at(-1)?.atMs ?? null,
  };
}

async function blockById(sampler: Sampler, target: { endpoints: string; timeout: number }, id: string): Promise<unknown> {
  let height: number;
  if (/^\d{1,15}$/.test(id)) height = Number(id);
  else if (/^[0-9a-f]{64}$/i.test(id)) height = await heightOfHash(sampler, id.toLowerCase());
  else throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'a block is asked for by height (digits) or hash (64 hex digits)');
  const shown = await showBlock(target, height, { results: false });
  return { block: shown.block, commands: shown.commands };
}

/** The height of the block with `hash`, among the newest HASH_SEARCH_BLOCKS_MAX. */
async function heightOfHash(sampler: Sampler, hash: string): Promise<number> {
  const member = sampler.members.find((each) => each.up && each.head !== null);
  if (!member) throw new PaxchainError(ErrorCode.UNAVAILABLE, 'no member answers');
  const client = new PaxchainClient({ endpoints: [member.endpoint], timeoutMs: 5_000 });
  try {
    const low = Math.max(0, member.head! - HASH_SEARCH_BLOCKS_MAX + 1);
    for (let to = member.head!; to >= low; to -= HASH_SEARCH_CHUNK) {
      const from = Math.max(low, to - HASH_SEARCH_CHUNK + 1);
      const reply = await client.hashes(from, to, member.endpoint);
      for (let i = 0; i * 32 < reply.hashes.length; i++) if (toHex(reply.hashes.subarray(i * 32, i * 32 + 32)) === hash) return reply.from + i;
    }
  } finally {
    await client.close();
  }
  throw new PaxchainError(ErrorCode.NOT_FOUND, `no block with hash ${hash.slice(0, 16)}… among the newest ${HASH_SEARCH_BLOCKS_MAX}`);
}

async function history(sampler: Sampler, target: { endpoints: string; timeout: number }, key: string | null): Promise<unknown> {
  if (!key) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'history needs ?key=K');
  if (sampler.histories >= HISTORIES_AT_ONCE_MAX) throw new PaxchainError(ErrorCode.OVERLOADED, 'a key history is being replayed already; try again in a moment');
  sampler.histories++;
  try {
    return await keyHistory(target, key);
  } finally {
    sampler.histories--;
  }
}

function boundedInt(text: string, name: string, low: number, high: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < low || value > high) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer from ${low} to ${high}`);
  return value;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, 'application/json', JSON.stringify(body));
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  response.end(body);
}
