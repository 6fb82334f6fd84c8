import { BaseCommand } from '../src/cli/base.js';
import { withClient } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { startShell } from '../src/cli/shell.js';

export default class Shell extends BaseCommand {
  static override summary = 'An interactive client: put, get, delete, cas, status and head, one command per line.';
  static override description = `Commands: put KEY VALUE, get KEY [--stale], delete KEY, cas KEY NEW --expect OLD | --absent,
cas KEY --delete --expect OLD, status, head (the leader's head height and hash), help, and exit or
quit (or end of input, Ctrl-D). Empty lines and lines starting with # are skipped. KEY, NEW and
OLD are words or "double-quoted strings" (\\" and \\\\ are the escapes); put's VALUE is the rest of
the line as typed, or one quoted string. Each command prints one line (status and help a table);
an error prints "error CODE: message" and the session goes on. Lines over 2 MiB are refused.

On a terminal: line editing, an in-memory history of 1000 lines, and a prompt naming the leader
and its head height, refreshed after each command by one status request of at most 500 ms.
Ctrl-C drops the line being typed, or ends the session on an empty line.

From a pipe: no prompt; the commands run one at a time in order. Exits 1 if any command failed (an
error, a missing key on get, a CAS_MISMATCH), else 0. An interactive session exits 0.

With --json, stdout is JSON Lines: one object per command, {"command", "ok", ...result fields} or
{"command", "ok": false, "error": {"code", "message"}}, then a last line {"commands", "failed"}.`;

  static override examples = [
    '<%= config.bin %> shell',
    '<%= config.bin %> shell --endpoints 127.0.0.1:7002 --timeout 2000',
    'printf \'put fruit/apple 1.20\\nget fruit/apple\\n\' | <%= config.bin %> shell --json',
  ];

  static override flags = { endpoints: endpointsFlag, timeout: timeoutFlag };

  async run(): Promise<{ commands: number; failed: number }> {
    const { flags } = await this.parse(Shell);
    const interactive = process.stdin.isTTY === true;
    const options = { interactive, json: this.jsonEnabled(), input: process.stdin, output: process.stdout };
    const summary = await withClient(flags, (client, endpoints) => startShell({ client, endpoints, ...options }));
    if (!interactive && summary.failed > 0) this.fail();
    return { commands: summary.commands, failed: summary.failed };
  }

  /** One line instead of oclif's pretty-printed document, so that --json output stays JSON Lines. */
  override logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json)}\n`);
  }
}
