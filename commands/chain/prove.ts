import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { withClient } from '../../src/cli/client-ops.js';
import { endpointsFlag, parseHash, timeoutFlag } from '../../src/cli/flags.js';
import { keyHexFlag, keyInput } from '../../src/cli/input.js';
import { defaultTrustFile, loadTrust, saveTrust } from '../../src/cli/trust-file.js';
import { toHex, utf8 } from '../../src/lib/bytes.js';
import { proofFileToJson } from '../../src/ledger/verified.js';

export default class ChainProve extends BaseCommand {
  static override summary = 'Write a proof of KEY\'s value (or absence) that anyone can check offline.';
  static override description = `Does a verified read of KEY (see get --verify: checked against the trusted state first) and
prints the proof file on stdout: the block's header, the state proof, a head certificate signed by
a majority of the members, the history proof between them and the genesis record. Check it with
\`paxchain chain verify-proof FILE --genesis-hash H\`, on any machine, without the cluster.`;

  static override examples = ['<%= config.bin %> chain prove fruit/apple > proof.json'];
  static override args = { key: Args.string({ required: false }) };
  static override flags = {
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    'key-hex': keyHexFlag,
    'state-file': Flags.string({ summary: 'Trusted state (default ~/.config/paxchain/trusted-state.json).' }),
    'genesis-hash': Flags.string({ summary: 'Pin the cluster: the genesis block hash (64 hex digits).' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(ChainProve);
    const key = keyInput(args.key, flags['key-hex']);
    const path = flags['state-file'] ?? defaultTrustFile();
    const trust = loadTrust(path, flags['genesis-hash'] === undefined ? undefined : parseHash(flags['genesis-hash'], '--genesis-hash'));
    const read = await withClient(flags, (client) => client.getVerified(key, trust, { genesis: true }));
    saveTrust(path, read.trust);
    const file = proofFileToJson({ key: utf8(key), genesisHash: read.trust.genesisHash, answer: read.answer });
    if (!this.jsonEnabled()) {
      process.stdout.write(`${JSON.stringify(file, null, 2)}\n`);
      process.stderr.write(`proved ${key} ${read.value === null ? 'absent' : 'present'} at block ${read.height}, head ${read.certified.height} ${toHex(read.certified.hash).slice(0, 16)} (cluster ${toHex(read.trust.genesisHash).slice(0, 16)})\n`);
    }
    return file;
  }
}
