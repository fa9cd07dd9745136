// Talking to any userspace WireGuard (wiretund, wireguard-go, boringtun) over its UAPI socket.
import * as net from 'node:net';
import { DeviceState, parseGet, UapiError, ERRNO } from './codec';
import { SOCKET_DIR, socketPath } from './server';

export interface ClientOptions {
  dir?: string;
  timeoutMs?: number;
}

/** Sends one request and resolves to the reply body (without the errno line); rejects on errno != 0. */
export function uapiRequest(iface: string, request: string, opts: ClientOptions = {}): Promise<string> {
  const sock = socketPath(iface, opts.dir ?? SOCKET_DIR);
  return new Promise((resolve, reject) => {
    const conn = net.connect(sock);
    let reply = '';
    const timer = setTimeout(() => conn.destroy(new Error(`no UAPI reply from ${sock}`)), opts.timeoutMs ?? 10_000);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(request));
    conn.on('data', (chunk: string) => {
      reply += chunk;
      const m = /(?:^|\n)errno=(-?\d+)\n\n$/.exec(reply);
      if (!m) return;
      clearTimeout(timer);
      conn.end();
      const errno = Number(m[1]);
      if (errno !== 0) reject(new UapiError(errno, `${iface}: the daemon refused the request (errno ${errno})`));
      else resolve(reply.slice(0, m.index + (m[0].startsWith('\n') ? 1 : 0)));
    });
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(new UapiError(ERRNO.EIO, `${iface}: cannot reach ${sock}: ${err.message}`));
    });
  });
}

/** The raw get body (key=value lines). */
export function uapiGet(iface: string, opts?: ClientOptions): Promise<string> {
  return uapiRequest(iface, 'get=1\n\n', opts);
}

/** Sends a set body (key=value lines, with or without the final newline). */
export async function uapiSet(iface: string, body: string, opts?: ClientOptions): Promise<void> {
  const lines = body.endsWith('\n') ? body : `${body}\n`;
  await uapiRequest(iface, `set=1\n${lines}\n`, opts);
}

export async function getDevice(iface: string, opts?: ClientOptions): Promise<DeviceState> {
  return parseGet(await uapiGet(iface, opts));
}
