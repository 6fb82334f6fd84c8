import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { writeClusterKeys } from '../../src/tools/local-cluster.js';

export default class ClusterInit extends BaseCommand {
  static override summary = 'Run the key ceremony for a new cluster: one member key per node and the public member list.';
  static override description = `Writes OUT/keys/member-N.json (each member's Ed25519 key, mode 0600) and OUT/members.json (every
member's public key). Copy OUT/keys/member-N.json to node N's host and OUT/members.json to every founding
member, then start each with \`node start --key OUT/keys/member-N.json --members OUT/members.json --bootstrap\`:
genesis lists the keys, and a client accepts a head only with signatures of a majority of them.
\`cluster start\` does this by itself for a local cluster. Refused if OUT already holds a ceremony.`;

  static override examples = ['<%= config.bin %> cluster init --nodes 3 --out ./ceremony'];
  static override flags = {
    nodes: Flags.integer({ default: 3, min: 1, max: 9, summary: 'Founding members (node ids 1..N).' }),
    out: Flags.directory({ required: true, summary: 'Directory for the key files and members.json (created).' }),
  };

  async run(): Promise<{ members: string; keys: string[] }> {
    const { flags } = await this.parse(ClusterInit);
    const written = writeClusterKeys(flags.out, Array.from({ length: flags.nodes }, (_, i) => i + 1));
    this.say(`wrote ${written.members} and ${written.keys.length} member keys:`);
    for (const key of written.keys) this.say(`  ${key}`);
    return written;
  }
}
