// wiretun serve: the console page's files served ahead of the API (types, CSP, ETag, nothing outside the
// build directory), and the QR code routes (admin only, SVG).
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunningServer, listen } from '../../ts/serve/server';
import { PAGE_CSP } from '../../ts/serve/static';
import { Client, Harness, IFACE, startLoggedIn } from './serve-helpers';

let h: Harness | undefined;
let page: RunningServer | undefined;
afterEach(async () => {
  await page?.close();
  await h?.cleanup();
  h = page = undefined;
});

/** A stand-in build of the page in the harness's directory, served by a second listener. */
async function servePage(files: Record<string, string>): Promise<Client> {
  const dir = path.join(h!.dir, 'web');
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  page = await listen(h!.app, { host: '127.0.0.1', port: 0, webDir: dir });
  return new Client(page.url);
}

describe('wiretun serve: the page', () => {
  it('serves the built files with their types under a CSP that allows only this origin', async () => {
    ({ h } = await startLoggedIn());
    const c = await servePage({ 'index.html': '<!doctype html><title>x</title>', 'app.js': 'void 0', 'app.css': 'p{}', 'favicon.svg': '<svg/>', 'notes.md': 'not served' });
    const index = await c.get('/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('content-security-policy')).toBe(PAGE_CSP);
    expect(PAGE_CSP).toMatch(/default-src 'self'/);
    expect(PAGE_CSP).not.toMatch(/unsafe|\*|https?:/);
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    expect((await c.get('/index.html')).text).toBe(index.text);
    expect((await c.get('/app.js')).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await c.get('/app.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await c.get('/favicon.svg')).headers.get('content-type')).toBe('image/svg+xml');
    // Revalidated with its ETag: a 304 without a body.
    const etag = index.headers.get('etag')!;
    const again = await c.get('/', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    // Only the build's own files: no other extension, nothing outside it, no directory listing.
    for (const url of ['/notes.md', '/../package.json', '/%2e%2e/package.json', '/web/', '/index.htm']) {
      const r = await c.get(url);
      expect(r.status, url).toBe(404);
      expect(r.json.error.code, url).toBe('not_found');
    }
    // The API is still the router's, with its own headers.
    const api = await c.get(`/api/interfaces/${IFACE}`);
    expect(api.status).toBe(401);
    expect(api.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect((await c.post('/', {})).status).toBe(404);
  });

  it('says how to build the page when it is missing, and the API still answers', async () => {
    ({ h } = await startLoggedIn());
    page = await listen(h.app, { host: '127.0.0.1', port: 0, webDir: path.join(h.dir, 'nothing-here') });
    const c = new Client(page.url);
    const r = await c.get('/');
    expect(r.status).toBe(503);
    expect(r.text).toMatch(/npm run build:web/);
    expect((await c.get('/api/session')).status).toBe(401);
  });
});

describe('wiretun serve: QR codes', () => {
  it("draws a client's config and the pending TOTP secret as SVG, for admin sessions only", async () => {
    let admin: Client;
    ({ h, admin } = await startLoggedIn());
    const made = (await admin.post(`/api/interfaces/${IFACE}/clients`, { name: 'laptop' })).json;
    const url = `/api/interfaces/${IFACE}/clients/${made.id}/qr.svg`;
    const qr = await admin.get(url);
    expect(qr.status).toBe(200);
    expect(qr.headers.get('content-type')).toBe('image/svg+xml');
    expect(qr.headers.get('cache-control')).toBe('no-store');
    expect(qr.text).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(qr.text).not.toMatch(/<script|on\w+=/i);
    expect((await new Client(h.url).get(url)).status).toBe(401);
    const token = (await admin.post('/api/tokens', { name: 'rw', scope: 'write' })).json.token;
    expect((await Object.assign(new Client(h.url), { bearer: token }).get(url)).status).toBe(403);
    // A client made elsewhere has no private key here: no config, no QR code.
    expect((await admin.get(`/api/interfaces/${IFACE}/clients/${'A'.repeat(42)}E/qr.svg`)).status).toBe(404);

    expect((await admin.get('/api/totp/qr.svg')).json.error.code).toBe('no_pending_totp');
    expect((await admin.post('/api/totp/setup')).status).toBe(200);
    const totp = await admin.get('/api/totp/qr.svg');
    expect(totp.status).toBe(200);
    expect(totp.text).toMatch(/^<svg/);
  });
});
