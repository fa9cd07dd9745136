// The wg-quick config a new client imports: its own keys and address, and this server as its one peer.
import { canonicalCidr } from '../config/ip';
import { formatConfig } from '../config/format';
import { configPeer, emptyConfig, WgQuickConfig } from '../config/wgquick';
import { serverSubnets } from './allocate';

export class ClientConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientConfigError';
  }
}

export interface ClientParams {
  privateKey: string;
  presharedKey: string;
  /** The addresses allocated to the client (/32, /128). */
  addresses: string[];
  server: WgQuickConfig;
  serverPublicKey: string;
  /** `host:port`, `[v6]:port`, or a host without a port (the server's listen port is added). */
  endpoint: string;
  /** The server's listen port, from the file or the running interface; needed when endpoint has no port. */
  listenPort?: number;
  /** What the client sends through the tunnel; default: the server's subnets. */
  allowedIps?: string[];
  /** The client's DNS; default: the server's own. */
  dns?: { servers: string[]; search: string[] };
  /** Seconds between keepalives the client sends (behind NAT); default: none. */
  persistentKeepalive?: number;
}

/** Whether `endpoint` already names a port: `host:port` or `[v6]:port` (a bare IPv6 address has no port). */
function hasPort(endpoint: string): boolean {
  if (endpoint.startsWith('[')) return /^\[[^\]]+\]:\d+$/.test(endpoint);
  const colons = endpoint.split(':').length - 1;
  return colons === 1 && /:\d+$/.test(endpoint);
}

/** The endpoint with a port, validated the way wg-quick will read it. */
export function completeEndpoint(endpoint: string, listenPort?: number): string {
  const e = endpoint.trim();
  if (e === '' || /[\s#]/.test(e)) throw new ClientConfigError(`endpoint ${JSON.stringify(endpoint)} is not HOST:PORT`);
  if (hasPort(e)) {
    const port = Number(e.slice(e.lastIndexOf(':') + 1));
    if (port < 1 || port > 65535) throw new ClientConfigError(`endpoint port ${port} is out of range 1-65535`);
    return e;
  }
  if (!listenPort) {
    throw new ClientConfigError(`endpoint ${e} has no port and the server has no ListenPort: give --endpoint HOST:PORT`);
  }
  const host = e.includes(':') && !e.startsWith('[') ? `[${e}]` : e;
  return `${host}:${listenPort}`;
}

/** The client's complete wg-quick config text. */
export function clientConfig(p: ClientParams): string {
  const config = emptyConfig();
  config.device.privateKey = Buffer.from(p.privateKey, 'base64');
  config.addresses = p.addresses;
  // The server's DNS (what its own clients should resolve with), if it names any.
  config.dns = [...(p.dns?.servers ?? p.server.dns)];
  config.dnsSearch = [...(p.dns?.search ?? p.server.dnsSearch)];
  const allowedIps = p.allowedIps ?? serverSubnets(p.server.addresses).map(canonicalCidr);
  config.device.peers.push(
    configPeer(Buffer.from(p.serverPublicKey, 'base64'), {
      presharedKey: Buffer.from(p.presharedKey, 'base64'),
      endpoint: completeEndpoint(p.endpoint, p.listenPort),
      allowedIps,
      ...(p.persistentKeepalive ? { persistentKeepalive: p.persistentKeepalive } : {}),
    }),
  );
  return formatConfig(config);
}
