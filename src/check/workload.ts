/**
 * A seeded synthetic workload: command tuples for `dev gen`, benchmarks and tests. Deterministic
 * for a given seed and options, so a generated chain is reproducible byte for byte.
 */
import { Prng } from '../lib/prng.js';
import { type CommandTuple, encodeCommand } from '../kv/command.js';
import { fixedSessionId } from '../kv/session.js';

export interface WorkloadOptions {
  readonly seed: number;
  /** Distinct keys, "key-0" .. "key-(keys-1)". */
  readonly keys: number;
  readonly valueBytes: number;
  /** Distinct client sessions issuing commands. */
  readonly clients: number;
  /** Percent of commands of each kind; must sum to 100. */
  readonly mix: { readonly put: number; readonly delete: number; readonly cas: number };
  /** Probability that a command re-sends the client's previous (session, seq): a retry. */
  readonly duplicateRate: number;
}

export class Workload {
  private readonly prng: Prng;
  private readonly seqs: number[];
  private readonly last: (CommandTuple | undefined)[];
  /** A pool of values to draw from (random bytes are the slow part of generating). */
  private readonly values: Uint8Array[];
  private readonly known = new Map<string, Uint8Array>();
  private readonly sessions: Uint8Array[];

  constructor(readonly options: WorkloadOptions) {
    const { put, delete: del, cas } = options.mix;
    if (put + del + cas !== 100) throw new TypeError('mix must sum to 100');
    if (options.keys < 1 || options.clients < 1) throw new TypeError('keys and clients must be positive');
    this.prng = new Prng(options.seed);
    this.seqs = new Array<number>(options.clients).fill(0);
    this.last = new Array<CommandTuple | undefined>(options.clients).fill(undefined);
    this.sessions = Array.from({ length: options.clients }, (_, index) => Workload.sessionId(index));
    this.values = Array.from({ length: 256 }, () => {
      const value = new Uint8Array(options.valueBytes);
      for (let i = 0; i < value.length; i++) value[i] = 0x61 + this.prng.nextInt(26);
      return value;
    });
  }

  /** The session id used for client index i (fixedSessionId(i + 1)). */
  static sessionId(index: number): Uint8Array {
    return fixedSessionId(index + 1);
  }

  next(): CommandTuple {
    const client = this.prng.nextInt(this.options.clients);
    const previous = this.last[client];
    if (previous !== undefined && this.prng.chance(this.options.duplicateRate)) return previous;
    const seq = ++this.seqs[client]!;
    const session = this.sessions[client]!;
    const key = `key-${this.prng.nextInt(this.options.keys)}`;
    const roll = this.prng.nextInt(100);
    const { put, delete: del } = this.options.mix;
    let command: CommandTuple;
    if (roll < put) {
      const value = this.values[this.prng.nextInt(this.values.length)]!;
      command = encodeCommand({ op: 'put', session, seq, key, value });
      this.known.set(key, value);
    } else if (roll < put + del) {
      command = encodeCommand({ op: 'delete', session, seq, key });
      this.known.delete(key);
    } else {
      // Half the cas commands expect what this generator last wrote (usually a match), half a
      // fresh value (a mismatch unless the key was absent and expect is null).
      const current = this.known.get(key) ?? null;
      const expect = this.prng.chance(0.5) ? current : this.values[this.prng.nextInt(this.values.length)]!;
      const value = this.values[this.prng.nextInt(this.values.length)]!;
      command = encodeCommand({ op: 'cas', session, seq, key, expect, value });
    }
    this.last[client] = command;
    return command;
  }

  batch(count: number): CommandTuple[] {
    const out = new Array<CommandTuple>(count);
    for (let i = 0; i < count; i++) out[i] = this.next();
    return out;
  }
}
