import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { watchView, withClient } from '../src/cli/client-ops.js';
import { endpointsFlag, parseHash, timeoutFlag } from '../src/cli/flags.js';
import { defaultTrustFile, loadTrust, saveTrust } from '../src/cli/trust-file.js';
import type { TrustState } from '../src/ledger/verified.js';
import type { VerifiedWatchEvent } from '../src/client/verified-watch.js';
import type { WatchEvent } from '../src/client/watch.js';
import { toHex } from '../src/lib/bytes.js';
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
  /** With --verify: the newest majority-signed head an event was checked under. */
  readonly signedHeight?: number | null;
}

/** How often --verify saves the trusted head while the watch runs (and once at its end). */
const TRUST_SAVE_INTERVAL_MS = 1_000;

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
COMPACTED. Runs until interrupted (Ctrl-C), or until --count events.

With --verify the client believes no node: before an event is printed, its block must be in the
chain a majority of the members signed (headers linked to a signed head that a verified read
brought, checked against --state-file as get --verify does), the block's body must hash to its
header, the command the event names must write that change, and the key's revisions must follow
from its previous event (an event left out between two of a key's events is caught, but for a
put just before a delete). The first event
that fails ends the watch with VERIFICATION_FAILED, naming the check and the height. Not proven:
that a cas or txn took the branch the state implies, and that no event follows the last one.`;

  static override examples = [
    '<%= config.bin %> watch fruit/apple',
    '<%= config.bin %> watch --prefix fruit/ --from-height 120 --json',
    '<%= config.bin %> watch --prefix "" --count 10',
    '<%= config.bin %> watch --prefix fruit/ --verify --state-file ./trust.json',
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
    verify: Flags.boolean({ default: false, summary: 'Check every event against a majority-signed head before printing it; trust no node.' }),
    'state-file': Flags.string({ summary: 'Trusted state of --verify (default ~/.config/paxchain/trusted-state.json).' }),
    'genesis-hash': Flags.string({ summary: 'Pin the cluster for --verify: the genesis block hash (64 hex digits).' }),
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
    let signedHeight: number | null = null;
    const trustPath = flags['state-file'] ?? defaultTrustFile();
    const trust = flags.verify ? loadTrust(trustPath, flags['genesis-hash'] === undefined ? undefined : parseHash(flags['genesis-hash'], '--genesis-hash')) : undefined;
    let newest: TrustState | undefined;
    let savedAtMs = 0;
    const keep = (state: TrustState, pinnedOnFirstUse: boolean): void => {
      newest = state;
      if (pinnedOnFirstUse) this.warn(`pinned cluster genesis ${toHex(state.genesisHash)} on first use (in ${trustPath}); pass --genesis-hash to pin it yourself`);
      if (pinnedOnFirstUse || performance.now() - savedAtMs >= TRUST_SAVE_INTERVAL_MS) {
        saveTrust(trustPath, state);
        savedAtMs = performance.now();
      }
    };
    const summary = await withClient(flags, async (client) => {
      const options = {
        prefix,
        fromHeight: flags['from-height'],
        onResume: (notice: { reason: string; height: number | undefined }) => {
          resumes++;
          if (!flags.quiet) process.stderr.write(`watch: ${notice.reason}; resuming from height ${notice.height ?? 'now'}\n`);
        },
      };
      const watch = trust ? client.watchVerified(key, trust, { ...options, onTrust: keep }) : client.watch(key, options);
      const stop = (): void => void watch.return();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        for await (const event of watch as AsyncIterable<WatchEvent | VerifiedWatchEvent>) {
          const { record, line } = watchView(event);
          const signed = 'signedHead' in event ? event.signedHead : undefined;
          if (signed) signedHeight = signed.height;
          const shown = signed ? { ...record, verified: { signedHeight: signed.height, signedHash: toHex(signed.hash) } } : record;
          process.stdout.write(`${json ? JSON.stringify(shown) : signed ? `${line}  [verified, head ${signed.height}]` : line}\n`);
          if (flags.count !== undefined && ++events >= flags.count) break;
          if (flags.count === undefined) events++;
        }
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        if (newest) saveTrust(trustPath, newest);
      }
      return { key, prefix, events, resumeHeight: watch.resumeHeight ?? null, resumes, ...(flags.verify ? { signedHeight } : {}) };
    });
    if (!json) {
      process.stderr.write(`watch ended after ${summary.events} events; resume with --from-height ${summary.resumeHeight ?? '(none)'}\n`);
      return undefined;
    }
    return { summary };
  }
}
