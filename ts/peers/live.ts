// The running interface, reached over its UAPI socket (wiretund, an in-process Tunnel, wireguard-go...).
import { existsSync } from 'node:fs';
import { emptyDeviceUpdate, emptyPeerUpdate } from '../config/model';
import { configPeer } from '../config/wgquick';
import { DeviceState, formatSet } from '../uapi/codec';
import { ClientOptions, getDevice, uapiSet } from '../uapi/client';
import { SOCKET_DIR, socketPath } from '../uapi/server';

const bytes = (base64: string) => Buffer.from(base64, 'base64');

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
  const update = configPeer(bytes(peer.publicKey), { allowedIps: peer.allowedIps });
  if (peer.presharedKey) update.presharedKey = bytes(peer.presharedKey);
  return uapiSet(iface, formatSet({ ...emptyDeviceUpdate(), peers: [update] }), opts);
}

export function removeLivePeer(iface: string, publicKey: string, opts?: ClientOptions): Promise<void> {
  const update = { ...emptyPeerUpdate(bytes(publicKey)), remove: true };
  return uapiSet(iface, formatSet({ ...emptyDeviceUpdate(), peers: [update] }), opts);
}
