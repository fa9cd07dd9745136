// TCP through a rootless tunnel as plain net.Sockets. Each connection is one end of a socketpair whose other
// end the native stack splices to the tunnel connection, so bytes never pass through JS and every library that
// takes a socket (http, tls, database drivers) works unchanged. Where Node cannot wrap a descriptor (Windows)
// the socket is instead a loopback TCP connection to a port of the addon's, adopted by it once connected.
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { callNative, fromNativeMessage, WiretunError } from '../errors';
import type { NativeConnection, NativeNetstack, NativeStream, NativeTcpListener } from '../native';

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

/**
 * Node wraps a descriptor in a net.Socket only on Unix (on Windows it takes CRT descriptors, not sockets),
 * so there sockets are loopback connections the addon adopts. WIRETUN_NETSTACK_LOOPBACK=1 takes that path on
 * Unix too (its tests run it here); it also lets a remote reset reach JS as ECONNRESET, which a socketpair
 * cannot carry.
 */
function loopbackSockets(): boolean {
  return process.platform === 'win32' || process.env.WIRETUN_NETSTACK_LOOPBACK === '1';
}

/**
 * Connects `socket` to the stream's loopback port and has the addon adopt that connection, holding back the
 * loopback connect's 'connect' and 'ready' and leaving the socket `connecting` until the tunnel connection is
 * made (writes wait for that, as they do on any connecting socket).
 */
function adoptLoopback(socket: net.Socket, stream: NativeStream): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.emit = function held(this: net.Socket, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'connect') {
        try {
          stream.adopt(this.localPort ?? 0);
          (this as { connecting: boolean }).connecting = true;
          resolve();
        } catch (err) {
          reject(fromNativeMessage(err instanceof Error ? err.message : String(err)));
        }
        return true;
      }
      if (event === 'ready') {
        // Emitted right after 'connect': the last one held back.
        delete (this as { emit?: unknown }).emit;
        return true;
      }
      return (net.Socket.prototype.emit as (event: string | symbol, ...args: unknown[]) => boolean).call(this, event, ...args);
    };
    socket.once('close', () => reject(new WiretunError('ECONNRESET', 'the loopback connection closed before the tunnel connection was made')));
    socket.connect(stream.loopbackPort ?? 0, '127.0.0.1');
  });
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
  const loopback = loopbackSockets();
  const stream = callNative(() => stack.openStream(loopback));
  const socket = loopback ? new net.Socket() : fdSocket(stream.fd);
  let dialled = false;
  socket.once('close', () => {
    if (!dialled) stream.close();
  });
  const adopted = loopback ? adoptLoopback(socket, stream) : Promise.resolve();
  // net.Socket's own flag: while set, write() waits for 'connect' (as for any connecting socket), and http
  // and tls wait for 'connect' before they start.
  (socket as { connecting: boolean }).connecting = true;
  Promise.all([resolve(target.host), adopted]).then(
    ([ip]) => {
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

/** An accepted connection as a connected net.Socket, handed to `onSocket` (at once, or once adopted). */
function acceptedSocket(stack: NativeNetstack, conn: NativeConnection, onSocket: (socket: net.Socket) => void): void {
  const port = conn.loopbackPort;
  if (port == null) {
    const socket = fdSocket(conn.fd);
    setEnds(socket, conn);
    onSocket(socket);
    return;
  }
  const socket = net.connect(port, '127.0.0.1');
  // Before adoption nobody else holds the socket: a failure just drops it (the addon resets the connection
  // it parked once its wait runs out).
  const drop = () => socket.destroy();
  socket.once('error', drop);
  socket.once('connect', () => {
    socket.off('error', drop);
    try {
      stack.adoptAccepted(port, socket.localPort ?? 0);
    } catch {
      socket.destroy();
      return;
    }
    setEnds(socket, conn);
    onSocket(socket);
  });
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
    const listener = callNative(() =>
      stack.listen(
        host,
        port,
        (conn) =>
          acceptedSocket(stack, conn, (socket) => {
            if (this.#listener) this.emit('connection', socket);
            else socket.destroy();
          }),
        loopbackSockets(),
      ),
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
