// The one place that touches the native addon. Everything else imports from here, so the binding's shape and
// its error mapping live together (see ./errors.ts for the mapping).
import * as path from 'node:path';
import { defaultIo, loadNative } from './native-loader';

/** A peer change as the native device applies it. Absent fields are left as they are. */
export interface NativePeerUpdate {
  /** Only change an existing peer; never create one. */
  updateOnly?: boolean;
  /** 32 bytes; all zeros removes the preshared key. */
  presharedKey?: Buffer;
  /** Numeric `a.b.c.d:port` or `[v6]:port`. */
  endpoint?: string;
  /** Seconds; 0 turns persistent keepalive off. */
  persistentKeepalive?: number;
  /** Drop every allowed IP before adding `allowedIps`. */
  replaceAllowedIps?: boolean;
  /** CIDRs to add. */
  allowedIps?: string[];
  /** CIDRs to remove. */
  removeAllowedIps?: string[];
}

export interface NativePeerInfo {
  publicKey: Buffer;
  /** Absent (or null) when none is set. */
  presharedKey?: Buffer | null;
  endpoint?: string | null;
  /** Absolute Unix time of the last completed handshake; 0 = never. */
  lastHandshakeSec: number;
  lastHandshakeNsec: number;
  rxBytes: number;
  txBytes: number;
  /** Seconds, 0 = off. */
  persistentKeepalive: number;
  allowedIps: string[];
}

export interface NativeEvent {
  /** handshake | stale | endpoint | closed | uapiError | uapiSet */
  kind: string;
  publicKey?: Buffer;
  endpoint?: string;
  /** For `closed`: why the device stopped (interface deleted, close() called, I/O error). */
  reason?: string;
  /** For `uapiError`: why a UAPI request was refused; for `uapiSet`: what one changed. Never key material. */
  message?: string;
}

/** What the native UAPI parser makes of a whole `set=1` request (for tests and the fuzzer). */
export interface NativeUapiCheck {
  /** 0 when accepted, else the errno the server answers. */
  errno: number;
  message?: string | null;
  /** Accepted: the change written back as set lines in wireguard-tools' order. */
  canonical?: string | null;
  /** Accepted: the line wiretund logs when it applies it. */
  summary?: string | null;
}

export interface NativeDevice {
  readonly name: string;
  setPrivateKey(key: Buffer | null): void;
  privateKey(): Buffer | null;
  publicKey(): Buffer | null;
  /** Binds the UDP sockets (IPv4 and IPv6); 0 picks a free port. Returns the port bound. */
  setListenPort(port: number): number;
  listenPort(): number;
  setFwmark(mark: number): void;
  fwmark(): number;
  /** Creates or updates a peer. Returns false when the change was ignored (update_only on a missing peer, or
   * the peer's key is our own public key). Throws on a bad endpoint/CIDR; a low-order public key is accepted
   * and listed, as the kernel accepts it, but that peer never handshakes. */
  setPeer(publicKey: Buffer, update: NativePeerUpdate): boolean;
  removePeer(publicKey: Buffer): boolean;
  clearPeers(): void;
  peers(): NativePeerInfo[];
  /** Events from the data-plane threads; the callback does not keep the event loop alive. */
  onEvent(callback: (event: NativeEvent) => void): void;
  /** Serves UAPI on this Unix socket path from a native thread; returns the path. */
  serveUapi(path: string): string;
  /** Stops serving UAPI and removes the socket (throws only when it could not be removed). Idempotent. */
  closeUapi(): void;
  /** Runs as uid/gid from now on; the UAPI thread alone keeps CAP_NET_ADMIN (see ts/daemon/privs.ts). */
  dropPrivileges(uid: number, gid: number): { threads: number; keptBy: number };
  /** The stack of a device made by createNetstack; throws EINVAL for a TUN device. */
  netstack(): NativeNetstack;
  /** Closes the UAPI socket, stops the data plane and removes the TUN interface. */
  close(): void;
}

/** A rootless device's stack: its addresses, MTU and connect timeout. */
export interface NativeNetstackOptions {
  /** `ip` or `ip/prefix`, at most 8. */
  addresses: string[];
  mtu?: number;
  connectTimeoutMs?: number;
  /** Absent: WIRETUN_TCP_ENGINE, else the default. */
  tcpEngine?: TcpEngineName;
}

/** The stack's TCP: our own (the default: SACK, RACK-TLP, BBR-style) or smoltcp's (the one before it). */
export type TcpEngineName = 'tcp2' | 'smoltcp';

/** A TCP connection accepted by a stack listener: a socket descriptor (a socketpair end) and its addresses. */
export interface NativeConnection {
  /** -1 when handed out by loopback port. */
  fd: number;
  loopbackPort?: number | null;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

/** How a dial ended: `error` as `CODE: message`, or the connection's local address. */
export interface NativeDialResult {
  error?: string | null;
  localAddress?: string | null;
  localPort?: number | null;
}

export interface NativeDatagram {
  data: Buffer;
  address: string;
  port: number;
}

export interface NativeNetstackStats {
  rxPackets: number;
  rxBytes: number;
  rxDropped: number;
  txPackets: number;
  txBytes: number;
}

/**
 * A socketpair whose other end a dial will splice to a stack connection; or, opened with `loopback`, a
 * loopback port JS connects to and then `adopt`s its connection's end of (fd is -1 then).
 */
export interface NativeStream {
  readonly fd: number;
  readonly loopbackPort: number | null;
  /** Takes JS's connection to `loopbackPort`, made from local port `peerPort`, as the end to splice. */
  adopt(peerPort: number): void;
  /** Dials once; onDone is called once, on the JS thread. */
  dial(ip: string, port: number, timeoutMs: number, onDone: (result: NativeDialResult) => void): void;
  /** Gives up before dialling: the JS end sees end of file. */
  close(): void;
}

export interface NativeTcpListener {
  readonly localAddress: string;
  readonly localPort: number;
  close(): void;
}

export interface NativeUdpSocket {
  readonly localAddress: string;
  readonly localPort: number;
  /** Throws EHOSTUNREACH, EINVAL (too large) or EBADF (closed). */
  send(data: Buffer, ip: string, port: number): number;
  close(): void;
}

/** TCP, UDP and ping through a rootless tunnel's userspace stack. Callbacks do not keep the loop alive. */
export interface NativeNetstack {
  openStream(loopback?: boolean): NativeStream;
  /** With `loopback`, each connection comes as a loopbackPort to connect to and then `adoptAccepted`. */
  listen(ip: string, port: number, onConnection: (conn: NativeConnection) => void, loopback?: boolean): NativeTcpListener;
  adoptAccepted(loopbackPort: number, peerPort: number): void;
  bindUdp(ip: string, port: number, onMessage: (msg: NativeDatagram) => void): NativeUdpSocket;
  /** Resolves to the round-trip time in ms; rejects with ETIMEDOUT or EHOSTUNREACH. */
  ping(ip: string, timeoutMs: number): Promise<number>;
  stats(): NativeNetstackStats;
}

/** One `wiretun proxy` listener (crates/wiretun-proxy); its bytes stay in Rust. */
export interface NativeProxySpec {
  kind: 'socks5' | 'http' | 'sni' | 'forward' | 'udp-forward' | 'reverse';
  bind?: string;
  username?: string;
  password?: string;
  host?: string;
  port?: number;
  listenPort?: number;
  connectTimeoutMs?: number;
  /** The tunnel's DNS servers, for target names (asked through the tunnel; a forward's per connection). */
  dns?: string[];
  /** Search domains tried for target names without a dot. */
  dnsSearch?: string[];
  /** udp-forward: seconds a quiet client keeps its tunnel socket; 0 = forever, unset = 120. */
  inactivityTimeoutS?: number;
  /** http: PEM certificate chain and key; the listener then speaks HTTPS. */
  certFile?: string;
  keyFile?: string;
  /** socks5, http: [Resolve] ResolveStrategy as a family, 0 (either), 4 or 6. */
  resolveFamily?: number;
  /** socks5, http: with no `dns`, resolve target names with the host's resolver (`--system-dns`). */
  systemDns?: boolean;
  /** Keep the listeners' per-connection log lines off stderr (`-s`); process-wide. */
  quiet?: boolean;
}

export interface NativeProxy {
  /** `ip:port` bound, or `stack:PORT` for a reverse forward. */
  readonly address: string;
  close(): void;
}

/** What `wiretun proxy` may still open once sandboxed: files to read, directories to read under, files to
 * read and write. */
export interface NativeSandboxPaths {
  readFiles: string[];
  readDirs: string[];
  writeFiles: string[];
}

export interface NativeSandboxOutcome {
  status: 'full' | 'partial' | 'no-kernel-support' | 'not-this-os';
  /** With "partial": what is not restricted. */
  detail?: string;
}

export interface NativeBinding {
  BindingDevice: {
    create(name: string, mtu?: number | null): NativeDevice;
    /** A device with no TUN: a userspace TCP/IP stack is its inner side. Needs no privilege. */
    createNetstack(name: string, options: NativeNetstackOptions): NativeDevice;
  };
  generatePrivateKey(): Buffer;
  generatePresharedKey(): Buffer;
  publicKeyFromPrivate(privateKey: Buffer): Buffer;
  isLowOrderPublicKey(publicKey: Buffer): boolean;
  coreVersion(): string;
  /** Throws EADDRINUSE (port taken), EINVAL (bad spec). */
  startProxy(netstack: NativeNetstack, spec: NativeProxySpec): NativeProxy;
  /** Dials ip:port through the tunnel and joins fd 0 and fd 1 to it in Rust until the far end closes;
   * resolves to the bytes written to stdout. Rejects `CODE: message`. */
  proxyStdio(netstack: NativeNetstack, ip: string, port: number, connectTimeoutMs: number): Promise<number>;
  /** Landlock on every thread of this process, irreversibly: only `paths` can be opened afterwards. Throws EIO. */
  restrictFiles(paths: NativeSandboxPaths): NativeSandboxOutcome;
  /** The native UAPI parser on a whole set request, applying nothing. */
  uapiCheckSet(text: string): NativeUapiCheck;
  /** The get reply body (without the errno line) the native server writes for this state. */
  uapiFormatGet(privateKey: Buffer | undefined, listenPort: number, fwmark: number, peers: NativePeerInfo[]): string;
}

let cached: NativeBinding | undefined;

/** The package's own version, which the native core must match. */
export function packageVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path.join(__dirname, '..', 'package.json')) as { version: string }).version;
}

/** Loads the addon (WIRETUN_NATIVE_PATH, a build from source in native/, or the installed platform package:
 * ./native-loader.ts). Throws a clear error naming the platform when no binary fits, and refuses a binary built
 * from another version. */
export function native(): NativeBinding {
  if (cached) return cached;
  const { binding } = loadNative<NativeBinding>(defaultIo(path.join(__dirname, '..')));
  const core = binding.coreVersion();
  if (core !== packageVersion()) {
    throw new Error(`wiretun ${packageVersion()} found a native core of version ${core}; reinstall wiretun`);
  }
  cached = binding;
  return binding;
}
