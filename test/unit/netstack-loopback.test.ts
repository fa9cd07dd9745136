// Two rootless tunnels in this process, talking WireGuard over real UDP on 127.0.0.1: the in-process API end to
// end (net.Sockets from connect and listen, http through both, TLS, UDP, ping, DNS through the tunnel, fetch,
// the errno cases). Needs no root and no TUN, so it runs everywhere.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey, publicKeyFromPrivate, Tunnel, WiretunError } from '../../ts/index';
import { encodeQuery, decodeAnswer, TYPE_A, TYPE_AAAA } from '../../ts/netstack/dns';
import { TunnelDatagramSocket } from '../../ts/netstack/index';
import { getDevice } from '../../ts/uapi/client';

let a: Tunnel;

async function waitFor(ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
let b: Tunnel;

/** A minimal authoritative DNS server on B's stack: `name` → A and AAAA, everything else NXDOMAIN. */
function dnsServer(sock: TunnelDatagramSocket, records: Record<string, { a?: string; aaaa?: string }>): void {
  sock.on('message', (q, from) => {
    let off = 12;
    const labels: string[] = [];
    while (q[off]) {
      labels.push(q.subarray(off + 1, off + 1 + q[off]).toString());
      off += q[off] + 1;
    }
    const qtype = q.readUInt16BE(off + 1);
    const question = q.subarray(12, off + 5);
    const rec = records[labels.join('.')];
    const value = qtype === TYPE_A ? rec?.a : qtype === TYPE_AAAA ? rec?.aaaa : undefined;
    const header = Buffer.from([q[0], q[1], 0x81, rec ? 0x80 : 0x83, 0, 1, 0, value ? 1 : 0, 0, 0, 0, 0]);
    const parts = [header, question];
    if (value) {
      const data = qtype === TYPE_A ? Buffer.from(value.split('.').map(Number)) : ipv6Bytes(value);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(qtype, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(data.length, 10);
      parts.push(rr, data);
    }
    sock.send(Buffer.concat(parts), from.port, from.address);
  });
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(words.flatMap((w) => [parseInt(w, 16) >> 8, parseInt(w, 16) & 0xff]));
}

beforeAll(async () => {
  const [ka, kb] = [generatePrivateKey(), generatePrivateKey()];
  a = await Tunnel.create({
    netstack: true,
    privateKey: ka,
    addresses: ['10.7.0.1/24', 'fd07::1/64'],
    dns: ['10.7.0.2'],
    connectTimeout: 1500,
    tcpEngine: 'tcp2',
  });
  // The two ends run different TCPs, so every connection here has one of each.
  b = await Tunnel.create({ netstack: true, privateKey: kb, addresses: ['10.7.0.2/24', 'fd07::2/64'], tcpEngine: 'smoltcp' });
  await a.addPeer({
    publicKey: publicKeyFromPrivate(kb),
    endpoint: `127.0.0.1:${b.listenPort}`,
    allowedIps: ['10.7.0.2/32', '10.7.0.3/32', 'fd07::2/128'],
  });
  await b.addPeer({ publicKey: publicKeyFromPrivate(ka), endpoint: `127.0.0.1:${a.listenPort}`, allowedIps: ['10.7.0.1/32', 'fd07::1/128'] });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
});

// Sockets are socketpair ends on Unix and loopback TCP connections the addon adopts on Windows; the second
// way runs here too (WIRETUN_NETSTACK_LOOPBACK), so the Windows path is tested where it cannot be run.
describe.each([
  { sockets: 'socketpair', env: undefined },
  { sockets: 'loopback TCP', env: '1' },
])('rootless tunnels over loopback ($sockets sockets)', ({ env }) => {
  beforeAll(() => {
    if (env) process.env.WIRETUN_NETSTACK_LOOPBACK = env;
  });
  afterAll(() => {
    delete process.env.WIRETUN_NETSTACK_LOOPBACK;
  });

  it('is a rootless tunnel with no uapi socket by default, and peers show the handshake', async () => {
    expect(a.netstack).toBe(true);
    expect(a.uapiPath).toBeNull();
    expect(await a.ping('10.7.0.2')).toBeGreaterThan(0);
    const [peer] = a.peers();
    expect(peer.lastHandshake).not.toBeNull();
    expect(peer.txBytes).toBeGreaterThan(0);
    expect(a.stackStats().txPackets).toBeGreaterThan(0);
  });

  it('serves HTTP from a listener and fetches it through connect, over IPv4 and IPv6', async () => {
    const server = http.createServer((req, res) => res.end(`hello ${req.url} from ${req.socket.remoteAddress}`));
    const listener = b.listen({ port: 8080 }, (socket) => server.emit('connection', socket));
    try {
      expect(listener.address().port).toBe(8080);
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ host: '10.7.0.2', port: 8080, path: '/x', createConnection: a.connect }, (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (c) => (text += c)).on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      expect(body).toBe('hello /x from 10.7.0.1');
      const res = await a.fetch('http://[fd07::2]:8080/six');
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('hello /six from fd07::1');
    } finally {
      listener.close();
    }
  });

  it('moves a megabyte each way on one connection with half-close, hashes intact', async () => {
    const size = 1 << 20;
    const up = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) & 0xff));
    const down = Buffer.from(Array.from({ length: size }, (_, i) => (i * 13) & 0xff));
    const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const listener = b.listen({ port: 9000, host: '10.7.0.2' }, (socket) => {
      const got: Buffer[] = [];
      socket.on('data', (c: Buffer) => got.push(c));
      socket.on('end', () => {
        socket.end(Buffer.concat([Buffer.from(hash(Buffer.concat(got))), down]));
      });
    });
    try {
      const socket = a.connect(9000, '10.7.0.2');
      expect(socket.connecting).toBe(true);
      socket.end(up);
      await new Promise((r) => socket.once('connect', r));
      expect(socket.remoteAddress).toBe('10.7.0.2');
      expect(socket.localAddress).toBe('10.7.0.1');
      const got: Buffer[] = [];
      socket.on('data', (c: Buffer) => got.push(c));
      await new Promise((r) => socket.once('end', r));
      const all = Buffer.concat(got);
      expect(all.subarray(0, 64).toString()).toBe(hash(up));
      expect(hash(all.subarray(64))).toBe(hash(down));
    } finally {
      listener.close();
    }
  });

  it('behaves as a net.Socket on destroy, before and after connecting', async () => {
    const ends: string[] = [];
    const listener = b.listen({ port: 9001 }, (socket) => {
      socket.on('data', () => undefined).on('end', () => ends.push('end')).on('close', () => ends.push('close'));
    });
    try {
      const early = a.connect(9001, '10.7.0.2');
      early.destroy();
      await new Promise((r) => early.once('close', r));
      expect(early.destroyed).toBe(true);
      const late = a.connect(9001, '10.7.0.2');
      await new Promise((r) => late.once('connect', r));
      late.write('bye');
      late.destroy();
      // The far side sees the connection go: as an end of file, or (when the destroy overtakes the data in the
      // splice) as a close without one; a reset cannot cross the socketpair as such.
      await waitFor(() => ends.includes('close'));
    } finally {
      listener.close();
    }
  });

  // Over loopback TCP only: a socketpair has no reset to pass on (its end of file stands in), nor can Node reset one.
  if (env) it('passes a remote reset on as ECONNRESET', async () => {
    const listener = b.listen({ port: 9002 }, (socket) => {
      socket.once('data', () => socket.resetAndDestroy());
    });
    try {
      const client = a.connect(9002, '10.7.0.2');
      const ended = new Promise<string>((resolve) => {
        client.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        client.on('end', () => resolve('end'));
      });
      client.write('hi');
      client.resume();
      expect(await ended).toBe('ECONNRESET');
    } finally {
      listener.close();
    }
  });

  it('speaks TLS over a tunnel connection', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wiretun-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
        '-subj', '/CN=service.test', '-addext', 'subjectAltName=DNS:service.test,IP:10.7.0.2',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
      const key = readFileSync(path.join(dir, 'key.pem'));
      const cert = readFileSync(path.join(dir, 'cert.pem'));
      const listener = b.listen({ port: 8443 }, (socket) => {
        const secure = new tls.TLSSocket(socket, { isServer: true, key, cert });
        secure.on('data', (d: Buffer) => secure.end(`tls:${d.toString()}`));
      });
      try {
        const secure = tls.connect({ socket: a.connect(8443, '10.7.0.2'), servername: 'service.test', ca: cert });
        await new Promise((r, j) => secure.once('secureConnect', r).once('error', j));
        expect(secure.authorized).toBe(true);
        secure.write('ping');
        const reply = await new Promise<string>((r) => {
          let s = '';
          secure.on('data', (d: Buffer) => (s += d)).on('end', () => r(s));
        });
        expect(reply).toBe('tls:ping');
      } finally {
        listener.close();
      }
      const site = https.createServer({ key, cert }, (req, res) => res.end(`https ${req.method} ${req.url}`));
      const web = b.listen({ port: 8444 }, (socket) => site.emit('connection', socket));
      try {
        const res = await a.fetch('https://10.7.0.2:8444/secure', { method: 'POST', body: 'x', tls: { ca: cert } });
        expect(await res.text()).toBe('https POST /secure');
        await expect(a.fetch('https://10.7.0.2:8444/')).rejects.toMatchObject({ cause: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });
      } finally {
        web.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('echoes UDP and resolves names through the tunnel DNS server', async () => {
    const dns = b.createSocket('udp4').bind(53);
    dnsServer(dns, { 'svc.test': { a: '10.7.0.2', aaaa: 'fd07::2' } });
    const echo = b.createSocket('udp6').bind(7);
    echo.on('message', (m, from) => echo.send(m, from.port, from.address));
    try {
      expect(await a.lookup('svc.test', { family: 4 })).toEqual({ address: '10.7.0.2', family: 4 });
      expect(await a.lookup('svc.test', { family: 6 })).toEqual({ address: 'fd07::2', family: 6 });
      expect(await a.lookup('10.9.9.9')).toEqual({ address: '10.9.9.9', family: 4 });
      await expect(a.lookup('missing.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
      await expect(b.lookup('svc.test')).rejects.toThrow(/no DNS servers/);
      const client = a.createSocket('udp6');
      const reply = new Promise<[Buffer, { address: string; port: number }]>((r) => client.once('message', (m, i) => r([m, i])));
      client.send('over six', 7, 'fd07::2');
      const [msg, from] = await reply;
      expect(msg.toString()).toBe('over six');
      expect(from).toMatchObject({ address: 'fd07::2', port: 7 });
      client.close();
      // A name in connect resolves through the same DNS.
      const server = http.createServer((_q, res) => res.end('by name'));
      const listener = b.listen({ port: 80 }, (s) => server.emit('connection', s));
      try {
        expect(await (await a.fetch('http://svc.test/')).text()).toBe('by name');
      } finally {
        listener.close();
      }
    } finally {
      dns.close();
      echo.close();
    }
  });

  it('fails with errno codes', async () => {
    const refused = a.connect(9, '10.7.0.2');
    await expect(new Promise((_r, j) => refused.once('error', j))).rejects.toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
    const unreachable = a.connect(80, '10.9.0.1');
    const err = await new Promise<WiretunError>((r) => unreachable.once('error', r));
    expect(err).toBeInstanceOf(WiretunError);
    expect(err.code).toBe('EHOSTUNREACH');
    await expect(a.ping('10.9.0.1')).rejects.toMatchObject({ code: 'EHOSTUNREACH' });
    // 10.7.0.3 is routed to B, whose stack is not 10.7.0.3: nothing answers.
    const silent = a.connect(80, '10.7.0.3');
    await expect(new Promise((_r, j) => silent.once('error', j))).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    await expect(a.ping('10.7.0.3', { timeout: 500 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    await expect(a.fetch('http://10.7.0.2:9/')).rejects.toMatchObject({ message: 'fetch failed', cause: { code: 'ECONNREFUSED' } });
    expect(() => a.listen({ port: 80, host: '10.7.0.9' })).toThrow(expect.objectContaining({ code: 'EADDRNOTAVAIL' }));
    expect(() => a.connect({ port: 80, hots: 'x' } as never)).toThrow(TypeError);
  });

  it('rejects unknown options, and a TUN-only one, before creating anything', async () => {
    const privateKey = generatePrivateKey();
    await expect(Tunnel.create({ netstack: true, privateKey, addresses: ['10.8.0.1/24'], routing: true } as never)).rejects.toThrow(
      /unknown option routing/,
    );
    await expect(Tunnel.create({ netstack: true, privateKey, adresses: ['10.8.0.1/24'] } as never)).rejects.toThrow(/did you mean addresses/);
    await expect(Tunnel.create({ netstack: true, privateKey, addresses: ['10.8.0.1/24'], tcpEngine: 'reno' } as never)).rejects.toThrow(
      "option tcpEngine must be 'tcp2' or 'smoltcp', got 'reno'",
    );
  });
});

describe('a rootless tunnel from a wg-quick file', () => {
  it('uses Address and DNS, warns about the interface-only keys, and serves UAPI only at uapiPath', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wiretun-conf-'));
    const key = generatePrivateKey();
    const file = path.join(dir, 'office.conf');
    writeFileSync(file, [
      '[Interface]',
      `PrivateKey = ${key}`,
      'Address = 10.9.8.2/24, fd09::2/64',
      'DNS = 10.9.8.1, corp.test',
      'Table = off',
      'PostUp = echo up',
      '',
      '[Peer]',
      `PublicKey = ${publicKeyFromPrivate(generatePrivateKey())}`,
      'AllowedIPs = 10.9.8.0/24',
      'Endpoint = 127.0.0.1:9',
      '',
    ].join('\n'), { mode: 0o600 });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const uapiPath = path.join(dir, 'office.sock');
    const t = await Tunnel.fromConfig(file, { netstack: true, uapiPath });
    try {
      await new Promise((r) => setImmediate(r));
      expect(warnings.join('\n')).toMatch(/ignores Table, PostUp/);
      expect(t.netstack).toBe(true);
      expect(t.name).toBe('office');
      expect(t.uapiPath).toBe(uapiPath);
      const state = await getDevice('office', { dir });
      expect(state.peers[0].allowedIps).toEqual(['10.9.8.0/24']);
      expect(t.peers()[0].endpoint).toBe('127.0.0.1:9');
      // Its DNS server is the file's, through the tunnel: 10.9.8.1 never answers here.
      await expect(t.lookup('nothing', { family: 4 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    } finally {
      process.off('warning', onWarning);
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
});

describe('closing a rootless tunnel', () => {
  it('closes its listeners and UDP sockets, and refuses further use', async () => {
    const t = await Tunnel.create({ netstack: true, privateKey: generatePrivateKey(), addresses: ['10.6.0.1/24'] });
    const server = t.listen({ port: 80 });
    const udp = t.createSocket('udp4').bind(5000);
    await new Promise<void>((r) => udp.once('listening', r));
    const udpClosed = new Promise<void>((r) => udp.once('close', r));
    await t.close();
    await udpClosed;
    expect(server.listening).toBe(false);
    expect(() => t.connect(80, '10.6.0.2')).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});

describe('DNS wire format', () => {
  it('encodes a query and decodes a compressed answer', () => {
    const q = encodeQuery('svc.test', TYPE_A, 0x1234);
    expect(q.readUInt16BE(0)).toBe(0x1234);
    const answer = Buffer.concat([
      Buffer.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]),
      q.subarray(12),
      Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 7, 0, 2]),
    ]);
    expect(decodeAnswer(answer, TYPE_A)).toEqual({ id: 0x1234, truncated: false, rcode: 0, addresses: ['10.7.0.2'] });
    expect(() => decodeAnswer(answer.subarray(0, 20), TYPE_A)).toThrow(/malformed/);
    expect(() => encodeQuery('a..b', TYPE_A, 1)).toThrow(/not a valid host name/);
  });
});
