import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { withClient } from '../../src/cli/client-ops.js';
import { endpointsFlag, parseHash, timeoutFlag } from '../../src/cli/flags.js';
import { keyHexFlag, keyInput } from '../../src/cli/input.js';
import { defaultTrustFile, loadTrust, saveTrust } from '../../src/cli/trust-file.js';
import { toHex, utf8 } from '../../src/lib/bytes.js';
import { proofFileToJson, verifyAnswer } from '../../src/ledger/verified.js';
import { withProgress } from '../../src/cli/progress.js';
import { parseEndpoints } from '../../src/client/client.js';
import { fastSha256 } from '../../src/native/sha256.js';
import { fastEd25519Verifier } from '../../src/native/ed25519.js';
import { proveAt } from '../../src/tools/prove-at.js';

export default class ChainProve extends BaseCommand {
  static override summary = 'Write a proof of KEY\'s value (or absence) that anyone can check offline.';
  static override description = `Does a verified read of KEY (see get --verify: checked against the trusted state first) and
prints the proof file on stdout: the block's header, the state proof, a head certificate signed by
a majority of the members, the history proof between them and the genesis record. Check it with
\`paxchain chain verify-proof FILE --genesis-hash H\`, on any machine, without the cluster.

With --at H the proof is of the state of block H (for example a height \`history KEY\` lists): the
tool fetches the chain from a node and replays it from genesis to the signed head, checking every
block, takes the proof from the replayed state at H and proves block H in the signed head's
history. It believes no node; a long chain takes a while (progress on stderr).`;

  static override examples = ['<%= config.bin %> chain prove fruit/apple > proof.json', '<%= config.bin %> chain prove fruit/apple --at 2 > apple-at-2.json'];
  static override args = { key: Args.string({ required: false }) };
  static override flags = {
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    'key-hex': keyHexFlag,
    'state-file': Flags.string({ summary: 'Trusted state (default ~/.config/paxchain/trusted-state.json).' }),
    'genesis-hash': Flags.string({ summary: 'Pin the cluster: the genesis block hash (64 hex digits).' }),
    at: Flags.integer({ min: 0, summary: 'Prove the state of block H (an older height) instead of the head.' }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(ChainProve);
    const key = keyInput(args.key, flags['key-hex']);
    const path = flags['state-file'] ?? defaultTrustFile();
    const trust = loadTrust(path, flags['genesis-hash'] === undefined ? undefined : parseHash(flags['genesis-hash'], '--genesis-hash'));
    const at = flags.at;
    const { read, answer } = await withClient(flags, async (client) => {
      const read = await client.getVerified(key, trust, { genesis: true });
      if (at === undefined || at === read.height) return { read, answer: read.answer };
      const answer = await withProgress({ label: 'replay', unit: 'blocks' }, (progress) => proveAt(client, parseEndpoints(flags.endpoints), key, at, read, progress.onHeight));
      return { read, answer };
    });
    saveTrust(path, read.trust);
    const file = proofFileToJson({ key: utf8(key), genesisHash: read.trust.genesisHash, answer });
    if (!this.jsonEnabled()) {
      const proven = verifyAnswer(fastSha256, { ...read.trust, head: undefined }, utf8(key), answer, undefined, fastEd25519Verifier);
      const present = proven.ok && proven.value !== null;
      process.stdout.write(`${JSON.stringify(file, null, 2)}\n`);
      process.stderr.write(`proved ${key} ${present ? 'present' : 'absent'} at block ${at ?? read.height}, head ${read.certified.height} ${toHex(read.certified.hash).slice(0, 16)} (cluster ${toHex(read.trust.genesisHash).slice(0, 16)})\n`);
    }
    return file;
  }
}
