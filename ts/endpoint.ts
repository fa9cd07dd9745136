// Endpoints as users write them (`host:port`, `[v6]:port`), resolved to the numeric form the data plane takes.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { WiretunError } from './errors';

export interface HostPort {
  host: string;
  port: number;
}

/** Splits `host:port` or `[v6]:port`; throws a WiretunError naming the bad part. */
export function splitEndpoint(text: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) throw new WiretunError('EINVAL', `endpoint ${JSON.stringify(text)} is not host:port or [v6]:port`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new WiretunError('EINVAL', `endpoint ${JSON.stringify(text)} has a port outside 1-65535`);
  }
  return { host: m[1], port };
}

/** Formats a numeric address and port as the UAPI and wg(8) write it. */
export function joinEndpoint(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Resolves a host name (first address, like wg(8)); numeric endpoints pass through. */
export async function resolveEndpoint(text: string): Promise<string> {
  const { host, port } = splitEndpoint(text);
  if (isIP(host)) return joinEndpoint(host, port);
  try {
    const { address } = await lookup(host);
    return joinEndpoint(address, port);
  } catch (err) {
    throw new WiretunError('ENOENT', `cannot resolve endpoint host ${JSON.stringify(host)}`, { cause: err });
  }
}
