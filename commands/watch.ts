import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { watchView, withClient } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { keyHexFlag, keyInput } from '../src/cli/input.js';
import { ErrorCode, PaxchainError } from '../src/lib/errors.js';

interface WatchSummary {
  readonly key: string;
  readonly prefix: boolean;
  readonly events: number;
  /** The height a later `watch --from-height` would go on from. */
  readonly resumeHeight: number | null;
  /** Times the watch moved to another node or resumed. */
  readonly resumes: number;
}

export default class Watch extends BaseCommand {
  static override summary = 'Stream every change of KEY (or of the keys with --prefix) as it is chosen.';
  static override description = `One line per change: HEIGHT PUT KEY VALUE (create, mod, version) or HEIGHT DELETE KEY, in
chain order, from the next block on or from --from-height H. With --json, one JSON object per line
({height, seq, index, op, key, value, encoding, createHeight, modHeight, version, node}) and a last
line {"summary": {...}} when the watch ends.

The watch survives its node: when the node dies, stops answering, loses its leader or drops the
watch for reading too slowly (FELL_BEHIND), the client resumes on another node from the height
after the last one it printed. No change is missed, repeated or reordered. Each node keeps the
changes of its last 100,000 events in memory; a height no node still holds ends the watch with
COMPACTED. Runs until interrupted (Ctrl-C), or until --count events.`;

  static override examples = [
    '<%= config.bin %> watch fruit/apple',
    '<%= config.bin %> watch --prefix fruit/ --from-height 120 --json',
    '<%= config.bin %> watch --prefix "" --count 10',
  ];
  static override args = { key: Args.string({ required: false }) };
  static override flags = {
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    'key-hex': keyHexFlag,
    prefix: Flags.string({ summary: 'Watch every key that starts with this prefix ("" for every key).' }),
    'from-height': Flags.integer({ min: 0, summary: 'Deliver the changes from this height on (default: from the next block).' }),
    count: Flags.integer({ min: 1, summary: 'Stop after this many events.' }),
    quiet: Flags.boolean({ default: false, summary: 'Do not report on stderr when the watch moves to another node.' }),
  };

  /** JSON lines: the summary (or error) is one line too, after the events. */
  override logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json)}\n`);
  }

  async run(): Promise<{ summary: WatchSummary } | undefined> {
    const { args, flags } = await this.parse(Watch);
    if (flags.prefix !== undefined && args.key !== undefined) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'give either KEY or --prefix P, not both');
    if (flags.prefix === undefined && args.key === undefined && flags['key-hex'] === undefined) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'watch needs KEY or --prefix P');
    const prefix = flags.prefix !== undefined;
    const key = flags.prefix ?? keyInput(args.key, flags['key-hex']);
    let events = 0;
    let resumes = 0;
    const json = this.jsonEnabled();
    const summary = await withClient(flags, async (client) => {
      const watch = client.watch(key, {
        prefix,
        fromHeight: flags['from-height'],
        onResume: (notice) => {
          resumes++;
          if (!flags.quiet) process.stderr.write(`watch: ${notice.reason}; resuming from height ${notice.height ?? 'now'}\n`);
        },
      });
      const stop = (): void => void watch.return();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        for await (const event of watch) {
          const { record, line } = watchView(event);
          process.stdout.write(`${json ? JSON.stringify(record) : line}\n`);
          if (flags.count !== undefined && ++events >= flags.count) break;
          if (flags.count === undefined) events++;
        }
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      return { key, prefix, events, resumeHeight: watch.resumeHeight ?? null, resumes };
    });
    if (!json) {
      process.stderr.write(`watch ended after ${summary.events} events; resume with --from-height ${summary.resumeHeight ?? '(none)'}\n`);
      return undefined;
    }
    return { summary };
  }
}
