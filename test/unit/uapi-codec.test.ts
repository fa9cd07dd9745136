import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceChange, DeviceState, ERRNO, formatGet, parseGet, parseSet, UapiError } from '../../ts/uapi/codec';
import { serveUapi, UapiDevice, UapiServer } from '../../ts/uapi/server';
import { uapiRequest } from '../../ts/uapi/client';

const K1 = 'a'.repeat(64);
const K2 = 'b'.repeat(64);

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof UapiError ? e.errno : undefined;
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
    expect(d.privateKey?.toString('hex')).toBe(K1);
    expect(d).toMatchObject({ listenPort: 51820, fwmark: 4660, replacePeers: true });
    expect(d.peers[0]).toMatchObject({
      updateOnly: true, endpoint: '[fd00::1]:51820', persistentKeepalive: 25, replaceAllowedIps: true,
      allowedIps: ['10.0.0.0/24'], removeAllowedIps: ['fd00::/64'], remove: false,
    });
    expect(d.peers[1]).toMatchObject({ remove: true });
  });

  it('treats an all-zero private key as clearing it', () => {
    expect(parseSet([`private_key=${'0'.repeat(64)}`]).privateKey).toBeNull();
  });

  it.each([
    [['private_key=ABC'], ERRNO.EINVAL],
    [[`private_key=${K1.toUpperCase()}`], ERRNO.EINVAL],
    [['listen_port=65536'], ERRNO.EINVAL],
    [['listen_port=-1'], ERRNO.EINVAL],
    [['fwmark=4294967296'], ERRNO.EINVAL],
    [['replace_peers=false'], ERRNO.EINVAL],
    [['frobnicate=1'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'endpoint=example.com:1'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'endpoint=1.2.3.4'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'allowed_ip=10.0.0.0/33'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'protocol_version=2'], ERRNO.EINVAL],
    [[`public_key=${K2}`, 'listen_port=1'], ERRNO.EINVAL],
    [['no equals sign'], ERRNO.EPROTO],
  ])('refuses %j with errno %i', (lines, errno) => {
    expect(errnoOf(() => parseSet(lines))).toBe(errno);
  });
});

describe('formatGet / parseGet', () => {
  const state: DeviceState = {
    privateKey: Buffer.from(K1, 'hex'),
    listenPort: 51820,
    fwmark: 0,
    peers: [
      {
        publicKey: Buffer.from(K2, 'hex'), presharedKey: null, endpoint: '10.0.0.1:51820',
        lastHandshakeSec: 1700000000, lastHandshakeNsec: 5, txBytes: 10, rxBytes: 20,
        persistentKeepalive: 0, allowedIps: ['10.1.0.0/16', 'fd00::/64'],
      },
    ],
  };

  it("writes keys in wireguard-go's order, fwmark only when set, a zero PSK when none", () => {
    expect(formatGet(state).split('\n').filter(Boolean).map((l) => l.split('=')[0])).toEqual([
      'private_key', 'listen_port', 'public_key', 'preshared_key', 'protocol_version', 'endpoint',
      'last_handshake_time_sec', 'last_handshake_time_nsec', 'tx_bytes', 'rx_bytes',
      'persistent_keepalive_interval', 'allowed_ip', 'allowed_ip',
    ]);
    expect(formatGet(state)).toContain(`preshared_key=${'0'.repeat(64)}\n`);
  });

  it('round-trips through parseGet', () => {
    expect(parseGet(formatGet(state))).toEqual(state);
  });

  it('omits the private key when none is set', () => {
    expect(formatGet({ ...state, privateKey: null })).not.toContain('private_key');
  });
});

describe('UAPI server (fake device)', () => {
  let dir: string;
  let server: UapiServer | undefined;
  let applied: DeviceChange[];
  const device: UapiDevice = {
    state: () => ({ privateKey: null, listenPort: 1234, fwmark: 0, peers: [] }),
    apply: (c) => {
      if (c.listenPort === 1) throw new UapiError(ERRNO.EADDRINUSE, 'busy');
      applied.push(c);
    },
  };

  async function start(): Promise<void> {
    dir = mkdtempSync(path.join(tmpdir(), 'wtuapi-'));
    applied = [];
    server = await serveUapi('wt0', device, { dir });
  }

  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers several requests on one connection, in order', async () => {
    await start();
    const reply = await new Promise<string>((resolve) => {
      const c = net.connect(server!.path);
      let got = '';
      c.on('data', (d) => {
        got += d.toString();
        if (got.split('errno=').length === 4) c.end(), resolve(got);
      });
      c.write(`get=1\n\nset=1\nlisten_port=5\n\nset=1\nlisten_port=1\n\n`);
    });
    expect(reply).toBe('listen_port=1234\nerrno=0\n\nerrno=0\n\nerrno=-98\n\n');
    expect(applied).toHaveLength(1);
  });

  it('applies nothing from a malformed set', async () => {
    await start();
    await expect(uapiRequest('wt0', `set=1\nlisten_port=7\npublic_key=zz\n\n`, { dir })).rejects.toMatchObject({
      errno: ERRNO.EINVAL,
    });
    expect(applied).toHaveLength(0);
  });

  it('creates a root-only socket, replaces a stale one and refuses a live one', async () => {
    await start();
    expect(statSync(server!.path).mode & 0o077).toBe(0);
    await expect(serveUapi('wt0', device, { dir })).rejects.toThrow(/already served/);
    // A crashed daemon leaves its socket file behind: bound but not listening, it refuses connections, and is
    // replaced. (Node unlinks its own sockets on close, so python makes the stale one.)
    const stalePath = path.join(dir, 'wt1.sock');
    execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', stalePath]);
    expect(existsSync(stalePath)).toBe(true);
    const second = await serveUapi('wt1', device, { dir });
    expect(await uapiRequest('wt1', 'get=1\n\n', { dir })).toBe('listen_port=1234\n');
    await second.close();
  });
});
