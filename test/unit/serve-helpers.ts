// Shared set-up for the serve tests: a real App with a real SQLite file and real config files in a temp dir, a
// real HTTP server on 127.0.0.1:0, and a fake running device (the only fake: it stands where the UAPI socket
// and `wiretun up` would be). Not a test file itself.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generatePrivateKey } from '../../ts/keys';
import { App, AppOptions } from '../../ts/serve/app';
import { LiveAccess } from '../../ts/serve/interfaces';
import { listen, RunningServer } from '../../ts/serve/server';
import { DeviceState, PeerState } from '../../ts/uapi/codec';

export const IFACE = 'wtsrv0';
export const PASSWORD = 'correct horse battery';

/** A running device per interface, kept in memory; tests set counters and handshakes on it. */
export class FakeLive implements LiveAccess {
  readonly devices = new Map<string, DeviceState>();
  calls: string[] = [];

  async device(iface: string) {
    return this.devices.get(iface);
  }

  peer(iface: string, publicKey: string): PeerState | undefined {
    return this.devices.get(iface)?.peers.find((p) => p.publicKey.toString('base64') === publicKey);
  }

  async addPeer(iface: string, peer: { publicKey: string; presharedKey?: string; allowedIps: string[] }) {
    this.calls.push(`add ${peer.publicKey}`);
    const dev = this.devices.get(iface)!;
    const existing = this.peer(iface, peer.publicKey);
    if (existing) existing.allowedIps = [...peer.allowedIps];
    else dev.peers.push(emptyPeer(peer.publicKey, peer.allowedIps));
  }

  async removePeer(iface: string, publicKey: string) {
    this.calls.push(`remove ${publicKey}`);
    const dev = this.devices.get(iface)!;
    dev.peers = dev.peers.filter((p) => p.publicKey.toString('base64') !== publicKey);
  }

  async up(loaded: { interfaceName: string; config: { device: { privateKey?: Buffer | null; listenPort?: number; peers: { publicKey: Buffer; allowedIps: string[] }[] } } }) {
    const d = loaded.config.device;
    this.devices.set(loaded.interfaceName, {
      privateKey: d.privateKey ?? null,
      listenPort: d.listenPort ?? 0,
      fwmark: 0,
      peers: d.peers.map((p) => emptyPeer(p.publicKey.toString('base64'), p.allowedIps)),
    });
  }

  async down(loaded: { interfaceName: string }) {
    this.devices.delete(loaded.interfaceName);
  }
}

function emptyPeer(publicKey: string, allowedIps: string[]): PeerState {
  return {
    publicKey: Buffer.from(publicKey, 'base64'),
    lastHandshakeSec: 0,
    lastHandshakeNsec: 0,
    txBytes: 0,
    rxBytes: 0,
    persistentKeepalive: 0,
    allowedIps: [...allowedIps],
  };
}

export function serverConfig(extra = ''): string {
  return [
    '[Interface]',
    `PrivateKey = ${generatePrivateKey()}`,
    'ListenPort = 51820',
    'Address = 10.44.0.1/24, fd44::1/64',
    '# PublicEndpoint = vpn.example.test:51820',
    extra,
    '',
  ].join('\n');
}

export class Clock {
  constructor(public ms = Date.UTC(2026, 11, 1, 12, 0, 0)) {}
  now = () => this.ms;
  advance(ms: number) {
    this.ms += ms;
  }
}

export interface Harness {
  dir: string;
  stateDir: string;
  configDir: string;
  confPath: string;
  live: FakeLive;
  clock: Clock;
  app: App;
  server: RunningServer;
  url: string;
  /** Stops the server and closes the store; the dirs stay (for a restart). */
  stop(): Promise<void>;
  /** A new App and server on the same state and config dirs. */
  restart(opts?: Partial<AppOptions>): Promise<Harness>;
  cleanup(): Promise<void>;
}

export async function start(opts: Partial<AppOptions> & { dir?: string; live?: FakeLive; clock?: Clock; config?: string } = {}): Promise<Harness> {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'wiretun-serve-'));
  const stateDir = path.join(dir, 'state');
  const configDir = path.join(dir, 'etc');
  const confPath = path.join(configDir, `${IFACE}.conf`);
  if (!opts.dir) {
    mkdirSync(configDir, { mode: 0o700 });
    writeFileSync(confPath, opts.config ?? serverConfig(), { mode: 0o600 });
  }
  const live = opts.live ?? new FakeLive();
  const clock = opts.clock ?? new Clock();
  const app = await App.open({ stateDir, configDir, live, now: clock.now, sampleSeconds: 0, log: () => {}, ...opts });
  const server = await listen(app, { host: '127.0.0.1', port: 0 });
  const h: Harness = {
    dir,
    stateDir,
    configDir,
    confPath,
    live,
    clock,
    app,
    server,
    url: server.url,
    stop: async () => {
      await server.close();
      await app.close();
    },
    restart: async (more = {}) => {
      await h.stop();
      return start({ ...opts, ...more, dir, live, clock });
    },
    cleanup: async () => {
      await h.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

export interface Response {
  status: number;
  headers: Headers;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A browser-like client: keeps the session cookie and sends the CSRF token on changes. */
export class Client {
  cookie?: string;
  csrf?: string;
  bearer?: string;

  constructor(readonly base: string) {}

  async request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const h: Record<string, string> = { ...headers };
    if (this.cookie) h.cookie = this.cookie;
    if (this.bearer) h.authorization = `Bearer ${this.bearer}`;
    if (this.csrf && method !== 'GET' && h['x-csrf-token'] === undefined) h['x-csrf-token'] = this.csrf;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.base + url, { method, headers: h, body: payload, redirect: 'manual' });
    const text = await res.text();
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      const value = /^wiretun_session=([^;]*)/.exec(setCookie)?.[1];
      this.cookie = value ? `wiretun_session=${value}` : undefined;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  get = (url: string, headers?: Record<string, string>) => this.request('GET', url, undefined, headers);
  post = (url: string, body?: unknown, headers?: Record<string, string>) => this.request('POST', url, body, headers);
  patch = (url: string, body?: unknown) => this.request('PATCH', url, body);
  put = (url: string, body?: unknown) => this.request('PUT', url, body);
  del = (url: string) => this.request('DELETE', url);

  async login(password = PASSWORD): Promise<Response> {
    const r = await this.post('/api/login', { password });
    if (r.status === 200) this.csrf = r.json.csrfToken;
    return r;
  }
}

/** A harness with the admin password set and a logged-in client. */
export async function startLoggedIn(opts: Parameters<typeof start>[0] = {}): Promise<{ h: Harness; admin: Client }> {
  const h = await start(opts);
  const admin = new Client(h.url);
  const r = await admin.post('/api/setup', { password: PASSWORD, setupCode: h.app.setupCode });
  if (r.status !== 200) throw new Error(`setup failed: ${r.status} ${r.text}`);
  admin.csrf = r.json.csrfToken;
  return { h, admin };
}

/** The interfaces of a console in file mode. */
export function interfacesOf(app: App) {
  if (app.mode.kind !== 'file') throw new Error('not a file-mode console');
  return app.mode.file.interfaces;
}
