/** Free loopback ports for real-process clusters (tests and the hostile script; no vitest here). */
import { createServer } from 'node:net';

/** Tries at most this many random bases before giving up. */
const BASE_ATTEMPTS_MAX = 50;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port in [20000, 50000) with `count` free consecutive ports (never 7001-7003). */
export async function freeBasePort(count: number): Promise<number> {
  for (let attempt = 0; attempt < BASE_ATTEMPTS_MAX; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await portFree(base + i);
    if (free) return base;
  }
  throw new Error('no free ports found');
}
