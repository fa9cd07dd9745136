// The console's cluster mode in a real browser: a real PostgreSQL (Debian's, test/lib/postgres.ts), `wiretun serve
// --store` in a namespace with chromium, the password set with `--set-password --store`. Login, a location and a
// client made through the page; two real `wiretun gateway` processes of the location in a lab's namespaces (one L2
// segment), each with a role made by `wiretun gateway grant`, reaching PostgreSQL through its Unix socket; the
// client brought up with `wiretun up` in a third namespace from the file the console hands out, pointed at the
// first gateway. The gateways view shows both healthy with revision lag 0 and the client's table the gateway it
// really handshook with; the second gateway SIGKILLed (with its daemon) turns stale after its 30 s and is
// forgotten from the page. Two browser contexts editing one client: the second is told it changed elsewhere, and
// no update is lost.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, clientUp, gatewayLog, GatewayProc, killGateway, ping, removeStateFiles, startGateway, stopGateway, waitPing } from '../netns/lib/gateways';
import { daemonPids, Lab, underlay4 } from '../netns/lib/lab';
import { Background, must, run, start } from '../netns/lib/proc';
import { waitFor } from '../netns/lib/wait';
import { PgServer, postgresSkipReason, startPostgres } from '../lib/postgres';
import { assertReady, browserSkipReason, launchIn, REPO, screenshot, screenshotOnFailure, watchPage } from './lib/browser';

const skip = browserSkipReason('test/browser/cluster.test.ts') ?? postgresSkipReason('test/browser/cluster.test.ts');

const NS = `wtbk-${process.pid}`;
const PORT = 51822;
const BASE = `http://127.0.0.1:${PORT}`;
const PASSWORD = 'a password for the cluster browser test';
const LOCATION = 'wtbk-eu1';
const LISTEN_PORT = 51990;
const SERVER_IP = '10.97.0.1';
const VERSION = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

let work: string;
let pg: PgServer | undefined;
let url: string;
let lab: Lab | undefined;
let serve: Background | undefined;
let browser: Browser | undefined;
let page: Page;
let other: Page | undefined;
let problems: string[] = [];
const gateways: GatewayProc[] = [];
let clientId = '';

async function cleanup(): Promise<void> {
  await browser?.close().catch(() => {});
  for (const g of gateways) {
    // One that exited by itself says why in its log.
    if (g.child && g.child.exitCode !== null) console.error(`${g.name} exited ${g.child.exitCode}:\n${gatewayLog(g)}`);
    await stopGateway(g).catch(() => {});
  }
  await lab?.destroy();
  removeStateFiles(lab?.ifnames ?? []);
  if (serve) serve.child.kill('SIGTERM');
  await serve?.done;
  await pg?.destroy();
  await run('ip', ['netns', 'del', NS]);
  if (work) rmSync(work, { recursive: true, force: true });
}

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 820 }, colorScheme: 'light', locale: 'en-GB', timezoneId: 'UTC' });
  const p = await context.newPage();
  p.setDefaultTimeout(15_000);
  return { context, page: p };
}

async function login(p: Page): Promise<void> {
  await p.goto(BASE);
  await p.fill('form[data-form=login] [name=password]', PASSWORD);
  await p.click('form[data-form=login] button[type=submit]');
  await p.waitForSelector('nav');
}

const sql = (text: string) => pg!.psql(text, 'wiretun');
const gatewayRow = (p: Page, name: string) => p.locator(`tr[data-gateway="${name}"]`);
const clientRow = (p: Page) => p.locator(`tr.client[data-client="${clientId}"]`);

describe.skipIf(skip !== undefined)('the console in a browser, in cluster mode on PostgreSQL', () => {
  screenshotOnFailure(() => [page, other]);

  beforeAll(async () => {
    assertReady();
    work = mkdtempSync(path.join(tmpdir(), 'wtbk-'));
    await must('ip', ['netns', 'add', NS]);
    await must('ip', ['link', 'set', 'lo', 'up'], { ns: NS });
    lab = await Lab.create(3);
    pg = await startPostgres();
    await pg.psql("CREATE ROLE console LOGIN PASSWORD 'console-pw' CREATEROLE;\nCREATE DATABASE wiretun OWNER console;");
    // Over the Unix socket, which is a file: reachable from inside every namespace (the gateways' too).
    url = pg.url('console', 'console-pw', 'wiretun');
    await must(BIN, ['serve', '--set-password', '--store', url], { input: `${PASSWORD}\n`, timeoutMs: 30_000 });
    serve = start(BIN, ['serve', '--store', url, '--listen', `127.0.0.1:${PORT}`], { ns: NS, timeoutMs: 600_000 });
    await waitFor('the console to listen', () => /listening on/.test(serve!.output()), { timeoutMs: 20_000 });
    browser = await launchIn(NS, work);
    ({ page } = await newPage());
    problems = watchPage(page);
  }, 120_000);

  afterAll(cleanup, 60_000);

  it('logs in with the password set by --set-password --store; the page offers locations and gateways', async () => {
    await login(page);
    expect(await page.locator('nav a').allTextContents()).toEqual(['Locations', 'Gateways', 'API tokens', 'Account']);
    await page.waitForSelector('text=No locations yet');
  });

  it('creates a location through the page: a card with its gateways, no Up/Down', async () => {
    await page.click('button:text-is("New location")');
    const dialog = page.locator('dialog[data-dialog=create-location]');
    await dialog.locator('[name=name]').fill(LOCATION);
    await dialog.locator('[name=addresses]').fill(`${SERVER_IP}/24`);
    await dialog.locator('[name=listenPort]').fill(String(LISTEN_PORT));
    await dialog.locator('[name=endpoint]').fill('192.0.2.10');
    await dialog.locator('button[type=submit]').click();
    const card = page.locator(`[data-iface="${LOCATION}"]`);
    await card.waitFor();
    expect(await dialog.count()).toBe(0);
    expect(await card.locator('[data-gateways]').textContent()).toBe('none yet: run wiretun gateway');
    expect(await card.locator('button:text-is("Up"), button:text-is("Down")').count()).toBe(0);
    expect(await card.textContent()).toContain('192.0.2.10');
    expect(await sql(`SELECT listen_port, addresses, endpoint FROM locations WHERE name = '${LOCATION}'`)).toBe('51990|10.97.0.1/24|192.0.2.10');
  });

  it('creates a client through the page, a row in PostgreSQL', async () => {
    await page.click('button:text-is("New client")');
    await page.fill('dialog[data-dialog=create-client] [name=name]', 'laptop');
    await page.click('dialog[data-dialog=create-client] button[type=submit]');
    await page.click('dialog[data-dialog=qr] button:text("Done")');
    await expect.poll(() => page.locator('tr.client').count()).toBe(1);
    clientId = (await page.locator('tr.client').getAttribute('data-client'))!;
    expect(await sql(`SELECT name, addresses, enabled FROM clients WHERE location = '${LOCATION}'`)).toBe('laptop|10.97.0.2/32|t');
    // On no gateway yet: no gateway column.
    expect(await page.locator('table.clients th.gw').isVisible()).toBe(false);
  });

  it('shows two real gateways healthy with revision lag 0, the location 2/2, and the gateway the client handshook with', async () => {
    for (const [i, name] of ['gw-a', 'gw-b'].entries()) {
      const roleUrl = (await must(BIN, ['gateway', 'grant', '--store', url, '--location', LOCATION, '--role', `gw_${i}`])).trim();
      const g: GatewayProc = { name, node: lab!.nodes[i], iface: lab!.ifname(), log: path.join(lab!.tmp, `${name}.log`) };
      gateways.push(g);
      // Reports every second, so the page sees the applied revision without waiting 10 s.
      startGateway(g, roleUrl, LOCATION, ['--health-interval', '1']);
    }
    await waitFor('the page to show both gateways', async () => {
      for (const g of gateways) if (g.child && g.child.exitCode !== null) throw new Error(`${g.name} exited:\n${gatewayLog(g)}`);
      return (await page.locator(`[data-iface="${LOCATION}"] [data-gateways]`).getAttribute('data-gateways')) === '2/2';
    }, { timeoutMs: 20_000, intervalMs: 250 });

    // The client's file, downloaded as the page would with this session, pointed at gw-a's own address.
    const config = await page.evaluate(async (u) => {
      const r = await fetch(u);
      if (!r.ok) throw new Error(`GET ${u}: ${r.status}`);
      return r.text();
    }, `/api/interfaces/${LOCATION}/clients/${clientId}/config`);
    expect(config).toMatch(new RegExp(`^Endpoint = 192\\.0\\.2\\.10:${LISTEN_PORT}$`, 'm'));
    const node = lab!.nodes[2];
    await clientUp(lab!, node, config.replace(/^Endpoint = .*$/m, `Endpoint = ${underlay4(1)}:${LISTEN_PORT}`));
    await waitPing(node.ns, SERVER_IP, 10_000);
    await expect.poll(() => clientRow(page).locator('td.gw').textContent(), { timeout: 10_000 }).toBe('gw-a');
    expect(await page.locator('table.clients th.gw').isVisible()).toBe(true);
    await screenshot(page, 'locations');

    await page.click('nav a:text("Gateways")');
    for (const name of ['gw-a', 'gw-b']) {
      await expect.poll(() => gatewayRow(page, name).getAttribute('data-health')).toBe('healthy');
      await expect.poll(() => gatewayRow(page, name).locator('[data-lag]').getAttribute('data-lag')).toBe('0');
      const [, location, , version, seen, peers] = await gatewayRow(page, name).locator('td').allTextContents();
      expect([location, version, peers]).toEqual([LOCATION, VERSION, '1']);
      expect(seen).toMatch(/^\d+ s ago$/);
      // A healthy gateway cannot be forgotten: it would be back within seconds.
      expect(await gatewayRow(page, name).locator('button:text-is("Forget")').count()).toBe(0);
    }
    await screenshot(page, 'gateways');
    // gw-b dies now, its daemon with it; it turns stale while the next test runs.
    await killGateway(gateways[1], true);
    await waitFor("gw-b's daemon to exit", () => daemonPids([gateways[1].iface]).length === 0, { timeoutMs: 5_000, intervalMs: 50 });
  }, 60_000);

  it('two browser contexts edit one client: the second is told it changed elsewhere, and no update is lost', async () => {
    ({ page: other } = await newPage());
    const otherProblems = watchPage(other);
    await login(other);
    await page.click('nav a:text("Locations")');
    for (const p of [page, other]) {
      await clientRow(p).click();
      await p.locator(`tr.detail[data-detail="${clientId}"] button:text-is("Edit")`).click();
      // Open: the client and its ETag are read.
      await p.locator('dialog[data-dialog=edit-client]').waitFor();
    }
    await page.fill('dialog[data-dialog=edit-client] [name=name]', 'laptop-anna');
    await page.click('dialog[data-dialog=edit-client] button[type=submit]');
    await expect.poll(() => clientRow(page).locator('strong').textContent()).toBe('laptop-anna');
    // The other tab still shows the form as it read it, and saves a different change over it.
    const expiry = `${new Date().getUTCFullYear() + 1}-06-30`;
    await other.fill('dialog[data-dialog=edit-client] [name=expiresAt]', expiry);
    await other.click('dialog[data-dialog=edit-client] button[type=submit]');
    await other.waitForSelector('.toast.error:has-text("laptop was changed elsewhere; reloaded")');
    expect(await other.locator('dialog[data-dialog=edit-client]').count()).toBe(0);
    await expect.poll(() => clientRow(other!).locator('strong').textContent()).toBe('laptop-anna');
    expect(await sql(`SELECT name, expires_at IS NULL FROM clients WHERE location = '${LOCATION}'`)).toBe('laptop-anna|t');
    // Read again, its edit goes through on top of the first: both changes are there.
    await other.locator(`tr.detail[data-detail="${clientId}"] button:text-is("Edit")`).click();
    expect(await other.inputValue('dialog[data-dialog=edit-client] [name=name]')).toBe('laptop-anna');
    await other.fill('dialog[data-dialog=edit-client] [name=expiresAt]', expiry);
    await other.click('dialog[data-dialog=edit-client] button[type=submit]');
    await expect.poll(() => sql(`SELECT name, expires_at IS NOT NULL FROM clients WHERE location = '${LOCATION}'`)).toBe('laptop-anna|t');
    expect(otherProblems).toEqual([]);
  }, 60_000);

  it('shows the killed gateway stale once 30 s pass without a report, and forgets it from the page', async () => {
    await page.click('nav a:text("Gateways")');
    const dead = gatewayRow(page, 'gw-b');
    await expect.poll(() => dead.getAttribute('data-health'), { timeout: 45_000, interval: 1000 }).toBe('stale');
    expect(await gatewayRow(page, 'gw-a').getAttribute('data-health')).toBe('healthy');
    // The client never used gw-b: it still reaches the location through gw-a.
    expect(await ping(lab!.nodes[2].ns, SERVER_IP)).toBe(true);
    await dead.locator('button:text-is("Forget")').click();
    await page.click('dialog[data-dialog=confirm] button:text-is("Forget")');
    await expect.poll(() => dead.count()).toBe(0);
    expect(await sql('SELECT name FROM gateways')).toBe('gw-a');
    await page.click('nav a:text("Locations")');
    await expect.poll(() => page.locator(`[data-iface="${LOCATION}"] [data-gateways]`).getAttribute('data-gateways')).toBe('1/1');
    expect(problems).toEqual([]);
  }, 60_000);
});
