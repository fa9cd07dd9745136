// The options of a rootless tunnel, and what a wg-quick file means for one: Address and DNS are the stack's,
// the keys that only make sense with an interface (routing table, hooks, SaveConfig, FwMark) are ignored with
// a warning.
import type { WgQuickConfig } from '../config/wgquick';
import type { PeerOptions } from '../tunnel';
import type { TcpEngineName } from '../native';

/**
 * What {@link Tunnel.create} sets up for a rootless tunnel: no TUN, no routes, no privilege. Its inner side is a
 * userspace TCP/IP stack with `addresses`, reached through {@link Tunnel.connect}, {@link Tunnel.listen},
 * {@link Tunnel.createSocket}, {@link Tunnel.ping}, {@link Tunnel.lookup} and {@link Tunnel.fetch}.
 */
export interface NetstackTunnelOptions {
  netstack: true;
  /** Names the tunnel (in UAPI and logs), at most 15 bytes; default `wiretun`. No interface is created. */
  name?: string;
  /** Our private key, base64. */
  privateKey: string;
  /** The stack's own addresses, `ip/prefix` (a wg-quick Address list), at most 8. */
  addresses: string[];
  /** DNS servers (IP addresses) asked through the tunnel for host names; none: names fail with ENOTFOUND. */
  dns?: string[];
  /** Search domains tried for a name without a dot. */
  dnsSearch?: string[];
  /** Tunnel MTU; default 1420. */
  mtu?: number;
  /** 0 or absent picks a free port. */
  listenPort?: number;
  /** Peers to add before the tunnel is returned. */
  peers?: PeerOptions[];
  /** How long a TCP connect waits for its handshake, ms; default 30,000. */
  connectTimeout?: number;
  /** Serve the UAPI socket at this path (off by default: there is no root-owned socket directory). */
  uapiPath?: string;
  /**
   * The stack's TCP: `'tcp2'` (the default), our own (SACK, RACK-TLP, PRR, BBR-style pacing: many times
   * smoltcp's upload on lossy paths, as fast on lossless ones), or `'smoltcp'`, the engine before it, kept
   * for a release. Absent: the `WIRETUN_TCP_ENGINE` environment variable, else the default.
   */
  tcpEngine?: TcpEngineName;
}

/** What {@link Tunnel.fromConfig} takes for a rootless tunnel. */
export interface NetstackFromConfigOptions {
  netstack: true;
  /** Overrides the name taken from the file name. */
  name?: string;
  /** See {@link NetstackTunnelOptions.connectTimeout}. */
  connectTimeout?: number;
  /** See {@link NetstackTunnelOptions.uapiPath}. */
  uapiPath?: string;
  /** See {@link NetstackTunnelOptions.tcpEngine}. */
  tcpEngine?: TcpEngineName;
}

/** The wg-quick keys a rootless tunnel cannot honour that this config sets. */
export function ignoredInNetstackMode(config: WgQuickConfig): string[] {
  const ignored: string[] = [];
  if (config.table !== undefined) ignored.push('Table');
  if (config.preUp.length) ignored.push('PreUp');
  if (config.postUp.length) ignored.push('PostUp');
  if (config.preDown.length) ignored.push('PreDown');
  if (config.postDown.length) ignored.push('PostDown');
  if (config.saveConfig) ignored.push('SaveConfig');
  if (config.device.fwmark) ignored.push('FwMark');
  return ignored;
}

/** A wg-quick config as rootless tunnel options; warns about the keys it ignores. */
export function netstackOptionsFromConfig(
  config: WgQuickConfig,
  name: string | undefined,
  options: NetstackFromConfigOptions,
  peers: PeerOptions[],
): NetstackTunnelOptions {
  const ignored = ignoredInNetstackMode(config);
  if (ignored.length) {
    process.emitWarning(`a rootless tunnel ignores ${ignored.join(', ')} (it has no interface, routes or hooks)`, 'WiretunWarning');
  }
  return {
    netstack: true,
    name: name !== undefined && Buffer.byteLength(name) <= 15 ? name : undefined,
    privateKey: config.device.privateKey?.toString('base64') ?? '',
    listenPort: config.device.listenPort,
    mtu: config.mtu,
    addresses: config.addresses,
    dns: config.dns,
    dnsSearch: config.dnsSearch,
    peers,
    connectTimeout: options.connectTimeout,
    uapiPath: options.uapiPath,
    tcpEngine: options.tcpEngine,
  };
}

/** Throws a TypeError for a port or host connect() cannot use. */
export function checkConnectTarget(port: unknown, host: unknown): void {
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
    throw new TypeError(`Tunnel.connect: port must be an integer 1-65535, got ${typeof port === 'number' ? port : typeof port}`);
  }
  if (typeof host !== 'string' || host === '') throw new TypeError('Tunnel.connect: host must be a non-empty string');
}
