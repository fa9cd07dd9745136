// `wiretun gateway` for real: PostgreSQL from Debian (its Unix socket shared by path with every namespace), the
// console (`wiretun serve --store`, driven through its HTTP API), three gateways of one location in three
// namespaces on one L2 segment, each with its own database role made by `wiretun gateway grant`, and clients
// brought up with `wiretun up` from the wg-quick files the console hands out. Covered: a new client is on every
// gateway within 2 s and handshakes with each; disabled or deleted it is gone within 2 s; untouched peers keep
// their sessions; the console's totals are the sum of the gateways' dumps; the location's address moving from a
// killed gateway to another (as keepalived would) brings the client's ping back within 10 s with nothing done
// on the client; PostgreSQL restarted while clients are created and a client pings; a gateway down while
// clients changed catches up and takes its still-running interface back with its sessions; and what a
// gateway's role can and cannot do.
import { mkdirSync, readFileSync } from 'node:fs';
import { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveDevice } from '../../ts/peers/live';
import { PgDatabase } from '../../ts/serve/pg/connect';
import { PgServer, postgresSkipReason, startPostgres } from '../lib/postgres';
import { Client, PASSWORD } from '../unit/serve-helpers';
import { Lab, underlay4 } from './lib/lab';
import { BIN, clientUp, dump, gatewayLog, GatewayProc, killGateway, peerKeys, ping, removeStateFiles, startConsole, startGateway, stopGateway, waitPing } from './lib/gateways';
import { must } from './lib/proc';
import { everHolds, waitFor } from './lib/wait';

const skip = postgresSkipReason('test/netns/gateway.test.ts');

const LOC = 'gwloc';
const OTHER = 'gwother';
const PORT = 51820;
const SERVER_IP = '10.77.0.1';
const FLOAT = '10.210.0.100';
let pg: PgServer;
let lab: Lab;
let consoleUrl: string;
let consoleProc: ChildProcess | undefined;
let api: Client;
const gws: GatewayProc[] = [];
const roleUrls: string[] = [];

interface NewClient {
  id: string;
  publicKey: string;
  config: string;
}

/** A client made by the console, with the wg-quick file it hands out. */
async function createClient(name: string): Promise<NewClient> {
  const r = await api.post(`/api/interfaces/${LOC}/clients`, { name });
  expect(r.status, r.text).toBe(201);
  const config = await api.get(`/api/interfaces/${LOC}/clients/${r.json.id}/config`);
  expect(config.status).toBe(200);
  return { id: r.json.id, publicKey: r.json.publicKey, config: config.text };
}

/** The same file pointed at another address, as a user editing Endpoint would. */
const pointedAt = (config: string, endpoint: string) => config.replace(/^Endpoint = .*$/m, `Endpoint = ${endpoint}`);

async function enabledKeys(): Promise<string> {
  const r = await api.get(`/api/interfaces/${LOC}/clients`);
  expect(r.status, r.text).toBe(200);
  return (r.json as { publicKey: string; enabled: boolean }[]).filter((c) => c.enabled).map((c) => c.publicKey).sort().join();
}

/** The running device's peers, read over the UAPI socket (its path is shared by every namespace). */
async function devicePeers(g: GatewayProc): Promise<string> {
  const d = await liveDevice(g.iface);
  return (d?.peers ?? []).map((p) => p.publicKey.toString('base64')).sort().join();
}

/**
 * Waits until every gateway runs exactly the enabled clients (and, with `reported`, the console shows each at
 * revision lag 0, from its health row); returns how long that took.
 */
async function converged(timeoutMs: number, only = gws, reported = false): Promise<number> {
  const ms = await waitFor('every gateway to run what the console says', async () => {
    const want = await enabledKeys();
    for (const g of only) if ((await devicePeers(g)) !== want) return false;
    if (!reported) return true;
    const health = (await api.get('/api/gateways')).json as { name: string; revisionLag: number | null }[];
    return only.every((g) => health.find((h) => h.name === g.name)?.revisionLag === 0);
  }, { timeoutMs, intervalMs: 20 });
  // What the user sees agrees: `wiretun show dump` on each gateway.
  const want = await enabledKeys();
  for (const g of only) expect((await peerKeys(g.node.ns, g.iface)).join()).toBe(want);
  return ms;
}

async function handshakeOn(g: GatewayProc, key: string): Promise<number> {
  return (await dump(g.node.ns, g.iface))?.peers.find((p) => p.publicKey === key)?.latestHandshake ?? 0;
}

const startGw = (i: number) => startGateway(gws[i], roleUrls[i], LOC, ['--health-interval', '1']);

describe.skipIf(!!skip)('wiretun gateway: three gateways of one location, following the console on PostgreSQL', () => {
  const steady: NewClient[] = [];
  let first: NewClient;

  beforeAll(async () => {
    pg = await startPostgres();
    await pg.psql("CREATE ROLE console LOGIN PASSWORD 'console-pw' CREATEROLE;\nCREATE DATABASE wiretun OWNER console;");
    const store = pg.url('console', 'console-pw', 'wiretun');
    lab = await Lab.create(7);
    mkdirSync(`${lab.tmp}/state`, { mode: 0o700 });
    await must(BIN, ['serve', '--set-password', '--store', store], { input: `${PASSWORD}\n` });
    const c = await startConsole(store, `${lab.tmp}/state`, `${lab.tmp}/console.log`);
    [consoleProc, consoleUrl] = [c.child, c.url];
    api = new Client(consoleUrl);
    expect((await api.login()).status).toBe(200);
    const loc = await api.post('/api/interfaces', { name: LOC, listenPort: PORT, addresses: [`${SERVER_IP}/24`], endpoint: FLOAT });
    expect(loc.status, loc.text).toBe(201);
    const other = await api.post('/api/interfaces', { name: OTHER, listenPort: PORT, addresses: ['10.78.0.1/24'], endpoint: '192.0.2.9' });
    expect(other.status, other.text).toBe(201);
    for (let i = 0; i < 3; i++) {
      roleUrls.push((await must(BIN, ['gateway', 'grant', '--store', store, '--location', LOC, '--role', `gw_${i}`])).trim());
      gws.push({ name: `gw${i}`, node: lab.nodes[i], iface: lab.ifname(), log: `${lab.tmp}/gw${i}.log` });
      startGw(i);
    }
    await converged(30_000, gws, true);
  }, 90_000);

  afterAll(async () => {
    for (const g of gws) await stopGateway(g).catch(() => undefined);
    if (consoleProc && consoleProc.exitCode !== null) console.error(`the console died:\n${readFileSync(`${lab.tmp}/console.log`, 'utf8')}`);
    consoleProc?.kill('SIGTERM');
    await lab?.destroy();
    removeStateFiles(lab?.ifnames ?? []);
    await pg?.destroy();
  }, 60_000);

  it('a new client is on every gateway within 2 s and handshakes with each of them', async () => {
    const t0 = Date.now();
    first = await createClient('first');
    await converged(2_000);
    const ms = Date.now() - t0;
    console.log(`client created (POST, then its config fetched) -> on all 3 gateways within ${ms} ms`);
    expect(ms).toBeLessThan(2_000);
    // Its wg-quick file, pointed at each gateway's own address in turn.
    const node = lab.nodes[3];
    for (let i = 0; i < 3; i++) {
      const c = await clientUp(lab, node, pointedAt(first.config, `${underlay4(i + 1)}:${PORT}`));
      expect(await waitPing(node.ns, SERVER_IP, 5_000)).toBeLessThan(5_000);
      expect(await handshakeOn(gws[i], first.publicKey)).toBeGreaterThanOrEqual(Math.floor(t0 / 1000));
      await must(BIN, ['down', c.iface], { ns: node.ns });
    }
  });

  it('adding a client, or a full reconcile, leaves the sessions of the others alone', async () => {
    // One client per gateway, each on its own, staying up for the tests below.
    for (let i = 0; i < 3; i++) {
      steady.push(await createClient(`steady${i}`));
      await converged(2_000);
      await clientUp(lab, lab.nodes[3 + i], pointedAt(steady[i].config, `${underlay4(i + 1)}:${PORT}`));
      await waitPing(lab.nodes[3 + i].ns, SERVER_IP, 5_000);
    }
    const handshakes = () => Promise.all(gws.map((g, i) => handshakeOn(g, steady[i].publicKey)));
    await waitFor('the handshakes to be a second old', async () => Math.max(...(await handshakes())) <= Date.now() / 1000 - 2);
    const before = await handshakes();
    await createClient('another');
    await converged(2_000);
    // What a change of the key, port or addresses does, without changing them: gateways reconcile fully.
    await pg.psql(
      `WITH r AS (UPDATE locations SET revision = revision + 1, config_revision = revision + 1 WHERE name = '${LOC}' RETURNING revision)
       SELECT pg_notify('wiretun:${LOC}', revision::text) FROM r`,
      'wiretun',
    );
    await converged(5_000, gws, true);
    for (let i = 0; i < 3; i++) expect(await ping(lab.nodes[3 + i].ns, SERVER_IP)).toBe(true);
    expect(await handshakes()).toEqual(before);
  });

  it('a disabled or deleted client is gone from every gateway within 2 s', async () => {
    const [d, r] = [await createClient('disabled'), await createClient('deleted')];
    await converged(2_000);
    expect((await api.patch(`/api/interfaces/${LOC}/clients/${d.id}`, { enabled: false })).status).toBe(200);
    console.log(`disabled -> gone from all 3 in ${await converged(2_000)} ms`);
    expect((await api.del(`/api/interfaces/${LOC}/clients/${r.id}`)).status).toBe(204);
    console.log(`deleted -> gone from all 3 in ${await converged(2_000)} ms`);
    for (const g of gws) expect(await peerKeys(g.node.ns, g.iface)).not.toContain(d.publicKey);
  });

  it("the console's totals for a client are the sum of the gateways' `wiretun show dump` transfer", async () => {
    let last = '';
    await waitFor('the console to match the dumps', async () => {
      const dumps = await Promise.all(gws.map((g) => dump(g.node.ns, g.iface)));
      const peers = dumps.map((d) => d!.peers.find((p) => p.publicKey === first.publicKey)!);
      const sum = { rx: peers.reduce((s, p) => s + p.rx, 0), tx: peers.reduce((s, p) => s + p.tx, 0) };
      const status = (await api.get(`/api/interfaces/${LOC}/clients/${first.id}`)).json.status;
      last = `dumps ${JSON.stringify(sum)}, console ${JSON.stringify(status)}`;
      return status.rxBytes === sum.rx && status.txBytes === sum.tx && peers.every((p) => p.rx > 0);
    }, { timeoutMs: 15_000, intervalMs: 200 }).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
  });

  it('PostgreSQL restarted while clients are created and a client pings: nothing lost, the tunnel never stops', async () => {
    const pinger = lab.nodes[4]; // steady1 through gw1
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        const r = await api.post(`/api/interfaces/${LOC}/clients`, { name: `load${written}` }).catch(() => undefined);
        // A commit cut off by the shutdown answers 503 yet happened: the retry then finds the name taken.
        if (r?.status === 201 || (r?.status === 400 && r.json.error.field === 'name')) written++;
        else await new Promise((res) => setTimeout(res, 100)); // 503 while the database is away
      }
    })();
    try {
      await waitFor('a few clients created', () => written >= 3);
      await pg.stop();
      try {
        // The database is away, and every gateway noticed: the interfaces keep what they run.
        await waitFor('every gateway to notice', () => gws.every((g) => /cannot write the health report/.test(gatewayLog(g))), { timeoutMs: 5_000 });
        expect(await everHolds(() => ping(pinger.ns, SERVER_IP), 3_000)).toBe(true);
        for (const g of gws) expect(await peerKeys(g.node.ns, g.iface)).toContain(steady[1].publicKey);
      } finally {
        await pg.start();
      }
      const after = written;
      await waitFor('clients created after the restart', () => written >= after + 3, { timeoutMs: 15_000 });
    } finally {
      writing = false;
      await writer;
    }
    console.log(`PostgreSQL back -> converged in ${await converged(10_000, gws, true)} ms (${written} clients created)`);
    expect(await ping(pinger.ns, SERVER_IP)).toBe(true);
    for (const g of gws) expect(gatewayLog(g)).toContain('health reports are written again');
    // No process went down with the database (postgres.js can throw from a timer then: ts/serve/pg/guard.ts).
    for (const g of gws) expect(g.child?.exitCode, gatewayLog(g)).toBeNull();
    expect(consoleProc?.exitCode).toBeNull();
  });

  it('a gateway down while clients changed catches up on start, keeping the sessions of its running interface', async () => {
    const g = gws[2];
    const hs = await handshakeOn(g, steady[2].publicKey);
    expect(hs).toBeGreaterThan(0);
    await killGateway(g, false); // the daemon and its sessions stay
    const n = await createClient('while-down');
    const d = await createClient('gone-while-down');
    expect((await api.del(`/api/interfaces/${LOC}/clients/${d.id}`)).status).toBe(204);
    const load = ((await api.get(`/api/interfaces/${LOC}/clients`)).json as { id: string; name: string }[]).find((c) => c.name.startsWith('load'))!;
    expect((await api.patch(`/api/interfaces/${LOC}/clients/${load.id}`, { enabled: false })).status).toBe(200);
    await converged(2_000, gws.slice(0, 2));
    expect(await devicePeers(g)).not.toContain(n.publicKey);
    startGw(2);
    console.log(`restarted gateway caught up in ${await converged(10_000, gws, true)} ms`);
    expect(gatewayLog(g)).toContain('taking it over as it is');
    expect(await ping(lab.nodes[5].ns, SERVER_IP)).toBe(true);
    expect(await handshakeOn(g, steady[2].publicKey)).toBe(hs);
  });

  it('the location address moving from a killed gateway to another: the ping resumes within 10 s, nothing done on the client', async () => {
    const c = await createClient('roamer');
    await converged(2_000);
    const [a, b] = [gws[0], gws[1]];
    await must('ip', ['-n', a.node.ns, 'address', 'add', `${FLOAT}/24`, 'dev', a.node.dev]);
    const client = lab.nodes[6];
    expect(c.config).toContain(`Endpoint = ${FLOAT}:${PORT}`);
    await clientUp(lab, client, c.config);
    await waitPing(client.ns, SERVER_IP, 5_000);
    await waitFor('the console to show the client on gw0', async () => (await api.get(`/api/interfaces/${LOC}/clients/${c.id}`)).json.gateway === a.name);
    // The host of gw0 dies; keepalived moves the address to gw1's host.
    await killGateway(a, true);
    await must('ip', ['-n', a.node.ns, 'address', 'del', `${FLOAT}/24`, 'dev', a.node.dev]);
    const moved = Date.now();
    await must('ip', ['-n', b.node.ns, 'address', 'add', `${FLOAT}/24`, 'dev', b.node.dev]);
    const ms = await waitPing(client.ns, SERVER_IP, 10_000);
    console.log(`address moved -> ping through gw1 after ${ms} ms`);
    expect(ms).toBeLessThan(10_000);
    expect(await handshakeOn(b, c.publicKey)).toBeGreaterThanOrEqual(Math.floor(moved / 1000));
    expect(gatewayLog(b)).toMatch(/initiated handshakes to [1-9][0-9]* client\(s\)/);
    await waitFor('the console to show the client on gw1', async () => (await api.get(`/api/interfaces/${LOC}/clients/${c.id}`)).json.gateway === b.name);
    // gw0's host comes back: its gateway cleans up after the dead daemon and serves again.
    startGw(0);
    await converged(15_000, gws, true);
  });

  it("a gateway's role cannot change clients, read their private keys, or see another location", async () => {
    const owner = PgDatabase.connect(pg.url('console', 'console-pw', 'wiretun'), 'test', 1);
    await owner.run("INSERT INTO gateways (name, location, role) VALUES ('elsewhere', ?, 'console')", OTHER);
    await owner.run("INSERT INTO gateway_peers (gateway, location, public_key, rx, tx, updated_at) VALUES ('elsewhere', ?, 'k', 1, 1, 1)", OTHER);
    await owner.close();
    const db = PgDatabase.connect(roleUrls[0], 'test', 1);
    const denied = async (sql: string) => {
      const err = await db.run(sql).then(() => undefined, (e: Error) => e);
      expect(err?.message, sql).toMatch(/permission denied|row-level security/);
    };
    try {
      await denied('UPDATE clients SET enabled = false');
      await denied(`INSERT INTO clients (location, public_key, name, addresses, created_at, revision) VALUES ('${LOC}', 'x', 'x', '10.77.0.250/32', 0, 0)`);
      await denied('DELETE FROM clients');
      await denied('SELECT private_key FROM clients');
      await denied('SELECT dns FROM locations');
      await denied('UPDATE locations SET listen_port = 1');
      await denied('SELECT * FROM sessions');
      await denied(`INSERT INTO gateways (name, location) VALUES ('intruder', '${OTHER}')`);
      expect(await db.all('SELECT name FROM locations')).toEqual([{ name: LOC }]);
      expect(await db.all('SELECT 1 FROM clients WHERE location <> ?', LOC)).toEqual([]);
      expect(await db.all("SELECT 1 FROM gateway_peers WHERE gateway = 'elsewhere'")).toEqual([]);
      // It reads where its location's clients were seen (the takeover needs it), but writes its own rows only.
      expect((await db.all('SELECT 1 FROM gateway_peers WHERE gateway = ?', gws[1].name)).length).toBeGreaterThan(0);
      expect((await db.run('UPDATE gateway_peers SET rx = 0 WHERE gateway <> ?', gws[0].name)).changes).toBe(0);
      expect((await db.run('UPDATE gateways SET error = ? WHERE name <> ?', 'x', gws[0].name)).changes).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('no log holds the location private key or a database password', async () => {
    const key = await pg.psql(`SELECT private_key FROM locations WHERE name = '${LOC}'`, 'wiretun');
    expect(key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const logs = gws.map(gatewayLog).join('\n');
    expect(logs).not.toContain(key);
    for (const url of roleUrls) expect(logs).not.toContain(decodeURIComponent(new URL(url).password));
    expect(logs).not.toContain('console-pw');
  });
});
