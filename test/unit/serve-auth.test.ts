// wiretun serve: who may call what. Every route of the OpenAPI document is tried without credentials, with a
// read-only and a read-write token and with a session without its CSRF token; plus set-up, login rate limit,
// sessions across a restart and TOTP.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hotp, totpStep } from '../../ts/serve/totp';
import { LOGIN_FAILURES, LOGIN_WINDOW_MS, SESSION_TTL_MS } from '../../ts/serve/auth';
import { listen } from '../../ts/serve/server';
import { Client, Harness, IFACE, interfacesOf, PASSWORD, start, startLoggedIn } from './serve-helpers';

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

interface Op {
  method: string;
  path: string;
  security: Record<string, string[]>[];
  description: string;
  parameters: { name: string; schema: Record<string, unknown> }[];
}

function operations(doc: { paths: Record<string, Record<string, Op>> }): Op[] {
  return Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([m, op]) => ({ ...op, method: m.toUpperCase(), path: p })));
}

/** A concrete URL for a route: real ids where the route needs them, so an allowed call can succeed. */
function concrete(p: string, ids: { client: string; token: number }): string {
  return p
    .replace('{iface}', IFACE)
    .replace('{id}', ids.client)
    .replace('{tokenId}', String(ids.token))
    .replace('{token}', 'AAAAAAAAAAAAAAAAAAAAAA');
}

describe('wiretun serve: set-up and login', () => {
  it('needs the set-up code once, then refuses set-up; state dir 0700, database 0600', async () => {
    h = await start();
    const c = new Client(h.url);
    const before = await c.get('/api/interfaces');
    expect(before.status).toBe(401);
    expect(before.json.error.code).toBe('setup_required');
    const wrong = await c.post('/api/setup', { password: PASSWORD, setupCode: 'nope' });
    expect(wrong.status).toBe(403);
    expect(wrong.json.error.field).toBe('setupCode');
    const short = await c.post('/api/setup', { password: 'short', setupCode: h.app.setupCode });
    expect(short.status).toBe(400);
    expect(short.json.error.field).toBe('password');
    const ok = await c.post('/api/setup', { password: PASSWORD, setupCode: h.app.setupCode });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect(ok.headers.get('set-cookie')).not.toMatch(/Secure/);
    const again = await new Client(h.url).post('/api/setup', { password: 'another password', setupCode: 'x' });
    expect(again.status).toBe(409);
    expect(statSync(h.stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(h.stateDir, 'serve.db')).mode & 0o777).toBe(0o600);
  });

  it('rate-limits failed logins with 429 and Retry-After, and lets the address in again after the window', async () => {
    ({ h } = await startLoggedIn());
    const c = new Client(h.url);
    for (let i = 0; i < LOGIN_FAILURES; i++) {
      const r = await c.login('wrong password!');
      expect(r.status).toBe(401);
      expect(r.json.error.field).toBe('password');
    }
    const limited = await c.login();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(LOGIN_WINDOW_MS / 1000);
    h.clock.advance(LOGIN_WINDOW_MS + 1000);
    expect((await c.login()).status).toBe(200);
  });

  it('keeps sessions and their expiry across a restart, and ends them when they expire', async () => {
    let admin: Client;
    ({ h, admin } = await startLoggedIn());
    const first = await admin.get('/api/session');
    expect(first.status).toBe(200);
    expect(first.json.cluster).toBe(false); // the page offers interfaces, not locations
    h = await h.restart();
    const again = new Client(h.url);
    again.cookie = admin.cookie;
    const after = await again.get('/api/session');
    expect(after.status).toBe(200);
    expect(after.json.expiresAt).toBe(first.json.expiresAt);
    h.clock.advance(SESSION_TTL_MS);
    expect((await again.get('/api/session')).status).toBe(401);
  });

  it('logout ends the session; a password change ends the others', async () => {
    let admin: Client;
    ({ h, admin } = await startLoggedIn());
    const other = new Client(h.url);
    await other.login();
    const changed = await admin.put('/api/password', { current: PASSWORD, password: 'a new long password' });
    expect(changed.status).toBe(204);
    expect((await other.get('/api/session')).status).toBe(401);
    expect((await admin.get('/api/session')).status).toBe(200);
    expect((await admin.post('/api/logout')).status).toBe(204);
    expect((await admin.get('/api/session')).status).toBe(401);
  });

  it('TOTP: enabled with a code, then required at login; a code is not accepted twice', async () => {
    let admin: Client;
    ({ h, admin } = await startLoggedIn());
    const setup = await admin.post('/api/totp/setup');
    expect(setup.json.uri).toMatch(/^otpauth:\/\/totp\//);
    const code = () => hotp(setup.json.secret, totpStep(h!.clock.ms));
    expect((await admin.post('/api/totp/enable', { code: '000000' === code() ? '111111' : '000000' })).status).toBe(400);
    expect((await admin.post('/api/totp/enable', { code: code() })).status).toBe(204);
    h.clock.advance(30_000);
    const c = new Client(h.url);
    const missing = await c.login();
    expect(missing.status).toBe(401);
    expect(missing.json.error.code).toBe('totp_required');
    const fresh = code();
    expect((await c.post('/api/login', { password: PASSWORD, totp: fresh })).status).toBe(200);
    const replay = await new Client(h.url).post('/api/login', { password: PASSWORD, totp: fresh });
    expect(replay.status).toBe(401);
    expect(replay.json.error.field).toBe('totp');
  });
});

describe('wiretun serve: access to every route', () => {
  it('follows the OpenAPI document: no credentials, read-only and read-write tokens, CSRF', async () => {
    let admin: Client;
    ({ h, admin } = await startLoggedIn());
    await h.live.up(await interfacesOf(h.app).load(IFACE));
    const created = await admin.post(`/api/interfaces/${IFACE}/clients`, { name: 'laptop' });
    expect(created.status).toBe(201);
    const ro = await admin.post('/api/tokens', { name: 'grafana', scope: 'read' });
    const rw = await admin.post('/api/tokens', { name: 'ansible', scope: 'write' });
    expect(ro.status).toBe(201);
    const ids = { client: created.json.id as string, token: ro.json.id as number };
    const doc = (await admin.get('/api/openapi.json')).json;
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThan(20);
    // A well-formed document: unique operation ids, every path parameter declared, a response for each.
    expect(doc.openapi).toBe('3.1.0');
    const opIds = ops.map((o) => (o as unknown as { operationId: string }).operationId);
    expect(new Set(opIds).size).toBe(ops.length);
    for (const op of ops as unknown as { path: string; parameters: { name: string; in: string }[]; responses: object }[]) {
      const inPath = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(op.parameters.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(inPath);
      expect(Object.keys(op.responses).length).toBeGreaterThan(1);
    }
    const open = ops.filter((o) => o.security.length === 0).map((o) => `${o.method} ${o.path}`);
    expect(open.sort()).toEqual(['GET /api/links/{token}', 'POST /api/login', 'POST /api/setup']);

    const anonymous = new Client(h.url);
    const readOnly = Object.assign(new Client(h.url), { bearer: ro.json.token });
    const readWrite = Object.assign(new Client(h.url), { bearer: rw.json.token });
    const noCsrf = Object.assign(new Client(h.url), { cookie: admin.cookie });
    for (const op of ops) {
      const url = concrete(op.path, ids);
      const what = `${op.method} ${op.path}`;
      const anon = await anonymous.request(op.method, url);
      const needsNothing = op.security.length === 0 || op.security.some((s) => Object.keys(s).length === 0);
      if (needsNothing) expect(anon.status, what).not.toBe(401);
      else expect(anon.status, what).toBe(401);
      const adminOnly = !op.security.some((s) => 'token' in s) && !needsNothing;
      const writes = op.method !== 'GET';
      const ro = await readOnly.request(op.method, url);
      if (adminOnly || (writes && !needsNothing)) expect(ro.status, `read-only token: ${what}`).toBe(403);
      else expect([401, 403], `read-only token: ${what}`).not.toContain(ro.status);
      if (op.method === 'DELETE' || op.path.endsWith('/down') || op.path.endsWith('/logout')) continue;
      const rwr = await readWrite.request(op.method, url);
      if (adminOnly) expect(rwr.status, `read-write token: ${what}`).toBe(403);
      else expect([401, 403], `read-write token: ${what}`).not.toContain(rwr.status);
      if (writes && !needsNothing) {
        const r = await noCsrf.request(op.method, url);
        expect(r.status, `session without CSRF: ${what}`).toBe(403);
        expect(r.json.error.code).toBe('csrf');
      }
    }
    // A wrong CSRF token is as good as none; the right one works.
    const wrongCsrf = await noCsrf.request('POST', `/api/interfaces/${IFACE}/clients`, { name: 'x' }, { 'x-csrf-token': 'forged' });
    expect(wrongCsrf.status).toBe(403);
    expect((await admin.post(`/api/interfaces/${IFACE}/clients`, { name: 'phone' })).status).toBe(201);
    // A revoked token stops working; an unknown one is a 401, not anonymous.
    expect((await admin.del(`/api/tokens/${ro.json.id}`)).status).toBe(204);
    expect((await readOnly.get('/api/interfaces')).status).toBe(401);
  });

  it('answers a method a path lacks with 405 and the Allow header (RFC 9110), and declares the id form it checks', async () => {
    let admin: Client;
    ({ h, admin } = await startLoggedIn());
    const created = await admin.post(`/api/interfaces/${IFACE}/clients`, { name: 'phone' });
    const doc = (await admin.get('/api/openapi.json')).json;
    const ops = operations(doc);
    const ids = { client: created.json.id as string, token: 1 };
    let tried = 0;
    for (const [p, methods] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      const have = Object.keys(methods).map((m) => m.toUpperCase());
      const allow = [...new Set([...have, ...(have.includes('GET') ? ['HEAD'] : [])])].sort().join(', ');
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => !have.includes(m))) {
        const res = await admin.request(method, concrete(p, ids));
        expect(res.status, `${method} ${p}`).toBe(405);
        expect(res.headers.get('allow'), `${method} ${p}`).toBe(allow);
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(20);
    const idParams = (ops as unknown as { parameters: { name: string; schema: { pattern?: string } }[] }[]).flatMap((o) =>
      o.parameters.filter((q) => q.name === 'id'),
    );
    expect(idParams.length).toBeGreaterThanOrEqual(6);
    // The last of 43 characters holds 2 padding bits: `B` there decodes to a key that encodes back as `A`.
    const nonCanonical = ids.client.slice(0, 42) + 'B';
    expect((await admin.get(`/api/interfaces/${IFACE}/clients/${nonCanonical}`)).status).toBe(400);
    for (const q of idParams) {
      expect(new RegExp(q.schema.pattern ?? '^$').test(ids.client)).toBe(true);
      expect(new RegExp(q.schema.pattern ?? '.*').test('not-a-key')).toBe(false);
      expect(new RegExp(q.schema.pattern ?? '.*').test(nonCanonical)).toBe(false);
    }
    // A token id is the integer the document says, not whatever Number() makes of a string.
    const tokenParam = ops.find((o) => o.path === '/api/tokens/{tokenId}')!.parameters[0];
    expect(tokenParam.schema).toMatchObject({ type: 'integer', minimum: 1 });
    for (const bad of ['0x1', '1e0', '%201']) expect((await admin.del(`/api/tokens/${bad}`)).status, bad).toBe(400);
    // A token's name needs more than whitespace, and the document says so in a pattern both sides read alike.
    const name = (doc.paths['/api/tokens'].post.requestBody.content['application/json'].schema.properties.name) as { pattern: string };
    for (const blank of ['\f', ' \u00a0\ufeff ']) {
      expect(new RegExp(name.pattern, 'u').test(blank)).toBe(false);
      expect((await admin.post('/api/tokens', { name: blank, scope: 'read' })).json.error.field).toBe('name');
    }
    expect(new RegExp(name.pattern, 'u').test(' grafana ')).toBe(true);
  });

  it('puts no private key in any answer but the .conf', async () => {
    let admin: Client;
    ({ h, admin } = await startLoggedIn());
    const created = await admin.post(`/api/interfaces/${IFACE}/clients`, { name: 'laptop' });
    const conf = await admin.get(`/api/interfaces/${IFACE}/clients/${created.json.id}/config`);
    const privateKey = /PrivateKey = (\S+)/.exec(conf.text)![1];
    const serverKey = /PrivateKey = (\S+)/.exec(readFileSync(h.confPath, 'utf8'))![1];
    for (const url of ['/api/interfaces', `/api/interfaces/${IFACE}`, `/api/interfaces/${IFACE}/clients`, `/api/interfaces/${IFACE}/clients/${created.json.id}`, '/metrics', '/api/openapi.json']) {
      const r = await admin.get(url);
      expect(r.text, url).not.toContain(privateKey);
      expect(r.text, url).not.toContain(serverKey);
    }
  });
});

describe('wiretun serve: TLS', () => {
  const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
  if (!haveOpenssl) console.warn('SKIPPED: the TLS test needs openssl to make a certificate');

  it.skipIf(!haveOpenssl)('serves HTTPS and marks the session cookie Secure', async () => {
    h = await start();
    const key = path.join(h.dir, 'key.pem');
    const cert = path.join(h.dir, 'cert.pem');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert]);
    expect(made.status, made.stderr.toString()).toBe(0);
    const tls = await listen(h.app, { host: '127.0.0.1', port: 0, tls: { cert: readFileSync(cert), key: readFileSync(key) } });
    try {
      expect(tls.url).toMatch(/^https:/);
      const body = JSON.stringify({ password: PASSWORD, setupCode: h.app.setupCode });
      const res = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
        const req = https.request(`${tls.url}/api/setup`, { method: 'POST', ca: readFileSync(cert), headers: { 'content-type': 'application/json' } }, (r) => {
          r.resume();
          resolve({ status: r.statusCode ?? 0, cookie: String(r.headers['set-cookie'] ?? '') });
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(res.status).toBe(200);
      expect(res.cookie).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await tls.close();
    }
  });
});
