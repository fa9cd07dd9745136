// `wiretun proxy`'s [SNI] pass-through and its Landlock sandbox, as nobody with every capability dropped,
// against Debian's wireguard-go with the services behind it (rootless/server.cjs: HTTPS on 443 with a
// certificate openssl made for service.test, and a DNS server answering service.test). curl reaches
// https://service.test through the [SNI] listener, trusting that certificate, so the TLS it speaks is the
// server's own, end to end; 8 MB each way keep their hashes. No server name, or a name the tunnel's DNS does
// not know: the connection closes. Then the sandbox: every listener still works after the lock, and the
// process's own code, run through Node's inspector (opened by SIGUSR1, Node's own signal), can read its
// config but not /etc/passwd (world-readable) nor a file beside the config, on the main thread or libuv's;
// with --no-sandbox the same read succeeds.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason, WIREGUARD_GO } from './lib/env';
import { must } from './lib/proc';
import { hasSetpriv, RootlessPair, rootlessPair, Running, SERVER, startProxy } from './lib/rootless-pair';
import { waitFor } from './lib/wait';

const SIZE = 8 << 20;
const SNI = 14443;
const INSPECT = path.join(__dirname, 'rootless', 'inspect-eval.cjs');
if (!skipReason && !hasSetpriv) console.warn('\n*** SKIPPED: proxy-sni needs setpriv (util-linux) ***\n');

describe.skipIf(!!skipReason || !hasSetpriv)('wiretun proxy [SNI] and sandbox as nobody against wireguard-go', () => {
  let pair: RootlessPair;
  let proxy: Running | undefined;
  let conf: string;
  let other: string;

  const curl = (args: string[]): ReturnType<RootlessPair['exec']> => pair.exec(['curl', '-sS', '--max-time', '60', ...args]);
  const viaSni = (name: string): string[] => ['--cacert', pair.cert, '--resolve', `${name}:${SNI}:127.0.0.1`];
  const sh = (args: string[]): string => args.map((a) => `'${a}'`).join(' ');

  /** What the running proxy's own code sees when it opens each path: 'ok' or the error code, on the main
   * thread (sync) and on libuv's pool (async). */
  const opens = async (p: Running, paths: string[]): Promise<Record<string, string>> => {
    const before = p.stderr();
    p.child.kill('SIGUSR1');
    let ws = '';
    await waitFor('the inspector', () => !!(ws = /Debugger listening on (ws:\S+)/.exec(p.stderr().slice(before.length))?.[1] ?? ''), { timeoutMs: 10_000 });
    const expr = `(async () => { const fs = process.mainModule.require('fs'); const out = {};
      for (const f of ${JSON.stringify(paths)}) {
        try { fs.readFileSync(f); out[f] = 'ok'; } catch (e) { out[f] = e.code; }
        out[f] += '/' + await fs.promises.readFile(f).then(() => 'ok', (e) => e.code);
      }
      try { fs.writeFileSync('/tmp/wiretun-sandbox-probe', 'x'); fs.unlinkSync('/tmp/wiretun-sandbox-probe'); out.write = 'ok'; } catch (e) { out.write = e.code; }
      return out; })()`;
    const r = await pair.exec([process.execPath, INSPECT, ws, expr]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, string>;
  };

  beforeAll(async () => {
    pair = await rootlessPair(WIREGUARD_GO, { records: { 'service.test': { a: [SERVER.v4] } } });
    pair.writeClientConf();
    other = path.join(pair.shared, 'other.txt');
    writeFileSync(other, 'readable by anyone, but not by a sandboxed proxy\n', { mode: 0o644 });
    chmodSync(other, 0o644);
    conf = path.join(pair.shared, 'sni.conf');
    writeFileSync(conf, ['WGConfig = wg.conf', '', '[SNI]', `BindAddress = 127.0.0.1:${SNI}`, '', '[Socks5]', 'BindAddress = 127.0.0.1:11190', '',
      '[http]', 'BindAddress = 127.0.0.1:18190', '', '[TCPClientTunnel]', 'BindAddress = 127.0.0.1:17190', `Target = ${SERVER.v4}:80`, '',
      '[UDPProxyTunnel]', 'BindAddress = 127.0.0.1:17191', `Target = ${SERVER.v4}:7`, '',
      // A target by name on this host: resolved by this host's resolver for each connection, after the lock.
      '[TCPServerTunnel]', 'ListenPort = 8081', 'Target = localhost:17190', ''].join('\n'), { mode: 0o644 });
    proxy = await startProxy(pair, [conf, '--info', '127.0.0.1:19190'], 6);
  });

  afterAll(async () => {
    proxy?.child.kill('SIGKILL');
    await pair?.destroy();
  });

  it('passes TLS to the name in the ClientHello, port 443 through the tunnel, 8 MB each way intact', async () => {
    expect(proxy!.stderr()).toMatch(/^wiretun proxy: sni on 127\.0\.0\.1:14443 -> /m);
    const hello = await curl([...viaSni('service.test'), `https://service.test:${SNI}/hello`]);
    expect(hello.stdout + hello.stderr).toMatch(/^hello (::ffff:)?10\.211\.0\.2 https$/);
    const down = `https://service.test:${SNI}/blob?size=${SIZE}`;
    const want = (await must('ip', ['netns', 'exec', pair.srv.ns, 'sh', '-c', `curl -sS 'http://${SERVER.v4}/blob?size=${SIZE}' | sha256sum`])).trim();
    const got = await pair.exec(['bash', '-c', `set -o pipefail; curl -sS --max-time 60 ${sh(viaSni('service.test'))} '${down}' | sha256sum`]);
    expect(got.stdout.trim() + got.stderr).toBe(want.trim());
    const upload = path.join(pair.shared, 'upload.bin');
    const bytes = randomBytes(SIZE);
    writeFileSync(upload, bytes, { mode: 0o644 });
    const sum = createHash('sha256').update(bytes).digest('hex');
    const up = await curl([...viaSni('service.test'), '-T', upload, '-X', 'POST', `https://service.test:${SNI}/hash`]);
    expect(JSON.parse(up.stdout), up.stderr).toEqual({ bytes: SIZE, sha256: sum });
  });

  it('closes a connection with no server name, an unknown name or no TLS at all', async () => {
    // An IP address in the URL: curl sends no SNI. curl's 35: the TLS handshake failed (the proxy closed).
    expect((await curl(['--cacert', pair.cert, `https://127.0.0.1:${SNI}/hello`])).code).toBe(35);
    expect((await curl([...viaSni('nowhere.test'), `https://nowhere.test:${SNI}/hello`])).code).toBe(35);
    // Plain HTTP: closed with nothing sent back: curl's 56, a reset (the request was only peeked at, so it is
    // still unread when the socket closes), or 52, an empty reply.
    expect([52, 56]).toContain((await curl([`http://127.0.0.1:${SNI}/hello`])).code);
    // Each refusal is logged with its reason.
    const logged = [/client \S+: sni: no server name \(SNI\) in the TLS ClientHello$/m, /client \S+: sni nowhere\.test:443: /m,
      /client \S+: sni: not a TLS ClientHello$/m];
    await waitFor('the refusals logged', () => logged.every((re) => re.test(proxy!.stderr())), { timeoutMs: 10_000 });
    // And the listener goes on.
    expect((await curl([...viaSni('service.test'), `https://service.test:${SNI}/hello`])).code).toBe(0);
  });

  it('is sandboxed once every listener is up: the config readable, nothing else, on any thread; listeners all work', async () => {
    expect(proxy!.stderr()).toMatch(/^wiretun proxy: sandbox: Landlock applied (fully|partially)/m);
    // Every listener after the lock: SOCKS5 with a name (tunnel DNS), HTTP, the TCP and UDP forwards, /readyz.
    expect((await curl(['--socks5-hostname', '127.0.0.1:11190', 'http://service.test/hello'])).stdout).toMatch(/^hello /);
    expect((await curl(['-x', 'http://127.0.0.1:18190', `http://${SERVER.v4}/hello`])).stdout).toMatch(/^hello /);
    expect((await curl(['http://127.0.0.1:17190/hello'])).stdout).toMatch(/^hello /);
    // The tunnel's port 8081 to localhost:17190 on the client host (the forward above): curl on the server side.
    const back = await pair.exec(['curl', '-sS', '--max-time', '20', `http://10.211.0.2:8081/hello`], { ns: pair.srv.ns });
    expect(back.stdout + back.stderr).toMatch(/^hello /);
    const udp = await pair.exec([process.execPath, '-e', `const s = require('dgram').createSocket('udp4');
      s.on('message', (m) => { console.log(m.toString()); process.exit(0); }); s.send('ping through udp', 17191, '127.0.0.1');
      setTimeout(() => process.exit(1), 10000);`]);
    expect(udp.stdout.trim()).toBe('ping through udp');
    expect((await curl(['-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:19190/metrics'])).stdout).toBe('200');
    const seen = await opens(proxy!, [conf, path.join(pair.shared, 'wg.conf'), '/etc/passwd', other]);
    expect(seen).toEqual({
      [conf]: 'ok/ok', [path.join(pair.shared, 'wg.conf')]: 'ok/ok', '/etc/passwd': 'EACCES/EACCES', [other]: 'EACCES/EACCES', write: 'EACCES',
    });
    // Still serving after all that.
    expect((await curl([...viaSni('service.test'), `https://service.test:${SNI}/hello`])).stdout).toMatch(/^hello /);
  });

  it('is not sandboxed with --no-sandbox, and says so', async () => {
    proxy!.child.kill('SIGTERM');
    expect(await proxy!.exit).toBe(0);
    proxy = await startProxy(pair, [conf, '--no-sandbox'], 6);
    expect(proxy.stderr()).toMatch(/^wiretun proxy: sandbox: off \(--no-sandbox\)$/m);
    const seen = await opens(proxy, ['/etc/passwd', other]);
    expect(seen).toEqual({ '/etc/passwd': 'ok/ok', [other]: 'ok/ok', write: 'ok' });
  });
});
