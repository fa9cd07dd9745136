// The TypeScript client half of the UAPI codec (formatSet, parseGet), checked against the native server half
// (crates/wiretun-core/src/uapi, through the binding's uapiCheckSet and uapiFormatGet): what we send must read
// back as itself, and what the server writes must parse back to the state it came from. The server's own
// rules (every refusal and its errno) are the Rust unit tests in crates/wiretun-core/src/uapi/tests/.
import { describe, expect, it } from 'vitest';
import { DeviceState, DeviceUpdate, emptyPeerUpdate, updateFromState } from '../../ts/config/model';
import { ERRNO, formatSet, parseGet, UapiError } from '../../ts/uapi/codec';
import { nativeGet, nativeReads } from './uapi-native';

const K1 = 'a'.repeat(64);
const K2 = 'b'.repeat(64);
const Z = '0'.repeat(64);
const b = (hex: string) => Buffer.from(hex, 'hex');

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof UapiError) return e.errno;
    throw e;
  }
  return undefined;
}

describe('formatSet', () => {
  const full: DeviceUpdate = {
    privateKey: b(K1), listenPort: 51820, fwmark: 7, replacePeers: true,
    peers: [
      {
        publicKey: b(K2), remove: false, updateOnly: true, presharedKey: null, endpoint: '192.0.2.1:51820',
        persistentKeepalive: 0, replaceAllowedIps: true, allowedIps: ['10.0.0.0/8'], removeAllowedIps: ['fd00::/64'],
      },
      { ...emptyPeerUpdate(b(K1)), remove: true, endpoint: '192.0.2.9:1' },
    ],
  };

  it("writes wireguard-tools' order, nothing after remove=true", () => {
    expect(formatSet(full)).toBe(
      [
        `private_key=${K1}`, 'listen_port=51820', 'fwmark=7', 'replace_peers=true',
        `public_key=${K2}`, 'update_only=true', `preshared_key=${Z}`, 'endpoint=192.0.2.1:51820',
        'persistent_keepalive_interval=0', 'replace_allowed_ips=true', 'allowed_ip=10.0.0.0/8', 'allowed_ip=-fd00::/64',
        `public_key=${K1}`, 'remove=true', '',
      ].join('\n'),
    );
  });

  it('reads back as itself through the native parser, and a null private key becomes zeros', () => {
    const read = nativeReads(formatSet(full));
    expect(read).toMatchObject({ errno: 0, canonical: formatSet(full) });
    expect(read.summary).toBe('UAPI set: private key, listen port 51820, fwmark 7, replace peers, 1 peer(s) set, 1 peer(s) removed');
    expect(formatSet({ privateKey: null, replacePeers: false, peers: [] })).toBe(`private_key=${Z}\n`);
    expect(nativeReads(`private_key=${Z}\n`)).toMatchObject({ errno: 0, summary: 'UAPI set: private key cleared' });
    expect(formatSet({ replacePeers: false, peers: [] })).toBe('');
  });

  it('is refused by the native parser with the errno the server answers, never quoting a key', () => {
    expect(nativeReads('listen_port=65536\n')).toMatchObject({ errno: ERRNO.EINVAL });
    expect(nativeReads('listen_port\n')).toMatchObject({ errno: ERRNO.EPROTO });
    const refused = nativeReads(`${K1}=1\n`);
    expect(refused.errno).toBe(ERRNO.EINVAL);
    expect(refused.message).toMatch(/characters withheld/);
    expect(refused.message).not.toContain(K1.slice(0, 16));
  });

  it.each<[string, DeviceUpdate]>([
    ['a short key', { privateKey: Buffer.alloc(31), replacePeers: false, peers: [] }],
    ['a port out of range', { listenPort: 65536, replacePeers: false, peers: [] }],
    ['a fractional fwmark', { fwmark: 1.5, replacePeers: false, peers: [] }],
    ['a newline in an endpoint', { replacePeers: false, peers: [{ ...emptyPeerUpdate(b(K2)), endpoint: '1.2.3.4:1\nremove=true' }] }],
    ['a newline in a CIDR', { replacePeers: false, peers: [{ ...emptyPeerUpdate(b(K2)), allowedIps: ['10.0.0.0/8\nx=1'] }] }],
    ['a host name endpoint', { replacePeers: false, peers: [{ ...emptyPeerUpdate(b(K2)), endpoint: 'vpn.example:1' }] }],
    ['a negative keepalive', { replacePeers: false, peers: [{ ...emptyPeerUpdate(b(K2)), persistentKeepalive: -1 }] }],
  ])('refuses %s', (_what, update) => {
    expect(errnoOf(() => formatSet(update))).toBe(ERRNO.EINVAL);
  });
});

describe('native get → parseGet', () => {
  const state: DeviceState = {
    privateKey: b(K1),
    listenPort: 51820,
    fwmark: 0,
    peers: [
      {
        publicKey: b(K2), presharedKey: null, endpoint: '10.0.0.1:51820',
        lastHandshakeSec: 1700000000, lastHandshakeNsec: 5, txBytes: 10, rxBytes: 20,
        persistentKeepalive: 0, allowedIps: ['10.1.0.0/16', 'fd00::/64'],
      },
      {
        publicKey: b(K1), presharedKey: b(K2), endpoint: null, lastHandshakeSec: 0, lastHandshakeNsec: 0,
        txBytes: 0, rxBytes: 0, persistentKeepalive: 25, allowedIps: [],
      },
    ],
  };

  it('reads what the native server writes back to the state it came from', () => {
    expect(nativeGet(state).split('\n').slice(0, 3)).toEqual([`private_key=${K1}`, 'listen_port=51820', `public_key=${K2}`]);
    expect(parseGet(nativeGet(state))).toEqual(state);
    expect(parseGet(`${nativeGet(state)}errno=0\n\n`)).toEqual(state);
  });

  it('skips keys it does not know, as wg does, and rejects malformed values', () => {
    expect(parseGet(`listen_port=1\nnew_device_key=x\npublic_key=${K2}\nnew_peer_key=y\n`).peers).toHaveLength(1);
    expect(errnoOf(() => parseGet('listen_port=x\n'))).toBe(ERRNO.EPROTO);
    expect(errnoOf(() => parseGet('public_key=abc\n'))).toBe(ERRNO.EPROTO);
    expect(errnoOf(() => parseGet('garbage\n'))).toBe(ERRNO.EPROTO);
    expect(errnoOf(() => parseGet('errno=-22\n\n'))).toBe(-22);
  });

  it('turns a state into the update that recreates it', () => {
    const u = updateFromState(state);
    expect(u).toMatchObject({ privateKey: b(K1), listenPort: 51820, fwmark: 0, replacePeers: true });
    expect(u.peers.map((p) => [p.publicKey, p.presharedKey, p.endpoint, p.persistentKeepalive, p.allowedIps])).toEqual([
      [b(K2), null, '10.0.0.1:51820', 0, ['10.1.0.0/16', 'fd00::/64']],
      [b(K1), b(K2), undefined, 25, []],
    ]);
    expect(u.peers.every((p) => p.replaceAllowedIps)).toBe(true);
    expect(nativeReads(formatSet(u))).toMatchObject({ errno: 0, canonical: formatSet(u) });
  });
});
