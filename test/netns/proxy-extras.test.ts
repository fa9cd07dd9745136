// `wiretun proxy`'s wireproxy extras as nobody with every capability dropped, against Debian's wireguard-go
// (rootless/server.cjs behind its TUN): the HTTPS proxy ([http] CertFile/KeyFile; curl --proxy https://
// trusting a certificate openssl made here) moving 32 MB each way with the hashes compared; --stdio moving
// bytes both ways through the server's echo port with the hash checked, exit 0 after the far end's close;
// CheckAlive reflected in /readyz and /metrics (200 while the address answers, 503 with one that does not);
// [Resolve] ResolveStrategy choosing the family of a name with A and AAAA; bad PEM files refused with
// file:line, exit 1, nothing bound. The set-up is lib/rootless-pair.ts, shared with proxy.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason, WIREGUARD_GO } from './lib/env';
import { must } from './lib/proc';
import { asNobody, CLIENT, hasSetpriv, RootlessPair, rootlessPair, Running, SERVER, startProxy, WIRETUN_CLI } from './lib/rootless-pair';
import { waitFor } from './lib/wait';

const SIZE = 32 << 20;
const BLOB = `http://${SERVER.v4}/blob?size=${SIZE}`;
const HASH = `http://${SERVER.v4}/hash`;
const DEAD = '10.211.0.77';
if (!skipReason && !hasSetpriv) console.warn('\n*** SKIPPED: proxy-extras needs setpriv (util-linux) ***\n');

describe.skipIf(!!skipReason || !hasSetpriv)('wiretun proxy extras as nobody against wireguard-go', () => {
  let pair: RootlessPair;
  let proxy: Running;
  let failing: Running;
  let cert: string;
  let key: string;
  let upload: string;
  let up: { bytes: number; sha256: string };
  let downSha: string;
  const PROXY = 'https://bob:hunter2@127.0.0.1:14443';

  const sh = (args: string[]): string => args.map((a) => `'${a}'`).join(' ');
  const curl = async (args: string[]): Promise<{ stdout: string; code: number | null; stderr: string }> =>
    pair.exec(['curl', '-sS', '--max-time', '120', ...args]);
  const get = async (port: number, p: string): Promise<{ code: number; body: string }> => {
    const r = await curl(['-w', '\n%{http_code}', `http://127.0.0.1:${port}${p}`]);
    const i = r.stdout.lastIndexOf('\n');
    return { body: r.stdout.slice(0, i), code: Number(r.stdout.slice(i + 1)) };
  };
  const wireproxy = (name: string, lines: string[]): string => {
    const file = path.join(pair.shared, name);
    writeFileSync(file, ['WGConfig = wg.conf', '', ...lines, ''].join('\n'), { mode: 0o644 });
    return file;
  };

  beforeAll(async () => {
    pair = await rootlessPair(WIREGUARD_GO, { records: { 'dual.test': { a: [SERVER.v4], aaaa: [SERVER.v6] }, 'v4only.test': { a: [SERVER.v4] } } });
    pair.writeClientConf();
    // The proxy's own certificate, for 127.0.0.1; nobody must read the key (a test key, in the test's dir).
    cert = path.join(pair.shared, 'proxy-cert.pem');
    key = path.join(pair.shared, 'proxy-key.pem');
    await must('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=wiretun proxy', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert]);
    chmodSync(cert, 0o644);
    chmodSync(key, 0o644);
    upload = path.join(pair.shared, 'upload.bin');
    const bytes = randomBytes(SIZE);
    writeFileSync(upload, bytes, { mode: 0o644 });
    up = { bytes: SIZE, sha256: createHash('sha256').update(bytes).digest('hex') };
    downSha = (await must('ip', ['netns', 'exec', pair.srv.ns, 'sh', '-c', `curl -sS '${BLOB}' | sha256sum | cut -d' ' -f1`])).trim();
    const conf = wireproxy('extras.conf', [
      '[Interface]', `CheckAlive = ${SERVER.v4}`, 'CheckAliveInterval = 1', '',
      '[http]', 'BindAddress = 127.0.0.1:14443', 'Username = bob', 'Password = hunter2', 'CertFile = proxy-cert.pem', 'KeyFile = proxy-key.pem', '',
      '[Socks5]', 'BindAddress = 127.0.0.1:11090', '',
      '[Resolve]', 'ResolveStrategy = ipv6',
    ]);
    proxy = await startProxy(pair, [conf, '--info', '127.0.0.1:19091'], 2);
    expect(proxy.stderr()).toMatch(/^wiretun proxy: https on 127\.0\.0\.1:14443$/m);
  });

  afterAll(async () => {
    proxy?.child.kill('SIGKILL');
    failing?.child.kill('SIGKILL');
    await pair?.destroy();
  });

  it('moves 32 MB each way through the HTTPS proxy (absolute URI and CONNECT), hashes intact', async () => {
    const tls = ['--proxy-cacert', cert, '-x', PROXY];
    const down = async (extra: string[]): Promise<string> => {
      const r = await pair.exec(['bash', '-c', `set -o pipefail; curl -sS --max-time 120 ${sh([...tls, ...extra, BLOB])} | sha256sum | cut -d' ' -f1`]);
      return `${r.stdout.trim()}${r.stderr}`;
    };
    expect(await down([])).toBe(downSha);
    expect(await down(['-p'])).toBe(downSha);
    for (const extra of [[], ['-p']]) {
      const r = await curl([...tls, ...extra, '-T', upload, '-X', 'POST', HASH]);
      expect(JSON.parse(r.stdout), r.stderr).toEqual(up);
    }
  });

  it('refuses a wrong password over TLS with 407, and a client that does not trust the certificate', async () => {
    const wrong = await curl(['--proxy-cacert', cert, '-o', '/dev/null', '-w', '%{http_code}', '-x', PROXY.replace('hunter2', 'wrong'), BLOB]);
    expect(wrong.stdout).toBe('407');
    // curl's 60: the peer's certificate could not be verified (the proxy is really TLS, with this certificate).
    expect((await curl(['-x', PROXY, `http://${SERVER.v4}/hello`])).code).toBe(60);
  });

  it('dials a name with A and AAAA by IPv6 under ResolveStrategy = ipv6, and refuses one with only A', async () => {
    // The resolver's own order is A first: the strategy is what picks the v6 address.
    const v6 = await curl(['--socks5-hostname', '127.0.0.1:11090', 'http://dual.test/hello']);
    expect(v6.stdout + v6.stderr).toBe(`hello ${CLIENT.v6} http`);
    // No IPv6 address: SOCKS5 reply 0x04, curl's 97.
    expect((await curl(['--socks5-hostname', '127.0.0.1:11090', 'http://v4only.test/hello'])).code).toBe(97);
  });

  it('reports CheckAlive in /readyz and /metrics: 200 while the address answers', async () => {
    let last = { code: 0, body: '' };
    await waitFor('/readyz 200', async () => (last = await get(19091, '/readyz')).code === 200, { timeoutMs: 20_000, intervalMs: 250 });
    const pong = (JSON.parse(last.body) as Record<string, number>)[SERVER.v4];
    expect(Math.abs(pong - Date.now() / 1000)).toBeLessThan(10);
    const m = (await get(19091, '/metrics')).body;
    expect(m).toContain(`wiretun_proxy_check_alive_up{target="${SERVER.v4}"} 1\n`);
    expect(m).toMatch(/^wireguard_latest_handshake_seconds\{/m);
  });

  // 1 MB: the same echo through a -L forward takes 0.2-7 s for 4 MB here (the stack's stalls, not the pump's).
  it('joins stdin and stdout to the echo port with --stdio: bytes both ways, exit 0 after the far end closes', { timeout: 90_000 }, async () => {
    const input = path.join(pair.shared, 'stdio.bin');
    const bytes = randomBytes(1 << 20);
    writeFileSync(input, bytes, { mode: 0o644 });
    const want = createHash('sha256').update(bytes).digest('hex');
    // One client key: the proxy steps aside, or the two would take the server's session from each other.
    proxy.child.kill('SIGTERM');
    expect(await proxy.exit, proxy.stderr()).toBe(0);
    const cmd = sh(asNobody([process.execPath, WIRETUN_CLI, 'proxy', path.join(pair.shared, 'wg.conf'), '--stdio', `${SERVER.v4}:7`]));
    // The end of the file half-closes; the echo server then closes, which ends stdout and the process.
    const r = await pair.exec(['bash', '-c', `${cmd} < '${input}' | sha256sum | cut -d' ' -f1; exit \${PIPESTATUS[0]}`], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(want);
    expect(r.code).toBe(0);
    // As ssh uses it, stdin stays open: the far end's close alone ends it (HTTP/1.0: the server closes after
    // its answer), well before the writer of stdin gives up.
    const fifo = path.join(pair.shared, 'stdin.fifo');
    const http = sh(asNobody([process.execPath, WIRETUN_CLI, 'proxy', path.join(pair.shared, 'wg.conf'), '--stdio', `${SERVER.v4}:80`]));
    const t0 = Date.now();
    const open = await pair.exec(['bash', '-c', `mkfifo '${fifo}'; { printf 'GET /hello HTTP/1.0\\r\\n\\r\\n'; exec sleep 60; } > '${fifo}' 2>/dev/null & ` +
      `${http} < '${fifo}'; echo " exit $?"; kill %1`], { timeoutMs: 30_000 });
    expect(open.stdout).toMatch(/^HTTP\/1\.1 200 [^]*\r\n\r\nhello (::ffff:)?10\.211\.0\.2 http exit 0\n$/);
    expect(Date.now() - t0).toBeLessThan(30_000);
    // A refused port is exit 1 with the reason, and nothing on stdout.
    const refused = await pair.exec(['bash', '-c', `${sh(asNobody([process.execPath, WIRETUN_CLI, 'proxy', path.join(pair.shared, 'wg.conf'), '--stdio', `${SERVER.v4}:9`]))} < /dev/null`]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/--stdio: 10\.211\.0\.1:9: ECONNREFUSED/);
  });

  it('answers 503 while one CheckAlive address does not answer, with its last reply 0', async () => {
    const dead = wireproxy('dead.conf', ['[Interface]', `CheckAlive = ${SERVER.v4}, ${DEAD}`, 'CheckAliveInterval = 1', '',
      '[Socks5]', 'BindAddress = 127.0.0.1:11091']);
    failing = await startProxy(pair, [dead, '--info', '127.0.0.1:19092'], 1);
    let last = { code: 0, body: '' };
    // Once the live address has answered and the dead one's ping has timed out, the dead one alone keeps it
    // unready.
    const timedOut = new RegExp(`CheckAlive ${DEAD.replace(/\./g, '\\.')} does not answer: .*timed out`);
    await waitFor('the live address answered, the dead one timed out', async () => timedOut.test(failing.stderr()) &&
      ((JSON.parse((last = await get(19092, '/readyz')).body || '{}') as Record<string, number>)[SERVER.v4] ?? 0) > 0,
    { timeoutMs: 20_000, intervalMs: 250 });
    expect(last.code).toBe(503);
    expect((JSON.parse(last.body) as Record<string, number>)[DEAD]).toBe(0);
    expect((await get(19092, '/metrics')).body).toContain(`wiretun_proxy_check_alive_up{target="${DEAD}"} 0\n`);
  });

  it('refuses a bad certificate or key with file:line, exit 1 and nothing bound', async () => {
    writeFileSync(path.join(pair.shared, 'junk.pem'), 'not a certificate\n', { mode: 0o644 });
    const bad = wireproxy('bad-tls.conf', ['[http]', 'BindAddress = 127.0.0.1:14444', 'CertFile = junk.pem', 'KeyFile = proxy-key.pem']);
    const r = await pair.exec(asNobody([process.execPath, WIRETUN_CLI, 'proxy', bad]));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}:5: CertFile: ${path.join(pair.shared, 'junk.pem')} is not a PEM certificate`);
    const other = wireproxy('other-key.conf', ['[http]', 'BindAddress = 127.0.0.1:14444', 'CertFile = proxy-cert.pem', 'KeyFile = junk.pem']);
    const k = await pair.exec(asNobody([process.execPath, WIRETUN_CLI, 'proxy', other]));
    expect(k.code).toBe(1);
    expect(k.stderr).toContain(`${other}:6: KeyFile:`);
    expect((await curl(['http://127.0.0.1:14444/'])).code).toBe(7);
  });
});
