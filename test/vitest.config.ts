import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Two groups, one after the other. In-process tests (the simulator, pure logic, sockets on
 * random ports) run two files at a time: they are CPU-bound and share nothing. The tests that
 * start real node processes and clusters then run one file at a time, so that no cluster's
 * timing (elections, fail-over, catch-up) competes with another's for the machine's two cores.
 */
const PROCESS_TESTS = ['test/node/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/client/**/*.test.ts', 'test/tools/**/*.test.ts'];

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    // Real-process tests start node processes; give them room but keep every test bounded.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'in-process', include: ['test/**/*.test.ts'], exclude: PROCESS_TESTS, maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'processes', include: PROCESS_TESTS, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
