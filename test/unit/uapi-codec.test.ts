import { describe, expect, it } from 'vitest';
import { DeviceState, DeviceUpdate, emptyPeerUpdate, updateFromState } from '../../ts/config/model';
import { ERRNO, formatGet, formatSet, parseGet, parseSet, parseSetRequest, UapiError } from '../../ts/uapi/codec';

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

describe('parseSet', () => {
  it('reads every device and peer key', () => {
    const d = parseSet([
      `private_key=${K1}`, 'listen_port=51820', 'fwmark=4660', 'replace_peers=true',
      `public_key=${K2}`, 'update_only=true', `preshared_key=${K1}`, 'endpoint=[fd00::1]:51820',
      'persistent_keepalive_interval=25', 'replace_allowed_ips=true', 'allowed_ip=10.0.0.7/24',
      'allowed_ip=-fd00::/64', 'protocol_version=1',
      `public_key=${K1}`, 'remove=true',
    ]);
    expect(d.privateKey).toEqual(b(K1));
    expect(d).toMatchObject({ listenPort: 51820, fwmark: 4660, replacePeers: true });
    expect(d.peers[0]).toEqual({
      publicKey: b(K2), remove: false, updateOnly: true, presharedKey: b(K1), endpoint: '[fd00::1]:51820',
      persistentKeepalive: 25, replaceAllowedIps: true, allowedIps: ['10.0.0.0/24'], removeAllowedIps: ['fd00::/64'],
    });
    expect(d.peers[1]).toEqual({ ...emptyPeerUpdate(b(K1)), remove: true });
  });

  it('leaves out what the request does not mention', () => {
    const d = parseSet([`public_key=${K2}`]);
    expect(d).toEqual({ replacePeers: false, peers: [emptyPeerUpdate(b(K2))] });
    expect('privateKey' in d || 'listenPort' in d || 'fwmark' in d).toBe(false);
    expect(parseSet([])).toEqual({ replacePeers: false, peers: [] });
  });

  it('turns all-zero private and preshared keys into null (clear)', () => {
    const d = parseSet([`private_key=${Z}`, `public_key=${K2}`, `preshared_key=${Z}`]);
    expect(d.privateKey).toBeNull();
    expect(d.peers[0].presharedKey).toBeNull();
  });

  it('accepts the edges of every range, and host bits in allowed IPs', () => {
    const d = parseSet([
      'listen_port=0', 'fwmark=4294967295', `public_key=${K2}`, 'persistent_keepalive_interval=65535',
      'endpoint=255.255.255.255:0', 'allowed_ip=0.0.0.0/0', 'allowed_ip=::/0', 'allowed_ip=10.1.2.3/32',
      'allowed_ip=fd00::1:2/128', 'allowed_ip=::ffff:10.0.0.1/104',
    ]);
    expect(d).toMatchObject({ listenPort: 0, fwmark: 4294967295 });
    expect(d.peers[0].allowedIps).toEqual(['0.0.0.0/0', '::/0', '10.1.2.3/32', 'fd00::1:2/128', '::ffff:10.0.0.0/104']);
    expect(parseSet(['listen_port=00080']).listenPort).toBe(80); // Go's ParseUint allows leading zeros
  });

  it('writes endpoints in one canonical spelling', () => {
    const ep = (v: string) => parseSet([`public_key=${K2}`, `endpoint=${v}`]).peers[0].endpoint;
    expect(ep('[FD00:0:0::1]:0051820')).toBe('[fd00::1]:51820');
    expect(ep('192.0.2.1:1')).toBe('192.0.2.1:1');
    expect(ep('[::ffff:1.2.3.4]:9')).toBe('[::ffff:1.2.3.4]:9');
  });

  it.each([
    // keys
    [['private_key=ABC'], ERRNO.EINVAL],
    [[`private_key=${K1.toUpperCase()}`], ERRNO.EINVAL],
    [[`private_key=${K1}0`], ERRNO.EINVAL],
    [[`private_key=${K1.slice(2)}`], ERRNO.EINVAL],
    [['private_key='], ERRNO.EINVAL],
    [['public_key=zz'], ERRNO.EINVAL],
    [[`public_key=${K2}`, `preshared_key=${'g'.repeat(64)}`], ERRNO.EINVAL],
    // numbers
    [['listen_port=65536'], ERRNO.EINVAL],
    [['listen_port=-1'], ERRNO.EINVAL],
    [['listen_port=+1'], ERRNO.EINVAL],
    [['listen_port= 1'], ERRNO.EINVAL],
    [['listen_port=0x10'], ERRNO.EINVAL],
    [['listen_port='], ERRNO.EINVAL],
    [['listen_port=1e3'], ERRNO.EINVAL],
    [['fwmark=4294967296'], ERRNO.EINVAL],
    [['fwmark='], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'persistent_keepalive_interval=65536'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'persistent_keepalive_interval=off'], ERRNO.EINVAL],
    // flags
    [['replace_peers=false'], ERRNO.EINVAL],
    [['replace_peers=1'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'remove=false'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'update_only=TRUE'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'replace_allowed_ips=yes'], ERRNO.EINVAL],
    // endpoints
    [[`public_key=${K2}`, 'endpoint=example.com:1'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'endpoint=1.2.3.4'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'endpoint=1.2.3.4:65536'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'endpoint=1.2.3.4:'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'endpoint=01.2.3.4:1'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'endpoint=fd00::1:51820'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'endpoint=[1.2.3.4]:1'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'endpoint=[fe80::1%eth0]:1'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'endpoint='], ERRNO.EINVAL],
    // allowed IPs
    [[`public_key=${K2}`, 'allowed_ip=10.0.0.0/33'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'allowed_ip=fd00::/129'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'allowed_ip=10.0.0.1'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'allowed_ip=10.0.0/8'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'allowed_ip=10.0.0.0/'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'allowed_ip=-'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'allowed_ip=--10.0.0.0/8'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'allowed_ip=10.0.0.0/8,10.1.0.0/16'], ERRNO.EINVAL],
    // protocol and keys in the wrong place
    [[`public_key=${K2}`, 'protocol_version=2'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'protocol_version='], ERRNO.EINVAL],
    [['protocol_version=1'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'listen_port=1'], ERRNO.EINVAL],
    [[`public_key=${K2}`, `private_key=${K1}`], ERRNO.EINVAL],
    [['endpoint=1.2.3.4:1'], ERRNO.EINVAL],
    [['frobnicate=1'], ERRNO.EINVAL],
    [['=1'], ERRNO.EINVAL],
    [['last_handshake_time_sec=0'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'rx_bytes=0'], ERRNO.EINVAL],
    [['no equals sign'], ERRNO.EPROTO],
    [[`public_key=${K2}`, 'remove'], ERRNO.EPROTO],
  ])('refuses %j with errno %i', (lines, errno) => {
    expect(errnoOf(() => parseSet(lines))).toBe(errno);
  });

  it('never echoes a secret value in an error message', () => {
    const secret = `${'c'.repeat(63)}X`;
    try {
      parseSet([`private_key=${secret}`]);
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain('ccccc');
    }
  });
});

describe('parseSetRequest', () => {
  it('reads a framed request', () => {
    expect(parseSetRequest(`set=1\nlisten_port=5\n\n`)).toMatchObject({ listenPort: 5 });
    expect(parseSetRequest(`set=1\n\n`)).toEqual({ replacePeers: false, peers: [] });
  });

  it.each([
    ['set=1\nlisten_port=5\n'],
    ['set=1\nlisten_port=5'],
    ['listen_port=5\n\n'],
    ['get=1\n\n'],
    ['set=1\nlisten_port=5\n\nfwmark=1\n\n'],
    ['set=2\n\n'],
  ])('refuses bad framing %j with EPROTO', (text) => {
    expect(errnoOf(() => parseSetRequest(text))).toBe(ERRNO.EPROTO);
  });
});

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

  it('round-trips through parseSet, and a null private key becomes zeros', () => {
    const lines = formatSet(full).split('\n').filter(Boolean);
    const back = parseSet(lines);
    expect(back.peers[0]).toEqual(full.peers[0]);
    expect(back.peers[1]).toEqual({ ...emptyPeerUpdate(b(K1)), remove: true });
    expect(formatSet({ privateKey: null, replacePeers: false, peers: [] })).toBe(`private_key=${Z}\n`);
    expect(formatSet({ replacePeers: false, peers: [] })).toBe('');
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

describe('formatGet / parseGet', () => {
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

  it("writes keys in wireguard-go's order, fwmark only when set, a zero PSK when none", () => {
    expect(formatGet(state)).toBe(
      [
        `private_key=${K1}`, 'listen_port=51820',
        `public_key=${K2}`, `preshared_key=${Z}`, 'protocol_version=1', 'endpoint=10.0.0.1:51820',
        'last_handshake_time_sec=1700000000', 'last_handshake_time_nsec=5', 'tx_bytes=10', 'rx_bytes=20',
        'persistent_keepalive_interval=0', 'allowed_ip=10.1.0.0/16', 'allowed_ip=fd00::/64',
        `public_key=${K1}`, `preshared_key=${K2}`, 'protocol_version=1',
        'last_handshake_time_sec=0', 'last_handshake_time_nsec=0', 'tx_bytes=0', 'rx_bytes=0',
        'persistent_keepalive_interval=25', '',
      ].join('\n'),
    );
  });

  it('writes fwmark after listen_port when non-zero, and omits an unset key, port 0 and fwmark 0', () => {
    expect(formatGet({ privateKey: b(K1), listenPort: 1, fwmark: 9, peers: [] })).toBe(
      `private_key=${K1}\nlisten_port=1\nfwmark=9\n`,
    );
    expect(formatGet({ privateKey: null, listenPort: 0, fwmark: 0, peers: [] })).toBe('');
    expect(formatGet({ privateKey: Buffer.alloc(32), listenPort: 0, fwmark: 0, peers: [] })).toBe('');
  });

  it('round-trips through parseGet', () => {
    expect(parseGet(formatGet(state))).toEqual(state);
    expect(parseGet(`${formatGet(state)}errno=0\n\n`)).toEqual(state);
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
    const back = parseSet(formatSet(u).split('\n').filter(Boolean));
    expect(back.peers.map((p) => [p.publicKey, p.presharedKey, p.endpoint, p.persistentKeepalive, p.allowedIps])).toEqual([
      [b(K2), null, '10.0.0.1:51820', 0, ['10.1.0.0/16', 'fd00::/64']],
      [b(K1), b(K2), undefined, 25, []],
    ]);
    expect(back.peers.every((p) => p.replaceAllowedIps)).toBe(true);
  });
});

describe('error messages never carry key material', () => {
  const key = Buffer.alloc(32, 0xab);
  const hex = key.toString('hex');
  const b64 = key.toString('base64');
  const messageOf = (lines: string[]): string => {
    try {
      parseSet(lines);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('parseSet accepted a bad request');
  };

  it.each([
    ['a key with the = forgotten', [`private_key${hex}`]],
    ['a key as the key name', [`${hex}=1`]],
    ['a base64 key in a peer line', [`public_key=${hex}`, `${b64}x=1`]],
    ['a key as an endpoint', [`public_key=${hex}`, `endpoint=${b64}:1`]],
    ['a key as an allowed IP', [`public_key=${hex}`, `allowed_ip=${hex}`]],
  ])('%s', (_what, lines) => {
    const message = messageOf(lines);
    expect(message).toMatch(/characters withheld/);
    expect(message).not.toContain(hex.slice(0, 16));
    expect(message).not.toContain(b64.slice(0, 16));
  });

  it('still quotes ordinary text, so the message says what was wrong', () => {
    expect(messageOf(['listen_prot=1'])).toContain('"listen_prot"');
  });
});
