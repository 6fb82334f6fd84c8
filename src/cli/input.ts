/**
 * Keys and values from the command line, byte for byte. Node decodes argv as UTF-8 and replaces
 * every invalid byte with U+FFFD, so what reaches us cannot tell `\xff` from `\xfe`: an argument
 * holding U+FFFD is refused (INVALID_ARGUMENT, naming it) and the binary forms say exactly which
 * bytes are meant (`--key-hex`, `--value-hex`, `--value-base64`, `--value-file`). A real U+FFFD
 * goes in through those forms too (its UTF-8 is ef bf bd).
 */
import { readFileSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { fromHex } from '../lib/bytes.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';
import { checkKey } from '../kv/command.js';

const REPLACEMENT = '\ufffd';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export const keyHexFlag = Flags.string({ summary: 'The key as hex of its UTF-8 bytes (instead of KEY).' });
export const valueFlags = {
  'value-hex': Flags.string({ summary: 'The value as hex (instead of the value argument).' }),
  'value-base64': Flags.string({ summary: 'The value as base64 (instead of the value argument).' }),
  'value-file': Flags.file({ summary: 'Read the value from this file, bytes as they are.' }),
};

function invalid(message: string): PaxchainError {
  return new PaxchainError(ErrorCode.INVALID_ARGUMENT, message);
}

/** An argument typed as text: refused if Node had to replace invalid UTF-8 in it. */
function textArgument(name: string, text: string, binaryForm: string): string {
  if (text.includes(REPLACEMENT)) {
    throw invalid(`${name} is not valid UTF-8 (or holds U+FFFD, which invalid bytes turn into); give its bytes with ${binaryForm}`);
  }
  return text;
}

/** The key from KEY or --key-hex (exactly one), checked by the key rule. */
export function keyInput(argument: string | undefined, hex: string | undefined): string {
  if ((argument === undefined) === (hex === undefined)) throw invalid('give the key either as KEY or with --key-hex');
  let key: string;
  if (hex !== undefined) {
    const bytes = fromHex(hex);
    if (!bytes) throw invalid('--key-hex is not hex');
    try {
      key = strictUtf8.decode(bytes);
    } catch {
      throw invalid('--key-hex: keys are UTF-8 text and these bytes are not valid UTF-8');
    }
  } else key = textArgument('KEY', argument!, '--key-hex');
  const problem = checkKey(key);
  if (problem) throw invalid(problem);
  return key;
}

export interface ValueFlags {
  readonly 'value-hex'?: string;
  readonly 'value-base64'?: string;
  readonly 'value-file'?: string;
}

/** The value from its argument or one binary form (exactly one; `undefined` if none and allowed). */
export function valueInput(name: string, argument: string | undefined, flags: ValueFlags): Uint8Array | string | undefined {
  const given = [argument !== undefined, flags['value-hex'] !== undefined, flags['value-base64'] !== undefined, flags['value-file'] !== undefined].filter(Boolean).length;
  if (given > 1) throw invalid(`give ${name} once: as an argument, --value-hex, --value-base64 or --value-file`);
  if (flags['value-hex'] !== undefined) {
    const bytes = fromHex(flags['value-hex']);
    if (!bytes) throw invalid('--value-hex is not hex');
    return bytes;
  }
  if (flags['value-base64'] !== undefined) {
    const text = flags['value-base64'];
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw invalid('--value-base64 is not base64');
    return new Uint8Array(Buffer.from(text, 'base64'));
  }
  if (flags['value-file'] !== undefined) {
    try {
      return new Uint8Array(readFileSync(flags['value-file']));
    } catch (error) {
      throw invalid(`--value-file ${flags['value-file']}: ${(error as Error).message}`);
    }
  }
  return argument === undefined ? undefined : textArgument(name, argument, name === 'EXPECT' ? '--expect-hex' : '--value-hex, --value-base64 or --value-file');
}
