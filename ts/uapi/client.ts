// Talking to any userspace WireGuard (wiretund, wireguard-go, boringtun) over its UAPI socket.
import * as net from 'node:net';
import { DeviceUpdate } from '../config/model';
import { DeviceState, ERRNO, formatSet, parseGet, UapiError } from './codec';
import { SOCKET_DIR, socketPath } from './server';

export interface ClientOptions {
  /** Socket directory; /var/run/wireguard by default. */
  dir?: string;
  /** Give up after this long without a complete reply (default 30 s: a set of thousands of peers takes seconds). */
  timeoutMs?: number;
}

const REPLY_END = /(?:^|\n)errno=(-?[0-9]+)\n\n$/;

/** Sends one raw request (including its blank line) and resolves to the reply body without the errno line.
 * Rejects with a UapiError carrying the errno when it is not 0, and with EIO when the socket is unreachable
 * or closes without a reply (which is how servers answer an unknown operation). */
export function uapiRequest(iface: string, request: string, opts: ClientOptions = {}): Promise<string> {
  const sock = socketPath(iface, opts.dir ?? SOCKET_DIR);
  return new Promise((resolve, reject) => {
    const conn = net.connect(sock);
    let reply = '';
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      fn();
    };
    const timer = setTimeout(
      () => settle(() => reject(new UapiError(ERRNO.EIO, `${iface}: no UAPI reply from ${sock}`))),
      opts.timeoutMs ?? 30_000,
    );
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(request));
    conn.on('data', (chunk: string) => {
      reply += chunk;
      const m = REPLY_END.exec(reply);
      if (!m) return;
      const errno = Number(m[1]);
      const body = reply.slice(0, m.index + (m[0].startsWith('\n') ? 1 : 0));
      if (errno === 0) settle(() => resolve(body));
      else settle(() => reject(new UapiError(errno, `${iface}: the request was refused (errno ${errno})`)));
    });
    conn.on('error', (err) =>
      settle(() => reject(new UapiError(ERRNO.EIO, `${iface}: cannot reach ${sock}: ${err.message}`, { cause: err }))),
    );
    conn.on('close', () => settle(() => reject(new UapiError(ERRNO.EIO, `${iface}: ${sock} closed without a reply`))));
  });
}

/** The raw get body: `key=value\n` lines, without the errno line and the final blank line. */
export function uapiGet(iface: string, opts?: ClientOptions): Promise<string> {
  return uapiRequest(iface, 'get=1\n\n', opts);
}

/** Sends a set body: `key=value` lines, with or without the final newline. Throws a UapiError with `.errno`
 * when the daemon refuses it. A blank line inside the body would end the request early, so it is refused. */
export async function uapiSet(iface: string, body: string, opts?: ClientOptions): Promise<void> {
  const lines = body === '' || body.endsWith('\n') ? body : `${body}\n`;
  if (lines.startsWith('\n') || lines.includes('\n\n')) {
    throw new UapiError(ERRNO.EINVAL, `${iface}: a set body cannot contain a blank line`);
  }
  await uapiRequest(iface, `set=1\n${lines}\n`, opts);
}

/** The device's configuration and counters, parsed. */
export async function getDevice(iface: string, opts?: ClientOptions): Promise<DeviceState> {
  return parseGet(await uapiGet(iface, opts));
}

/** Applies an update (validated and formatted locally first, so a bad value never reaches the socket). */
export async function setDevice(iface: string, update: DeviceUpdate, opts?: ClientOptions): Promise<void> {
  await uapiSet(iface, formatSet(update), opts);
}
