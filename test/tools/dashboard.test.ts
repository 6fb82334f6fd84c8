// The dashboard's server and JSON API against a live 3-node cluster (the page itself is driven in
// a real browser by `npm run test:dashboard`, test/browser/dashboard.browser.ts): three members
// and one leader, heights that move with writes, a block by height and by hash, a key's history,
// a killed node shown down (and the rest still served), clear errors for bad requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../../src/tools/dashboard.js';
import { freeBasePort, startTestCluster, type TestCluster, waitFor } from '../node/cluster-helpers.js';

interface Overview {
  members: Array<{ endpoint: string; up: boolean; role: string | null; head: number | null; health: string; nodeId: number | null }>;
  leader: { nodeId: number } | null;
  series: Array<{ writesPerSecond: number | null; height: number | null; readMs: number | null }>;
}

describe('paxchain dashboard', () => {
  let test: TestCluster;
  let dashboard: Dashboard;
  const get = async (path: string): Promise<{ status: number; body: any }> => {
    const response = await fetch(new URL(path, dashboard.url));
    return { status: response.status, body: response.headers.get('content-type')?.includes('json') ? await response.json() : await response.text() };
  };
  beforeAll(async () => {
    test = await startTestCluster(3);
    dashboard = await startDashboard({ endpoints: test.cluster.endpoints, host: '127.0.0.1', port: await freeBasePort(1) });
  }, 60_000);
  afterAll(async () => {
    await dashboard?.close();
    await test?.close();
  }, 60_000);

  it('shows three members and the leader; heights and writes/s move with writes; blocks by height and hash; a key history', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>paxchain dashboard</title>');
    const first = await waitFor('three members up', async () => {
      const { body } = await get('/api/overview');
      return (body as Overview).members.filter((member) => member.up).length === 3 && body.leader ? (body as Overview) : undefined;
    }, 10_000);
    expect(first.members.filter((member) => member.role === 'leader')).toHaveLength(1);
    expect(first.members.every((member) => member.health === 'ok')).toBe(true);
    const before = Math.max(...first.members.map((member) => member.head!));
    for (let i = 0; i < 30; i++) await test.client.put(`fruit/${i % 3}`, `v${i}`);
    const moved = await waitFor('heights and writes/s to move', async () => {
      const body = (await get('/api/overview')).body as Overview;
      const top = Math.max(...body.members.map((member) => member.head ?? 0));
      return top >= before + 30 && body.series.some((point) => (point.writesPerSecond ?? 0) > 0) ? body : undefined;
    }, 10_000);
    expect(moved.series.at(-1)!.readMs).toBeGreaterThan(0);
    const blocks = (await get('/api/blocks?limit=5')).body.blocks as Array<{ height: number; hash: string; commands: number }>;
    expect(blocks).toHaveLength(5);
    expect(blocks[0]!.height).toBeGreaterThan(blocks[4]!.height);
    const byHeight = await get(`/api/block/${blocks[2]!.height}`);
    expect(byHeight.body.block.hash).toBe(blocks[2]!.hash);
    expect(byHeight.body.commands[0].op).toBe('put');
    const byHash = await get(`/api/block/${blocks[3]!.hash}`);
    expect(byHash.body.block.height).toBe(blocks[3]!.height);
    const history = (await get('/api/history?key=fruit/1')).body;
    expect(history.changes).toHaveLength(10);
    expect(history.changes.at(-1).value).toBe('v28');
  }, 60_000);

  it('shows a killed node down while the rest is served; refuses bad requests with a code', async () => {
    const overview = (await get('/api/overview')).body as Overview;
    const victim = overview.members.find((member) => member.role === 'follower')!;
    await test.cluster.signal(victim.nodeId!, 'SIGKILL');
    const down = await waitFor('the killed node to show down', async () => {
      const body = (await get('/api/overview')).body as Overview;
      return body.members.find((member) => member.endpoint === victim.endpoint)?.up === false ? body : undefined;
    }, 10_000);
    expect(down.members.find((member) => member.endpoint === victim.endpoint)!.health).toBe('down');
    expect(down.leader).not.toBeNull();
    expect((await get('/api/blocks?limit=3')).body.blocks).toHaveLength(3);
    await test.cluster.startNode(victim.nodeId!);
    await waitFor('it to be back', async () => (((await get('/api/overview')).body as Overview).members.every((member) => member.up) ? true : undefined), 20_000);
    expect(await get('/api/nope')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(await get('/api/blocks?limit=999')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGUMENT' } } });
    expect(await get('/api/block/xyz')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGUMENT' } } });
    expect(await get(`/api/block/${'0'.repeat(64)}`)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(await get('/api/history')).toMatchObject({ status: 400 });
    const post = await fetch(new URL('/api/overview', dashboard.url), { method: 'POST' });
    expect(post.status).toBe(400);
  }, 60_000);
});
