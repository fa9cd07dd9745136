// UDP through a rootless tunnel, shaped like a dgram.Socket: bind, send, 'message', close, address. UDP is
// message-based, so each datagram crosses into JS as one Buffer (the native side queues up to 1024 per socket
// and drops beyond that, as a full socket buffer drops them).
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { callNative, fromNative, WiretunError } from '../errors';
import type { NativeDatagram, NativeNetstack, NativeUdpSocket } from '../native';

/** Where a datagram came from, as dgram describes it. */
export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

/** The events of a {@link TunnelDatagramSocket}, as dgram.Socket names them. */
export interface TunnelDatagramEvents {
  message: [Buffer, RemoteInfo];
  listening: [];
  close: [];
  error: [Error];
}

type SendCallback = (error: Error | null, bytes: number) => void;

/**
 * A UDP socket of the tunnel's stack, made by {@link Tunnel.createSocket}. Like dgram: `send` binds to a free
 * port first when it was not bound, host names resolve (through the tunnel's DNS), errors without a callback
 * become 'error' events. A bound socket keeps the process alive unless unref()'d.
 */
export class TunnelDatagramSocket extends EventEmitter<TunnelDatagramEvents> {
  readonly type: 'udp4' | 'udp6';
  readonly #stack: NativeNetstack;
  readonly #resolve: (host: string) => Promise<string>;
  #socket: NativeUdpSocket | undefined;
  #keepAlive: NodeJS.Timeout | undefined;
  #refed = true;
  #closed = false;

  /** @internal */
  constructor(stack: NativeNetstack, type: 'udp4' | 'udp6', resolve: (host: string) => Promise<string>) {
    super();
    if (type !== 'udp4' && type !== 'udp6') throw new TypeError(`createSocket: type must be 'udp4' or 'udp6', got ${String(type)}`);
    this.type = type;
    this.#stack = stack;
    this.#resolve = resolve;
  }

  /** Binds to `port` (0 or absent: a free one) on `address` (absent: every stack address of this family). */
  bind(port?: number | { port?: number; address?: string }, address?: string | (() => void), callback?: () => void): this {
    if (typeof port === 'object' && port !== null) {
      callback = typeof address === 'function' ? address : callback;
      ({ port, address } = port);
    }
    if (typeof address === 'function') [callback, address] = [address, undefined];
    if (callback) this.once('listening', callback);
    try {
      this.#bind(port ?? 0, address);
      process.nextTick(() => this.emit('listening'));
    } catch (err) {
      process.nextTick(() => this.emit('error', err as Error));
    }
    return this;
  }

  #bind(port: number, address: string | undefined): NativeUdpSocket {
    if (this.#closed) throw new WiretunError('EBADF', 'the socket is closed');
    if (this.#socket) throw new WiretunError('EINVAL', 'the socket is already bound');
    const ip = address ?? (this.type === 'udp4' ? '0.0.0.0' : '::');
    if (net.isIP(ip) !== (this.type === 'udp4' ? 4 : 6)) {
      throw new WiretunError('EINVAL', `bind: ${ip} is not an ${this.type === 'udp4' ? 'IPv4' : 'IPv6'} address`);
    }
    const socket = callNative(() => this.#stack.bindUdp(ip, port, (d) => this.#onMessage(d)));
    this.#socket = socket;
    this.#keepAlive = setInterval(() => undefined, 0x7fffffff);
    if (!this.#refed) this.#keepAlive.unref();
    return socket;
  }

  #onMessage(d: NativeDatagram): void {
    if (this.#closed || net.isIP(d.address) !== (this.type === 'udp4' ? 4 : 6)) return;
    this.emit('message', d.data, { address: d.address, family: net.isIPv6(d.address) ? 'IPv6' : 'IPv4', port: d.port, size: d.data.length });
  }

  /** Sends one datagram to `port` at `address` (an IP or a name). */
  send(msg: Buffer | Uint8Array | string, port: number, address: string, callback?: SendCallback): void {
    const data = typeof msg === 'string' ? Buffer.from(msg) : Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
    const done = (err: Error | null, bytes: number) => {
      if (callback) callback(err, bytes);
      else if (err) this.emit('error', err);
    };
    this.#resolve(address).then(
      (ip) => {
        try {
          const socket = this.#socket ?? this.#bindForSend();
          done(null, callNative(() => socket.send(data, ip, port)));
        } catch (err) {
          done(fromNative(err) as Error, 0);
        }
      },
      (err: Error) => done(err, 0),
    );
  }

  #bindForSend(): NativeUdpSocket {
    const socket = this.#bind(0, undefined);
    process.nextTick(() => this.emit('listening'));
    return socket;
  }

  /** The bound address. Throws EBADF when the socket is not bound. */
  address(): net.AddressInfo {
    const s = this.#socket;
    if (!s) throw new WiretunError('EBADF', 'the socket is not bound');
    return { address: s.localAddress, family: net.isIPv6(s.localAddress) ? 'IPv6' : 'IPv4', port: s.localPort };
  }

  /** Closes the socket; 'close' follows. Idempotent. */
  close(callback?: () => void): this {
    if (callback) this.once('close', callback);
    if (this.#closed) return this;
    this.#closed = true;
    this.#socket?.close();
    this.#socket = undefined;
    if (this.#keepAlive) clearInterval(this.#keepAlive);
    process.nextTick(() => this.emit('close'));
    return this;
  }

  /** Lets the process exit while this socket is bound. */
  unref(): this {
    this.#refed = false;
    this.#keepAlive?.unref();
    return this;
  }

  /** Keeps the process alive while bound (the default). */
  ref(): this {
    this.#refed = true;
    this.#keepAlive?.ref();
    return this;
  }
}
