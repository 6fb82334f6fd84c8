/**
 * `paxchain bench`: a closed-loop load generator. Each of --clients virtual clients runs one
 * operation at a time for --duration seconds (put/get/delete/cas by --mix, uniform over --keys
 * keys, --value-size values); clients share --connections client-library instances. Reports
 * throughput and latency percentiles over the whole run, and errors by code.
 */
import { ErrorCode, isPaxchainError, PaxchainError } from '../lib/errors.js';
import { Prng } from '../lib/prng.js';
import { type InitialTrust, PaxchainClient } from '../client/client.js';

/** Latency samples kept at most (one per operation); beyond this, sampling stops. */
const LATENCY_SAMPLES_MAX = 20_000_000;

export interface BenchMix {
  readonly put: number;
  readonly get: number;
  readonly delete: number;
  readonly cas: number;
}

export interface BenchOptions {
  readonly endpoints: readonly string[];
  readonly clients: number;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly valueBytes: number;
  readonly keys: number;
  readonly mix: BenchMix;
  readonly stale: boolean;
  /** Verified reads (get --verify): each answer's proofs and signatures checked by the client. */
  readonly verify?: boolean;
  readonly timeoutMs: number;
  readonly seed: number;
  readonly onProgress?: (snapshot: BenchSnapshot) => void;
  /** Ends the run early (the clients finish their current operation). */
  readonly stop?: { stopped: boolean };
}

/** A loop's read: plain, stale, or verified with its own trusted state (as a separate verifying client keeps). */
function reader(client: PaxchainClient, options: BenchOptions): (key: string) => Promise<void> {
  let trust: InitialTrust = { genesisHash: undefined };
  return async (key) => {
    if (!options.verify) {
      await client.get(key, { stale: options.stale });
      return;
    }
    trust = (await client.getVerified(key, trust)).trust;
  };
}

export interface BenchSnapshot {
  readonly elapsedSeconds: number;
  readonly operations: number;
  readonly errors: number;
  readonly lastSecondOps: number;
  /** Operations waiting longer than STALLED_MS for an answer now (errors show only at their deadline). */
  readonly stalled: number;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export interface BenchResult {
  readonly clients: number;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly valueBytes: number;
  readonly mix: BenchMix;
  readonly operations: number;
  readonly throughput: number;
  /** Milliseconds. */
  readonly latency: LatencySummary;
  readonly errors: Record<string, number>;
  /** Set when no endpoint answered before the run: why each did not (the run was not started). */
  readonly unreachable?: readonly string[];
  /** Leader and ballot before and after the run: a changed ballot means an election happened. */
  readonly leadership: { readonly before: LeaderView | null; readonly after: LeaderView | null; readonly changed: boolean };
}

export interface LeaderView {
  readonly leader: number;
  readonly ballot: string;
}

/**
 * The leader among `endpoints`, asked in parallel. With `requireOne`, no endpoint answering at all
 * is UNAVAILABLE at once, naming each endpoint's error: otherwise every operation would wait out
 * its whole deadline before the first error shows.
 */
async function leaderView(client: PaxchainClient, endpoints: readonly string[], requireOne = false): Promise<LeaderView | null> {
  const answers = await Promise.all(endpoints.map((endpoint) => client.status(endpoint).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))));
  if (requireOne && answers.every((answer) => answer instanceof Error)) {
    throw new PaxchainError(ErrorCode.UNAVAILABLE, 'no endpoint answered', { why: answers.map((answer, index) => `${endpoints[index]}: ${(answer as Error).message}`) });
  }
  const leader = answers.find((answer) => !(answer instanceof Error) && answer.role === 'leader');
  return leader && !(leader instanceof Error) ? { leader: leader.nodeId, ballot: leader.ballot } : null;
}

export function summarize(samples: Float64Array, count: number): LatencySummary {
  if (count === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const sorted = samples.slice(0, count).sort();
  const at = (q: number) => sorted[Math.min(count - 1, Math.floor(q * count))]!;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sorted[i]!;
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return { p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), max: round(sorted[count - 1]!), mean: round(sum / count) };
}

/** An operation unanswered this long counts as stalled in the progress line. */
const STALLED_MS = 1000;

function notStarted(options: BenchOptions, unreachable: string[]): BenchResult {
  return {
    clients: options.clients,
    connections: options.connections,
    durationSeconds: 0,
    valueBytes: options.valueBytes,
    mix: options.mix,
    operations: 0,
    throughput: 0,
    latency: summarize(new Float64Array(0), 0),
    errors: { [ErrorCode.UNAVAILABLE]: unreachable.length },
    unreachable,
    leadership: { before: null, after: null, changed: false },
  };
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const clients = Array.from({ length: options.connections }, () => new PaxchainClient({ endpoints: options.endpoints, timeoutMs: options.timeoutMs }));
  let before: LeaderView | null;
  try {
    before = await leaderView(clients[0]!, options.endpoints, true);
  } catch (error) {
    await Promise.all(clients.map((client) => client.close()));
    if (!isPaxchainError(error, ErrorCode.UNAVAILABLE)) throw error;
    // Nothing to measure: say so now, with each endpoint's error, instead of running the whole
    // duration with every operation waiting out its deadline.
    return notStarted(options, error.details.why as string[]);
  }
  const samples = new Float64Array(Math.min(LATENCY_SAMPLES_MAX, Math.max(1024, options.clients * options.durationSeconds * 2000)));
  let count = 0;
  let operations = 0;
  let errorCount = 0;
  const errors: Record<string, number> = {};
  const value = new Uint8Array(options.valueBytes).fill(0x61);
  const started = performance.now();
  const deadline = started + options.durationSeconds * 1000;
  let lastOps = 0;
  /** Per client loop: when its operation in flight began (0: none). */
  const inFlightSince = new Float64Array(options.clients);
  const progress = setInterval(() => {
    const now = performance.now();
    const stalled = inFlightSince.reduce((sum, since) => sum + (since > 0 && now - since > STALLED_MS ? 1 : 0), 0);
    options.onProgress?.({ elapsedSeconds: (now - started) / 1000, operations, errors: errorCount, lastSecondOps: operations - lastOps, stalled });
    lastOps = operations;
  }, 1000);
  const loop = async (index: number): Promise<void> => {
    const client = clients[index % clients.length]!;
    const prng = new Prng(options.seed * 100_003 + index);
    const read = reader(client, options);
    while (performance.now() < deadline && !options.stop?.stopped) {
      const key = `bench/${prng.nextInt(options.keys)}`;
      const roll = prng.nextInt(100);
      const begin = performance.now();
      inFlightSince[index] = begin;
      try {
        if (roll < options.mix.put) await client.put(key, value);
        else if (roll < options.mix.put + options.mix.get) await read(key);
        else if (roll < options.mix.put + options.mix.get + options.mix.delete) await client.delete(key);
        else await client.cas(key, value, value);
        if (count < samples.length) samples[count++] = performance.now() - begin;
        operations++;
      } catch (error) {
        const code = isPaxchainError(error) ? error.code : 'ERROR';
        errors[code] = (errors[code] ?? 0) + 1;
        errorCount++;
        if (code === ErrorCode.UNAVAILABLE) await new Promise((resolve) => setTimeout(resolve, 100));
      } finally {
        inFlightSince[index] = 0;
      }
    }
  };
  let after: LeaderView | null = null;
  try {
    await Promise.all(Array.from({ length: options.clients }, (_, index) => loop(index)));
    after = await leaderView(clients[0]!, options.endpoints);
  } finally {
    clearInterval(progress);
    await Promise.all(clients.map((client) => client.close()));
  }
  return benchResult(options, (performance.now() - started) / 1000, operations, summarize(samples, count), errors, before, after);
}

function benchResult(options: BenchOptions, seconds: number, operations: number, latency: LatencySummary, errors: Record<string, number>, before: LeaderView | null, after: LeaderView | null): BenchResult {
  return {
    clients: options.clients,
    connections: options.connections,
    durationSeconds: Math.round(seconds * 100) / 100,
    valueBytes: options.valueBytes,
    mix: options.mix,
    operations,
    throughput: Math.round(operations / seconds),
    latency,
    errors,
    leadership: { before, after, changed: before?.ballot !== after?.ballot || before?.leader !== after?.leader },
  };
}
