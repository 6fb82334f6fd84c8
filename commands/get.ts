import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { type RangeRecordEntry, rangeEntryView, type ReadRecord, readView, withClient } from '../src/cli/client-ops.js';
import { ErrorCode, PaxchainError } from '../src/lib/errors.js';

interface RangeRecord {
  readonly start: string;
  readonly end: string | null;
  readonly prefix: string | null;
  /** Entries listed (or, with --count-only, keys in the range). */
  readonly count: number;
  /** The heights the pages were read at, without repeats (non-decreasing). */
  readonly heights: number[];
  readonly entries: RangeRecordEntry[];
}

interface RangeFlags {
  prefix?: string;
  end?: string;
  limit?: number;
  'keys-only': boolean;
  'count-only': boolean;
  'key-hex'?: string;
  stale: boolean;
  verify: boolean;
  at?: number;
  endpoints?: string;
  timeout?: number;
}
import { endpointsFlag, parseHash, timeoutFlag } from '../src/cli/flags.js';
import { defaultTrustFile, loadTrust, saveTrust } from '../src/cli/trust-file.js';
import { keyHexFlag, keyInput } from '../src/cli/input.js';
import { withProgress } from '../src/cli/progress.js';
import { rangeBounds } from '../src/client/client.js';
import { RANGE_PAGE_ENTRIES_MAX } from '../src/kv/range.js';
import { fromUtf8, toHex, utf8 } from '../src/lib/bytes.js';
import { stateAt } from '../src/tools/read-at.js';

/** A range's first key: the prefix, or KEY (which then needs --end). */
function rangeStart(key: string | undefined, flags: RangeFlags): string {
  if (flags.prefix !== undefined && key !== undefined) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'give either KEY (with --end) or --prefix, not both');
  if (flags.prefix === undefined && flags.end === undefined && key !== undefined) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'a range needs --prefix P or KEY --end END');
  return flags.prefix ?? (key === undefined ? '' : keyInput(key, flags['key-hex']));
}

export default class Get extends BaseCommand {
  static override summary = 'Read KEY.';
  static override description = `Linearizable by default: the leader confirms with a majority that it still leads, then answers
from a state that includes every write acknowledged before the read began. With --stale any node
answers from its own state at once, and says which block (height, hash) it read at.
Exits 1 if the key does not exist. --json shows the key's revisions: createHeight (the block that
created it), modHeight (the block that last wrote it) and version (writes since its creation).

Ranges: --prefix P lists the keys that start with P, KEY --end END the keys in [KEY, END), in key
order, as KEY<TAB>VALUE lines; --limit N stops after N, --keys-only leaves the values out,
--count-only prints how many there are. A range is read in pages of at most 1,000 entries
(about 1 MiB), each page a linearizable read of its own (or --stale) at a height that never goes
down: a key shows at most once, but a range of many pages is not one snapshot.

--at H reads the key, or the range, from the state after block H: the chain is fetched from a
node and replayed from genesis to H, every block checked (like kv dump --at). A node that pruned
the bodies a replay needs (retention) cannot give it: PRUNED says so.

With --verify the client believes no node: the answer must carry a proof of the value (or of its
absence) at a head signed by a majority of the members genesis lists, and that head must extend
the newest head this client verified before (kept in --state-file). Anything else is refused with
VERIFICATION_FAILED, naming the check that failed and the height. The first verified read pins the
cluster's genesis hash (trust on first use) unless --genesis-hash pins it.`;

  static override examples = [
    '<%= config.bin %> get fruit/apple',
    '<%= config.bin %> get fruit/apple --stale --endpoints 127.0.0.1:7003 --json',
    '<%= config.bin %> get fruit/apple --verify --state-file ./trust.json',
    '<%= config.bin %> get --prefix fruit/ --limit 10',
    '<%= config.bin %> get fruit/a --end fruit/c --keys-only --json',
    '<%= config.bin %> get --prefix fruit/ --count-only',
    '<%= config.bin %> get fruit/apple --at 120',
  ];
  static override args = { key: Args.string({ required: false }) };
  static override flags = {
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    stale: Flags.boolean({ default: false, summary: 'Read the state of whichever node answers, without asking the leader.' }),
    'key-hex': keyHexFlag,
    raw: Flags.boolean({ default: false, summary: 'Print the value\'s bytes as they are (no newline, no escaping).', exclusive: ['base64'] }),
    base64: Flags.boolean({ default: false, summary: 'Print the value as base64.' }),
    verify: Flags.boolean({ default: false, exclusive: ['stale'], summary: 'Check the answer against a majority-signed head and the trusted state; trust no node.' }),
    'state-file': Flags.string({ summary: 'Trusted state of --verify (default ~/.config/paxchain/trusted-state.json).' }),
    'genesis-hash': Flags.string({ summary: 'Pin the cluster for --verify: the genesis block hash (64 hex digits).' }),
    prefix: Flags.string({ summary: 'List the keys that start with this prefix ("" for every key).', exclusive: ['end', 'verify'] }),
    end: Flags.string({ summary: 'List the keys from KEY up to this one (excluded).', exclusive: ['verify'] }),
    limit: Flags.integer({ min: 1, summary: 'A range lists at most this many keys.' }),
    'keys-only': Flags.boolean({ default: false, summary: 'A range lists keys (and revisions) without values.' }),
    'count-only': Flags.boolean({ default: false, summary: 'A range prints only how many keys it holds.', exclusive: ['keys-only', 'limit'] }),
    at: Flags.integer({ min: 0, exclusive: ['stale', 'verify'], summary: 'Read the state of block H (an older height), rebuilt by replaying the chain from genesis.' }),
  };

  async run(): Promise<ReadRecord | RangeRecord> {
    const { args, flags } = await this.parse(Get);
    if (flags.at !== undefined) return this.readAt(args.key, flags as RangeFlags & { at: number });
    if (flags.prefix !== undefined || flags.end !== undefined || flags.limit !== undefined || flags['keys-only'] || flags['count-only']) return this.range(args.key, flags);
    const key = keyInput(args.key, flags['key-hex']);
    if (flags.verify) return this.verified(key, flags);
    const read = await withClient(flags, (client) => client.get(key, { stale: flags.stale }));
    const { record, line } = readView(key, read);
    if (flags.raw && read.value !== null && !this.jsonEnabled()) process.stdout.write(read.value);
    else if (flags.base64 && read.value !== null && !this.jsonEnabled()) this.say(Buffer.from(read.value).toString('base64'));
    else this.say(line);
    if (!record.found) this.fail();
    return record;
  }

  /** --at H: the key, or the range, in the state after block H, replayed from genesis (src/tools/read-at.ts). */
  private async readAt(key: string | undefined, flags: RangeFlags & { at: number }): Promise<ReadRecord | RangeRecord> {
    const isRange = flags.prefix !== undefined || flags.end !== undefined || flags.limit !== undefined || flags['keys-only'] || flags['count-only'];
    const start = isRange ? rangeStart(key, flags) : keyInput(key, flags['key-hex']);
    const at = await withProgress({ label: 'replay', unit: 'blocks' }, (progress) => stateAt(flags, flags.at, progress.onHeight));
    if (!isRange) {
      const entry = at.state.entry(utf8(start));
      const { record, line } = readView(start, { value: entry?.value ?? null, revisions: entry?.revisions, height: at.height, hash: at.hash, stale: false, endpoint: 'replay' });
      this.say(`${line}  [state at block ${at.height}, replayed from genesis]`);
      if (!record.found) this.fail();
      return record;
    }
    const { startBytes, end } = rangeBounds(start, { prefix: flags.prefix !== undefined, end: flags.end ?? null });
    const base = { start, end: flags.end ?? null, prefix: flags.prefix ?? null, heights: [at.height] };
    if (flags['count-only']) {
      const count = at.state.range({ start: startBytes, after: false, end, limit: 1, keysOnly: true, countOnly: true }).count;
      this.say(String(count));
      return { ...base, count, entries: [] };
    }
    const entries: RangeRecordEntry[] = [];
    let remaining = flags.limit ?? Number.POSITIVE_INFINITY;
    for (let from = startBytes, after = false; remaining > 0; after = true) {
      const page = at.state.range({ start: from, after, end, limit: Math.min(remaining, RANGE_PAGE_ENTRIES_MAX), keysOnly: flags['keys-only'], countOnly: false });
      for (const entry of page.entries) {
        const { record, line } = rangeEntryView({ ...entry, key: fromUtf8(entry.key) });
        if (this.jsonEnabled()) entries.push(record);
        else this.say(line);
      }
      remaining -= page.entries.length;
      if (!page.more || page.entries.length === 0) break;
      from = page.entries.at(-1)!.key;
    }
    return { ...base, count: flags.limit === undefined ? entries.length : Math.min(flags.limit, entries.length), entries };
  }

  private async range(key: string | undefined, flags: RangeFlags): Promise<RangeRecord> {
    if (flags.verify) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, 'a range read cannot be --verify (only single keys are proven)');
    const start = rangeStart(key, flags);
    const options = { prefix: flags.prefix !== undefined, end: flags.end ?? null, stale: flags.stale };
    return withClient(flags, async (client) => {
      if (flags['count-only']) {
        const counted = await client.count(start, options);
        this.say(String(counted.count));
        return { start, end: flags.end ?? null, prefix: flags.prefix ?? null, count: counted.count, heights: [counted.height], entries: [] };
      }
      const entries: RangeRecordEntry[] = [];
      const heights: number[] = [];
      let listed = 0;
      for await (const page of client.range(start, { ...options, limit: flags.limit, keysOnly: flags['keys-only'] })) {
        if (heights.at(-1) !== page.height) heights.push(page.height);
        for (const entry of page.entries) {
          const { record, line } = rangeEntryView(entry);
          listed++;
          // --json prints one document at the end; people see each page as it comes.
          if (this.jsonEnabled()) entries.push(record);
          else this.say(line);
        }
      }
      return { start, end: flags.end ?? null, prefix: flags.prefix ?? null, count: listed, heights, entries };
    });
  }

  private async verified(key: string, flags: { 'state-file'?: string; 'genesis-hash'?: string; raw: boolean; base64: boolean; endpoints?: string; timeout?: number }): Promise<ReadRecord> {
    const path = flags['state-file'] ?? defaultTrustFile();
    const trust = loadTrust(path, flags['genesis-hash'] === undefined ? undefined : parseHash(flags['genesis-hash'], '--genesis-hash'));
    const read = await withClient(flags, (client) => client.getVerified(key, trust));
    saveTrust(path, read.trust);
    if (read.pinnedOnFirstUse) this.warn(`pinned cluster genesis ${toHex(read.trust.genesisHash)} on first use (in ${path}); pass --genesis-hash to pin it yourself`);
    const { record, line } = readView(key, read);
    const signed = `  [verified at block ${read.height}, head ${read.certified.height} ${toHex(read.certified.hash).slice(0, 16)} signed by a majority]`;
    if (flags.raw && read.value !== null && !this.jsonEnabled()) process.stdout.write(read.value);
    else if (flags.base64 && read.value !== null && !this.jsonEnabled()) this.say(Buffer.from(read.value).toString('base64'));
    else this.say(`${line}${signed}`);
    const verified = { ...record, verified: { certifiedHeight: read.certified.height, certifiedHash: toHex(read.certified.hash), stateFile: path, pinnedOnFirstUse: read.pinnedOnFirstUse } };
    if (!record.found) this.fail();
    return verified;
  }
}
