// What a rootless tunnel offers on top of its device: TCP connections and listeners as net.Sockets, UDP
// sockets, ping, name resolution through the tunnel's own DNS servers, and fetch. Tunnel delegates to this.
import * as net from 'node:net';
import { callNative, fromNative, WiretunError } from '../errors';
import type { NativeNetstack, NativeNetstackStats } from '../native';
import { DnsTransport, resolve } from './dns';
import { FetchTlsOptions, tunnelFetch } from './fetch';
import { connectSocket, TunnelServer } from './tcp';
import { TunnelDatagramSocket } from './udp';

export { TunnelServer } from './tcp';
export type { TunnelServerEvents } from './tcp';
export { TunnelDatagramSocket } from './udp';
export type { RemoteInfo, TunnelDatagramEvents } from './udp';
export type { FetchTlsOptions } from './fetch';

/**
 * What {@link Tunnel.connect} takes: net.connect's `port` and `host` (or `hostname`, as http passes it) and
 * its `timeout` (idle, ms). Shaped so http.request's options fit, for `createConnection: tunnel.connect`.
 */
export interface TunnelConnectOptions {
  port?: number | string | null;
  host?: string | null;
  hostname?: string | null;
  /** Idle timeout (socket.setTimeout), as in net.connect. */
  timeout?: number;
}

/** An address {@link Tunnel.lookup} found. */
export interface LookupAddress {
  address: string;
  family: 4 | 6;
}

/** The stack's packet counters. */
export type StackStats = NativeNetstackStats;

export interface NetstackSettings {
  /** The stack's addresses (`ip/prefix`). */
  addresses: string[];
  /** Nameservers (IP addresses) asked through the tunnel. */
  dns: string[];
  /** Search domains for names without a dot. */
  dnsSearch: string[];
  /** How long a TCP connect waits, ms. */
  connectTimeoutMs: number;
}

export class Netstack {
  readonly #stack: NativeNetstack;
  readonly #settings: NetstackSettings;
  /** Listeners and UDP sockets still open, closed with the tunnel (their keep-alive timers hold the process). */
  readonly #open = new Set<TunnelServer | TunnelDatagramSocket>();

  /** @internal The binding's stack, for `wiretun proxy`'s native listeners. */
  get native(): NativeNetstack {
    return this.#stack;
  }

  constructor(stack: NativeNetstack, settings: NetstackSettings) {
    this.#stack = stack;
    this.#settings = settings;
  }

  connect(options: { port: number; host: string; timeout?: number }, onConnect?: (...args: never[]) => void): net.Socket {
    const socket = connectSocket(
      this.#stack,
      { host: options.host, port: options.port, timeoutMs: this.#settings.connectTimeoutMs },
      (host) => this.#toIp(host),
    );
    if (options.timeout) socket.setTimeout(options.timeout);
    if (onConnect) socket.once('connect', () => onConnect());
    return socket;
  }

  listen(host: string, port: number): TunnelServer {
    return this.#track(new TunnelServer(this.#stack, host, port));
  }

  createSocket(type: 'udp4' | 'udp6'): TunnelDatagramSocket {
    return this.#track(new TunnelDatagramSocket(this.#stack, type, (host) => this.#toIp(host, type === 'udp4' ? 4 : 6)));
  }

  /** Closes every listener and UDP socket still open (the tunnel is closing). */
  closeAll(): void {
    for (const handle of this.#open) handle.close();
    this.#open.clear();
  }

  #track<T extends TunnelServer | TunnelDatagramSocket>(handle: T): T {
    this.#open.add(handle);
    (handle as TunnelServer).once('close', () => this.#open.delete(handle));
    return handle;
  }

  async ping(host: string, timeoutMs: number): Promise<number> {
    const ip = await this.#toIp(host);
    try {
      return await this.#stack.ping(ip, timeoutMs);
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** Addresses for `name` from the tunnel's DNS servers; `family` 0 asks for both and prefers the family
   * of the stack's first address. An IP literal is its own answer. */
  async lookup(name: string, family: 0 | 4 | 6, all: boolean): Promise<LookupAddress[]> {
    const literal = net.isIP(name);
    if (literal) {
      if (family && family !== literal) throw new WiretunError('ENOTFOUND', `${name} is not an IPv${family} address`);
      return [{ address: name, family: literal as 4 | 6 }];
    }
    const opts = { servers: this.#settings.dns, search: this.#settings.dnsSearch };
    const transport = this.#transport();
    const ask = async (f: 4 | 6) => (await resolve(name, f, transport, opts)).map((address) => ({ address, family: f }));
    if (family) return ask(family);
    const preferred: 4 | 6 = net.isIPv6(this.#settings.addresses[0]?.split('/')[0] ?? '') ? 6 : 4;
    const order: Array<4 | 6> = preferred === 4 ? [4, 6] : [6, 4];
    const results = await Promise.allSettled(order.map(ask));
    const found = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    if (found.length === 0) throw (results[0] as PromiseRejectedResult).reason;
    return all ? found : found.slice(0, 1);
  }

  fetch(input: string | URL | Request, init?: RequestInit & { tls?: FetchTlsOptions }): Promise<Response> {
    return tunnelFetch((target) => this.connect(target), input, init);
  }

  stats(): StackStats {
    return callNative(() => this.#stack.stats());
  }

  async #toIp(host: string, family: 0 | 4 | 6 = 0): Promise<string> {
    if (typeof host !== 'string' || host === '') throw new TypeError('a host (an IP address or a name) is required');
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    return (await this.lookup(bare, family, false))[0].address;
  }

  /** DNS queries over the stack: UDP from a fresh port each time, TCP for truncated answers. */
  #transport(): DnsTransport {
    return {
      udp: (server, query, timeoutMs, accept) =>
        new Promise((done, fail) => {
          const socket = this.createSocket(net.isIPv6(server) ? 'udp6' : 'udp4');
          const timer = setTimeout(() => finish(new WiretunError('ETIMEDOUT', `DNS server ${server}: no answer`)), timeoutMs);
          const finish = (err: Error | null, reply?: Buffer) => {
            clearTimeout(timer);
            socket.close();
            if (err) fail(err);
            else done(reply!);
          };
          socket.on('message', (msg, from) => {
            if (from.address === server && from.port === 53 && accept(msg)) finish(null, msg);
          });
          socket.on('error', (err) => finish(err));
          socket.send(query, 53, server);
        }),
      tcp: (server, query, timeoutMs) =>
        new Promise((done, fail) => {
          const socket = this.connect({ host: server, port: 53 });
          const timer = setTimeout(() => socket.destroy(new WiretunError('ETIMEDOUT', `DNS server ${server}: no answer over TCP`)), timeoutMs);
          let all = Buffer.alloc(0);
          const finish = (err: Error | null, reply?: Buffer) => {
            clearTimeout(timer);
            socket.destroy();
            if (err) fail(err);
            else done(reply!);
          };
          // The answer is complete at its length prefix; servers may keep the connection open after it.
          socket.on('data', (c: Buffer) => {
            all = Buffer.concat([all, c]);
            if (all.length >= 2 && all.length >= all.readUInt16BE(0) + 2) finish(null, all.subarray(2, 2 + all.readUInt16BE(0)));
          });
          socket.once('error', (err) => finish(err));
          socket.once('end', () => finish(new WiretunError('EBADMSG', `DNS server ${server}: short answer over TCP`)));
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(query.length);
          socket.write(Buffer.concat([prefix, query]));
        }),
    };
  }
}
