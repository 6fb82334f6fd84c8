/**
 * Structured node logs: one line per event naming the node, its ballot and chain height, as text
 * (`2026-11-21T10:00:00.000Z INFO node=1 ballot=3.1 height=120 became leader promises=2`) or as
 * JSON lines (--log-format json) for machines.
 */
import { toHex } from '../lib/bytes.js';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export class NodeLog {
  constructor(
    private readonly nodeId: number,
    private readonly format: LogFormat,
    private readonly minimum: LogLevel = 'info',
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  log(level: LogLevel, message: string, context: { ballot: string; height: number }, fields: Record<string, unknown> = {}): void {
    if (LEVEL_ORDER[level] < LEVEL_ORDER[this.minimum]) return;
    const time = new Date().toISOString();
    if (this.format === 'json') {
      this.write(JSON.stringify({ time, level, node: this.nodeId, ballot: context.ballot, height: context.height, msg: message, ...plain(fields) }));
      return;
    }
    const extra = Object.entries(plain(fields))
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    this.write(`${time} ${level.toUpperCase().padEnd(5)} node=${this.nodeId} ballot=${context.ballot} height=${context.height} ${message}${extra ? ' ' + extra : ''}`);
  }
}

function plain(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) out[key] = value instanceof Uint8Array ? toHex(value).slice(0, 16) : value;
  return out;
}
