// The console in cluster mode against a real PostgreSQL (Debian's, started by test/lib/postgres.ts): two
// consoles on one database share the admin account and sessions; locations and clients are rows whose every
// change bumps the location's revision and rings its doorbell; two consoles editing one client cannot lose an
// update (If-Match, 409); a database restart is a 503 meanwhile and nothing more; counters reported by several gateways are summed, once, however many consoles sample;
// /metrics and /api/gateways show the gateways; --import moves a file-based interface with its history in.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey, publicKeyFromPrivate } from '../../ts/keys';
import { App } from '../../ts/serve/app';
import { importInterface } from '../../ts/serve/cluster/import';
import { Doorbell, pgOptions, PgDatabase } from '../../ts/serve/pg/connect';
import { channelOf } from '../../ts/serve/pg/schema';
import { Store } from '../../ts/serve/store';
import { listen, RunningServer } from '../../ts/serve/server';
import { waitFor } from '../netns/lib/wait';
import { PgServer, postgresSkipReason, startPostgres } from '../lib/postgres';
import { Client, Clock, PASSWORD } from '../unit/serve-helpers';

const skip = postgresSkipReason('test/cluster/console.test.ts');

let pg: PgServer;
let url: string;
let work: string;
const clock = new Clock(Date.now());
const logs: string[] = [];
const consoles: { app: App; server: RunningServer }[] = [];

async function openConsole(): Promise<{ app: App; server: RunningServer; client: Client }> {
  const app = await App.open({ stateDir: path.join(work, 'unused'), store: url, now: clock.now, sampleSeconds: 0, log: (l) => logs.push(l) });
  const server = await listen(app, { host: '127.0.0.1', port: 0 });
  consoles.push({ app, server });
  return { app, server, client: new Client(server.url) };
}

beforeAll(async () => {
  if (skip) return;
  work = mkdtempSync(path.join(tmpdir(), 'wiretun-cluster-'));
  pg = await startPostgres();
  await pg.psql("CREATE ROLE console LOGIN PASSWORD 'console-pw' CREATEROLE;\nCREATE DATABASE wiretun OWNER console;");
  url = pg.url('console', 'console-pw', 'wiretun');
});

afterAll(async () => {
  for (const c of consoles) {
    await c.server.close().catch(() => {});
    await c.app.close().catch(() => {});
  }
  await pg?.destroy();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skip)('wiretun serve --store postgres://', () => {
  let a: Awaited<ReturnType<typeof openConsole>>;
  let b: Awaited<ReturnType<typeof openConsole>>;
  let clientId = '';

  it('two consoles share one account: set up on one, log in on the other', async () => {
    [a, b] = await Promise.all([openConsole(), openConsole()]);
    expect(a.app.setupCode).toBeDefined();
    expect((await a.client.post('/api/setup', { setupCode: a.app.setupCode, password: PASSWORD })).status).toBe(200);
    expect((await b.client.login()).status).toBe(200);
    const session = (await a.client.get('/api/session')).json;
    a.client.csrf = session.csrfToken;
    expect(session.cluster).toBe(true); // the page offers locations and gateways
    // A session made on one console is valid on the other: it lives in the database.
    const other = new Client(b.server.url);
    other.cookie = a.client.cookie;
    expect((await other.get('/api/session')).status).toBe(200);
  });

  it('creates a location and clients; each change bumps the revision and rings the doorbell once committed', async () => {
    const rung: string[] = [];
    const bell = new Doorbell(pgOptions(url), channelOf('eu1'), (p) => rung.push(p), () => {});
    bell.start();
    await waitFor('LISTEN', () => bell.connected, { timeoutMs: 5000 });
    const loc = await a.client.post('/api/interfaces', { name: 'eu1', listenPort: 51820, addresses: ['10.60.0.1/24'], endpoint: '192.0.2.10' });
    expect(loc.status, loc.text + logs.join('\n')).toBe(201);
    expect(loc.json).toMatchObject({ name: 'eu1', file: null, up: false, listenPort: 51820, gateways: { total: 0, healthy: 0 } });
    expect(loc.text).not.toContain('PrivateKey');
    const made = await Promise.all(['laptop', 'phone', 'tablet'].map((name, i) => (i % 2 ? a : b).client.post('/api/interfaces/eu1/clients', { name })));
    expect(made.map((r) => r.status)).toEqual([201, 201, 201]);
    // Two consoles at once still hand out distinct addresses: the location row is the lock.
    expect(new Set(made.map((r) => r.json.addresses[0])).size).toBe(3);
    clientId = made[0].json.id;
    await waitFor('four doorbell rings', () => rung.length >= 4, { timeoutMs: 5000 });
    const revision = Number((await pg.psql("SELECT revision FROM locations WHERE name = 'eu1'", 'wiretun')));
    expect(Number(rung.at(-1))).toBe(revision);
    await bell.stop();
    // The name is taken, and a bad body changes nothing.
    expect((await a.client.post('/api/interfaces/eu1/clients', { name: 'laptop' })).json.error.field).toBe('name');
    expect((await a.client.post('/api/interfaces', { name: 'eu1', addresses: ['10.61.0.1/24'] })).status).toBe(409);
    const plain = await a.client.post('/api/interfaces', { name: 'eu2', addresses: ['10.63.0.1/24'] });
    expect(plain.status, plain.text).toBe(201);
    expect(plain.json.listenPort).toBe(51820);
    expect((await a.client.request('DELETE', '/api/interfaces/eu2')).status).toBe(204);
    expect((await a.client.post('/api/interfaces', { name: 'x', addresses: ['10.62.0.1'] })).json.error.field).toBe('addresses[0]');
    expect(await pg.psql("SELECT count(*) FROM locations WHERE name = 'x'", 'wiretun')).toBe('0');
  });

  it('two consoles editing one client: the second with a stale ETag gets a 409 and nothing is lost', async () => {
    const base = `/api/interfaces/eu1/clients/${clientId}`;
    const readA = await a.client.get(base);
    const readB = await b.client.get(base);
    const tag = readA.headers.get('etag')!;
    expect(tag).toBe(readB.headers.get('etag'));
    const first = await a.client.request('PATCH', base, { name: 'laptop-anna' }, { 'if-match': tag });
    expect(first.status).toBe(200);
    const second = await b.client.request('PATCH', base, { expiresAt: '2099-01-01' }, { 'if-match': tag });
    expect(second.status).toBe(409);
    expect(second.json.error.code).toBe('conflict');
    const now = await b.client.get(base);
    expect(now.json.name).toBe('laptop-anna');
    expect(now.json.expiresAt).toBeNull();
    expect((await b.client.request('DELETE', base, undefined, { 'if-match': tag })).status).toBe(409);
  });

  it('sums the counters of every gateway, once however many consoles sample, and shows the gateways', async () => {
    const key = Buffer.from(clientId, 'base64url').toString('base64');
    const t = clock.now();
    const db = PgDatabase.connect(url);
    for (const [gw, rx, tx, hs] of [['gw-a', 1000, 50, t - 5000], ['gw-b', 300, 20, t - 1000]] as const) {
      await db.run('INSERT INTO gateways (name, location, version, started_at, last_seen, revision, peers) VALUES (?, ?, ?, ?, ?, (SELECT revision FROM locations WHERE name = ?), 3)', gw, 'eu1', '0.1.0', t, t, 'eu1');
      await db.run('INSERT INTO gateway_peers (gateway, location, public_key, rx, tx, last_handshake, endpoint, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', gw, 'eu1', key, rx, tx, hs, `198.51.100.${rx % 7}:4000`, t);
    }
    await Promise.all([a.app.tick(), b.app.tick()]);
    const view = (await a.client.get(`/api/interfaces/eu1/clients/${clientId}`)).json;
    expect(view.status).toMatchObject({ state: 'connected', rxBytes: 1300, txBytes: 70 });
    expect(view.gateway).toBe('gw-b');
    // Ten seconds later both gateways report more; both consoles sample again: history counts it once.
    clock.advance(10_000);
    await db.run('UPDATE gateway_peers SET rx = rx + 500, updated_at = ?', clock.now());
    await db.run('UPDATE gateways SET last_seen = ?', clock.now());
    await Promise.all([a.app.tick(), b.app.tick()]);
    const hist = (await b.client.get(`/api/interfaces/eu1/clients/${clientId}/history`)).json;
    expect(hist.points.reduce((s: number, p: { rx: number }) => s + p.rx, 0)).toBe(1000);
    expect((await a.client.get(`/api/interfaces/eu1/clients/${clientId}`)).json.status.rxRate).toBe(100);
    const gateways = (await a.client.get('/api/gateways')).json;
    expect(gateways.map((g: { name: string }) => g.name)).toEqual(['gw-a', 'gw-b']);
    expect(gateways[0]).toMatchObject({ location: 'eu1', healthy: true, revisionLag: 0, peers: 3 });
    await b.client.post('/api/interfaces/eu1/clients', { name: 'late' });
    expect((await a.client.get('/api/gateways')).json[0].revisionLag).toBe(1);
    expect((await a.client.get('/api/interfaces/eu1')).json).toMatchObject({ up: true, gateways: { total: 2, healthy: 2 } });
    const metrics = (await a.client.get('/metrics')).text;
    expect(metrics).toContain(`wireguard_received_bytes_total{interface="eu1",public_key="${key}",allowed_ips="${view.addresses.join(',')}",friendly_name="laptop-anna",gateway="gw-a"} 1500`);
    expect(metrics).toContain('wiretun_gateway_revision_lag{gateway="gw-b",interface="eu1"} 1');
    await db.close();
  });

  it('folds old history rows into coarser ones in PostgreSQL too, and the periodic task logs no failure', async () => {
    const key = Buffer.from(clientId, 'base64url').toString('base64');
    const old = Math.floor(clock.now() / 1000 / 3600) * 3600 - 2 * 3600;
    const db = PgDatabase.connect(url);
    await db.run('INSERT INTO samples (interface, public_key, step, t, rx, tx) VALUES (?, ?, 10, ?, 5, 1), (?, ?, 10, ?, 7, 1)', 'eu1', key, old, 'eu1', key, old + 10);
    await a.app.tick();
    expect(await db.all('SELECT step, rx FROM samples WHERE t = ?', old)).toEqual([{ step: 300, rx: 12 }]);
    await db.close();
    expect(logs.filter((l) => /periodic task failed/.test(l))).toEqual([]);
  });

  it('refuses text PostgreSQL cannot store (a NUL) with a 400, and the document says so for token names', async () => {
    const token = await a.client.post('/api/tokens', { name: 'ci\u0000bot', scope: 'read' });
    expect(token.status, token.text).toBe(400);
    expect(token.json.error.field).toBe('name');
    const endpoint = await a.client.patch('/api/interfaces/eu1', { endpoint: 'vpn\u0000.example' });
    expect(endpoint.status, endpoint.text).toBe(400);
    expect((await a.client.get('/api/interfaces/eu1')).json.endpoint).toBe('192.0.2.10');
  });

  it('names the table, row and column of a bad database row in the log, and answers 500 without details', async () => {
    await pg.psql("INSERT INTO clients (location, public_key, name, addresses, created_at, revision) VALUES ('eu1', 'not-a-key', 'broken', '10.60.0.99/32', 0, 0)", 'wiretun');
    const r = await a.client.get('/api/interfaces/eu1/clients');
    expect(r.status).toBe(500);
    expect(r.text).not.toContain('not-a-key');
    expect(logs.join('\n')).toContain('clients eu1/broken, column public_key: not a base64 WireGuard key');
    await pg.psql("DELETE FROM clients WHERE name = 'broken'", 'wiretun');
  });

  it('answers 503 while PostgreSQL is down, changes nothing, and serves again once it is back', async () => {
    const before = (await a.client.get('/api/interfaces/eu1/clients')).json.length;
    await pg.stop();
    try {
      const down = await a.client.get('/api/interfaces/eu1/clients');
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('2');
      expect((await b.client.post('/api/interfaces/eu1/clients', { name: 'during-outage' })).status).toBe(503);
    } finally {
      await pg.start();
    }
    await waitFor('the console to reconnect', async () => (await a.client.get('/api/interfaces/eu1/clients')).status === 200, { timeoutMs: 10_000 });
    const after = (await b.client.get('/api/interfaces/eu1/clients')).json;
    expect(after.length).toBe(before);
    expect(after.some((c: { name: string }) => c.name === 'during-outage')).toBe(false);
  });

  it('speaks TLS to PostgreSQL as sslmode says: verify-full checks the certificate, and the password never shows', async () => {
    const tcp = `postgres://console:console-pw@localhost:${pg.port}/wiretun`;
    const trusted = await App.open({ stateDir: work, store: `${tcp}?sslmode=verify-full&sslrootcert=${encodeURIComponent(pg.certFile)}`, sampleSeconds: 0, log: () => {} });
    try {
      const row = await trusted.store.db.get<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(row?.ssl).toBe(true);
    } finally {
      await trusted.close();
    }
    const err = await App.open({ stateDir: work, store: `${tcp}?sslmode=verify-full`, sampleSeconds: 0, log: () => {} }).then(
      async (app) => {
        await app.close();
        return undefined;
      },
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/self[- ]signed|certificate/i);
    expect(err?.message).not.toContain('console-pw');
    await expect(App.open({ stateDir: work, store: `${tcp}?sslmode=verify-ca`, sampleSeconds: 0 })).rejects.toThrow(/sslmode=verify-ca is not supported/);
    await expect(App.open({ stateDir: work, store: `${tcp}?sslcert=x`, sampleSeconds: 0 })).rejects.toThrow(/unknown parameter sslcert/);
  });

  it('--import moves a file-based interface, its clients and its history into the database, all or nothing', async () => {
    const dir = path.join(work, 'import');
    mkdirSync(dir);
    const server = generatePrivateKey();
    const named = publicKeyFromPrivate(generatePrivateKey());
    const off = publicKeyFromPrivate(generatePrivateKey());
    const conf = path.join(dir, 'wt-imp.conf');
    writeFileSync(
      conf,
      [
        '[Interface]',
        `PrivateKey = ${server}`,
        'ListenPort = 51900',
        'Address = 10.70.0.1/24',
        '# PublicEndpoint = vpn.example.test',
        '',
        '[Peer]',
        '# Name = desk',
        `PublicKey = ${named}`,
        'AllowedIPs = 10.70.0.2/32',
        '',
        '#~[Peer]',
        '#~# Name = old',
        `#~PublicKey = ${off}`,
        '#~AllowedIPs = 10.70.0.3/32',
        '',
      ].join('\n'),
    );
    // The console's SQLite file beside it: the private key of a client it made, and its history.
    const state = path.join(dir, 'state');
    mkdirSync(state);
    const local = await Store.open(path.join(state, 'serve.db'));
    const deskKey = generatePrivateKey();
    writeFileSync(conf, readFileSync(conf, 'utf8').replace(`PublicKey = ${named}`, `PublicKey = ${publicKeyFromPrivate(deskKey)}`));
    const desk = publicKeyFromPrivate(deskKey);
    await local.putClient({ interface: 'wt-imp', publicKey: desk, privateKey: deskKey, clientAllowedIps: ['0.0.0.0/0'], expiresAt: null, createdAt: 1 });
    const t = Math.floor(clock.now() / 1000 / 10) * 10 - 60;
    await local.db.run('INSERT INTO samples (interface, public_key, step, t, rx, tx) VALUES (?, ?, 10, ?, 4096, 512)', 'wt-imp', desk, t);
    await local.close();
    const message = await importInterface(a.app, conf, state);
    expect(message).toContain('2 client(s), 1 with their private key, 1 history row(s)');
    const deskId = Buffer.from(desk, 'base64').toString('base64url');
    const deskView = (await a.client.get(`/api/interfaces/wt-imp/clients/${deskId}`)).json;
    expect(deskView).toMatchObject({ hasConfig: true, allowedIps: ['0.0.0.0/0'] });
    const hist = (await a.client.get(`/api/interfaces/wt-imp/clients/${deskId}/history`)).json;
    expect(hist.points.reduce((n: number, p: { rx: number }) => n + p.rx, 0)).toBe(4096);
    const conf2 = await a.client.get(`/api/interfaces/wt-imp/clients/${deskId}/config`);
    expect(conf2.text).toContain(`PrivateKey = ${deskKey}`);
    const list = (await a.client.get('/api/interfaces/wt-imp/clients')).json;
    expect(list.map((c: { name: string; enabled: boolean }) => [c.name, c.enabled])).toEqual([
      ['desk', true],
      ['old', false],
    ]);
    expect((await a.client.get('/api/interfaces/wt-imp')).json.publicKey).toBe(publicKeyFromPrivate(server));
    await expect(importInterface(a.app, conf, dir)).rejects.toThrow(/already has a location named wt-imp; nothing was imported/);
  });
});
