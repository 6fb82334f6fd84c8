/**
 * Progress for long work, on stderr so --json output on stdout stays clean. On a terminal it
 * redraws one line; otherwise it prints a line at most every `intervalMs`. Short jobs (under
 * `delayMs`) print nothing.
 */
export interface ProgressOptions {
  readonly label: string;
  readonly unit: string;
  readonly total?: number;
  readonly stream?: NodeJS.WriteStream;
  readonly delayMs?: number;
  readonly intervalMs?: number;
}

export class Progress {
  private readonly startedAt = performance.now();
  private lastPrintAt = 0;
  private printed = false;
  private readonly stream: NodeJS.WriteStream;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
  }

  /** For work that reports chain heights (from 0): height h done of target t is h + 1 of t + 1. */
  readonly onHeight = (height: number, target: number): void => this.update(height + 1, target + 1);

  update(done: number, total = this.options.total): void {
    const now = performance.now();
    const elapsed = now - this.startedAt;
    const tty = this.stream.isTTY === true;
    if (elapsed < (this.options.delayMs ?? 1000)) return;
    if (now - this.lastPrintAt < (tty ? 100 : (this.options.intervalMs ?? 5000))) return;
    this.lastPrintAt = now;
    this.printed = true;
    const rate = done / (elapsed / 1000);
    let line = `${this.options.label}: ${formatCount(done)}`;
    if (total !== undefined && total > 0) {
      line += `/${formatCount(total)} ${this.options.unit} (${((100 * done) / total).toFixed(1)}%)`;
      if (rate > 0) line += `, ETA ${formatSeconds((total - done) / rate)}`;
    } else {
      line += ` ${this.options.unit}`;
    }
    line += `, ${formatCount(Math.round(rate))} ${this.options.unit}/s`;
    this.stream.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }

  /** Ends the progress line (on a terminal) so the next output starts clean. */
  done(): void {
    if (this.printed && this.stream.isTTY) this.stream.write('\r\x1b[2K');
  }
}

/** Runs `work` with a progress line that is ended however the work ends. */
export async function withProgress<T>(options: ProgressOptions, work: (progress: Progress) => Promise<T>): Promise<T> {
  const progress = new Progress(options);
  try {
    return await work(progress);
  } finally {
    progress.done();
  }
}

export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  return `${Math.floor(seconds / 60)}m${Math.round(seconds % 60)}s`;
}
