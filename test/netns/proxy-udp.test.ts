// The UDP side of `wiretun proxy`, as nobody with every capability dropped, against Debian's wireguard-go and
// wiretund, each with rootless/server.cjs's DNS server behind it: DNS questions through SOCKS5 UDP ASSOCIATE (to IPv4 and IPv6
// tunnel addresses and to a name the proxy resolves through the tunnel) and through -L .../udp and
// [UDPProxyTunnel] forwards (one to an IPv6 target), with the answers checked; ASSOCIATE with wrong or no
// credentials refused; the relay port closed with its control connection. The proxy's own DNS client: a
// truncated UDP answer asked again over TCP, and a name without a dot found through the DNS line's search
// domain; with no DNS servers, names refused unless --system-dns hands them to the host's resolver.
import * as path from 'node:path';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Impl, skipReason, WIREGUARD_GO, WIRETUND } from './lib/env';
import { hasSetpriv, rootlessPair, RootlessPair, Running, SERVER, startProxy } from './lib/rootless-pair';

const CLIENT_SCRIPT = path.join(__dirname, 'rootless', 'socks5-udp.cjs');
// More than 20 A records: server.cjs answers that over UDP truncated (TC, no records), whole over TCP.
const MANY = Array.from({ length: 25 }, () => SERVER.v4);
const RECORDS = {
  'files.test': { a: [SERVER.v4], aaaa: [SERVER.v6] },
  'dns.test': { a: [SERVER.v4] },
  'dns6.test': { aaaa: [SERVER.v6] },
  'many.test': { a: MANY },
};
if (!skipReason && !hasSetpriv) console.warn('\n*** SKIPPED: proxy-udp needs setpriv (util-linux) ***\n');

interface Answer { from: string; tc: boolean; rcode: number; addrs: string[] }
interface Query { name: string; type: 'A' | 'AAAA'; dst?: { host: string; port: number } }

describe.skipIf(!!skipReason || !hasSetpriv).each([WIREGUARD_GO, WIRETUND] as Impl[])('wiretun proxy UDP as nobody against $name', (impl) => {
  let pair: RootlessPair;
  let proxy: Running;

  /** Runs the DNS client in the client namespace; its JSON line. */
  const dns = async (cfg: object): Promise<{ answers?: Answer[]; auth?: number; closed?: boolean; method?: number; relayClosed?: boolean }> => {
    const r = await pair.exec([process.execPath, CLIENT_SCRIPT, JSON.stringify(cfg)], { timeoutMs: 40_000 });
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };
  const socks = (queries: Query[], extra: object = {}) =>
    dns({ socks: { port: 11080, user: 'alice', pass: 's3cret' }, queries, ...extra });

  beforeAll(async () => {
    pair = await rootlessPair(impl, { records: RECORDS });
    // A second DNS line's word that is not an address is a search domain (wg-quick's rule).
    pair.writeClientConf({ extra: 'DNS = test' });
    const conf = path.join(pair.shared, 'wireproxy-udp.conf');
    writeFileSync(conf, [
      'WGConfig = wg.conf', '',
      '[Socks5]', 'BindAddress = 127.0.0.1:11080', 'Username = alice', 'Password = s3cret', '',
      '[UDPProxyTunnel]', 'BindAddress = 127.0.0.1:15353', `Target = ${SERVER.v4}:53`, 'InactivityTimeout = 30', '',
    ].join('\n'), { mode: 0o644 });
    proxy = await startProxy(pair, [conf, '--socks5', '127.0.0.1:11081', '-L', `15354:[${SERVER.v6}]:53/udp`], 4);
  }, 90_000);

  afterAll(async () => {
    proxy?.child.kill('SIGKILL');
    await pair?.destroy();
  });

  it('runs as nobody with no capabilities', async () => {
    const status = (await pair.exec(['cat', `/proc/${proxy.child.pid}/status`])).stdout;
    expect(status).toMatch(/^Uid:\s+65534\s/m);
    expect(status).toMatch(/^CapEff:\s+0000000000000000$/m);
    expect(status).toMatch(/^CapBnd:\s+0000000000000000$/m);
  });

  it('carries DNS through SOCKS5 UDP ASSOCIATE to IPv4, IPv6 and named destinations', async () => {
    const r = await socks([
      { name: 'files.test', type: 'A', dst: { host: SERVER.v4, port: 53 } },
      { name: 'files.test', type: 'AAAA', dst: { host: SERVER.v6, port: 53 } },
      // dns.test / dns6.test are the DNS server's own names: resolved by the proxy, through the tunnel.
      { name: 'files.test', type: 'A', dst: { host: 'dns.test', port: 53 } },
      { name: 'files.test', type: 'AAAA', dst: { host: 'dns6.test', port: 53 } },
      { name: 'nowhere.test', type: 'A', dst: { host: SERVER.v4, port: 53 } },
    ]);
    expect(r.answers).toEqual([
      { from: `${SERVER.v4}:53`, tc: false, rcode: 0, addrs: [SERVER.v4] },
      { from: `${SERVER.v6}:53`, tc: false, rcode: 0, addrs: [SERVER.v6] },
      { from: `${SERVER.v4}:53`, tc: false, rcode: 0, addrs: [SERVER.v4] },
      { from: `${SERVER.v6}:53`, tc: false, rcode: 0, addrs: [SERVER.v6] },
      { from: `${SERVER.v4}:53`, tc: false, rcode: 3, addrs: [] },
    ]);
  });

  it('relays a truncated answer as it is, and closes the relay port with the control connection', async () => {
    const r = await socks([{ name: 'many.test', type: 'A', dst: { host: SERVER.v4, port: 53 } }], { closeCheck: true });
    expect(r.answers).toEqual([{ from: `${SERVER.v4}:53`, tc: true, rcode: 0, addrs: [] }]);
    expect(r.relayClosed).toBe(true);
  });

  it('refuses ASSOCIATE with wrong or no credentials', async () => {
    const q: Query[] = [{ name: 'files.test', type: 'A', dst: { host: SERVER.v4, port: 53 } }];
    // RFC 1929: status 1, then the server closes the connection.
    expect(await dns({ socks: { port: 11080, user: 'alice', pass: 'wrong' }, queries: q })).toEqual({ auth: 1, closed: true });
    expect(await dns({ socks: { port: 11080 }, queries: q })).toEqual({ method: 0xff });
  });

  it('forwards DNS with [UDPProxyTunnel] (IPv4 target) and -L .../udp (IPv6 target)', async () => {
    const q: Query[] = [{ name: 'files.test', type: 'AAAA' }, { name: 'files.test', type: 'A' }];
    for (const port of [15353, 15354]) {
      const r = await dns({ udp: { port }, queries: q });
      expect(r.answers).toEqual([
        { from: 'direct', tc: false, rcode: 0, addrs: [SERVER.v6] },
        { from: 'direct', tc: false, rcode: 0, addrs: [SERVER.v4] },
      ]);
    }
  });

  it('resolves CONNECT targets over TCP when the UDP answer is truncated, and with the search domain', async () => {
    const curl = (url: string) => pair.exec(['curl', '-sS', '--max-time', '20', '--socks5-hostname', '127.0.0.1:11081', url]);
    // many.test: TC over UDP, so the proxy asks again over TCP and gets its 25 addresses.
    const many = await curl('http://many.test/hello');
    expect(many.stderr).toBe('');
    expect(many.stdout).toMatch(/^hello \S+ http$/);
    // "files" has no dot: asked as files.test (the search domain) first.
    const short = await curl('http://files/hello');
    expect(short.stderr).toBe('');
    expect(short.stdout).toMatch(/^hello \S+ http$/);
    expect((await curl('http://nowhere/hello')).code).toBe(97);
  });

  it('with no DNS servers refuses names, unless --system-dns gives them to the host resolver', async () => {
    // `ip netns exec` mounts /etc/netns/NS/hosts over /etc/hosts: a name only the client side's host resolver knows.
    const etc = `/etc/netns/${pair.cli.ns}`;
    mkdirSync(etc, { recursive: true });
    writeFileSync(path.join(etc, 'hosts'), `127.0.0.1 localhost\n${SERVER.v4} server.hosts-file\n`, { mode: 0o644 });
    try {
      const conf = pair.writeClientConf({ name: 'nodns.conf', dns: false });
      for (const systemDns of [false, true]) {
        const p = await startProxy(pair, [conf, '--socks5', '127.0.0.1:11090', ...(systemDns ? ['--system-dns'] : [])], 1);
        try {
          const r = await pair.exec(['curl', '-sS', '--max-time', '20', '--socks5-hostname', '127.0.0.1:11090', 'http://server.hosts-file/hello']);
          if (systemDns) expect(r.stdout, r.stderr).toMatch(/^hello \S+ http$/);
          else expect(r.code).toBe(97);
          expect(p.stderr()).toMatch(systemDns ? /resolved by this host \(--system-dns\)/ : /targets by name will be refused/);
        } finally {
          p.child.kill('SIGTERM');
          await p.exit;
        }
      }
    } finally {
      rmSync(etc, { recursive: true, force: true });
    }
  });
});
