// UapiDevice over the native device: applies a validated update in wireguard-go's order (private key, listen
// port, fwmark, replace_peers, then each peer block in order).
import { DeviceUpdate, PeerUpdate } from '../config/model';
import { callNative } from '../errors';
import { native, NativeDevice, NativePeerUpdate } from '../native';
import { DeviceState, ERRNO, UapiError } from './codec';
import { uapiErrorFrom } from './values';
import { UapiDevice } from './server';

export interface NativeUapiOptions {
  /** Low-order key check; the addon's by default (a seam for unit tests). */
  isLowOrderPublicKey?: (key: Buffer) => boolean;
}

function call<T>(fn: () => T): T {
  try {
    return callNative(fn);
  } catch (err) {
    throw uapiErrorFrom(err);
  }
}

function toNative(p: PeerUpdate): NativePeerUpdate {
  const u: NativePeerUpdate = {
    updateOnly: p.updateOnly,
    replaceAllowedIps: p.replaceAllowedIps,
    allowedIps: p.allowedIps,
    removeAllowedIps: p.removeAllowedIps,
  };
  // The native side takes all zeros for "no preshared key"; absent fields stay absent (unchanged).
  if (p.presharedKey !== undefined) u.presharedKey = p.presharedKey ?? Buffer.alloc(32);
  if (p.endpoint !== undefined) u.endpoint = p.endpoint;
  if (p.persistentKeepalive !== undefined) u.persistentKeepalive = p.persistentKeepalive;
  return u;
}

export function nativeUapiDevice(dev: NativeDevice, opts: NativeUapiOptions = {}): UapiDevice {
  const lowOrder = opts.isLowOrderPublicKey ?? ((k: Buffer) => native().isLowOrderPublicKey(k));
  return {
    state: (): DeviceState => ({
      privateKey: call(() => dev.privateKey()),
      listenPort: call(() => dev.listenPort()),
      fwmark: call(() => dev.fwmark()),
      peers: call(() => dev.peers()),
    }),
    apply: (u: DeviceUpdate): void => {
      // The native side would refuse these mid-way; refusing them first keeps a bad request from changing
      // anything.
      for (const p of u.peers) {
        if (!p.remove && call(() => lowOrder(p.publicKey))) {
          throw new UapiError(ERRNO.EINVAL, 'public_key: a key of low order is not a valid peer');
        }
      }
      if (u.privateKey !== undefined) call(() => dev.setPrivateKey(u.privateKey ?? null));
      if (u.listenPort !== undefined) call(() => dev.setListenPort(u.listenPort!));
      if (u.fwmark !== undefined) call(() => dev.setFwmark(u.fwmark!));
      if (u.replacePeers) call(() => dev.clearPeers());
      for (const p of u.peers) {
        if (p.remove) call(() => dev.removePeer(p.publicKey));
        else call(() => dev.setPeer(p.publicKey, toNative(p)));
      }
    },
  };
}
