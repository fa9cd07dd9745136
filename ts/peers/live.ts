// The running interface, reached over its UAPI socket (wiretund, an in-process Tunnel, wireguard-go...).
import { existsSync } from 'node:fs';
import { DeviceState } from '../uapi/codec';
import { ClientOptions, getDevice, uapiSet } from '../uapi/client';
import { SOCKET_DIR, socketPath } from '../uapi/server';

const hex = (base64: string) => Buffer.from(base64, 'base64').toString('hex');

/**
 * The running device, or undefined when the interface is not up: no socket, or a stale one nobody serves.
 * Any other failure (permissions, a daemon that refuses) is an error worth reporting.
 */
export async function liveDevice(iface: string, opts: ClientOptions = {}): Promise<DeviceState | undefined> {
  if (!existsSync(socketPath(iface, opts.dir ?? SOCKET_DIR))) return undefined;
  try {
    return await getDevice(iface, opts);
  } catch (err) {
    if (/ECONNREFUSED|ENOENT/.test((err as Error).message)) return undefined;
    throw err;
  }
}

export interface LivePeer {
  publicKey: string;
  presharedKey?: string;
  allowedIps: string[];
}

/** Adds (or updates) the peer; its allowed IPs replace any it had. */
export function addLivePeer(iface: string, peer: LivePeer, opts?: ClientOptions): Promise<void> {
  const lines = [`public_key=${hex(peer.publicKey)}`];
  if (peer.presharedKey) lines.push(`preshared_key=${hex(peer.presharedKey)}`);
  lines.push('replace_allowed_ips=true', ...peer.allowedIps.map((ip) => `allowed_ip=${ip}`));
  return uapiSet(iface, lines.join('\n'), opts);
}

export function removeLivePeer(iface: string, publicKey: string, opts?: ClientOptions): Promise<void> {
  return uapiSet(iface, `public_key=${hex(publicKey)}\nremove=true`, opts);
}
