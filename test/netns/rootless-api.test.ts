// The rootless API against real WireGuard servers. Root only builds the namespaces: the server namespace runs a
// TUN daemon (Debian's wireguard-go, and wiretund) with node services behind it (HTTP, HTTPS, TCP/UDP echo, DNS:
// rootless/server.cjs); the client namespace runs rootless/client.cjs as `nobody` with every capability dropped
// (setpriv), which brings up a rootless tunnel over the veth underlay and exercises http.get with
// createConnection: tunnel.connect, fetch (http, https, by name), TLS over connect, tunnel.listen serving curl on
// the server side, UDP, ping, DNS (with a TCP retry), IPv6 inside the tunnel and the errno cases. The client
// namespace's links, addresses, routes, rules and firewall are the same before, during and after.
import { ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Impl, REPO, skipReason, WIREGUARD_GO, WIRETUND } from './lib/env';
import { snapshot } from './lib/netstate';
import { must } from './lib/proc';
import { asNobody, CLIENT, hasSetpriv, RootlessPair, rootlessPair, SERVER } from './lib/rootless-pair';
import { wg } from './lib/wg';

const DIST = path.join(REPO, 'dist', 'index.js');
const TRANSFER = 8 << 20;
if (!skipReason && !hasSetpriv) console.warn('\n*** SKIPPED: rootless-api needs setpriv (util-linux) ***\n');

interface Result {
  ok: boolean;
  value?: unknown;
  code?: string;
  causeCode?: string;
  error?: string;
}

/** Reads a child's stdout as JSON lines, one at a time. */
function lines(child: ChildProcess): () => Promise<Record<string, unknown>> {
  let buf = '';
  const queue: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else queue.push(line);
    }
  });
  return () =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('client: no output within 120 s')), 120_000);
      const take = (line: string) => (clearTimeout(timer), resolve(JSON.parse(line)));
      const next = queue.shift();
      if (next !== undefined) take(next);
      else waiting.push(take);
    });
}

describe.skipIf(!!skipReason || !hasSetpriv).each([WIREGUARD_GO, WIRETUND] as Impl[])('rootless API as nobody against $name', (impl) => {
  let pair: RootlessPair;
  let clientNs: string;
  let results: Record<string, Result> = {};
  const value = <T>(name: string): T => {
    const r = results[name];
    expect(r, `client result ${name}`).toBeDefined();
    expect(r.ok, `${name}: ${r.error}`).toBe(true);
    return r.value as T;
  };
  const failure = (name: string) => {
    const r = results[name];
    expect(r?.ok, `${name} should have failed`).toBe(false);
    return r;
  };

  beforeAll(async () => {
    const many = Array.from({ length: 30 }, (_, i) => `10.211.1.${i + 1}`);
    pair = await rootlessPair(impl, { records: { 'service.test': { a: [SERVER.v4], aaaa: [SERVER.v6] }, 'many.test': { a: many } } });
    clientNs = pair.cli.ns;
    writeFileSync(path.join(pair.shared, 'client.json'), JSON.stringify({
      dist: DIST,
      caFile: pair.cert,
      privateKey: pair.clientKey,
      serverPublicKey: pair.serverKey.pub,
      endpoint: `${pair.srv.v4}:51820`,
      allowedIps: ['10.211.0.0/24', 'fd00:211::/64'],
      server: SERVER,
      client: CLIENT,
      silent: '10.211.0.99',
      transferBytes: TRANSFER,
    }), { mode: 0o644 });
  });

  afterAll(async () => {
    await pair?.destroy();
  });

  it('runs unprivileged, creates no TUN and changes nothing in its namespace', async () => {
    const before = await snapshot(clientNs);
    const child = spawn('ip', ['netns', 'exec', clientNs, ...asNobody([process.execPath, path.join(__dirname, 'rootless', 'client.cjs'),
      path.join(pair.shared, 'client.json')])], { stdio: ['pipe', 'pipe', 'inherit'], cwd: '/' });
    const next = lines(child);
    try {
      const up = await next();
      expect(up.phase, JSON.stringify(up)).toBe('up');
      // While the tunnel is up and has carried a ping: still only lo and the veth, and nothing else changed.
      const during = await snapshot(clientNs);
      expect(during).toEqual(before);
      const links = JSON.parse(await must('ip', ['-n', clientNs, '-j', 'link', 'show'])) as Array<{ ifname: string }>;
      expect(links.map((l) => l.ifname).sort()).toEqual(['eth0', 'lo']);
      child.stdin!.end('go\n');
      const done = await next();
      expect(done.phase, JSON.stringify(done)).toBe('done');
      results = done.results as Record<string, Result>;
    } finally {
      child.kill('SIGKILL');
    }
    expect(await snapshot(clientNs)).toEqual(before);
    const priv = value<{ uid: number; capEff: string; capPrm: string; capBnd: string }>('privileges');
    expect(priv.uid).not.toBe(0);
    expect(priv.capEff).toBe('0000000000000000');
    expect(priv.capPrm).toBe('0000000000000000');
    expect(priv.capBnd).toBe('0000000000000000');
    expect(value('uapiPath')).toBeNull();
    expect(value<number>('firstPing')).toBeGreaterThan(0);
    // The server's own view: a handshake with the client, and traffic both ways.
    const dump = (await wg(pair.srv.ns, ['show', pair.iface.name, 'dump'])).trim().split('\n')[1].split('\t');
    expect(Number(dump[5])).toBeGreaterThan(TRANSFER);
    expect(Number(dump[6])).toBeGreaterThan(TRANSFER);
  });

  it('serves http.get with createConnection: tunnel.connect, over IPv4 and IPv6', () => {
    expect(value<string>('httpGet')).toMatch(new RegExp(`^hello (::ffff:)?${CLIENT.v4} http$`));
    expect(value<string>('httpGetV6')).toBe(`hello ${CLIENT.v6} http`);
  });

  it('fetches by name through the tunnel DNS, over http and https', () => {
    expect(value<string>('fetchByName')).toMatch(/^hello .*10\.211\.0\.2 http$/);
    expect(value<string>('fetchHttps')).toMatch(/^hello .*10\.211\.0\.2 https$/);
  });

  it('moves bytes both ways with their hashes intact', () => {
    const down = value<{ bytes: number; sha256: string }>('download');
    expect(down.bytes).toBe(TRANSFER);
    expect(down.sha256).toMatch(/^[0-9a-f]{64}$/);
    const up = value<{ sent: string; got: { bytes: number; sha256: string } }>('upload');
    expect(up.got).toEqual({ bytes: TRANSFER, sha256: up.sent });
  });

  it('speaks TLS over tunnel.connect, half-closes, and serves curl through tunnel.listen', () => {
    const secure = value<{ authorized: boolean; response: string }>('tls');
    expect(secure.authorized).toBe(true);
    expect(secure.response).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*hello .* https$/);
    expect(value('echoHalfClose')).toEqual({ connecting: true, echoed: 'echo me' });
    const served = value<{ status: number; text: string; address: { port: number } }>('listen');
    expect(served).toMatchObject({ status: 200, text: `served /from-server to ${SERVER.v4}` });
    expect(served.address.port).toBe(8080);
  });

  it('carries UDP, ping and DNS (with a TCP retry for a truncated answer)', () => {
    expect(value('udpEcho')).toEqual([
      { text: 'datagram over udp4', from: SERVER.v4, port: 7 },
      { text: 'datagram over udp6', from: SERVER.v6, port: 7 },
    ]);
    const [rtt4, rtt6] = value<number[]>('ping');
    expect(rtt4).toBeGreaterThan(0);
    expect(rtt6).toBeGreaterThan(0);
    expect(value('lookup')).toEqual([{ address: SERVER.v4, family: 4 }, { address: SERVER.v6, family: 6 }, '10.211.1.1']);
  });

  it('fails with the errno codes', () => {
    expect(failure('errNotFound').code).toBe('ENOTFOUND');
    expect(value('errRefused')).toEqual({ code: 'ECONNREFUSED', syscall: 'connect', isWiretun: true });
    expect(value('errTimedOut')).toEqual({ code: 'ETIMEDOUT', syscall: 'connect', isWiretun: true });
    expect(value('errUnreachable')).toEqual({ code: 'EHOSTUNREACH', syscall: 'connect', isWiretun: true });
    expect(value('errNotFoundConnect')).toMatchObject({ code: 'ENOTFOUND', isWiretun: true });
    expect(failure('errFetch')).toMatchObject({ error: 'fetch failed', causeCode: 'ECONNREFUSED' });
  });

  it('shows the peer and stack counters as for any tunnel', () => {
    const [peer] = value<Array<{ hasHandshake: boolean; rx: number; tx: number }>>('peers');
    expect(peer.hasHandshake).toBe(true);
    expect(peer.rx).toBeGreaterThan(TRANSFER);
    expect(peer.tx).toBeGreaterThan(TRANSFER);
    const stats = value<{ rxPackets: number; txPackets: number; rxDropped: number }>('stackStats');
    expect(stats.rxPackets).toBeGreaterThan(1000);
    expect(stats.txPackets).toBeGreaterThan(1000);
  });
});
