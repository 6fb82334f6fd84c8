/**
 * oclif `command_not_found` hook: an unknown command is bad usage like any other, so it gets the
 * same stable code (INVALID_ARGUMENT), exit code 2, and a JSON error object under --json.
 */
import type { Hook } from '@oclif/core';
import { ErrorCode } from '../../lib/errors.js';

const hook: Hook<'command_not_found'> = async function (options) {
  const name = options.id.split(':').join(' ');
  const message = `unknown command "${name}" (see ${options.config.bin} --help)`;
  const argv = options.argv ?? process.argv.slice(2);
  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ error: { code: ErrorCode.INVALID_ARGUMENT, message } })}\n`);
    this.exit(2);
  }
  this.error(`${ErrorCode.INVALID_ARGUMENT}: ${message}`, { exit: 2 });
};

export default hook;
