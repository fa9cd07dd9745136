// `npm run bench:cluster` (root): how fast a change made in the console reaches every gateway of a location, and
// how long three gateways take to bring up a location of 10,000 clients; compared with one machine's file mode,
// where the console edits the config file and the running interface itself. Real PostgreSQL (Debian's, started
// here), three real `wiretun gateway` processes in namespaces this script makes and removes, their devices real
// wiretund TUN interfaces. Rewrites the "Cluster" section of bench/RESULTS.md.
//   --seconds S   length of each rate step (default 5)
//   --clients N   clients for the full reconcile (default 10000)
//   --quick       1 s steps and 1,000 clients (a smoke test of the harness)
import * as os from 'node:os';
import * as path from 'node:path';
import { generatePresharedKey, generatePrivateKey, publicKeyFromPrivate } from '../ts/keys';
import { ClusterStore } from '../ts/serve/pg/cluster';
import { openPg } from '../ts/serve/pg/open';
import { startPostgres, PgServer } from '../test/lib/postgres';
import { Gateways } from './lib/cluster-gateways';
import { now, openLoop } from './lib/open-loop';
import { fileModeLatencies } from './lib/cluster-file';
import { Percentiles, percentiles, writeClusterSection } from './lib/cluster-report';

const LOCATION = 'wtbench';
const RATES = [10, 100, 1000];

interface Options {
  seconds: number;
  clients: number;
}

function options(argv: string[]): Options {
  const o: Options = { seconds: 5, clients: 10_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seconds') o.seconds = Number(argv[++i]);
    else if (a === '--clients') o.clients = Number(argv[++i]);
    else if (a === '--quick') Object.assign(o, { seconds: 1, clients: 1000 });
    else throw new Error(`unknown option ${a}`);
  }
  if (!(o.seconds > 0) || !(o.clients > 0)) throw new Error('--seconds and --clients take positive numbers');
  return o;
}


/** Host number h of the location's 10.96.0.0/12 (h >= 2: .1 is the server). */
const clientAddress = (h: number) => `10.${96 + (h >> 16)}.${(h >> 8) & 255}.${h & 255}/32`;

function newClient(n: number) {
  const key = generatePrivateKey();
  return {
    location: LOCATION,
    public_key: publicKeyFromPrivate(key),
    name: `c${n}`,
    private_key: key,
    preshared_key: generatePresharedKey(),
    addresses: clientAddress(n + 2),
    client_allowed_ips: null,
    enabled: true,
    expires_at: null,
    created_at: Date.now(),
  };
}

/** Changes at a steady rate, open loop (each starts at its time whatever the others do), each one transaction
 * as the console makes it; returns the commit time of each revision. */
async function drive(store: ClusterStore, rate: number, seconds: number, first: number): Promise<Map<number, number>> {
  const commits = new Map<number, number>();
  await openLoop(rate, Math.round(rate * seconds), async (i) => {
    const c = newClient(first + i);
    const rev = await store.db.transaction(async () => {
      const r = await store.bump(LOCATION);
      await store.putClient(c, r);
      return r;
    });
    commits.set(rev, now());
  });
  return commits;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:cluster needs root (namespaces, TUN devices, initdb as postgres)');
  const o = options(process.argv.slice(2));
  const load = os.loadavg()[0];
  const pg: PgServer = await startPostgres();
  const gateways = new Gateways(LOCATION, 3);
  try {
    await pg.psql("CREATE ROLE console LOGIN PASSWORD 'console' CREATEROLE;\nCREATE DATABASE wiretun OWNER console;");
    const url = pg.url('console', 'console', 'wiretun');
    const db = await openPg(url, 'bench');
    const store = new ClusterStore(db);
    await store.createLocation({
      name: LOCATION,
      private_key: generatePrivateKey(),
      listen_port: 51999,
      addresses: '10.96.0.1/12',
      mtu: null,
      endpoint: '192.0.2.1',
      dns: null,
      client_allowed_ips: null,
      persistent_keepalive: null,
      created_at: Date.now(),
    });
    await gateways.start(url);
    await gateways.applied((await store.location(LOCATION))!.revision, 30_000);

    const propagation: { rate: number; changes: number; achieved: number; p: Percentiles }[] = [];
    let n = 0;
    for (const rate of RATES) {
      const t0 = now();
      const commits = await drive(store, rate, o.seconds, n);
      const achieved = commits.size / ((now() - t0) / 1000);
      n += commits.size;
      const last = Math.max(...commits.keys());
      await gateways.applied(last, 60_000);
      const latencies = [...commits].map(([rev, at]) => gateways.appliedEverywhere(rev) - at);
      propagation.push({ rate, changes: commits.size, achieved, p: percentiles(latencies) });
      process.stderr.write(`cluster: ${rate}/s: p50 ${propagation.at(-1)!.p.p50.toFixed(1)} ms, p99 ${propagation.at(-1)!.p.p99.toFixed(1)} ms\n`);
    }

    // A location of N clients brought up from cold by three gateways at once.
    await gateways.stop();
    const bulk = Array.from({ length: o.clients - n }, (_v, i) => newClient(n + i));
    await store.db.transaction(async () => {
      const rev = await store.bump(LOCATION);
      for (const c of bulk) await store.putClient(c, rev);
    });
    const target = (await store.location(LOCATION))!.revision;
    const t0 = now();
    await gateways.start(url);
    const reconcile = await gateways.appliedTimes(target, 300_000, t0);
    process.stderr.write(`cluster: full reconcile of ${o.clients} clients: ${reconcile.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(', ')}\n`);
    await gateways.stop();
    await db.close();

    const file = await fileModeLatencies(RATES, o.seconds);
    writeClusterSection(path.join(__dirname, 'RESULTS.md'), { propagation, reconcile, clients: o.clients, file, seconds: o.seconds, load });
  } finally {
    await gateways.cleanup();
    await pg.destroy();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench:cluster: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
