// TCP through a rootless tunnel as plain net.Sockets. Each connection is one end of a socketpair whose other
// end the native stack splices to the tunnel connection, so bytes never pass through JS and every library that
// takes a socket (http, tls, database drivers) works unchanged.
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { callNative, fromNativeMessage, WiretunError } from '../errors';
import type { NativeConnection, NativeNetstack, NativeTcpListener } from '../native';

/** A socket's addresses in the tunnel; a socketpair has none the kernel knows of. */
interface Ends {
  localAddress?: string;
  localPort?: number;
  remoteAddress: string;
  remotePort: number;
}

const family = (ip: string) => (net.isIPv6(ip) ? 'IPv6' : 'IPv4');

/** Makes `socket` report its tunnel addresses where net.Socket would ask the kernel. */
function setEnds(socket: net.Socket, ends: Ends): void {
  const values: Record<string, unknown> = {
    remoteAddress: ends.remoteAddress,
    remotePort: ends.remotePort,
    remoteFamily: family(ends.remoteAddress),
  };
  if (ends.localAddress !== undefined) {
    values.localAddress = ends.localAddress;
    values.localPort = ends.localPort;
    values.localFamily = family(ends.localAddress);
  }
  for (const [key, value] of Object.entries(values)) {
    Object.defineProperty(socket, key, { value, configurable: true, enumerable: true });
  }
  const address = ends.localAddress;
  socket.address = () =>
    address === undefined ? {} : { address, family: family(address), port: ends.localPort ?? 0 };
}

/** Node wraps a descriptor in a net.Socket only on Unix (on Windows it takes CRT descriptors, not sockets). */
function checkPlatform(what: string): void {
  if (process.platform === 'win32') {
    throw new WiretunError('EOPNOTSUPP', `${what} through a rootless tunnel is not available on Windows yet (Node cannot wrap the socket); createSocket, ping and lookup are`);
  }
}

/** A net.Socket on a descriptor the addon handed over. */
function fdSocket(fd: number): net.Socket {
  return new net.Socket({ fd, readable: true, writable: true });
}

/** Connect errors carry what net's do: syscall, address and port. */
function connectError(message: string, ip: string, port: number): WiretunError {
  return Object.assign(fromNativeMessage(message), { syscall: 'connect', address: ip, port });
}

/**
 * A socket that behaves as one from net.connect: `connecting` until the tunnel connection is established,
 * writes queued until then, 'connect' and 'ready' once it is, destroyed with the error (ECONNREFUSED,
 * ETIMEDOUT, EHOSTUNREACH, ENOTFOUND...) otherwise. `resolve` turns the host into an IP address.
 */
export function connectSocket(
  stack: NativeNetstack,
  target: { host: string; port: number; timeoutMs: number },
  resolve: (host: string) => Promise<string>,
): net.Socket {
  checkPlatform('connect');
  const stream = callNative(() => stack.openStream());
  const socket = fdSocket(stream.fd);
  // net.Socket's own flag: while set, write() waits for 'connect' (as for any connecting socket), and http
  // and tls wait for 'connect' before they start.
  (socket as { connecting: boolean }).connecting = true;
  let dialled = false;
  socket.once('close', () => {
    if (!dialled) stream.close();
  });
  resolve(target.host).then(
    (ip) => {
      if (socket.destroyed) return;
      dialled = true;
      callNative(() =>
        stream.dial(ip, target.port, target.timeoutMs, (result) => {
          if (socket.destroyed) return;
          if (result.error) {
            socket.destroy(connectError(result.error, ip, target.port));
            return;
          }
          setEnds(socket, {
            localAddress: result.localAddress ?? undefined,
            localPort: result.localPort ?? undefined,
            remoteAddress: ip,
            remotePort: target.port,
          });
          (socket as { connecting: boolean }).connecting = false;
          socket.emit('connect');
          socket.emit('ready');
        }),
      );
    },
    (err: unknown) => socket.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  return socket;
}

/** An accepted connection as a connected net.Socket. */
export function acceptedSocket(conn: NativeConnection): net.Socket {
  const socket = fdSocket(conn.fd);
  setEnds(socket, conn);
  return socket;
}

/** Events of a {@link TunnelServer}. */
export interface TunnelServerEvents {
  /** A connection was accepted. */
  connection: [net.Socket];
  /** The server stopped listening. */
  close: [];
}

/**
 * A TCP listener on a tunnel address, like a net.Server: each accepted connection is a net.Socket, so
 * `http.createServer(handler).emit('connection', socket)` serves HTTP through it. Keeps the process alive
 * while listening, unless unref()'d.
 */
export class TunnelServer extends EventEmitter<TunnelServerEvents> {
  #listener: NativeTcpListener | undefined;
  readonly #keepAlive: NodeJS.Timeout;
  readonly #address: net.AddressInfo;

  /** @internal Made by {@link Tunnel.listen}. */
  constructor(stack: NativeNetstack, host: string, port: number) {
    super();
    checkPlatform('listen');
    const listener = callNative(() =>
      stack.listen(host, port, (conn) => {
        if (!this.#listener) {
          acceptedSocket(conn).destroy();
          return;
        }
        this.emit('connection', acceptedSocket(conn));
      }),
    );
    this.#listener = listener;
    this.#address = { address: listener.localAddress, family: family(listener.localAddress), port: listener.localPort };
    this.#keepAlive = setInterval(() => undefined, 0x7fffffff);
  }

  /** The address listened on; port 0 was replaced by the port chosen. */
  address(): net.AddressInfo {
    return { ...this.#address };
  }

  /** Whether it still accepts connections. */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /** Stops accepting; connections already accepted live on. Idempotent. */
  close(callback?: () => void): this {
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener) {
      listener.close();
      clearInterval(this.#keepAlive);
      process.nextTick(() => this.emit('close'));
    }
    if (callback) process.nextTick(callback);
    return this;
  }

  /** Lets the process exit while this server listens. */
  unref(): this {
    this.#keepAlive.unref();
    return this;
  }

  /** Keeps the process alive while this server listens (the default). */
  ref(): this {
    this.#keepAlive.ref();
    return this;
  }
}
