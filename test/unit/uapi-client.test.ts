// The UAPI client (ts/uapi/client.ts) against a scripted stand-in server on a temporary socket (no root, no
// device). The real server is native; its rules are tested in crates/wiretun-core/src/uapi/tests/ and against
// wg in test/netns/uapi*.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceState, DeviceUpdate, emptyPeerUpdate } from '../../ts/config/model';
import { getDevice, setDevice, uapiGet, uapiRequest, uapiSet } from '../../ts/uapi/client';
import { ERRNO, formatSet, UapiError } from '../../ts/uapi/codec';
import { socketPath } from '../../ts/uapi/server';
import { nativeGet } from './uapi-native';

const K1 = 'a'.repeat(64);
const K2 = 'b'.repeat(64);

/** Answers each request (up to its blank line) with `answer(request)`, or closes on undefined; records them. */
function standIn(sock: string, answer: (request: string) => string | undefined) {
  const requests: string[] = [];
  const server = net.createServer((c) => {
    let buffered = '';
    c.setEncoding('utf8');
    c.on('error', () => c.destroy());
    c.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const request = buffered.slice(0, end + 2);
        buffered = buffered.slice(end + 2);
        requests.push(request);
        const reply = answer(request);
        if (reply === undefined) return void c.destroy();
        c.write(reply);
      }
    });
  });
  const listening = new Promise<void>((r) => server.listen(sock, () => r()));
  return { requests, server, listening };
}

let dir: string;
let servers: net.Server[];
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wtuapi-'));
  servers = [];
});
afterEach(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function start(answer: (request: string) => string | undefined, iface = 'wt0') {
  const s = standIn(socketPath(iface, dir), answer);
  servers.push(s.server);
  await s.listening;
  return s;
}

const state: DeviceState = {
  privateKey: null,
  listenPort: 1234,
  fwmark: 0,
  peers: [
    {
      publicKey: Buffer.from(K2, 'hex'), presharedKey: null, endpoint: '[fd00::1]:5', lastHandshakeSec: 0,
      lastHandshakeNsec: 0, txBytes: 1, rxBytes: 2, persistentKeepalive: 0, allowedIps: ['10.0.0.0/8'],
    },
  ],
};

/** Gets answer with what the native server writes for `state`; sets with errno `setErrno`. */
const like = (s: DeviceState, setErrno = 0) => (request: string) =>
  request.startsWith('get=1\n') ? `${nativeGet(s)}errno=0\n\n` : request.startsWith('set=1\n') ? `errno=${setErrno}\n\n` : undefined;

describe('UAPI client', () => {
  it('uapiGet returns the body without the errno line; uapiSet sends a body with or without its newline', async () => {
    const s = await start(like(state));
    await uapiSet('wt0', 'listen_port=10', { dir });
    await uapiSet('wt0', 'fwmark=1\n', { dir });
    await uapiSet('wt0', '', { dir });
    expect(s.requests).toEqual(['set=1\nlisten_port=10\n\n', 'set=1\nfwmark=1\n\n', 'set=1\n\n']);
    expect(await uapiGet('wt0', { dir })).toBe(nativeGet(state));
  });

  it('uapiSet throws a UapiError carrying the errno, and refuses a blank line before sending', async () => {
    const s = await start(like(state, -98));
    await expect(uapiSet('wt0', 'listen_port=1', { dir })).rejects.toMatchObject({ errno: -98 });
    await expect(uapiSet('wt0', 'listen_port=1', { dir })).rejects.toBeInstanceOf(UapiError);
    await expect(uapiSet('wt0', 'listen_port=5\n\nlisten_port=6', { dir })).rejects.toMatchObject({ errno: ERRNO.EINVAL });
    expect(s.requests).toHaveLength(2);
  });

  it('getDevice and setDevice speak the model', async () => {
    const s = await start(like(state));
    expect(await getDevice('wt0', { dir })).toEqual(state);
    const update: DeviceUpdate = {
      privateKey: Buffer.from(K1, 'hex'), replacePeers: false,
      peers: [{ ...emptyPeerUpdate(Buffer.from(K2, 'hex')), persistentKeepalive: 25, allowedIps: ['10.1.0.0/16'] }],
    };
    await setDevice('wt0', update, { dir });
    expect(s.requests[1]).toBe(`set=1\n${formatSet(update)}\n`);
  });

  it('rejects with EIO when there is no socket, or it closes without a reply', async () => {
    await expect(uapiGet('nope', { dir })).rejects.toMatchObject({ errno: ERRNO.EIO });
    await start(like(state));
    await expect(uapiRequest('wt0', 'frobnicate=1\n\n', { dir })).rejects.toThrow(/closed without a reply/);
  });

  it('times out on a server that never answers', async () => {
    await start(() => '', 'mute');
    await expect(uapiGet('mute', { dir, timeoutMs: 100 })).rejects.toThrow(/no UAPI reply/);
  });

  it('reads a get reply large enough to arrive in several chunks', async () => {
    const big: DeviceState = { ...state, peers: [] };
    for (let i = 0; i < 2000; i++) {
      const key = Buffer.alloc(32, 0);
      key.writeUInt32BE(i + 1);
      big.peers.push({
        publicKey: key, presharedKey: null, endpoint: null, lastHandshakeSec: 0, lastHandshakeNsec: 0,
        txBytes: 0, rxBytes: 0, persistentKeepalive: 0, allowedIps: [`10.${i >> 8}.${i & 255}.0/24`],
      });
    }
    await start(like(big));
    expect(await getDevice('wt0', { dir })).toEqual(big);
  });
});
