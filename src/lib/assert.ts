/**
 * Invariant checks. A failed assertion means the process's own state is wrong; continuing could
 * write a wrong block or vote twice, so the error is never caught and retried (TigerBeetle style:
 * assert what is now true, at every exit that matters).
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`invariant broken: ${message}`);
    this.name = 'AssertionError';
  }
}

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === 'function' ? message() : message);
  }
}

