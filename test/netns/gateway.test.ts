// `wiretun gateway` for real: a PostgreSQL from Debian (its Unix socket shared by path with every namespace),
// three gateways of one location in three namespaces on one L2 segment, each with its own database role made
// by `wiretun gateway grant`, and clients brought up with `wiretun up` from wg-quick files in other
// namespaces. Rows are written as the console writes them (test/lib/cluster-rows.ts). Covered: a new client
// is on every gateway within 2 s and handshakes with each; disabled or deleted it is gone within 2 s;
// untouched peers keep their sessions; the gateways' counters in gateway_peers sum to their dumps; the
// location's address moving from a killed gateway to another (as keepalived would) brings the client's ping
// back within 10 s with nothing done on the client; PostgreSQL restarted while clients change and a client
// pings; a gateway down while clients changed catches up, and takes its still-running interface back with its
// sessions; and what a gateway's role can and cannot do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey, publicKeyFromPrivate } from '../../ts/keys';
import { liveDevice } from '../../ts/peers/live';
import { PgDatabase } from '../../ts/serve/pg/connect';
import { ClusterRows } from '../lib/cluster-rows';
import { PgServer, postgresSkipReason, startPostgres } from '../lib/postgres';
import { Lab, underlay4 } from './lib/lab';
import { clientUp, dump, gatewayLog, GatewayProc, killGateway, peerKeys, ping, removeStateFiles, startGateway, stopGateway, waitPing, BIN } from './lib/gateways';
import { must } from './lib/proc';
import { everHolds, waitFor } from './lib/wait';

const skip = postgresSkipReason('test/netns/gateway.test.ts');

const LOC = 'gwloc';
const OTHER = 'gwother';
const PORT = 51820;
const SERVER_IP = '10.77.0.1';
const FLOAT = '10.210.0.100';
const locKey = generateKeyPair();
let pg: PgServer;
let lab: Lab;
let rows: ClusterRows;
const gws: GatewayProc[] = [];
const roleUrls: string[] = [];
let nextHost = 10;

function generateKeyPair() {
  if (skip) return { priv: '', pub: '' };
  const priv = generatePrivateKey();
  return { priv, pub: publicKeyFromPrivate(priv) };
}

/** A new client row's keys and tunnel address. */
function newClient(name: string) {
  const k = generateKeyPair();
  return { name, privateKey: k.priv, publicKey: k.pub, address: `10.77.0.${nextHost++}/32` };
}

const put = (c: ReturnType<typeof newClient>, enabled = true) =>
  rows.putClient(LOC, { publicKey: c.publicKey, name: c.name, addresses: c.address, enabled });

/** The running device's peers, read over the UAPI socket (its path is shared by every namespace). */
async function devicePeers(g: GatewayProc): Promise<string> {
  const d = await liveDevice(g.iface);
  return (d?.peers ?? []).map((p) => p.publicKey.toString('base64')).sort().join();
}

/**
 * Waits until every gateway runs exactly the enabled clients (and, with `reported`, has said in its health
 * row that it applied the location's current revision); returns how long that took.
 */
async function converged(timeoutMs: number, only = gws, reported = false): Promise<number> {
  const ms = await waitFor('every gateway to run the database', async () => {
    const want = (await rows.enabledKeys(LOC)).join();
    for (const g of only) if ((await devicePeers(g)) !== want) return false;
    if (!reported) return true;
    const rev = await rows.revision(LOC);
    const applied = await rows.db.all<{ revision: number }>('SELECT revision FROM gateways WHERE name = ANY(string_to_array(?, \',\'))', only.map((g) => g.name).join());
    return applied.length === only.length && applied.every((r) => r.revision === rev);
  }, { timeoutMs, intervalMs: 20 });
  // What the user sees agrees: `wiretun show dump` on each gateway.
  const want = (await rows.enabledKeys(LOC)).join();
  for (const g of only) expect((await peerKeys(g.node.ns, g.iface)).join()).toBe(want);
  return ms;
}

async function handshakeOn(g: GatewayProc, key: string): Promise<number> {
  return (await dump(g.node.ns, g.iface))?.peers.find((p) => p.publicKey === key)?.latestHandshake ?? 0;
}

/** The console's URL: the tables' owner (here the superuser, who also has CREATEROLE). */
const consoleUrl = () => pg.url('postgres', pg.superPassword);

async function grantRole(role: string): Promise<string> {
  const out = await must(BIN, ['gateway', 'grant', '--store', consoleUrl(), '--location', LOC, '--role', role]);
  return out.trim();
}

describe.skipIf(!!skip)('wiretun gateway: three gateways of one location on PostgreSQL', () => {
  const c1 = skip ? undefined! : newClient('c1');
  const steady: ReturnType<typeof newClient>[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
    rows = await ClusterRows.open(consoleUrl());
    await rows.createLocation({ name: LOC, privateKey: locKey.priv, listenPort: PORT, addresses: `${SERVER_IP}/24`, endpoint: `${FLOAT}:${PORT}` });
    await rows.createLocation({ name: OTHER, privateKey: generatePrivateKey(), listenPort: PORT, addresses: '10.78.0.1/24' });
    lab = await Lab.create(7);
    for (let i = 0; i < 3; i++) {
      roleUrls.push(await grantRole(`gw_${i}`));
      gws.push({ name: `gw${i}`, node: lab.nodes[i], iface: lab.ifname(), log: `${lab.tmp}/gw${i}.log` });
      startGateway(gws[i], roleUrls[i], LOC, ['--health-interval', '1']);
    }
    await converged(30_000, gws, true);
  }, 90_000);

  afterAll(async () => {
    for (const g of gws) await stopGateway(g).catch(() => undefined);
    await lab?.destroy();
    removeStateFiles(lab?.ifnames ?? []);
    await rows?.db.close().catch(() => undefined);
    await pg?.destroy();
  }, 60_000);

  it('a new client is on every gateway within 2 s and handshakes with each of them', async () => {
    const t0 = Date.now();
    await put(c1);
    const ms = await converged(2_000);
    console.log(`client created -> on all 3 gateways in ${ms} ms`);
    // Its wg-quick file pointed at each gateway's own address in turn.
    const node = lab.nodes[3];
    for (let i = 0; i < 3; i++) {
      const c = await clientUp(lab, node, c1, { publicKey: locKey.pub, endpoint: `${underlay4(i + 1)}:${PORT}`, allowedIps: '10.77.0.0/24' });
      expect(await waitPing(node.ns, SERVER_IP, 5_000)).toBeLessThan(5_000);
      expect(await handshakeOn(gws[i], c1.publicKey)).toBeGreaterThanOrEqual(Math.floor(t0 / 1000));
      await must(BIN, ['down', c.iface], { ns: node.ns });
    }
  });

  it('adding a client, or a full reconcile, leaves the sessions of the others alone', async () => {
    // One client per gateway, each on its own, staying up for the tests below.
    for (let i = 0; i < 3; i++) {
      const c = newClient(`steady${i}`);
      steady.push(c);
      await put(c);
      await converged(2_000);
      await clientUp(lab, lab.nodes[3 + i], c, { publicKey: locKey.pub, endpoint: `${underlay4(i + 1)}:${PORT}`, allowedIps: '10.77.0.0/24' });
      await waitPing(lab.nodes[3 + i].ns, SERVER_IP, 5_000);
    }
    const handshakes = () => Promise.all(gws.map((g, i) => handshakeOn(g, steady[i].publicKey)));
    await waitFor('the handshakes to be a second old', async () => Math.max(...(await handshakes())) <= Date.now() / 1000 - 2);
    const before = await handshakes();
    await put(newClient('c2'));
    await converged(2_000);
    await rows.touchConfig(LOC);
    await converged(5_000, gws, true); // the health rows say the full reconcile is done
    for (let i = 0; i < 3; i++) expect(await ping(lab.nodes[3 + i].ns, SERVER_IP)).toBe(true);
    expect(await handshakes()).toEqual(before);
  });

  it('a disabled or deleted client is gone from every gateway within 2 s', async () => {
    const [d, r] = [newClient('disabled'), newClient('deleted')];
    await put(d);
    await put(r);
    await converged(2_000);
    await rows.setEnabled(LOC, d.publicKey, false);
    console.log(`disabled -> gone from all 3 in ${await converged(2_000)} ms`);
    await rows.removeClient(LOC, r.publicKey);
    console.log(`deleted -> gone from all 3 in ${await converged(2_000)} ms`);
    for (const g of gws) expect(await peerKeys(g.node.ns, g.iface)).not.toContain(d.publicKey);
  });

  it("the gateways' counters in gateway_peers sum to their `wiretun show dump` transfer", async () => {
    let last = '';
    await waitFor('gateway_peers to match the dumps', async () => {
      const dumps = await Promise.all(gws.map((g) => dump(g.node.ns, g.iface)));
      const peers = dumps.map((d) => d!.peers.find((p) => p.publicKey === c1.publicKey)!);
      const fromDumps = { rx: peers.reduce((s, p) => s + p.rx, 0), tx: peers.reduce((s, p) => s + p.tx, 0) };
      const db = await rows.db.get<{ rx: number; tx: number; n: number }>(
        'SELECT sum(rx) AS rx, sum(tx) AS tx, count(*) AS n FROM gateway_peers WHERE location = ? AND public_key = ?',
        LOC,
        c1.publicKey,
      );
      last = `dumps ${JSON.stringify(fromDumps)}, database ${JSON.stringify(db)}`;
      return db?.n === 3 && db.rx === fromDumps.rx && db.tx === fromDumps.tx && fromDumps.rx > 0;
    }, { timeoutMs: 15_000, intervalMs: 200 }).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
  });

  it('PostgreSQL restarted while clients change and a client pings: nothing lost, the tunnel never stops', async () => {
    const pinger = lab.nodes[4]; // steady1 through gw1
    // Writes go through psql, a process each; this process's own pool sits the outage out (see ts/serve/pg/guard.ts).
    await rows.db.close();
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        const c = newClient(`load${written}`);
        const sql = ClusterRows.putClientStatement(LOC, { publicKey: c.publicKey, name: c.name, addresses: c.address });
        while (!(await pg.psql(sql).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 100));
        written++;
      }
    })();
    try {
      await waitFor('a few writes', () => written >= 3);
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
      await waitFor('writes after the restart', () => written >= after + 3, { timeoutMs: 15_000 });
    } finally {
      writing = false;
      await writer;
      rows = await ClusterRows.open(consoleUrl());
    }
    console.log(`PostgreSQL back -> converged in ${await converged(10_000, gws, true)} ms (${written} clients written)`);
    expect(await ping(pinger.ns, SERVER_IP)).toBe(true);
    for (const g of gws) expect(gatewayLog(g)).toContain('health reports are written again');
  });

  it('a gateway down while clients changed catches up on start, keeping the sessions of its running interface', async () => {
    const g = gws[2];
    const hs = await handshakeOn(g, steady[2].publicKey);
    expect(hs).toBeGreaterThan(0);
    await killGateway(g, false); // the daemon and its sessions stay
    const [n, d] = [newClient('while-down'), newClient('gone-while-down')];
    await put(n);
    await put(d);
    await rows.removeClient(LOC, d.publicKey);
    const load = (await rows.enabledKeys(LOC)).find((k) => ![c1, n, ...steady].some((c) => c.publicKey === k))!;
    await rows.setEnabled(LOC, load, false);
    await converged(2_000, gws.slice(0, 2));
    startGateway(g, roleUrls[2], LOC, ['--health-interval', '1']);
    console.log(`restarted gateway caught up in ${await converged(10_000, gws, true)} ms`);
    expect(gatewayLog(g)).toContain('taking it over as it is');
    expect(await ping(lab.nodes[5].ns, SERVER_IP)).toBe(true);
    expect(await handshakeOn(g, steady[2].publicKey)).toBe(hs);
  });

  it('the location address moving from a killed gateway to another: the ping resumes within 10 s, nothing done on the client', async () => {
    const c = newClient('roamer');
    await put(c);
    await converged(2_000);
    const [a, b] = [gws[0], gws[1]];
    await must('ip', ['-n', a.node.ns, 'address', 'add', `${FLOAT}/24`, 'dev', a.node.dev]);
    const client = lab.nodes[6];
    await clientUp(lab, client, c, { publicKey: locKey.pub, endpoint: `${FLOAT}:${PORT}`, allowedIps: '10.77.0.0/24' });
    await waitPing(client.ns, SERVER_IP, 5_000);
    await waitFor('gw0 to report where the client is', async () => {
      const r = await rows.db.get<{ endpoint: string | null }>('SELECT endpoint FROM gateway_peers WHERE gateway = ? AND public_key = ?', a.name, c.publicKey);
      return r?.endpoint?.startsWith(`${client.v4}:`) ?? false;
    });
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
    // gw0's host comes back: its gateway cleans up after the dead daemon and serves again.
    startGateway(a, roleUrls[0], LOC, ['--health-interval', '1']);
    await converged(15_000, gws, true);
  });

  it("a gateway's role cannot change clients, read their private keys, or see another location", async () => {
    await rows.db.run("INSERT INTO gateways (name, location, role) VALUES ('elsewhere', ?, 'postgres')", OTHER);
    await rows.db.run("INSERT INTO gateway_peers (gateway, location, public_key, rx, tx, updated_at) VALUES ('elsewhere', ?, 'k', 1, 1, 1)", OTHER);
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

  it('no log holds the location private key or a database password', () => {
    const logs = gws.map(gatewayLog).join('\n');
    expect(logs).not.toContain(locKey.priv);
    for (const url of roleUrls) expect(logs).not.toContain(decodeURIComponent(new URL(url).password));
    expect(logs).not.toContain(pg.superPassword);
  });
});
