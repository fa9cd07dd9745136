// Every example config wireproxy documents (its README, test_config.sh, UseWithVPN.md), as our own fixtures in
// test/fixtures/wireproxy/ with this test's keys, addresses and names filled in, run end to end under `wiretun
// proxy -c FILE` as nobody with every capability dropped, against Debian's wireguard-go and wiretund: `-n`
// says OK for each, and each file's listeners all carry traffic at once. The README sample's every section
// together: SOCKS5 and HTTP (CONNECT too) to names the tunnel's DNS answers, the TCP client tunnel, the
// server tunnel reached from inside the tunnel to `localhost`, stdin/stdout to an echo service, and [SNI] on
// port 443 with curl trusting the server's own certificate. The rest: a WGConfig import with CheckAlive read
// from the imported file (/readyz), two peers with three server tunnels to names this host resolves and a
// UDP tunnel on port 53, a ListenPort the server dials in to, the health example's 503, and two [http], one
// with credentials. Endpoint names and the server tunnels' names come from /etc/netns/NS/hosts (which `ip
// netns exec` mounts over /etc/hosts); ports below 1024 are opened to nobody by that namespace's
// ip_unprivileged_port_start, as a user would do. Set-up: lib/rootless-pair.ts.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey, publicKeyFromPrivate } from '../../ts/keys';
import { Impl, skipReason, WIREGUARD_GO, WIRETUND } from './lib/env';
import { must } from './lib/proc';
import { asNobody, CLIENT, hasSetpriv, RootlessPair, rootlessPair, Running, SERVER, startProxy, WIRETUN_CLI } from './lib/rootless-pair';
import { waitFor } from './lib/wait';
import { wg } from './lib/wg';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'wireproxy');
const DNS_CLIENT = path.join(__dirname, 'rootless', 'socks5-udp.cjs');
const KEY_VAR = 'MY_WIREGUARD_PRIVATE_KEY';
/** Services on the client host's own loopback, for the server tunnels: each answers `local PORT`. */
const LOCAL_PORTS = [25545, 5000, 5001, 80];
const RECORDS = { 'game.test': { a: [SERVER.v4] }, 'echo.test': { a: [SERVER.v4] }, 'service.test': { a: [SERVER.v4] } };
if (!skipReason && !hasSetpriv) console.warn('\n*** SKIPPED: proxy-wireproxy-examples needs setpriv (util-linux) ***\n');

describe.skipIf(!!skipReason || !hasSetpriv).each([WIREGUARD_GO, WIRETUND] as Impl[])("wireproxy's documented examples under wiretun proxy as nobody against $name", (impl) => {
  let pair: RootlessPair;
  let local: ChildProcess;
  let etc: string;
  const running: Running[] = [];
  const hello = `hello ::ffff:${CLIENT.v4} http`;

  const env = (): Record<string, string> => ({ [KEY_VAR]: pair.clientKey });
  const conf = (name: string): string => path.join(pair.shared, name);
  const curl = (args: string[], ns?: string) => pair.exec(['curl', '-sS', '--max-time', '20', ...args], { ns });
  const body = async (args: string[], ns?: string): Promise<string> => {
    const r = await curl(args, ns);
    return r.stdout + r.stderr;
  };
  /** `wiretun proxy -c FILE ARGS` until `fn` is done, then SIGTERM and a clean exit. */
  const withProxy = async (file: string, listeners: number, fn: (p: Running) => Promise<void>, args: string[] = []): Promise<void> => {
    const p = await startProxy(pair, ['-c', conf(file), ...args], listeners, { env: env() });
    running.push(p);
    try {
      await fn(p);
    } finally {
      p.child.kill('SIGTERM');
    }
    expect(await p.exit, p.stderr()).toBe(0);
  };
  /** /readyz of an `-i 127.0.0.1:9080` proxy: its status and JSON. */
  const readyz = async (): Promise<{ status: number; json: Record<string, number> }> => {
    const r = await pair.exec(['curl', '-sS', '--max-time', '5', '-w', '\n%{http_code}', 'http://127.0.0.1:9080/readyz']);
    const json = r.stdout.slice(0, r.stdout.lastIndexOf('\n')).trim();
    return { status: Number(r.stdout.slice(r.stdout.lastIndexOf('\n') + 1)), json: json ? JSON.parse(json) : {} };
  };

  beforeAll(async () => {
    pair = await rootlessPair(impl, { records: RECORDS });
    // The fixtures with this test's keys and addresses; the README's $VAR key stays a $VAR.
    const values: Record<string, string> = {
      CLIENT_KEY: pair.clientKey, SERVER_PUB: pair.serverKey.pub, OTHER_PUB: publicKeyFromPrivate(generatePrivateKey()),
      CLIENT_V4: CLIENT.v4, SERVER_V4: SERVER.v4, SERVER_V6: SERVER.v6, SERVER_ENDPOINT: pair.srv.v4, DIR: pair.shared,
    };
    for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.conf'))) {
      const text = readFileSync(path.join(FIXTURES, f), 'utf8').replace(/@([A-Z_0-9]+)@/g, (_m, k: string) => values[k]);
      writeFileSync(conf(f), text, { mode: 0o644 });
    }
    etc = `/etc/netns/${pair.cli.ns}`;
    mkdirSync(etc, { recursive: true });
    writeFileSync(path.join(etc, 'hosts'), [
      '127.0.0.1 localhost service-one.servicenet service-two.servicenet service-three.servicenet',
      `${pair.srv.v4} wg-server.test`, '',
    ].join('\n'), { mode: 0o644 });
    // Port 443 ([SNI]) and 53 ([UDPProxyTunnel]) as the examples have them, for nobody, in this namespace only.
    await must('ip', ['netns', 'exec', pair.cli.ns, 'sysctl', '-qw', 'net.ipv4.ip_unprivileged_port_start=0']);
    local = spawn('ip', ['netns', 'exec', pair.cli.ns, process.execPath, '-e', `const http = require('node:http');
      Promise.all(${JSON.stringify(LOCAL_PORTS)}.map((port) => new Promise((ok) =>
        http.createServer((q, r) => r.end('local ' + port)).listen(port, '127.0.0.1', ok)))).then(() => console.log('up'))`],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => local.stdout!.once('data', () => resolve()));
  }, 90_000);

  afterAll(async () => {
    for (const p of running) p.child.kill('SIGKILL');
    local?.kill('SIGKILL');
    if (etc) rmSync(etc, { recursive: true, force: true });
    await pair?.destroy();
  });

  it('says Config OK with -n for every example, as nobody, binding nothing', async () => {
    const files = readdirSync(FIXTURES).filter((n) => n.endsWith('.conf') && n !== 'provider.conf');
    expect(files).toHaveLength(7);
    for (const f of files) {
      const r = await pair.exec(['env', `${KEY_VAR}=${pair.clientKey}`, ...asNobody([process.execPath, WIRETUN_CLI, 'proxy', '-n', '-c', conf(f)])]);
      expect(`${f}: ${r.stdout}${r.stderr}`).toBe(`${f}: Config OK\n`);
    }
  });

  it('runs the README sample with every section at once', async () => {
    const p = await startProxy(pair, ['-c', conf('sample.conf')], 5, { env: env(), stdio: true });
    running.push(p);
    let echoed = '';
    p.child.stdout!.on('data', (d: Buffer) => (echoed += d.toString()));
    p.child.stdin!.write('through the STDIOTunnel\n');
    expect(await body(['--socks5-hostname', '127.0.0.1:25344', 'http://game.test/hello'])).toBe(hello);
    expect(await body(['--proxy', 'http://127.0.0.1:25345', 'http://game.test/hello'])).toBe(hello);
    const https = ['--cacert', pair.cert];
    expect(await body([...https, '--proxy', 'http://127.0.0.1:25345', 'https://service.test/hello'])).toBe(`hello ::ffff:${CLIENT.v4} https`);
    expect(await body(['http://127.0.0.1:25565/hello'])).toBe(hello);
    expect(await body([`http://${CLIENT.v4}:3422/`], pair.srv.ns)).toBe('local 25545');
    expect(await body([...https, '--resolve', 'service.test:443:127.0.0.1', 'https://service.test/hello'])).toBe(`hello ::ffff:${CLIENT.v4} https`);
    await waitFor('the echo on stdout', () => echoed === 'through the STDIOTunnel\n', { timeoutMs: 10_000 });
    // The end of stdin ends the stdio connection, and with it the process (as wireproxy's does).
    p.child.stdin!.end();
    expect(await p.exit, p.stderr()).toBe(0);
  });

  it('imports a wg-quick file by WGConfig, CheckAlive read from that file', async () => {
    await withProxy('import.conf', 3, async () => {
      expect(await body(['--socks5-hostname', '127.0.0.1:25344', 'http://game.test/hello'])).toBe(hello);
      expect(await body(['http://127.0.0.1:25565/hello'])).toBe(hello);
      expect(await body([`http://${CLIENT.v4}:3422/`], pair.srv.ns)).toBe('local 25545');
      await waitFor('/readyz 200', async () => (await readyz()).status === 200, { timeoutMs: 20_000, intervalMs: 500 });
      expect(Object.keys((await readyz()).json)).toEqual([SERVER.v4]);
    }, ['-i', '127.0.0.1:9080']);
  });

  it('takes the same file by an absolute WGConfig (UseWithVPN.md)', async () => {
    await withProxy('use-with-vpn.conf', 1, async () => {
      expect(await body(['--socks5-hostname', '127.0.0.1:25344', `http://${SERVER.v4}/hello`])).toBe(hello);
    });
  });

  it('runs the multi-peer example: server tunnels to names this host resolves, a UDP tunnel on :53', async () => {
    await withProxy('multi-peer.conf', 4, async () => {
      // A DNS question through the UDP tunnel first: it also tells the server where this proxy is.
      const q = await pair.exec([process.execPath, DNS_CLIENT, JSON.stringify({ udp: { port: 53 }, queries: [{ name: 'game.test', type: 'A' }] })]);
      expect(q.code, q.stderr).toBe(0);
      expect(JSON.parse(q.stdout).answers).toEqual([{ from: 'direct', tc: false, rcode: 0, addrs: [SERVER.v4] }]);
      for (const [port, to] of [[5000, 5000], [5001, 5001], [5080, 80]]) {
        expect(await body([`http://${CLIENT.v4}:${port}/`], pair.srv.ns)).toBe(`local ${to}`);
      }
    });
  });

  it('lets a peer connect to it on ListenPort (a peer without Endpoint)', async () => {
    await withProxy('listen.conf', 1, async () => {
      // The server is the one to dial: it is told where this proxy listens, and connects first. The peer is
      // added afresh, as to a new wireproxy: a session with an earlier proxy would be kept until it timed out.
      const peer = ['peer', publicKeyFromPrivate(pair.clientKey)];
      await wg(pair.srv.ns, ['set', pair.iface.name, ...peer, 'remove']);
      await wg(pair.srv.ns, ['set', pair.iface.name, ...peer, 'allowed-ips', `${CLIENT.v4}/32,${CLIENT.v6}/128`, 'endpoint', `${pair.cli.v4}:5400`]);
      expect(await body([`http://${CLIENT.v4}:3422/`], pair.srv.ns)).toBe('local 25545');
    });
  });

  it('answers /readyz as the health example says: 503 while one CheckAlive address is silent', async () => {
    await withProxy('health.conf', 1, async () => {
      await waitFor('a pong from the server', async () => (await readyz()).json[SERVER.v4] > 0, { timeoutMs: 20_000, intervalMs: 500 });
      const r = await readyz();
      expect(r.status).toBe(503);
      expect(r.json['10.211.0.99']).toBe(0);
      expect(await body(['--socks5-hostname', '127.0.0.1:25344', 'http://game.test/hello'])).toBe(hello);
    }, ['-i', '127.0.0.1:9080']);
  });

  it("runs test_config.sh's config: SOCKS5 and two [http], one asking for credentials", async () => {
    await withProxy('test-config.conf', 3, async () => {
      expect(await body(['--socks5-hostname', '127.0.0.1:64423', 'http://game.test/hello'])).toBe(hello);
      expect(await body(['--proxy', 'http://127.0.0.1:64424', 'http://game.test/hello'])).toBe(hello);
      expect(await body(['--proxy', 'http://peter:hunter123@127.0.0.1:64425', 'http://game.test/hello'])).toBe(hello);
      const refused = await curl(['-o', '/dev/null', '-w', '%{http_code}', '--proxy', 'http://127.0.0.1:64425', 'http://game.test/hello']);
      expect(refused.stdout).toBe('407');
    });
  });
});
