// One console: its store (SQLite in the state directory, or PostgreSQL in cluster mode), auth, what it manages
// (interfaces from config files, or locations whose gateways report to the database) and the periodic task that
// samples traffic, downsamples history and disables expired clients. The HTTP side is ./server.ts.
import { randomBytes } from 'node:crypto';
import { mkdirSync, chmodSync } from 'node:fs';
import * as path from 'node:path';
import { accountRoutes } from './api/account';
import { clientRoutes } from './api/clients';
import { interfaceRoutes } from './api/interfaces';
import { qrRoutes } from './api/qr';
import { tokenRoutes } from './api/tokens';
import { Auth } from './auth';
import { ClientBackend, Clients } from './clients';
import { ClusterMode } from './cluster/backend';
import { FileMode } from './api/interfaces';
import { PgDatabase } from './pg/connect';
import { openPg } from './pg/open';
import { History, SAMPLE_SECONDS } from './history';
import { Route, Router } from './http';
import { Interfaces, LiveAccess, realLive } from './interfaces';
import { metricsText } from './metrics';
import { openApiDocument } from './openapi';
import { Store } from './store';

export const DEFAULT_STATE_DIR = '/var/lib/wiretun';

export interface AppOptions {
  /** Holds serve.db; created 0700. */
  stateDir: string;
  /** Cluster mode: a postgres:// URL; the database then holds everything and stateDir is not used. */
  store?: string;
  /** Where bare interface names live and which directory is listed (default /etc/wireguard). */
  configDir?: string;
  /** Interface names or config paths; empty = every config in configDir. */
  names?: string[];
  live?: LiveAccess;
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
  metricsToken?: string;
  /** Seconds between samples; 0 = no timer (tests call tick()). Default 10. */
  sampleSeconds?: number;
  log?: (line: string) => void;
}

export class App {
  readonly store: Store;
  readonly auth: Auth;
  readonly history: History;
  readonly clients: ClientBackend;
  /** What this console manages: one machine's config files, or a cluster's locations. */
  readonly mode: { kind: 'file'; file: FileMode } | { kind: 'cluster'; cluster: ClusterMode };
  readonly router: Router;
  readonly now: () => number;
  readonly log: (line: string) => void;
  /** Needed by POST /api/setup while no password is set; printed in the log, never sent by the server. */
  setupCode: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  /** Opens the store in the state directory and sets up the console; close() undoes it. */
  static async open(opts: AppOptions): Promise<App> {
    let store: Store;
    if (opts.store !== undefined) store = new Store(await openPg(opts.store));
    else {
      // mkdir's mode passes through the umask and leaves an existing directory alone: chmod either way.
      mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
      chmodSync(opts.stateDir, 0o700);
      store = await Store.open(path.join(opts.stateDir, 'serve.db'));
    }
    const app = new App(opts, store);
    app.setupCode = (await app.auth.hasPassword()) ? undefined : randomBytes(16).toString('hex');
    return app;
  }

  private constructor(opts: AppOptions, store: Store) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? ((line) => process.stderr.write(`wiretun serve: ${line}\n`));
    this.store = store;
    this.auth = new Auth(this.store, this.now, opts.metricsToken);
    this.history = new History(this.store, this.now);
    let modeRoutes: Route[];
    if (this.store.db instanceof PgDatabase) {
      const cluster = new ClusterMode(this.store.db, this.history, this.now);
      this.mode = { kind: 'cluster', cluster };
      this.clients = cluster.clients;
      modeRoutes = cluster.routes();
    } else {
      const interfaces = new Interfaces({ configDir: opts.configDir, names: opts.names, live: opts.live ?? realLive() });
      const file = { interfaces, clients: new Clients(interfaces, this.store, this.history, this.now) };
      this.mode = { kind: 'file', file };
      this.clients = file.clients;
      modeRoutes = interfaceRoutes(file);
    }
    const routes: Route[] = [...accountRoutes(this), ...tokenRoutes(this), ...modeRoutes, ...clientRoutes(this), ...qrRoutes(this)];
    routes.push(
      {
        method: 'GET',
        path: '/api/openapi.json',
        access: 'read',
        summary: 'This document',
        handler: () => ({ json: openApiDocument(this.router.routes) }),
      },
      {
        method: 'GET',
        path: '/metrics',
        access: 'metrics',
        summary: 'Prometheus metrics (text format 0.0.4), with the names of prometheus_wireguard_exporter',
        response: { mediaType: 'text/plain' },
        handler: async () => ({ text: await this.metrics(), contentType: 'text/plain; version=0.0.4; charset=utf-8' }),
      },
    );
    this.router = new Router(routes);
    const every = opts.sampleSeconds ?? SAMPLE_SECONDS;
    if (every > 0) {
      this.timer = setInterval(() => void this.tick(), every * 1000);
      this.timer.unref();
    }
  }

  /** One round of the periodic work; rounds never overlap. Failures are logged, not thrown: the next round
   * tries again. */
  tick(): Promise<void> {
    this.ticking ??= this.round().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private metrics(): Promise<string> {
    if (this.mode.kind === 'cluster') return this.mode.cluster.metrics();
    return metricsText(this.mode.file.interfaces, this.mode.file.clients);
  }

  private async sample(): Promise<void> {
    if (this.mode.kind === 'cluster') return this.mode.cluster.sample();
    const { interfaces } = this.mode.file;
    for (const iface of (await interfaces.known()).keys()) {
      const live = await interfaces.live.device(iface).catch(() => undefined);
      if (!live) {
        this.history.down(iface);
        continue;
      }
      const peers = live.peers.map((p) => ({ publicKey: p.publicKey.toString('base64'), rxBytes: p.rxBytes, txBytes: p.txBytes }));
      await this.history.record(iface, peers);
    }
  }

  private async round(): Promise<void> {
    try {
      await this.sample();
      await this.history.downsample();
      const expired = await this.clients.expire();
      if (expired) this.log(`disabled ${expired} expired client(s)`);
    } catch (err) {
      this.log(`periodic task failed: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    await this.store.close();
  }
}
