// `wiretun serve`: the web console's JSON API and /metrics over the interfaces whose configs live in
// /etc/wireguard (or the ones named), whether they are up or not. See ts/serve/.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { App } from '../serve/app';
import { waitForSignal } from './common';

const USAGE = `Usage: wiretun serve [--listen HOST:PORT] [--state DIR] [--metrics-token TOKEN]
                     [--tls-cert FILE --tls-key FILE] [IF_OR_CONF ...]
       wiretun serve --store postgres://... [--listen ...] [--import IF_OR_CONF [--state DIR]]
       wiretun serve --set-password [--state DIR | --store postgres://...] < password

  A web console and JSON API (described at /api/openapi.json) for WireGuard servers: clients with their
  status and traffic history, one-time config links, API tokens, and Prometheus metrics at /metrics.
  It edits the config files as \`wiretun peer\` does and brings interfaces up and down as \`wiretun up\`/\`down\`.

  IF_OR_CONF        interfaces to manage (wg0 = /etc/wireguard/wg0.conf, or a path); default: every
                    /etc/wireguard/*.conf
  --listen          where to listen (default 127.0.0.1:51821; put a TLS reverse proxy in front, or use --tls-*)
  --state           the console's own data: accounts, sessions, history (default /var/lib/wiretun, made 0700)
  --store           cluster mode: keep everything in PostgreSQL (postgres://USER:PASSWORD@HOST[:PORT]/DB
                    [?sslmode=verify-full[&sslrootcert=CA.pem]]); the console manages locations that
                    \`wiretun gateway\` runs.
                    WIRETUN_STORE in the environment keeps the password off the command line
  --import          with --store: move an interface (its config file and its history in --state) into the
                    database as a location, then serve
  --set-password    read the admin password from stdin, store it and exit
  --metrics-token   require "Authorization: Bearer TOKEN" on /metrics (default: open, like the exporters);
                    WIRETUN_METRICS_TOKEN in the environment keeps it off the command line
  --tls-cert/--tls-key  serve HTTPS with this PEM certificate and key (session cookies become Secure)
`;

function fail(message: string): number {
  process.stderr.write(`wiretun serve: ${message}\n\n${USAGE}`);
  return 1;
}

/** `HOST:PORT` or `[V6]:PORT`. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) return undefined;
  return { host: m[1] ?? m[2], port };
}

function readStdin(): string {
  const text = readFileSync(0, 'utf8');
  return text.replace(/\r?\n$/, '');
}

async function setPassword(stateDir: string, store: string | undefined): Promise<number> {
  const { App } = await import('../serve/app');
  let app;
  try {
    app = await App.open({ stateDir, store, sampleSeconds: 0, names: [], live: undefined, configDir: '/nonexistent' });
  } catch (err) {
    process.stderr.write(`wiretun serve: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    await app.auth.setPassword(readStdin());
    await app.auth.deleteOtherSessions('');
    process.stderr.write(`wiretun serve: admin password set in ${store ? 'the database' : stateDir}; every session was ended\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`wiretun serve: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await app.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        listen: { type: 'string' },
        state: { type: 'string' },
        'set-password': { type: 'boolean' },
        'metrics-token': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        store: { type: 'string' },
        import: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { DEFAULT_STATE_DIR } = await import('../serve/app');
  const stateDir = values.state ?? DEFAULT_STATE_DIR;
  const store = values.store ?? (process.env.WIRETUN_STORE || undefined);
  if (store !== undefined && positionals.length) return fail('with --store the console manages the database\'s locations: name no interfaces (use --import to move one in)');
  if (values.import !== undefined && store === undefined) return fail('--import needs --store');
  if (values['set-password']) return setPassword(stateDir, store);
  const listen = parseListen(values.listen ?? '127.0.0.1:51821');
  if (!listen) return fail(`--listen ${values.listen} is not HOST:PORT`);
  if (!values['tls-cert'] !== !values['tls-key']) return fail('--tls-cert and --tls-key go together');
  const metricsToken = values['metrics-token'] ?? (process.env.WIRETUN_METRICS_TOKEN || undefined);
  let tls: { cert: Buffer; key: Buffer } | undefined;
  try {
    if (values['tls-cert']) tls = { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']!) };
  } catch (err) {
    return fail(`cannot read the TLS files: ${(err as Error).message}`);
  }
  const { App } = await import('../serve/app');
  const { listen: start } = await import('../serve/server');
  if (store) (await import('../serve/pg/guard')).guardPostgresWrites((line) => process.stderr.write(`wiretun serve: ${line}\n`));
  let app: App;
  try {
    app = await App.open({ stateDir, store, names: positionals, metricsToken });
  } catch (err) {
    process.stderr.write(`wiretun serve: ${(err as Error).message}\n`);
    return 1;
  }
  if (values.import !== undefined) {
    try {
      const { importInterface } = await import('../serve/cluster/import');
      app.log(await importInterface(app, values.import, stateDir));
    } catch (err) {
      process.stderr.write(`wiretun serve: --import ${values.import}: ${(err as Error).message}\n`);
      await app.close();
      return 1;
    }
  }
  const running = await start(app, { ...listen, tls }).catch(async (err: Error) => {
    await app.close();
    throw new Error(`cannot listen on ${values.listen ?? '127.0.0.1:51821'}: ${err.message}`);
  });
  app.log(`listening on ${running.url} (${store ? 'cluster mode: state in PostgreSQL' : `state in ${stateDir}`})`);
  if (app.setupCode) {
    app.log(`no admin password yet: open ${running.url}/#setup=${app.setupCode} or run \`wiretun serve --set-password\``);
  }
  void app.tick();
  const signal = await waitForSignal();
  app.log(`${signal}: stopping`);
  await running.close();
  await app.close();
  return 0;
}
