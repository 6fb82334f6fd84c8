import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { type ReadRecord, readView, withClient } from '../src/cli/client-ops.js';
import { endpointsFlag, parseHash, timeoutFlag } from '../src/cli/flags.js';
import { defaultTrustFile, loadTrust, saveTrust } from '../src/cli/trust-file.js';
import { toHex } from '../src/lib/bytes.js';
import { keyHexFlag, keyInput } from '../src/cli/input.js';

export default class Get extends BaseCommand {
  static override summary = 'Read KEY.';
  static override description = `Linearizable by default: the leader confirms with a majority that it still leads, then answers
from a state that includes every write acknowledged before the read began. With --stale any node
answers from its own state at once, and says which block (height, hash) it read at.
Exits 1 if the key does not exist.

With --verify the client believes no node: the answer must carry a proof of the value (or of its
absence) at a head signed by a majority of the members genesis lists, and that head must extend
the newest head this client verified before (kept in --state-file). Anything else is refused with
VERIFICATION_FAILED, naming the check that failed and the height. The first verified read pins the
cluster's genesis hash (trust on first use) unless --genesis-hash pins it.`;

  static override examples = [
    '<%= config.bin %> get fruit/apple',
    '<%= config.bin %> get fruit/apple --stale --endpoints 127.0.0.1:7003 --json',
    '<%= config.bin %> get fruit/apple --verify --state-file ./trust.json',
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
  };

  async run(): Promise<ReadRecord> {
    const { args, flags } = await this.parse(Get);
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
