// `cluster start`'s local cluster: the secret is kept in the data directory (mode 0600) so one
// node can be restarted by hand, a node that dies is restarted with a back-off (bounded, then the
// hand-start command is logged and works), and a second start on a running cluster is refused
// before anything is spawned.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalCluster, SECRET_FILE } from '../../src/tools/local-cluster.js';
import { PaxchainClient } from '../../src/client/client.js';
import { projectRoot, runCli, tempDir } from '../helpers.js';
import { freeBasePort, waitFor } from '../node/cluster-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(options: { restart?: { maxPerWindow: number; windowMs: number } } = {}) {
  const dir = tempDir('paxchain-local-');
  const notices: string[] = [];
  const cluster = new LocalCluster({ root: dir.path, nodes: 3, basePort: await freeBasePort(3), restart: options.restart, onNotice: (line) => notices.push(line) });
  const client = new PaxchainClient({ endpoints: cluster.endpoints, timeoutMs: 10_000 });
  cleanups.push(() => dir.cleanup(), () => cluster.stop(), () => client.close());
  await cluster.start();
  return { dir, cluster, client, notices };
}

describe('local cluster', () => {
  it('writes a generated secret to DATA/secret with mode 0600', async () => {
    const { dir } = await started();
    const path = join(dir.path, SECRET_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8').trim()).toMatch(/^[\w-]{32}$/);
  });

  it('a second start on a running cluster is refused with STORE_LOCKED naming the pids, before "nodes up"', async () => {
    const { dir, cluster } = await started();
    const result = runCli(['cluster', 'start', '--data', dir.path, '--nodes', '3', '--base-port', String(cluster.file.basePort), '--json'], { timeoutMs: 20_000 });
    expect(result.status).not.toBe(0);
    expect(result.stderr + result.stdout).not.toContain('nodes up');
    const error = result.json().error;
    expect(error.code).toBe('STORE_LOCKED');
    expect(error.message).toContain(`cluster start pid ${process.pid}`);
    for (const id of cluster.ids) expect(error.message).toContain(`node ${id} pid ${cluster.pid(id)}`);
  });

  it('a node that dies is restarted after a back-off; past the bound it stays down and the logged command starts it by hand', async () => {
    const { cluster, client, notices } = await started({ restart: { maxPerWindow: 1, windowMs: 60_000 } });
    const firstPid = cluster.pid(2)!;
    process.kill(firstPid, 'SIGKILL'); // from outside, as a crash would
    await waitFor('node 2 to be restarted', async () => (notices.some((line) => line.startsWith('node 2 is back')) ? true : undefined), 30_000);
    expect(notices.find((line) => line.startsWith('restarting node 2'))).toMatch(/^restarting node 2 in 500 ms \(restart 1 of at most 1 per 60 s\)$/);
    expect(cluster.pid(2)).not.toBe(firstPid);
    await client.status(cluster.endpoint(2));
    process.kill(cluster.pid(2)!, 'SIGKILL');
    const giveUp = await waitFor('the cluster to give up on node 2', async () => notices.find((line) => line.includes('not restarting it again')), 30_000);
    expect(cluster.isRunning(2)).toBe(false);
    const command = /To start it by hand: (.*)$/.exec(giveUp)![1]!;
    expect(command).toContain(`PAXCHAIN_SECRET="$(cat ${join(cluster.dataDir(2), '..', SECRET_FILE)})"`);
    // The README's hand restart works as printed (here with the checkout's CLI instead of npx).
    // (`exec` after the variable assignment, so the shell's PID becomes the node's.)
    const byHand = spawn('sh', ['-c', command.replace('npx paxchain', `exec node ${join(projectRoot, 'bin', 'run.js')}`)], { stdio: 'ignore' });
    cleanups.push(async () => {
      if (byHand.exitCode === null) {
        const exited = new Promise((resolve) => byHand.once('exit', resolve));
        process.kill(byHand.pid!, 'SIGTERM');
        await exited;
      }
    });
    const status = await waitFor('the hand-started node to join', async () => {
      const answer = await client.status(cluster.endpoint(2));
      return answer.voting && answer.cutOff === null && answer.leader > 0 ? answer : undefined;
    }, 30_000);
    expect(status.nodeId).toBe(2);
    expect((await client.put('after/hand-restart', 'ok')).result).toBe('OK');
  }, 120_000);
});
