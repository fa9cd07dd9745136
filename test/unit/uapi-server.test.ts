// The UAPI server and client over a temporary socket directory, with a fake device (no root, no addon).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceState, DeviceUpdate, emptyPeerUpdate } from '../../ts/config/model';
import { WiretunError } from '../../ts/errors';
import { getDevice, setDevice, uapiGet, uapiRequest, uapiSet } from '../../ts/uapi/client';
import { ERRNO, formatGet, UapiError } from '../../ts/uapi/codec';
import { serveUapi, UapiDevice, UapiServer } from '../../ts/uapi/server';

const K1 = 'a'.repeat(64);
const K2 = 'b'.repeat(64);

/** A device that records what it is given and can be told to fail like the native one. */
function fakeDevice() {
  const applied: DeviceUpdate[] = [];
  const state: DeviceState = { privateKey: null, listenPort: 1234, fwmark: 0, peers: [] };
  const device: UapiDevice = {
    state: () => state,
    apply: (u) => {
      if (u.listenPort === 1) throw new UapiError(ERRNO.EADDRINUSE, 'busy');
      if (u.listenPort === 2) throw new WiretunError('EADDRINUSE', 'port 2 is in use');
      if (u.listenPort === 3) throw new Error('surprise');
      applied.push(u);
      if (u.listenPort !== undefined) state.listenPort = u.listenPort;
    },
  };
  return { device, applied, state };
}

/** Writes raw bytes and collects everything until the server closes or `replies` errno lines arrived. */
function converse(sock: string, text: string, replies: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let got = '';
    c.on('data', (d) => {
      got += d.toString();
      if (got.split('errno=').length - 1 === replies && got.endsWith('\n\n')) c.end();
    });
    c.on('close', () => resolve(got));
    c.on('error', reject);
    c.write(text);
    if (replies === 0) c.end();
  });
}

let dir: string;
let servers: UapiServer[];
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wtuapi-'));
  servers = [];
});
afterEach(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(iface = 'wt0', device: UapiDevice = fakeDevice().device): Promise<UapiServer> {
  const s = await serveUapi(iface, device, { dir });
  servers.push(s);
  return s;
}

describe('UAPI server', () => {
  it('answers several requests on one connection, in order, each with its errno', async () => {
    const f = fakeDevice();
    const s = await start('wt0', f.device);
    const reply = await converse(
      s.path,
      'get=1\n\nset=1\nlisten_port=5\n\nset=1\nlisten_port=1\n\nset=1\nlisten_port=2\n\nset=1\nlisten_port=3\n\nget=1\n\n',
      6,
    );
    expect(reply).toBe(
      'listen_port=1234\nerrno=0\n\nerrno=0\n\nerrno=-98\n\nerrno=-98\n\nerrno=-55\n\nlisten_port=5\nerrno=0\n\n',
    );
    expect(f.applied).toHaveLength(1);
  });

  it('handles requests split across writes and several in one write', async () => {
    const f = fakeDevice();
    const s = await start('wt0', f.device);
    const reply = await new Promise<string>((resolve) => {
      const c = net.connect(s.path);
      let got = '';
      c.on('data', (d) => {
        got += d.toString();
        if (got.split('errno=').length === 3) c.end(), resolve(got);
      });
      const parts = ['se', 't=1\nlisten', '_port=9\n', '\nget=1', '\n\n'];
      parts.forEach((p, i) => setTimeout(() => c.write(p), i * 10));
    });
    expect(reply).toBe('errno=0\n\nlisten_port=9\nerrno=0\n\n');
  });

  it('applies nothing from a malformed set, and keeps serving the connection', async () => {
    const f = fakeDevice();
    const s = await start('wt0', f.device);
    const bad = [
      `set=1\nlisten_port=7\npublic_key=zz\n\n`,
      `set=1\nlisten_port=7\npublic_key=${K2}\nallowed_ip=10.0.0.0/33\n\n`,
      `set=1\nlisten_port=7\nbogus=1\n\n`,
      `set=1\nlisten_port=7\nno-equals\n\n`,
    ];
    const reply = await converse(s.path, `${bad.join('')}get=1\n\n`, 5);
    expect(reply).toBe('errno=-22\n\nerrno=-22\n\nerrno=-22\n\nerrno=-71\n\nlisten_port=1234\nerrno=0\n\n');
    expect(f.applied).toHaveLength(0);
  });

  it('applies nothing when the connection ends before the blank line', async () => {
    const f = fakeDevice();
    const s = await start('wt0', f.device);
    expect(await converse(s.path, 'set=1\nlisten_port=7\n', 0)).toBe('');
    expect(f.applied).toHaveLength(0);
  });

  it('answers EINVAL to a get with trailing data, and closes on an unknown operation without a reply', async () => {
    const s = await start();
    expect(await converse(s.path, 'get=1\nx=1\n\n', 1)).toBe('errno=-22\n\n');
    expect(await converse(s.path, 'frobnicate=1\n\nget=1\n\n', 99)).toBe('');
  });

  it('passes a parsed update, with every field, to the device', async () => {
    const f = fakeDevice();
    const s = await start('wt0', f.device);
    await converse(s.path, `set=1\nfwmark=3\nreplace_peers=true\npublic_key=${K2}\nendpoint=1.2.3.4:5\n\n`, 1);
    expect(f.applied).toEqual([
      { fwmark: 3, replacePeers: true, peers: [{ ...emptyPeerUpdate(Buffer.from(K2, 'hex')), endpoint: '1.2.3.4:5' }] },
    ]);
  });

  it('creates a root-only socket in a 0755 directory', async () => {
    const sub = path.join(dir, 'run', 'wireguard');
    const oldMask = process.umask(0o077);
    try {
      servers.push(await serveUapi('wt0', fakeDevice().device, { dir: sub }));
    } finally {
      process.umask(oldMask);
    }
    expect(statSync(sub).mode & 0o777).toBe(0o755);
    expect(statSync(servers[0].path).mode & 0o077).toBe(0);
    expect(statSync(servers[0].path).isSocket()).toBe(true);
  });

  it('refuses a socket another process is serving', async () => {
    await start('wt0');
    await expect(serveUapi('wt0', fakeDevice().device, { dir })).rejects.toThrow(/wt0 is in use/);
  });

  it('replaces a stale socket (one that refuses connections)', async () => {
    // A crashed daemon leaves its socket file behind. Node unlinks its own sockets on close, so python makes one.
    const stalePath = path.join(dir, 'wt1.sock');
    execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', stalePath]);
    expect(existsSync(stalePath)).toBe(true);
    await start('wt1');
    expect(await uapiGet('wt1', { dir })).toBe('listen_port=1234\n');
    // Under the process's usual umask too, the new socket is root-only, and that umask is back afterwards.
    expect(process.umask() & 0o077).not.toBe(0o077);
    expect(statSync(stalePath).mode & 0o077).toBe(0);
  });

  it('refuses to take over a path that is not a socket', async () => {
    writeFileSync(path.join(dir, 'wt2.sock'), 'not a socket');
    // Connecting to a regular file is ECONNREFUSED on Linux, like a stale socket: it is replaced.
    await start('wt2');
    expect(statSync(path.join(dir, 'wt2.sock')).isSocket()).toBe(true);
  });

  it('removes its socket on close, even with a client connected', async () => {
    const s = await serveUapi('wt3', fakeDevice().device, { dir });
    const idle = net.connect(s.path);
    await new Promise((r) => idle.once('connect', r));
    const gone = new Promise((r) => idle.once('close', r));
    await s.close();
    await gone;
    expect(existsSync(s.path)).toBe(false);
  });
});

describe('UAPI client', () => {
  it('uapiGet returns the body without the errno line; uapiSet sends a body with or without its newline', async () => {
    const f = fakeDevice();
    await start('wt0', f.device);
    await uapiSet('wt0', 'listen_port=10', { dir });
    await uapiSet('wt0', 'fwmark=1\n', { dir });
    await uapiSet('wt0', '', { dir });
    expect(f.applied.map((u) => [u.listenPort, u.fwmark])).toEqual([[10, undefined], [undefined, 1], [undefined, undefined]]);
    expect(await uapiGet('wt0', { dir })).toBe('listen_port=10\n');
  });

  it('uapiSet throws a UapiError carrying the errno', async () => {
    await start();
    await expect(uapiSet('wt0', 'listen_port=1', { dir })).rejects.toMatchObject({ errno: -98 });
    await expect(uapiSet('wt0', 'listen_port=x', { dir })).rejects.toBeInstanceOf(UapiError);
    await expect(uapiSet('wt0', 'listen_port=5\n\nlisten_port=6', { dir })).rejects.toMatchObject({ errno: ERRNO.EINVAL });
  });

  it('getDevice and setDevice speak the model', async () => {
    const f = fakeDevice();
    f.state.peers.push({
      publicKey: Buffer.from(K2, 'hex'), presharedKey: null, endpoint: '[fd00::1]:5', lastHandshakeSec: 0,
      lastHandshakeNsec: 0, txBytes: 1, rxBytes: 2, persistentKeepalive: 0, allowedIps: ['10.0.0.0/8'],
    });
    await start('wt0', f.device);
    expect(await getDevice('wt0', { dir })).toEqual(f.state);
    const update: DeviceUpdate = {
      privateKey: Buffer.from(K1, 'hex'), replacePeers: false,
      peers: [{ ...emptyPeerUpdate(Buffer.from(K2, 'hex')), persistentKeepalive: 25, allowedIps: ['10.1.0.0/16'] }],
    };
    await setDevice('wt0', update, { dir });
    expect(f.applied).toEqual([update]);
  });

  it('rejects with EIO when there is no socket, or it closes without a reply', async () => {
    await expect(uapiGet('nope', { dir })).rejects.toMatchObject({ errno: ERRNO.EIO });
    await start();
    await expect(uapiRequest('wt0', 'frobnicate=1\n\n', { dir })).rejects.toThrow(/closed without a reply/);
  });

  it('times out on a server that never answers', async () => {
    const sock = path.join(dir, 'mute.sock');
    const mute = net.createServer(() => undefined).listen(sock);
    await new Promise((r) => mute.once('listening', r));
    try {
      await expect(uapiGet('mute', { dir, timeoutMs: 100 })).rejects.toThrow(/no UAPI reply/);
    } finally {
      mute.close();
    }
  });

  it('reads a get reply whose body formatGet wrote, large enough to arrive in several chunks', async () => {
    const f = fakeDevice();
    for (let i = 0; i < 2000; i++) {
      const key = Buffer.alloc(32, 0);
      key.writeUInt32BE(i + 1);
      f.state.peers.push({
        publicKey: key, presharedKey: null, endpoint: null, lastHandshakeSec: 0, lastHandshakeNsec: 0,
        txBytes: 0, rxBytes: 0, persistentKeepalive: 0, allowedIps: [`10.${i >> 8}.${i & 255}.0/24`],
      });
    }
    await start('wt0', f.device);
    expect(await uapiGet('wt0', { dir })).toBe(formatGet(f.state));
  });
});
