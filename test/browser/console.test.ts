// The console in a real browser against a real interface: `wiretun serve` in a server namespace with two
// interfaces, chromium in the same namespace. Set-up with the code from the server's log, login, the
// interfaces side by side, one brought up from the page; a client created in the page whose QR code (decoded
// from a screenshot) equals its downloaded .conf, that config brought up with `wiretun up` in a second
// namespace and shown connected, traffic pushed through it moving the chart, then disabled (its handshakes
// stop, pings fail) and deleted. Then API tokens (shown once, names escaped, revoked), CSRF, and TOTP.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey } from '../../ts/keys';
import { hotp, totpStep } from '../../ts/serve/totp';
import { killDaemons, removeSocket } from '../netns/lib/lab';
import { Background, must, run, runDetaching, start } from '../netns/lib/proc';
import { waitFor } from '../netns/lib/wait';
import { assertReady, browserSkipReason, decodeQr, launchIn, REPO, screenshot, screenshotOnFailure, watchPage } from './lib/browser';

const skip = browserSkipReason('test/browser/console.test.ts');

const NS_S = `wtbr-s-${process.pid}`;
const NS_C = `wtbr-c-${process.pid}`;
const IF_S = 'wtbr0';
const IF_OTHER = 'wtbr1';
const IF_C = 'wtbrc0';
const PORT = 51821;
const BASE = `http://127.0.0.1:${PORT}`;
const PASSWORD = 'a password for the browser test';
const BIN = path.join(REPO, 'bin', 'wiretun');

let work: string;
let serve: Background | undefined;
let browser: Browser | undefined;
let page: Page;
let problems: string[] = [];
let clientId = '';

async function setupNetwork(): Promise<void> {
  await must('ip', ['netns', 'add', NS_S]);
  await must('ip', ['netns', 'add', NS_C]);
  for (const ns of [NS_S, NS_C]) await must('ip', ['link', 'set', 'lo', 'up'], { ns });
  await must('ip', ['link', 'add', 'br0', 'type', 'veth', 'peer', 'name', 'br1', 'netns', NS_C], { ns: NS_S });
  await must('ip', ['address', 'add', '192.0.2.2/24', 'dev', 'br0'], { ns: NS_S });
  await must('ip', ['address', 'add', '192.0.2.1/24', 'dev', 'br1'], { ns: NS_C });
  await must('ip', ['link', 'set', 'br0', 'up'], { ns: NS_S });
  await must('ip', ['link', 'set', 'br1', 'up'], { ns: NS_C });
}

async function cleanup(): Promise<void> {
  await browser?.close().catch(() => {});
  if (serve) serve.child.kill('SIGTERM');
  await serve?.done;
  killDaemons([IF_S, IF_OTHER, IF_C], 'SIGKILL');
  for (const ns of [NS_S, NS_C]) await run('ip', ['netns', 'del', ns]);
  for (const i of [IF_S, IF_OTHER, IF_C]) {
    removeSocket(i);
    rmSync(`/var/run/wiretun/${i}.json`, { force: true });
  }
  if (work) rmSync(work, { recursive: true, force: true });
}

const ping = async (to: string) => (await run('ping', ['-c', '1', '-W', '1', to], { ns: NS_C })).code === 0;
const row = () => page.locator(`tr.client[data-client="${clientId}"]`);
const chart = () => page.locator(`[data-chart="${clientId}"]`);
const chartBytes = async () => Number((await chart().getAttribute('data-tx-bytes')) ?? 0) + Number((await chart().getAttribute('data-rx-bytes')) ?? 0);
const confPath = () => path.join(work, 'etc', `${IF_S}.conf`);

function serverConfig(address: string, port: number, endpoint: boolean): string {
  return `[Interface]\nPrivateKey = ${generatePrivateKey()}\nListenPort = ${port}\nAddress = ${address}\n${endpoint ? '# PublicEndpoint = 192.0.2.2\n' : ''}`;
}

describe.skipIf(skip !== undefined)('the console in a browser, against a real interface', () => {
  screenshotOnFailure(() => [page]);

  beforeAll(async () => {
    assertReady();
    work = mkdtempSync(path.join(tmpdir(), 'wtbr-'));
    for (const d of ['etc', 'client', 'downloads']) mkdirSync(path.join(work, d), { mode: 0o700 });
    await setupNetwork();
    writeFileSync(confPath(), serverConfig('10.95.0.1/24', 51820, true), { mode: 0o600 });
    writeFileSync(path.join(work, 'etc', `${IF_OTHER}.conf`), serverConfig('10.96.0.1/24, fd96::1/64', 51830, false), { mode: 0o600 });
    const args = ['serve', '--listen', `127.0.0.1:${PORT}`, '--state', path.join(work, 'state'), confPath(), path.join(work, 'etc', `${IF_OTHER}.conf`)];
    serve = start(BIN, args, { ns: NS_S, timeoutMs: 600_000 });
    await waitFor('the console to print its set-up link', () => /#setup=[0-9a-f]+/.test(serve!.output()), { timeoutMs: 20_000 });
    browser = await launchIn(NS_S, work);
    const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, acceptDownloads: true, colorScheme: 'light', locale: 'en-GB', timezoneId: 'UTC' });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    problems = watchPage(page);
  }, 120_000);

  afterAll(cleanup, 60_000);

  it('sets up with the code from the log, logs out and in, and serves the page under a strict CSP', async () => {
    const code = /#setup=([0-9a-f]+)/.exec(serve!.output())![1];
    const res = await page.goto(`${BASE}/#setup=${code}`);
    const csp = res!.headers()['content-security-policy'];
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(await page.locator('script:not([src])').count()).toBe(0);
    await page.fill('[name=password]', PASSWORD);
    await page.fill('[name=again]', PASSWORD);
    await page.click('form[data-form=setup] button[type=submit]');
    await expect.poll(() => page.locator('[data-iface]').count()).toBe(2);
    expect(page.url()).not.toContain(code); // the code leaves the address bar

    await page.click('text=Log out');
    await page.waitForSelector('form[data-form=login]');
    await screenshot(page, 'login');
    await page.fill('[name=password]', 'not the password');
    await page.click('form[data-form=login] button[type=submit]');
    await page.waitForSelector('.field .error:has-text("wrong password")');
    await page.fill('[name=password]', PASSWORD);
    await page.click('form[data-form=login] button[type=submit]');
    await page.waitForSelector(`[data-iface="${IF_S}"]`);
  });

  it('shows the interfaces side by side and brings one up', async () => {
    const a = (await page.locator(`[data-iface="${IF_S}"]`).boundingBox())!;
    const b = (await page.locator(`[data-iface="${IF_OTHER}"]`).boundingBox())!;
    expect(Math.abs(a.y - b.y)).toBeLessThan(2);
    expect(b.x).toBeGreaterThan(a.x + a.width - 1);
    const card = page.locator(`[data-iface="${IF_S}"]`);
    await expect.poll(() => card.locator('.pill').textContent()).toBe('down');
    await card.locator('button:text-is("Up")').click();
    await expect.poll(() => card.locator('.pill').textContent(), { timeout: 30_000 }).toBe('up');
    await expect.poll(async () => (await card.textContent()) ?? '').toContain('51820');
    expect(await card.textContent()).toContain('10.95.0.1/24');
    expect((await run('ip', ['link', 'show', IF_S], { ns: NS_S })).code).toBe(0);
  }, 60_000);

  it('creates a client whose QR code (from a screenshot) equals its downloaded .conf', async () => {
    await page.locator(`[data-iface="${IF_S}"]`).click();
    await page.click('button:text-is("New client")');
    await page.fill('dialog[data-dialog=create-client] [name=name]', 'laptop');
    await page.click('dialog[data-dialog=create-client] button[type=submit]');
    const qr = page.locator('dialog[data-dialog=qr] img.qr');
    await qr.waitFor();
    await expect.poll(() => qr.evaluate((img) => (img as unknown as { complete: boolean }).complete && (img as unknown as { naturalWidth: number }).naturalWidth > 0)).toBe(true);
    clientId = (await page.locator('tr.client').first().getAttribute('data-client'))!;
    expect(clientId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const fromQr = decodeQr(await qr.screenshot());
    await screenshot(page, 'qr');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('dialog[data-dialog=qr] a:text("Download .conf")')]);
    expect(download.suggestedFilename()).toBe('laptop.conf');
    const file = path.join(work, 'downloads', 'laptop.conf');
    await download.saveAs(file);
    const conf = readFileSync(file, 'utf8');
    expect(conf).toContain('Endpoint = 192.0.2.2:51820');
    expect(conf).toMatch(/PrivateKey = \S{44}/);
    expect(fromQr).toBe(conf);
    await page.click('dialog[data-dialog=qr] button:text("Done")');
  });

  it('shows the client connected once its config is up in another namespace, and the chart moves with traffic', async () => {
    const clientConf = path.join(work, 'client', `${IF_C}.conf`);
    writeFileSync(clientConf, readFileSync(path.join(work, 'downloads', 'laptop.conf')), { mode: 0o600 });
    const log = path.join(work, 'wiretun-up.log');
    const up = await runDetaching(BIN, ['up', clientConf], log, { ns: NS_C, timeoutMs: 60_000 });
    expect(up.code, up.stdout).toBe(0);
    await waitFor('a ping through the tunnel', () => ping('10.95.0.1'), { timeoutMs: 15_000 });
    await expect.poll(() => row().getAttribute('data-state'), { timeout: 20_000 }).toBe('connected');
    await expect.poll(async () => (await row().textContent()) ?? '').toMatch(/handshake \d+ s ago from 192\.0\.2\.1:\d+/);
    // A second client, never connected, so the list has more than one row (and the screenshot shows both).
    await page.click('button:text-is("New client")');
    await page.fill('dialog[data-dialog=create-client] [name=name]', 'phone');
    await page.fill('dialog[data-dialog=create-client] [name=expiresAt]', `${new Date().getUTCFullYear() + 1}-06-30`);
    await page.click('dialog[data-dialog=create-client] button[type=submit]');
    await page.click('dialog[data-dialog=qr] button:text("Done")');
    await expect.poll(() => page.locator('tr.client').count()).toBe(2);

    await row().click();
    await chart().waitFor();
    // Drawn once the history has come: then its numbers are on the element.
    await expect.poll(() => chart().locator('canvas').count()).toBeGreaterThan(0);
    await expect.poll(() => chart().getAttribute('data-points')).toBe('360');
    const before = await chartBytes();
    // About 2 MB each way, bounded in count and time.
    const flood = await run('ping', ['-f', '-q', '-c', '2000', '-s', '1000', '-w', '20', '10.95.0.1'], { ns: NS_C, timeoutMs: 30_000 });
    expect(flood.stdout + flood.stderr).toMatch(/2000 packets transmitted/);
    // The console samples every 10 s and the page polls every 5 s.
    await expect.poll(chartBytes, { timeout: 40_000, interval: 1000 }).toBeGreaterThan(before + 3_000_000);
    expect(await chart().locator('.chart-summary').textContent()).toMatch(/↓ \d+(\.\d+)? MiB downloaded, ↑ \d+(\.\d+)? MiB uploaded/);
    expect(await row().locator('td.num').last().textContent()).toMatch(/MiB/);
    await chart().locator('button[data-range=day]').click();
    await expect.poll(() => chart().getAttribute('data-range')).toBe('day');
    expect(await chartBytes()).toBeGreaterThan(before + 3_000_000);
    await chart().locator('button[data-range=hour]').click();
    await expect.poll(() => chart().getAttribute('data-range')).toBe('hour');
    await screenshot(page, 'clients', true);
  }, 120_000);

  it('disables the client (its handshakes stop, pings fail), then deletes it', async () => {
    await page.locator(`tr.detail[data-detail="${clientId}"] button:text-is("Disable")`).click();
    await expect.poll(() => row().getAttribute('data-state')).toBe('disabled');
    expect(await ping('10.95.0.1')).toBe(false);
    const dump = await must(BIN, ['show', IF_S, 'dump'], { ns: NS_S });
    const key = (await page.locator(`tr.detail[data-detail="${clientId}"] code.key`).textContent())!;
    expect(dump).not.toContain(key);
    expect(readFileSync(confPath(), 'utf8')).toMatch(/^#~PublicKey = /m);
    expect(await row().textContent()).not.toMatch(/handshake/);

    await page.locator(`tr.detail[data-detail="${clientId}"] button:text-is("Delete")`).click();
    await page.click('dialog[data-dialog=confirm] button:text-is("Delete")');
    await expect.poll(() => row().count()).toBe(0);
    expect(readFileSync(confPath(), 'utf8')).not.toContain(key);
    expect(await page.locator('tr.client').count()).toBe(1);
  });

  it('makes API tokens shown once, with names escaped, and revokes them', async () => {
    await page.click('nav a:text("API tokens")');
    const create = async (name: string, scope: 'read' | 'write') => {
      await page.fill('[name=name]', name);
      await page.selectOption('[name=scope]', scope);
      await page.click('button:text-is("Create token")');
      const token = await page.locator('dialog[data-dialog=token] input[name=token]').inputValue();
      await page.click('dialog[data-dialog=token] button:text("Done")');
      return token;
    };
    const grafana = await create('grafana', 'read');
    await create('deploy', 'write');
    expect(grafana).toMatch(/^wt_[A-Za-z0-9_-]{43}$/);
    const rows = page.locator('tr[data-token]');
    await expect.poll(() => rows.count()).toBe(2);
    // The token works, read-only, until revoked.
    const call = (method: string, url: string) => run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', method, '-H', `authorization: Bearer ${grafana}`, `${BASE}${url}`], { ns: NS_S });
    expect((await call('GET', '/api/interfaces')).stdout).toBe('200');
    expect((await call('POST', `/api/interfaces/${IF_S}/down`)).stdout).toBe('403');
    await page.reload();
    await expect.poll(async () => (await rows.first().textContent()) ?? '').toMatch(/\d+ s ago/);
    await screenshot(page, 'tokens');

    const name = '<img src=x onerror="window.pwned=1">x';
    await create(name, 'read');
    const tr = rows.filter({ hasText: 'onerror' });
    await expect.poll(() => tr.count()).toBe(1);
    expect(await tr.locator('strong').textContent()).toBe(name);
    expect(await page.locator('table.tokens img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    for (let left = 3; left > 0; left--) {
      await rows.first().locator('button:text-is("Revoke")').click();
      await page.click('dialog[data-dialog=confirm] button:text-is("Revoke")');
      await expect.poll(() => rows.count()).toBe(left - 1);
    }
    expect((await call('GET', '/api/interfaces')).stdout).toBe('401');
  });

  it('sends the CSRF token on changes: the same request without it is refused', async () => {
    const status = await page.evaluate(async (iface) => {
      const r = await fetch(`/api/interfaces/${iface}/clients`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"forged"}' });
      return r.status;
    }, IF_S);
    expect(status).toBe(403);
    expect(readFileSync(confPath(), 'utf8')).not.toContain('forged');
  });

  it('turns TOTP on from its QR code; login then asks for a code', async () => {
    await page.click('nav a:text("Account")');
    await page.click('button:text-is("Turn on")');
    const qr = page.locator('dialog[data-dialog=totp] img.qr');
    await expect.poll(() => qr.evaluate((img) => (img as unknown as { complete: boolean }).complete && (img as unknown as { naturalWidth: number }).naturalWidth > 0)).toBe(true);
    const uri = decodeQr(await qr.screenshot());
    const secret = new URLSearchParams(new URL(uri!).search).get('secret')!;
    const shown = (await page.locator('dialog[data-dialog=totp] code.secret').textContent())!.replace(/\s/g, '');
    expect(secret).toBe(shown);
    await page.fill('dialog[data-dialog=totp] [name=code]', hotp(secret, totpStep(Date.now())));
    await page.click('dialog[data-dialog=totp] button[type=submit]');
    await page.waitForSelector('text=Logging in asks for a code');

    await page.click('text=Log out');
    // The login form's own field: until logout is done, the account page's "turn off" form has a password
    // field too, and filling that one sent the login an empty password.
    await page.fill('form[data-form=login] [name=password]', PASSWORD);
    await page.click('form[data-form=login] button[type=submit]');
    const codeField = page.locator('[name=totp]');
    await codeField.waitFor();
    // The next step's code: the one just used is refused as a replay, and one step of drift is allowed.
    await codeField.fill(hotp(secret, totpStep(Date.now()) + 1));
    await page.click('form[data-form=login] button[type=submit]');
    await page.waitForSelector('nav');
  });

  it('takes the interface down from the page; the page logged no error and broke no CSP rule', async () => {
    await page.click('nav a:text("Interfaces")');
    const card = page.locator(`[data-iface="${IF_S}"]`);
    await card.locator('button:text-is("Down")').click();
    await page.click('dialog[data-dialog=confirm] button:text-is("Take down")');
    await expect.poll(() => card.locator('.pill').textContent(), { timeout: 30_000 }).toBe('down');
    expect((await run('ip', ['link', 'show', IF_S], { ns: NS_S })).code).not.toBe(0);
    expect(await page.locator('tr.client[data-state=down]').count()).toBe(1);
    expect(problems).toEqual([]);
  }, 60_000);
});
