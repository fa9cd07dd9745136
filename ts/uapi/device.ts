// UapiDevice over the native device: applies a validated change set in wireguard-go's order.
import { NativeDevice, native } from '../native';
import { WiretunError, callNative } from '../errors';
import { DeviceChange, DeviceState, ERRNO, UapiError } from './codec';
import { UapiDevice } from './server';

function uapiErrorFrom(err: unknown): UapiError {
  if (err instanceof WiretunError) {
    const errno = err.code === 'EADDRINUSE' ? ERRNO.EADDRINUSE : err.code === 'EINVAL' ? ERRNO.EINVAL : ERRNO.EIO;
    return new UapiError(errno, err.message);
  }
  return new UapiError(ERRNO.EIO, String(err));
}

export function nativeUapiDevice(dev: NativeDevice): UapiDevice {
  const call = <T>(fn: () => T): T => {
    try {
      return callNative(fn);
    } catch (err) {
      throw uapiErrorFrom(err);
    }
  };
  return {
    state: (): DeviceState => ({
      privateKey: call(() => dev.privateKey()),
      listenPort: call(() => dev.listenPort()),
      fwmark: call(() => dev.fwmark()),
      peers: call(() => dev.peers()),
    }),
    apply: (c: DeviceChange): void => {
      // Refuse bad keys before touching anything, so a rejected request changes nothing.
      for (const p of c.peers) {
        if (!p.remove && call(() => native().isLowOrderPublicKey(p.publicKey))) {
          throw new UapiError(ERRNO.EINVAL, 'public_key: a key of low order is not a valid peer');
        }
      }
      if (c.privateKey !== undefined) call(() => dev.setPrivateKey(c.privateKey ?? null));
      if (c.listenPort !== undefined) call(() => dev.setListenPort(c.listenPort!));
      if (c.fwmark !== undefined) call(() => dev.setFwmark(c.fwmark!));
      if (c.replacePeers) call(() => dev.clearPeers());
      for (const p of c.peers) {
        if (p.remove) {
          call(() => dev.removePeer(p.publicKey));
          continue;
        }
        call(() =>
          dev.setPeer(p.publicKey, {
            updateOnly: p.updateOnly,
            presharedKey: p.presharedKey,
            endpoint: p.endpoint,
            persistentKeepalive: p.persistentKeepalive,
            replaceAllowedIps: p.replaceAllowedIps,
            allowedIps: p.allowedIps,
            removeAllowedIps: p.removeAllowedIps,
          }),
        );
      }
    },
  };
}
