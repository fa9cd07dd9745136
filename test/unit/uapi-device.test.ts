// nativeUapiDevice over a fake NativeDevice: the apply order, the translation to native updates and the errno
// each native failure becomes.
import { describe, expect, it } from 'vitest';
import { emptyPeerUpdate } from '../../ts/config/model';
import { NativeDevice, NativePeerUpdate } from '../../ts/native';
import { ERRNO, parseSet, UapiError } from '../../ts/uapi/codec';
import { nativeUapiDevice } from '../../ts/uapi/device';

const K1 = Buffer.alloc(32, 0xaa);
const K2 = Buffer.alloc(32, 0xbb);
const LOW = Buffer.alloc(32, 0); // stands in for a low-order point

function fakeNative(fail: Partial<Record<string, Error>> = {}) {
  const calls: unknown[][] = [];
  const rec =
    (name: string, ret?: unknown) =>
    (...args: unknown[]) => {
      calls.push([name, ...args]);
      if (fail[name]) throw fail[name];
      return ret;
    };
  const dev = {
    name: 'wt0',
    setPrivateKey: rec('setPrivateKey'),
    privateKey: () => K1,
    publicKey: () => K2,
    setListenPort: rec('setListenPort', 5),
    listenPort: () => 5,
    setFwmark: rec('setFwmark'),
    fwmark: () => 0,
    setPeer: rec('setPeer', true),
    removePeer: rec('removePeer', true),
    clearPeers: rec('clearPeers'),
    peers: () => [],
    onEvent: () => undefined,
    close: () => undefined,
  } as unknown as NativeDevice;
  const uapi = nativeUapiDevice(dev, { isLowOrderPublicKey: (k) => k.equals(LOW) });
  return { uapi, calls };
}

const hex = (b: Buffer) => b.toString('hex');

describe('nativeUapiDevice', () => {
  it('applies in wireguard-go order: private key, port, fwmark, replace_peers, then peers in order', () => {
    const { uapi, calls } = fakeNative();
    uapi.apply(
      parseSet([
        'replace_peers=true', 'fwmark=9', 'listen_port=7', `private_key=${hex(K1)}`,
        `public_key=${hex(K2)}`, 'remove=true',
        `public_key=${hex(K1)}`, 'endpoint=1.2.3.4:5', 'allowed_ip=10.0.0.0/8',
      ]),
    );
    expect(calls.map((c) => c[0])).toEqual([
      'setPrivateKey', 'setListenPort', 'setFwmark', 'clearPeers', 'removePeer', 'setPeer',
    ]);
    expect(calls[0][1]).toEqual(K1);
    expect(calls[4][1]).toEqual(K2);
    expect(calls[5][2]).toEqual({
      updateOnly: false, replaceAllowedIps: false, allowedIps: ['10.0.0.0/8'], removeAllowedIps: [], endpoint: '1.2.3.4:5',
    });
  });

  it('leaves absent fields absent, and turns cleared keys into what the native side expects', () => {
    const { uapi, calls } = fakeNative();
    uapi.apply(parseSet([`private_key=${'0'.repeat(64)}`, `public_key=${hex(K2)}`, `preshared_key=${'0'.repeat(64)}`]));
    expect(calls[0]).toEqual(['setPrivateKey', null]);
    const update = calls[1][2] as NativePeerUpdate;
    expect(update.presharedKey).toEqual(Buffer.alloc(32));
    expect('endpoint' in update || 'persistentKeepalive' in update).toBe(false);
  });

  it('passes keepalive 0 and update_only through', () => {
    const { uapi, calls } = fakeNative();
    uapi.apply({ replacePeers: false, peers: [{ ...emptyPeerUpdate(K2), updateOnly: true, persistentKeepalive: 0 }] });
    expect(calls[0][2]).toMatchObject({ updateOnly: true, persistentKeepalive: 0 });
  });

  it('refuses a low-order peer key before changing anything', () => {
    const { uapi, calls } = fakeNative();
    expect(() => uapi.apply(parseSet(['listen_port=7', `public_key=${hex(LOW)}`]))).toThrow(
      expect.objectContaining({ errno: ERRNO.EINVAL }),
    );
    expect(calls).toEqual([]);
    // Removing such a peer is harmless and allowed.
    uapi.apply(parseSet([`public_key=${hex(LOW)}`, 'remove=true']));
    expect(calls.map((c) => c[0])).toEqual(['removePeer']);
  });

  it.each([
    ['EADDRINUSE: port 7 is in use', -98],
    ['EINVAL: bad endpoint', -22],
    ['EPERM: not allowed', -1],
    ['EADDRNOTAVAIL: no such address', -99],
    ['no code at all', -5], // errors.ts reads an uncoded native error as EIO
  ])('maps the native error %j to errno %i', (message, errno) => {
    const { uapi } = fakeNative({ setListenPort: new Error(message) });
    let caught: unknown;
    try {
      uapi.apply(parseSet(['listen_port=7']));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UapiError);
    expect((caught as UapiError).errno).toBe(errno);
  });

  it('maps an unknown errno name to ipcErrorUnknown (-55)', () => {
    const { uapi } = fakeNative({ setFwmark: new Error('EWHATEVER: odd') });
    expect(() => uapi.apply(parseSet(['fwmark=1']))).toThrow(expect.objectContaining({ errno: ERRNO.UNKNOWN }));
  });

  it('reports state from the native getters', () => {
    const { uapi } = fakeNative();
    expect(uapi.state()).toEqual({ privateKey: K1, listenPort: 5, fwmark: 0, peers: [] });
  });
});
