// `wiretun gateway`: run one WireGuard server of a location that follows the console's PostgreSQL database
// (see ts/gateway/ and docs/gateways.md), and `wiretun gateway grant` to give a gateway its database role.
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { INTERFACE_NAME } from '../config/wgquick';
import { requireLinux } from '../platform';
import { needsRoot, usageError, waitForSignal } from './common';

const USAGE = `Usage: wiretun gateway --store URL --location NAME [--name GW] [--interface IF] [--health-interval SECONDS]
       wiretun gateway grant --store ADMIN_URL --location NAME --role ROLE

  Runs one WireGuard server of a location kept in the console's PostgreSQL database (\`wiretun serve
  --store\`): brings the location's interface up as \`wiretun up\` does and keeps its peers equal to the
  database's enabled clients, reports its health and per-client counters every 10 s, and takes over the
  clients when the location's endpoint address moves to this host. Several gateways may serve one location.

  --store            postgres://ROLE:PASSWORD@HOST[:PORT]/DB[?sslmode=require][&host=/socket/dir], with the
                     gateway's own role (see grant); WIRETUN_STORE in the environment keeps it off the
                     command line, where other users of the host could read the password
  --location         the location to serve
  --name             this gateway's name in the console (default: the host name)
  --interface        the interface name (default: the location's name)
  --health-interval  seconds between health reports (default 10)

  grant: creates the LOGIN role ROLE (if missing) with a random password, makes it a member of
  wiretun_gateway and lets it serve the location; prints the URL to start the gateway with, once. Run it
  with a role that has CREATEROLE (the console's, or an administrator's).
`;

const GATEWAY_NAME = /^[a-zA-Z0-9_.-]{1,63}$/;

function fail(message: string): number {
  return usageError('gateway', message, USAGE);
}

function parse(argv: string[], extra: Record<string, { type: 'string' }>) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: { store: { type: 'string' }, location: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...extra },
  }).values as Record<string, string | boolean | undefined>;
}

/** The store URL and location every form needs, or the message saying what is missing. */
function common(v: Record<string, string | boolean | undefined>): { store: string; location: string } | string {
  const store = (v.store as string | undefined) ?? (process.env.WIRETUN_STORE || undefined);
  if (!store) return 'missing --store URL (or WIRETUN_STORE)';
  const location = v.location as string | undefined;
  if (!location) return 'missing --location NAME';
  if (!INTERFACE_NAME.test(location)) return `--location ${JSON.stringify(location)} is not a location name (1-15 of a-z A-Z 0-9 _ = + . -)`;
  return { store, location };
}

async function grant(argv: string[]): Promise<number> {
  const v = parse(argv, { role: { type: 'string' } });
  if (v.help) return help();
  const c = common(v);
  if (typeof c === 'string') return fail(c);
  if (!v.role) return fail('missing --role ROLE');
  const { grantGateway, gatewayUrl } = await import('../gateway/grant');
  const role = v.role as string;
  const r = await grantGateway(c.store, c.location, role);
  if (r.movedFrom) process.stderr.write(`wiretun gateway: role ${role} served location ${r.movedFrom}; it now serves ${c.location}\n`);
  if (r.password === undefined) {
    process.stderr.write(`wiretun gateway: role ${role} already existed (its password is unchanged); it may serve ${c.location}\n`);
    return 0;
  }
  process.stderr.write(`wiretun gateway: created role ${role} for location ${c.location}; its URL (shown only now):\n`);
  process.stdout.write(`${gatewayUrl(c.store, role, r.password)}\n`);
  return 0;
}

function help(): number {
  process.stdout.write(USAGE);
  return 0;
}

/** Seconds as milliseconds, or undefined when not a positive number. */
function seconds(text: string | undefined, fallback: number): number | undefined {
  if (text === undefined) return fallback * 1000;
  const n = Number(text);
  return /^[0-9]+(\.[0-9]+)?$/.test(text) && n >= 0.1 ? n * 1000 : undefined;
}

async function serveLocation(argv: string[]): Promise<number> {
  const v = parse(argv, { name: { type: 'string' }, interface: { type: 'string' }, 'health-interval': { type: 'string' } });
  if (v.help) return help();
  const c = common(v);
  if (typeof c === 'string') return fail(c);
  const name = (v.name as string | undefined) ?? os.hostname().slice(0, 63);
  if (!GATEWAY_NAME.test(name)) return fail(`--name ${JSON.stringify(name)} is not a gateway name (1-63 of a-z A-Z 0-9 _ . -)`);
  const iface = (v.interface as string | undefined) ?? c.location;
  if (!INTERFACE_NAME.test(iface)) return fail(`--interface ${JSON.stringify(iface)} is not an interface name`);
  const healthMs = seconds(v['health-interval'] as string | undefined, 10);
  if (healthMs === undefined) return fail(`--health-interval ${v['health-interval']} is not a number of seconds (at least 0.1)`);
  requireLinux('wiretun gateway');
  if (needsRoot('gateway')) return 1;
  const { pgOptions } = await import('../serve/pg/connect');
  pgOptions(c.store); // a malformed URL fails now, with a message that never shows the password
  const { Gateway } = await import('../gateway/gateway');
  const { realEnv } = await import('./wg-quick');
  const { packageVersion } = await import('../native');
  const { guardPostgresWrites } = await import('../serve/pg/guard');
  const env = realEnv();
  guardPostgresWrites((line) => env.log(`wiretun gateway: ${line}`));
  const trace = process.env.WIRETUN_GATEWAY_TRACE === '1';
  const gateway = new Gateway({ ...c, name, iface, version: packageVersion(), env, healthMs, trace });
  env.log(`wiretun gateway: ${name} serving location ${c.location} on ${iface}`);
  gateway.start();
  const signal = await waitForSignal();
  env.log(`wiretun gateway: ${signal}: taking ${iface} down`);
  await gateway.stop();
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  try {
    return argv[0] === 'grant' ? await grant(argv.slice(1)) : await serveLocation(argv);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) return fail((err as Error).message);
    // Database and apply errors are for the user; none of them carries the URL's password.
    process.stderr.write(`wiretun gateway: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
