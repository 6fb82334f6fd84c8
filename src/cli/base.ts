/**
 * Base class of every paxchain command (the oclif plugin-plugins pattern): `--json` on all of
 * them, `run()` returns the typed result that --json prints, human output only when JSON is off,
 * and one place that turns errors into a clear line (or a JSON error object) with a stable code.
 *
 * Exit codes: 0 success; 1 the operation failed or a check found a problem; 2 bad usage.
 */
import { Command } from '@oclif/core';
import { AssertionError } from '../lib/assert.js';
import { ErrorCode, PaxchainError } from '../lib/errors.js';

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  /** Writes a human line to stdout unless --json is on. */
  protected say(line = ''): void {
    if (!this.jsonEnabled()) this.log(line);
  }

  /** Marks the run as failed (exit 1) without throwing, e.g. when verify finds a problem. */
  protected fail(): void {
    process.exitCode = 1;
  }

  protected override toErrorJson(error: unknown): unknown {
    if (error instanceof PaxchainError) return { error: error.toJSON() };
    const code = (error as { oclif?: { exit?: number } })?.oclif?.exit === 2 ? ErrorCode.INVALID_ARGUMENT : 'ERROR';
    return { error: { code, message: error instanceof Error ? error.message : String(error) } };
  }

  protected override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    if (error instanceof AssertionError) throw error;
    if (error instanceof PaxchainError) {
      const exit = error.code === ErrorCode.INVALID_ARGUMENT ? 2 : 1;
      if (this.jsonEnabled()) {
        process.exitCode = exit;
        this.logJson(this.toErrorJson(error));
        return undefined;
      }
      this.error(`${error.code}: ${error.message}`, { exit });
    }
    // oclif's own usage errors (unknown flag, missing argument) carry their exit code (2) in
    // `oclif.exit`; keep it in --json mode too, where oclif's catch would default to 1.
    const oclifExit = (error as { oclif?: { exit?: unknown } }).oclif?.exit;
    if (typeof oclifExit === 'number' && this.jsonEnabled()) process.exitCode = oclifExit;
    // The same stable code as every other bad-usage error, in human output too.
    if (oclifExit === 2 && !this.jsonEnabled() && !error.message.startsWith(ErrorCode.INVALID_ARGUMENT)) {
      error.message = `${ErrorCode.INVALID_ARGUMENT}: ${error.message}`;
    }
    return super.catch(error);
  }
}
