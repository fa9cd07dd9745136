// The UAPI socket: /var/run/wireguard/IF.sock, root-only, serving `get=1` and `set=1` requests (several per
// connection), each answered with `errno=N`. The device sits behind UapiDevice so tests can fake it.
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { DeviceChange, DeviceState, ERRNO, formatGet, parseSet, UapiError } from './codec';
import { shown, uapiErrorFrom } from './values';

export const SOCKET_DIR = '/var/run/wireguard';

/** A set this large (thousands of peers) leaves megabytes of parse garbage in the daemon's heap. */
const LARGE_REQUEST_LINES = 2000;

/** Frees that garbage now rather than whenever V8 gets to it, so a daemon with many idle peers stays
 * small. Only when the process runs with --expose-gc (wiretund does). */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export interface UapiDevice {
  state(): DeviceState;
  /** Applies a validated change; throws UapiError (a WiretunError maps to its errno, anything else -55). */
  apply(change: DeviceChange): void;
}

export interface UapiServer {
  readonly path: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  dir?: string;
  /** Called with a one-line description of each failed request (never key material). */
  onError?: (message: string) => void;
}

export function socketPath(iface: string, dir = SOCKET_DIR): string {
  return path.join(dir, `${iface}.sock`);
}

/** Refuses a socket someone is serving ("interface in use"); removes a stale one, which refuses connections
 * (as `wg` does on ECONNREFUSED). */
async function claim(sock: string, iface: string): Promise<void> {
  const outcome = await new Promise<string>((resolve) => {
    const c = net.connect(sock);
    c.once('connect', () => {
      c.destroy();
      resolve('alive');
    });
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'EIO'));
  });
  if (outcome === 'alive') throw new UapiError(ERRNO.EIO, `interface ${iface} is in use: ${sock} is served by another process`);
  if (outcome === 'ECONNREFUSED') await fs.rm(sock, { force: true });
  else if (outcome !== 'ENOENT') throw new UapiError(ERRNO.EIO, `cannot use ${sock} (${outcome})`);
}

export async function serveUapi(iface: string, device: UapiDevice, opts: ServeOptions = {}): Promise<UapiServer> {
  const dir = opts.dir ?? SOCKET_DIR;
  // mkdir's mode goes through the umask; wg only needs to list the directory, so make it 0755 explicitly.
  if (await fs.mkdir(dir, { recursive: true, mode: 0o755 })) await fs.chmod(dir, 0o755);
  const sock = socketPath(iface, dir);
  await claim(sock, iface);
  const open = new Set<net.Socket>();
  const server = net.createServer((conn) => {
    open.add(conn);
    conn.once('close', () => open.delete(conn));
    handleConnection(conn, device, opts.onError);
  });
  // The socket is created under umask 077 so only root can connect, as wireguard-go does. listen() binds a
  // Unix socket synchronously, so the umask is restored before anything else in the process can run under it.
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => resolve());
  });
  const oldMask = process.umask(0o077);
  try {
    server.listen(sock);
  } finally {
    process.umask(oldMask);
  }
  await listening;
  return {
    path: sock,
    close: async () => {
      // server.close() waits for every connection to end; an idle client must not keep the daemon alive.
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const conn of open) conn.destroy();
      await closed;
      await fs.rm(sock, { force: true });
    },
  };
}

/** Splits the byte stream into requests; a request ends at its blank line. */
function handleConnection(conn: net.Socket, device: UapiDevice, onError?: (m: string) => void): void {
  let buffered = '';
  let request: string[] = [];
  conn.setEncoding('utf8');
  conn.on('error', () => conn.destroy());
  conn.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line !== '') {
        request.push(line);
        continue;
      }
      const reply = answer(request, device, onError);
      const large = request.length > LARGE_REQUEST_LINES;
      request = [];
      if (large) collectGarbage();
      if (reply === undefined) return void conn.destroy();
      conn.write(reply);
    }
    if (buffered.length > 1 << 20) conn.destroy(); // no line is that long
  });
}

function answer(request: string[], device: UapiDevice, onError?: (m: string) => void): string | undefined {
  const [op, ...lines] = request;
  try {
    if (op === 'get=1') {
      // wireguard-go answers EINVAL when anything but the blank line follows get=1.
      if (lines.length > 0) throw new UapiError(ERRNO.EINVAL, 'trailing data after get=1');
      return `${formatGet(device.state())}errno=0\n\n`;
    }
    if (op === 'set=1') {
      device.apply(parseSet(lines));
      return 'errno=0\n\n';
    }
  } catch (err) {
    const e = uapiErrorFrom(err);
    onError?.(`UAPI ${op}: ${e.message}`);
    return `errno=${e.errno}\n\n`;
  }
  // Like wireguard-go: an unknown operation ends the connection without a reply.
  onError?.(`UAPI: invalid operation ${shown(op ?? '', 40)}`);
  return undefined;
}
