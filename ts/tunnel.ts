// Tunnel: a WireGuard interface run inside this Node process. The data plane runs on native threads;
// this class holds configuration, peers and events only.
import { EventEmitter } from 'node:events';
import { native, NativeDevice, NativeEvent, NativeNetstack, NativePeerInfo, NativePeerUpdate } from './native';
import { callNative, WiretunError } from './errors';
import { decodeKey } from './keys';
import { resolveEndpoint } from './endpoint';
import { configureLink } from './routing/link';
import { readConfigFile } from './config/locate';
import { parseConfig } from './config/parse';
import { PeerUpdate } from './config/model';
import { WgQuickConfig } from './config/wgquick';
import { serveUapi, serveUapiAt, UapiServer } from './uapi/server';
import {
  checkOptions,
  FROM_CONFIG_OPTIONS,
  NETSTACK_FROM_CONFIG_OPTIONS,
  NETSTACK_TUNNEL_OPTIONS,
  PEER_CHANGES,
  PEER_OPTIONS,
  TUNNEL_OPTIONS,
} from './options';
import * as net from 'node:net';
import {
  FetchTlsOptions,
  LookupAddress,
  Netstack,
  StackStats,
  TunnelConnectOptions,
  TunnelDatagramSocket,
  TunnelServer,
} from './netstack/index';
import {
  checkConnectTarget,
  NetstackFromConfigOptions,
  netstackOptionsFromConfig,
  NetstackTunnelOptions,
} from './netstack/config';

export type { NetstackFromConfigOptions, NetstackTunnelOptions } from './netstack/config';

/** A peer as you add it. Keys are base64. */
export interface PeerOptions {
  /** The peer's public key (base64); it identifies the peer. */
  publicKey: string;
  /** Optional symmetric key mixed into the handshake; `null` removes one. */
  presharedKey?: string | null;
  /** `host:port` or `[v6]:port`; host names are resolved once, when set. */
  endpoint?: string | null;
  /** CIDRs this peer may send from and that are sent to it (cryptokey routing). */
  allowedIps?: string[];
  /** Seconds; 0 or absent = off. */
  persistentKeepalive?: number;
}

/** Changes to an existing peer; absent fields stay as they are. `allowedIps` replaces the whole list. */
export type PeerChanges = Partial<Omit<PeerOptions, 'publicKey'>>;

/** A peer as the running tunnel sees it, with its counters. */
export interface PeerStatus {
  /** Base64. */
  publicKey: string;
  /** Whether a preshared key is set (the key itself is never returned). */
  hasPresharedKey: boolean;
  /** Where its packets go now: as configured, or where it was last heard from (it may roam). */
  endpoint: string | null;
  /** CIDRs, as `wg show` prints them. */
  allowedIps: string[];
  /** null until the first handshake completes. */
  lastHandshake: Date | null;
  /** Bytes received from this peer (outer packets, as `wg show` counts them). */
  rxBytes: number;
  /** Bytes sent to this peer. */
  txBytes: number;
  /** Seconds; 0 = off. */
  persistentKeepalive: number;
}

/** What {@link Tunnel.create} sets up. */
export interface TunnelOptions {
  /** Interface name, at most 15 bytes. */
  name: string;
  /** Our private key, base64 (as `wg genkey` prints it). */
  privateKey: string;
  /** 0 or absent picks a free port. */
  listenPort?: number;
  /** Mark put on outgoing UDP packets (for policy routing); 0 or absent = none. */
  fwmark?: number;
  /** Inner MTU; default 1420. */
  mtu?: number;
  /** CIDRs put on the interface when `routing` is true. */
  addresses?: string[];
  /** Peers to add before the tunnel is returned. */
  peers?: PeerOptions[];
  /** Add the addresses, bring the link up and route every peer's allowed IPs to it. Default false. */
  routing?: boolean;
  /** A TUN tunnel; `netstack: true` makes a rootless one ({@link NetstackTunnelOptions}). */
  netstack?: false;
  /**
   * Serve the UAPI socket (/var/run/wireguard/NAME.sock) so `wg show`, `wg set` and `wiretun` see and
   * configure this tunnel. Default true. Requests are answered on a native thread, so `wg` works even when
   * this process waits for it synchronously (`execFileSync('wg', ...)`). Like any listening socket it keeps
   * the process alive until close().
   */
  uapi?: boolean;
}

/** The events a {@link Tunnel} emits, with their arguments. Public keys are base64. */
export interface TunnelEvents {
  /** A handshake with the peer completed: a new session. */
  handshake: [{ /** The peer. */ publicKey: string; /** When it completed. */ time: Date }];
  /** No handshake with this peer for REJECT_AFTER_TIME (180 s). */
  peerStale: [{ /** The peer. */ publicKey: string }];
  /** The peer roamed: it was heard from a new outer address. */
  endpointChanged: [{ /** The peer. */ publicKey: string; /** `ip:port` or `[ip6]:port`. */ endpoint: string }];
  /** A failure outside any call of yours, such as a refused UAPI request. */
  error: [Error];
  /** The tunnel is closed: by {@link Tunnel.close}, or because its interface was deleted. */
  close: [{ /** Why, in words (`closed` after close()). */ reason: string }];
}

/** A config file's peer as Tunnel options: keys as base64, the rest as written. */
function peerOptions(p: PeerUpdate): PeerOptions {
  return {
    publicKey: p.publicKey.toString('base64'),
    presharedKey: p.presharedKey ? p.presharedKey.toString('base64') : undefined,
    endpoint: p.endpoint,
    allowedIps: p.allowedIps,
    persistentKeepalive: p.persistentKeepalive,
  };
}

/**
 * A WireGuard interface run inside this Node process: a TUN device plus UDP sockets, driven by native
 * threads. Make one with {@link Tunnel.create} or {@link Tunnel.fromConfig}; close it with {@link Tunnel.close}
 * (or `await using`). Several tunnels can run in one process.
 */
export class Tunnel extends EventEmitter<TunnelEvents> {
  readonly #device: NativeDevice;
  readonly #netstack: Netstack | undefined;
  #uapi: UapiServer | undefined;
  #closed = false;

  private constructor(device: NativeDevice, netstack?: Netstack) {
    super();
    this.#device = device;
    this.#netstack = netstack;
    // Bound, so `createConnection: tunnel.connect` works without a wrapper.
    this.connect = this.connect.bind(this);
    device.onEvent((e) => this.#onNative(e));
  }

  /**
   * Creates the interface in this process and applies the options. On any failure nothing is left behind.
   * @throws TypeError for an option it does not know (naming the likely spelling) or of the wrong type, before
   * anything is created.
   */
  static async create(options: TunnelOptions | NetstackTunnelOptions): Promise<Tunnel> {
    if ((options as { netstack?: unknown } | null)?.netstack === true) return Tunnel.#createNetstack(options as NetstackTunnelOptions);
    checkOptions('Tunnel.create', options, TUNNEL_OPTIONS);
    options = options as TunnelOptions;
    const key = decodeKey(options.privateKey, 'private key');
    const peers = await Promise.all((options.peers ?? []).map(toNativePeer));
    const device = callNative(() => native().BindingDevice.create(options.name, options.mtu ?? null));
    const tunnel = new Tunnel(device);
    try {
      callNative(() => device.setPrivateKey(key));
      if (options.listenPort) callNative(() => device.setListenPort(options.listenPort!));
      if (options.fwmark) callNative(() => device.setFwmark(options.fwmark!));
      for (const [pub, update] of peers) callNative(() => device.setPeer(pub, update));
      // Served last-but-routing so `wg` never sees a half-configured device.
      if (options.uapi !== false) tunnel.#uapi = serveUapi(device);
      if (options.routing) {
        const routes = (options.peers ?? []).flatMap((p) => p.allowedIps ?? []);
        await configureLink(device.name, { addresses: options.addresses ?? [], routes });
      }
    } catch (err) {
      await tunnel.close();
      throw err;
    }
    return tunnel;
  }

  static async #createNetstack(options: NetstackTunnelOptions): Promise<Tunnel> {
    checkOptions('Tunnel.create', options, NETSTACK_TUNNEL_OPTIONS);
    const key = decodeKey(options.privateKey, 'private key');
    for (const ip of options.dns ?? []) {
      if (!net.isIP(ip)) throw new WiretunError('EINVAL', `dns: ${JSON.stringify(ip)} is not an IP address`);
    }
    const peers = await Promise.all((options.peers ?? []).map(toNativePeer));
    const connectTimeoutMs = options.connectTimeout ?? 30_000;
    const device = callNative(() =>
      native().BindingDevice.createNetstack(options.name ?? 'wiretun', {
        addresses: options.addresses,
        mtu: options.mtu,
        connectTimeoutMs,
        tcpEngine: options.tcpEngine,
      }),
    );
    const stack = new Netstack(callNative(() => device.netstack()), {
      addresses: options.addresses,
      dns: options.dns ?? [],
      dnsSearch: options.dnsSearch ?? [],
      connectTimeoutMs,
    });
    const tunnel = new Tunnel(device, stack);
    try {
      callNative(() => device.setPrivateKey(key));
      if (options.listenPort) callNative(() => device.setListenPort(options.listenPort!));
      for (const [pub, update] of peers) callNative(() => device.setPeer(pub, update));
      if (options.uapiPath) tunnel.#uapi = serveUapiAt(device, options.uapiPath);
    } catch (err) {
      await tunnel.close();
      throw err;
    }
    return tunnel;
  }

  /**
   * Creates a tunnel from a wg-quick config: a path, a bare name (`wg0` → /etc/wireguard/wg0.conf) or an
   * already parsed config. `options.name` overrides the interface name (required for a parsed config).
   * Addresses and routes are applied only with `routing: true`; default routes need `wiretun up`.
   * @throws TypeError for an option it does not know (naming the likely spelling) or of the wrong type, before
   * anything is created.
   */
  static async fromConfig(
    source: string | WgQuickConfig,
    options: { name?: string; routing?: boolean; uapi?: boolean; netstack?: false } | NetstackFromConfigOptions = {},
  ): Promise<Tunnel> {
    const rootless = (options as { netstack?: unknown } | null)?.netstack === true;
    if (rootless) checkOptions('Tunnel.fromConfig', options, NETSTACK_FROM_CONFIG_OPTIONS);
    else checkOptions('Tunnel.fromConfig', options, FROM_CONFIG_OPTIONS);
    let config: WgQuickConfig;
    let name = options.name;
    if (typeof source === 'string') {
      const located = await readConfigFile(source);
      config = parseConfig(located.data.toString('utf8'), { file: located.path });
      name ??= located.interfaceName;
    } else {
      config = source;
    }
    if (rootless) {
      if (!config.device.privateKey) throw new WiretunError('EINVAL', 'the config has no PrivateKey');
      const peers = config.device.peers.map(peerOptions);
      return Tunnel.create(netstackOptionsFromConfig(config, name, options as NetstackFromConfigOptions, peers));
    }
    options = options as { routing?: boolean; uapi?: boolean };
    if (!name) throw new WiretunError('EINVAL', 'fromConfig with a parsed config needs options.name');
    if (!config.device.privateKey) throw new WiretunError('EINVAL', 'the config has no PrivateKey');
    return Tunnel.create({
      name,
      privateKey: config.device.privateKey.toString('base64'),
      listenPort: config.device.listenPort,
      fwmark: config.device.fwmark,
      mtu: config.mtu,
      addresses: config.addresses,
      peers: config.device.peers.map(peerOptions),
      routing: options.routing,
      uapi: options.uapi,
    });
  }

  /** The interface name. */
  get name(): string {
    return this.#device.name;
  }

  /** Our public key, base64: what peers put in their `PublicKey`. */
  get publicKey(): string {
    return this.#call((d) => d.publicKey())?.toString('base64') ?? '';
  }

  /** The UDP port we receive on (the one picked, when 0 was asked for). */
  get listenPort(): number {
    return this.#call((d) => d.listenPort());
  }

  /** Rebinds the UDP sockets; 0 picks a free port. Resolves to the port bound. */
  async setListenPort(port: number): Promise<number> {
    return this.#call((d) => d.setListenPort(port));
  }

  /** Changes our key; every session restarts with a new handshake. */
  async setPrivateKey(privateKey: string): Promise<void> {
    const key = decodeKey(privateKey, 'private key');
    this.#call((d) => d.setPrivateKey(key));
  }

  /**
   * Adds a peer; when one with that key exists, updates it with the fields given.
   * @throws TypeError for a field it does not know or of the wrong type, before anything is applied.
   */
  async addPeer(peer: PeerOptions): Promise<void> {
    checkOptions('Tunnel.addPeer', peer, PEER_OPTIONS, 'peer');
    const [pub, update] = await toNativePeer(peer);
    this.#call((d) => d.setPeer(pub, update));
  }

  /**
   * Changes an existing peer; throws ENOENT when there is no such peer.
   * @throws TypeError for a field it does not know (`publicKey` among them) or of the wrong type, before anything
   * is applied.
   */
  async updatePeer(publicKey: string, changes: PeerChanges): Promise<void> {
    checkOptions('Tunnel.updatePeer', changes, PEER_CHANGES, 'changes');
    const [pub, update] = await toNativePeer({ publicKey, ...changes });
    update.updateOnly = true;
    update.replaceAllowedIps = changes.allowedIps !== undefined;
    if (!this.#call((d) => d.setPeer(pub, update))) {
      throw new WiretunError('ENOENT', `no peer with public key ${publicKey}`);
    }
  }

  /** Removes a peer; resolves to false when there was none. */
  async removePeer(publicKey: string): Promise<boolean> {
    const pub = decodeKey(publicKey, 'public key');
    return this.#call((d) => d.removePeer(pub));
  }

  /** Every peer with its endpoint, last handshake and counters, read from the data plane now. */
  peers(): PeerStatus[] {
    return this.#call((d) => d.peers()).map(toStatus);
  }

  /** Whether this is a rootless tunnel (a userspace stack instead of a TUN). */
  get netstack(): boolean {
    return this.#netstack !== undefined;
  }

  /**
   * Opens a TCP connection through a rootless tunnel, as net.connect does: the socket is returned at once,
   * `connecting` until established, then emits 'connect'; on failure it is destroyed with a WiretunError
   * (ECONNREFUSED: the remote answered RST; ETIMEDOUT; EHOSTUNREACH: no peer's allowed IPs cover it; ENOTFOUND).
   * Host names resolve through the tunnel's DNS servers only. Passes as `createConnection` to http.request
   * (options it does not use are ignored, as net.connect ignores them) and as `socket` to tls.connect.
   */
  connect(port: number, host: string, onConnect?: ConnectListener): net.Socket;
  connect(options: TunnelConnectOptions, onConnect?: ConnectListener): net.Socket;
  connect(portOrOptions: number | TunnelConnectOptions, hostOrCallback?: string | ConnectListener, onConnect?: ConnectListener): net.Socket {
    const stack = this.#stack();
    if (typeof portOrOptions === 'object' && portOrOptions !== null) {
      const { timeout } = portOrOptions;
      const port = typeof portOrOptions.port === 'string' ? Number(portOrOptions.port) : portOrOptions.port;
      const host = portOrOptions.host ?? portOrOptions.hostname;
      checkConnectTarget(port, host);
      const callback = typeof hostOrCallback === 'function' ? hostOrCallback : onConnect;
      return stack.connect({ port: port as number, host: host as string, timeout }, callback);
    }
    checkConnectTarget(portOrOptions, hostOrCallback);
    return stack.connect({ port: portOrOptions, host: hostOrCallback as string }, onConnect);
  }

  /**
   * Accepts TCP connections on a tunnel address (`host` absent: every stack address; port 0: a free one); each
   * is a net.Socket, given to `onConnection` and the server's 'connection' event. Throws EADDRINUSE or
   * EADDRNOTAVAIL (not an address of this tunnel).
   */
  listen(options: { port: number; host?: string }, onConnection?: (socket: net.Socket) => void): TunnelServer {
    checkOptions('Tunnel.listen', options, { port: 'integer', host: 'string?' });
    const server = this.#stack().listen(options.host ?? '::', options.port);
    if (onConnection) server.on('connection', onConnection);
    return server;
  }

  /** A UDP socket of the tunnel's stack, shaped like a dgram.Socket. */
  createSocket(type: 'udp4' | 'udp6'): TunnelDatagramSocket {
    return this.#stack().createSocket(type);
  }

  /** Sends an ICMP echo request through a rootless tunnel; resolves to the round-trip time in ms. */
  async ping(host: string, options: { timeout?: number } = {}): Promise<number> {
    checkOptions('Tunnel.ping', options, { timeout: 'integer?' });
    return this.#stack().ping(host, options.timeout ?? 5000);
  }

  /** Resolves `name` through the tunnel's DNS servers (an IP address resolves to itself). */
  async lookup(name: string, options: { family?: 0 | 4 | 6 } = {}): Promise<LookupAddress> {
    checkOptions('Tunnel.lookup', options, { family: 'integer?' });
    if (options.family !== undefined && ![0, 4, 6].includes(options.family)) {
      throw new TypeError(`Tunnel.lookup: option family must be 0, 4 or 6, got ${options.family}`);
    }
    return (await this.#stack().lookup(name, options.family ?? 0, false))[0];
  }

  /** WHATWG fetch through a rootless tunnel, for http: and https: (`init.tls`: a CA or rejectUnauthorized). */
  fetch(input: string | URL | Request, init?: RequestInit & { tls?: FetchTlsOptions }): Promise<Response> {
    return this.#stack().fetch(input, init);
  }

  /** A rootless tunnel's stack counters: packets to and from the peers. */
  stackStats(): StackStats {
    return this.#stack().stats();
  }

  /** @internal The native stack of a rootless tunnel, for `wiretun proxy`. */
  nativeNetstack(): NativeNetstack {
    return this.#stack().native;
  }

  #stack(): Netstack {
    if (this.#closed) throw new WiretunError('EBADF', `tunnel ${this.name} is closed`);
    if (!this.#netstack) throw new WiretunError('EINVAL', `tunnel ${this.name} has a TUN: use the OS's sockets (netstack: true makes a rootless one)`);
    return this.#netstack;
  }

  /** Path of the UAPI socket this tunnel serves, or null (option `uapi: false`, or closed). */
  get uapiPath(): string | null {
    return this.#uapi?.path ?? null;
  }

  /**
   * Stops the data plane and deletes the interface (and with it its addresses and routes) and the UAPI
   * socket.
   */
  async close(): Promise<void> {
    if (this.#closed) return this.#closeUapi();
    this.#closed = true;
    // The socket goes first, so `wg` never reaches a device that is being torn down.
    await this.#closeUapi();
    this.#netstack?.closeAll();
    this.#device.close();
  }

  /** `await using tunnel = await Tunnel.create(...)` closes it at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #closeUapi(): Promise<void> {
    const server = this.#uapi;
    this.#uapi = undefined;
    server?.close();
  }

  #call<T>(fn: (d: NativeDevice) => T): T {
    if (this.#closed) throw new WiretunError('EBADF', `tunnel ${this.name} is closed`);
    return callNative(() => fn(this.#device));
  }

  #onNative(e: NativeEvent): void {
    const publicKey = e.publicKey?.toString('base64') ?? '';
    switch (e.kind) {
      case 'handshake':
        this.emit('handshake', { publicKey, time: new Date() });
        break;
      case 'stale':
        this.emit('peerStale', { publicKey });
        break;
      case 'endpoint':
        this.emit('endpointChanged', { publicKey, endpoint: e.endpoint ?? '' });
        break;
      case 'closed':
        this.#closed = true;
        // The interface is gone (deleted from outside): its socket must not outlive it.
        this.#closeUapi().catch(() => undefined);
        this.emit('close', { reason: e.reason ?? 'closed' });
        break;
      case 'uapiError':
        // A refused UAPI request is the client's problem (it got the errno); report it only to those
        // listening, since an 'error' event without a listener would throw.
        if (this.listenerCount('error') > 0) this.emit('error', new WiretunError('EIO', e.message ?? 'UAPI request refused'));
        break;
    }
  }
}

/** Called with no arguments once a connection is established ('connect'). Typed loosely so that http's
 * `oncreate` callback fits when connect is passed as `createConnection`. */
export type ConnectListener = (...args: never[]) => void;

async function toNativePeer(peer: PeerOptions): Promise<[Buffer, NativePeerUpdate]> {
  const pub = decodeKey(peer.publicKey, 'peer public key');
  const update: NativePeerUpdate = {};
  if (peer.presharedKey !== undefined) {
    update.presharedKey = peer.presharedKey ? decodeKey(peer.presharedKey, 'preshared key') : Buffer.alloc(32);
  }
  if (peer.endpoint) update.endpoint = await resolveEndpoint(peer.endpoint);
  if (peer.allowedIps) update.allowedIps = peer.allowedIps;
  if (peer.persistentKeepalive !== undefined) update.persistentKeepalive = peer.persistentKeepalive;
  return [pub, update];
}

function toStatus(p: NativePeerInfo): PeerStatus {
  const ms = p.lastHandshakeSec * 1000 + Math.floor(p.lastHandshakeNsec / 1e6);
  return {
    publicKey: p.publicKey.toString('base64'),
    hasPresharedKey: !!p.presharedKey,
    endpoint: p.endpoint ?? null,
    allowedIps: p.allowedIps,
    lastHandshake: p.lastHandshakeSec ? new Date(ms) : null,
    rxBytes: p.rxBytes,
    txBytes: p.txBytes,
    persistentKeepalive: p.persistentKeepalive,
  };
}
