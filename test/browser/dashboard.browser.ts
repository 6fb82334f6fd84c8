// The dashboard in a real headless browser (Debian's chromium, driven by playwright-core; run by
// `npm run test:dashboard`, which installs chromium if missing). Against a live 3-node cluster:
// the page loads and shows three members and the leader, the heights move while a bench runs, a
// killed node shows down and then back, a block and a key's history open in the explorer.
// Screenshots of each state go to a temporary directory the run prints (not committed).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../../src/tools/dashboard.js';
import { runCliAsync } from '../helpers.js';
import { freeBasePort, startTestCluster, type TestCluster } from '../node/cluster-helpers.js';

const CHROMIUM = process.env.PAXCHAIN_CHROMIUM ?? '/usr/bin/chromium';

let page: Page;
const shots = mkdtempSync(join(tmpdir(), 'paxchain-dashboard-shots-'));

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** The head height the page shows for member row `row`. */
async function headOf(row: number): Promise<number> {
  return Number((await page.locator('#members-body tr').nth(row).locator('td.head').textContent())!.replace(/,/g, ''));
}

describe('the dashboard in headless Chromium', () => {
  let test: TestCluster;
  let dashboard: Dashboard;
  let browser: Browser;

  beforeAll(async () => {
    test = await startTestCluster(3);
    dashboard = await startDashboard({ endpoints: test.cluster.endpoints, host: '127.0.0.1', port: await freeBasePort(1) });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    process.stdout.write(`screenshots: ${shots}\n`);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await test?.close();
  }, 60_000);

  it('loads and shows three members, all up, and the leader', async () => {
    await page.goto(dashboard.url);
    await expect.poll(async () => page.locator('#members-body tr[data-up="true"]').count(), { timeout: 10_000 }).toBe(3);
    await expect.poll(async () => page.locator('#leader').textContent(), { timeout: 10_000 }).toMatch(/^leader: node \d \(ballot /);
    expect(await page.locator('#members-body tr.leader').count()).toBe(1);
    expect(await page.locator('#members-body td.health').allTextContents()).toEqual(['ok', 'ok', 'ok']);
    await shot('1-members-and-leader');
  });

  it('moves the heights and the writes/s chart while a bench runs', async () => {
    const before = await headOf(0);
    const bench = runCliAsync(['bench', '--clients', '16', '--duration', '5', '--endpoints', test.cluster.endpoints.join(',')], { timeoutMs: 30_000 });
    await expect.poll(() => headOf(0), { timeout: 15_000 }).toBeGreaterThan(before + 100);
    await expect.poll(async () => page.locator('#writes-now').textContent(), { timeout: 10_000 }).toMatch(/^[1-9][\d,]* writes\/s$/);
    expect(await page.locator('#writes-svg polyline').getAttribute('points')).toMatch(/\d/);
    await shot('2-heights-moving-under-bench');
    expect((await bench).status).toBe(0);
  });

  it('shows a killed node down, then back when it restarts', async () => {
    const follower = await page.locator('#members-body tr:not(.leader)').first().getAttribute('data-endpoint');
    const id = test.cluster.ids.find((each) => test.cluster.endpoint(each) === follower)!;
    await test.cluster.signal(id, 'SIGKILL');
    const row = page.locator(`#members-body tr[data-endpoint="${follower}"]`);
    await expect.poll(async () => row.getAttribute('data-up'), { timeout: 10_000 }).toBe('false');
    expect(await row.locator('td.role').textContent()).toBe('down');
    await shot('3-killed-node-down');
    await test.cluster.startNode(id);
    await expect.poll(async () => row.getAttribute('data-up'), { timeout: 20_000 }).toBe('true');
    await shot('4-node-back');
  });

  it('opens a block from the latest blocks, a block by hash, and a key history', async () => {
    await test.client.put('fruit/kiwi', 'green');
    await test.client.put('fruit/kiwi', 'gold');
    await page.locator('#blocks-body a').first().waitFor({ timeout: 10_000 });
    const height = await page.locator('#blocks-body a').first().getAttribute('data-height');
    await page.locator('#blocks-body a').first().click();
    await expect.poll(async () => page.locator('#block-out').getAttribute('data-height'), { timeout: 10_000 }).toBe(height);
    expect(await page.locator('#block-out').textContent()).toMatch(new RegExp(`^block ${height}  [0-9a-f]{64}`));
    const genesisChild = (await (await fetch(new URL('/api/block/1', dashboard.url))).json()) as { block: { hash: string } };
    await page.fill('#block-id', genesisChild.block.hash);
    await page.click('#block-form button');
    await expect.poll(async () => page.locator('#block-out').getAttribute('data-height'), { timeout: 10_000 }).toBe('1');
    await page.fill('#history-key', 'fruit/kiwi');
    await page.click('#history-form button');
    await expect.poll(async () => page.locator('#history-out').getAttribute('data-changes'), { timeout: 20_000 }).toBe('2');
    expect(await page.locator('#history-out').textContent()).toMatch(/put OK {2}green\n.*put OK {2}gold/);
    await shot('5-explorer-block-and-history');
  });
});
