import { readFileSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base.js';
import { withClient, writeLine } from '../src/cli/client-ops.js';
import { endpointsFlag, timeoutFlag } from '../src/cli/flags.js';
import { valueText, viewValue } from '../src/cli/render.js';
import { parseTxnJson, parseTxnText } from '../src/cli/txn-input.js';
import type { TxnRequest, TxnResult } from '../src/client/client.js';
import { ErrorCode, PaxchainError } from '../src/lib/errors.js';

/** Most bytes of a txn read from a file or stdin (the largest txn a node takes, plus text overhead). */
const TXN_INPUT_BYTES_MAX = 8 * 1024 * 1024;

export default class Txn extends BaseCommand {
  static override summary = 'A transaction: if every compare holds run the success ops, else the failure ops, atomically.';
  static override description = `Reads the txn from stdin (or --file) in etcdctl's text form, three sections separated by an
empty line: compares, then the ops if they all hold, then the ops if not.

  value("lock/owner") = "me"        value / version / mod / create of a key with = != < >;
  absent("jobs/2")                  absent(K) is version(K) = 0 (an absent key has version 0)

  put "jobs/1" "running"            put K V, del K, del --prefix P, get K
  del --prefix "tmp/"

  get "jobs/1"

With --interactive it prompts for each section. --file F.json (or --json-input) takes the JSON
form: {"compares":[{"key":"k","target":"value","relation":"=","value":"v"}],
"success":[{"op":"put","key":"k","value":"w"}],"failure":[{"op":"get","key":"k"}]}.
Prints SUCCEEDED or FAILED with the height, then what the gets read (KEY<TAB>VALUE); exits 1 when
the compares did not hold (as cas does on a mismatch). Bounds: 64 compares, 128 ops per branch,
about 2 MiB; a branch may not write a key twice. cas is the one-compare case:
value(K) = OLD (or absent(K)) then put K NEW.`;

  static override examples = [
    `printf 'absent("lock")\\n\\nput lock me\\n\\nget lock\\n' | <%= config.bin %> txn`,
    '<%= config.bin %> txn --file txn.json --json',
    '<%= config.bin %> txn --interactive',
  ];

  static override flags = {
    endpoints: endpointsFlag,
    timeout: timeoutFlag,
    file: Flags.string({ summary: 'Read the txn from this file ("-": stdin); JSON if it ends in .json or with --json-input.' }),
    'json-input': Flags.boolean({ default: false, summary: 'The input is the JSON form.' }),
    interactive: Flags.boolean({ char: 'i', default: false, summary: 'Prompt for the compares and both branches.', exclusive: ['file'] }),
  };

  async run(): Promise<Omit<TxnResult, 'gets'> & { gets: unknown }> {
    const { flags } = await this.parse(Txn);
    const text = flags.interactive ? await promptSections() : readInput(flags.file);
    const json = flags['json-input'] || (flags.file?.endsWith('.json') ?? false);
    let request: TxnRequest;
    if (json) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `the txn is not valid JSON: ${(error as Error).message}`);
      }
      request = parseTxnJson(parsed);
    } else {
      request = parseTxnText(text);
    }
    const result = await withClient(flags, (client) => client.txn(request));
    const deleted = result.deleted ? `, deleted ${result.deleted} ${result.deleted === 1 ? 'key' : 'keys'}` : '';
    this.say(`${result.succeeded ? 'SUCCEEDED' : 'FAILED'} ${writeLine(result).replace(/^\S+ /, '').replace(/\)$/, `${deleted})`)}`);
    if (result.gets === null) this.warn('the answer came from the dedup table (a retry): what the gets read was not kept');
    for (const get of result.gets ?? []) this.say(`${valueText({ encoding: 'utf8', data: get.key })}\t${get.value === null ? '(not found)' : valueText(viewValue(get.value))}`);
    if (!result.succeeded) this.fail();
    const gets = result.gets?.map((get) => {
      const view = get.value === null ? null : viewValue(get.value);
      return { key: get.key, found: view !== null, value: view?.data ?? null, encoding: view?.encoding ?? 'utf8', ...get.revisions };
    }) ?? null;
    return { ...result, gets };
  }
}

function readInput(file: string | undefined): string {
  const path = file === undefined || file === '-' ? 0 : file;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `cannot read the txn from ${path === 0 ? 'stdin' : path}: ${(error as Error).message}`);
  }
  if (bytes.length > TXN_INPUT_BYTES_MAX) throw new PaxchainError(ErrorCode.INVALID_ARGUMENT, `a txn input is at most ${TXN_INPUT_BYTES_MAX} bytes`);
  return bytes.toString('utf8');
}

/** etcdctl txn -i: three prompts, each section ended by an empty line. */
async function promptSections(): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
  const sections: string[][] = [];
  try {
    for (const title of ['compares:', 'success requests (get, put, del):', 'failure requests (get, put, del):']) {
      process.stderr.write(`${title}\n`);
      const lines: string[] = [];
      for (let line = await rl.question(''); line.trim() !== ''; line = await rl.question('')) lines.push(line);
      sections.push(lines);
    }
  } finally {
    rl.close();
  }
  return sections.map((lines) => lines.join('\n')).join('\n\n');
}
