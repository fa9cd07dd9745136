// `wiretun proxy` as nobody with every capability dropped, against real WireGuard servers (Debian's
// wireguard-go and wiretund, each with node's services behind its TUN: rootless/server.cjs). The client
// namespace runs the proxy from a wireproxy config ([Socks5] and [http] with credentials, [TCPClientTunnel],
// [TCPServerTunnel]) plus flags; curl there moves 50 MB each way through SOCKS5 (socks5h), the HTTP proxy
// (absolute URI and CONNECT) and the -L forward, and curl on the server side each way through -R to a
// service on the client's loopback; every transfer's sha256 is compared with the other end's. Also IPv6
// inside the tunnel, --info, a UDP forward, --stdio, the auth refusals, exit 1 on a bad config or a port in
// use, and SIGTERM. Load and hostile input: proxy-load.test.ts.
import { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Impl, skipReason, WIREGUARD_GO, WIRETUND } from './lib/env';
import { must } from './lib/proc';
import { asNobody, CLIENT, hasSetpriv, RootlessPair, rootlessPair, Running, SERVER, startProxy, startServices, WIRETUN_CLI } from './lib/rootless-pair';

const SIZE = 50 << 20;
const BLOB = `http://${SERVER.v4}/blob?size=${SIZE}`;
const HASH = `http://${SERVER.v4}/hash`;
if (!skipReason && !hasSetpriv) console.warn('\n*** SKIPPED: proxy needs setpriv (util-linux) ***\n');

describe.skipIf(!!skipReason || !hasSetpriv).each([WIREGUARD_GO, WIRETUND] as Impl[])('wiretun proxy as nobody against $name', (impl) => {
  let pair: RootlessPair;
  let proxy: Running;
  let local: ChildProcess | undefined;
  let upload: string;
  let down: { sha: string; status: number };
  let up: { bytes: number; sha256: string };

  const sh = (args: string[]) => args.map((a) => `'${a}'`).join(' ');
  /** curl in `ns` (the client's unless told): stdout's sha256 and curl's exit status. */
  const curl = async (args: string[], ns?: string): Promise<{ sha: string; status: number }> => {
    const r = await pair.exec(['bash', '-c', `set -o pipefail; curl -sS --max-time 40 ${sh(args)} | sha256sum | cut -d' ' -f1`], { ns });
    return { sha: r.stdout.trim(), status: r.code ?? -1 };
  };
  /** curl -T of the 50 MB file as a POST: what the receiving end's /hash counted. */
  const post = async (args: string[], ns?: string): Promise<{ bytes: number; sha256: string } | string> => {
    const r = await pair.exec(['curl', '-sS', '--max-time', '40', '-T', upload, '-X', 'POST', ...args], { ns });
    try {
      return JSON.parse(r.stdout) as { bytes: number; sha256: string };
    } catch {
      return `curl exit ${r.code}: ${r.stdout}${r.stderr}`;
    }
  };
  /** The server side's own view of a download: its sha256, fetched there without the tunnel. */
  const serverSha = async (url: string) =>
    (await must('ip', ['netns', 'exec', pair.srv.ns, 'sh', '-c', `curl -sS '${url}' | sha256sum | cut -d' ' -f1`])).trim();

  beforeAll(async () => {
    pair = await rootlessPair(impl, { records: { 'files.test': { a: [SERVER.v4] } } });
    down = { sha: await serverSha(BLOB), status: 0 };
    // A random upload whose hash only this end knows; the receiving end's /hash reports what it got.
    upload = path.join(pair.lab.tmp, 'upload.bin');
    const bytes = randomBytes(SIZE);
    writeFileSync(upload, bytes);
    up = { bytes: SIZE, sha256: createHash('sha256').update(bytes).digest('hex') };
    // The client host's own service for -R: the same routes, on its loopback (as root: it is the host's app).
    const localCfg = path.join(pair.lab.tmp, 'local.json');
    writeFileSync(localCfg, JSON.stringify({ keyFile: path.join(pair.lab.tmp, 'key.pem'), certFile: pair.cert, records: {} }));
    local = await startServices(pair.cli.ns, localCfg);
    pair.writeClientConf();
    writeFileSync(path.join(pair.shared, 'wireproxy.conf'), [
      'WGConfig = wg.conf', '',
      '[Socks5]', 'BindAddress = 127.0.0.1:11080', 'Username = alice', 'Password = s3cret', '',
      '[http]', 'BindAddress = 127.0.0.1:13128', 'Username = bob', 'Password = hunter2', '',
      '[TCPClientTunnel]', 'BindAddress = 127.0.0.1:18080', `Target = ${SERVER.v4}:80`, '',
      '[TCPServerTunnel]', 'ListenPort = 8081', 'Target = 127.0.0.1:80', '',
    ].join('\n'), { mode: 0o644 });
    proxy = await startProxy(pair, [path.join(pair.shared, 'wireproxy.conf'), '--socks5', '127.0.0.1:11081',
      '--info', '127.0.0.1:19090', '-L', `15353:${SERVER.v4}:7/udp`, '-L', `18086:[${SERVER.v6}]:80`], 7);
  });

  afterAll(async () => {
    local?.kill();
    proxy?.child.kill('SIGKILL');
    await pair?.destroy();
  });

  it('runs as nobody with no capabilities', async () => {
    // ip netns exec and setpriv exec: the spawned pid is the proxy's node process.
    const status = await must('cat', [`/proc/${proxy.child.pid}/status`]);
    expect(status).toMatch(/^Uid:\s+65534\s/m);
    expect(status).toMatch(/^CapEff:\s+0000000000000000$/m);
    expect(status).toMatch(/^CapBnd:\s+0000000000000000$/m);
  });

  it('moves 50 MB each way through SOCKS5 (socks5h, with credentials), hashes intact', async () => {
    expect(await curl(['-x', 'socks5h://alice:s3cret@127.0.0.1:11080', BLOB])).toEqual(down);
    expect(await post(['-x', 'socks5h://alice:s3cret@127.0.0.1:11080', HASH])).toEqual(up);
    // Without credentials, and by name: resolved by the proxy through the tunnel's DNS, not the host's.
    const small = `http://files.test/blob?size=${1 << 20}`;
    const smallSha = await serverSha(small.replace('files.test', SERVER.v4));
    expect((await curl(['--socks5-hostname', '127.0.0.1:11081', small])).sha).toBe(smallSha);
    expect((await curl(['-p', '-x', 'http://bob:hunter2@127.0.0.1:13128', small])).sha).toBe(smallSha);
    // An unknown name: SOCKS5 reply 0x04, which curl reports as exit 97.
    expect((await curl(['--socks5-hostname', '127.0.0.1:11081', 'http://nowhere.test/'])).status).toBe(97);
  });

  it('moves 50 MB each way through the HTTP proxy, absolute URI and CONNECT', async () => {
    expect(await curl(['-x', 'http://bob:hunter2@127.0.0.1:13128', BLOB])).toEqual(down);
    expect(await post(['-x', 'http://bob:hunter2@127.0.0.1:13128', HASH])).toEqual(up);
    expect(await curl(['-p', '-x', 'http://bob:hunter2@127.0.0.1:13128', BLOB])).toEqual(down);
    expect(await post(['-p', '-x', 'http://bob:hunter2@127.0.0.1:13128', HASH])).toEqual(up);
  });

  it('moves 50 MB each way through the -L forward', async () => {
    expect(await curl([`http://127.0.0.1:18080/blob?size=${SIZE}`])).toEqual(down);
    expect(await post(['http://127.0.0.1:18080/hash'])).toEqual(up);
  });

  it('moves 50 MB each way through [TCPServerTunnel] (-R) to the client host, for curl on the server side', async () => {
    const srvNs = pair.srv.ns;
    expect(await curl([`http://${CLIENT.v4}:8081/blob?size=${SIZE}`], srvNs)).toEqual(down);
    expect(await post([`http://${CLIENT.v4}:8081/hash`], srvNs)).toEqual(up);
    // The service saw the connection come from its own loopback: the proxy dialled it.
    expect((await must('ip', ['netns', 'exec', srvNs, 'curl', '-sS', `http://[${CLIENT.v6}]:8081/hello`])).trim()).toMatch(/^hello (::ffff:)?127\.0\.0\.1 http$/);
  });

  it('carries IPv6 inside the tunnel: SOCKS5 to a v6 literal, HTTP CONNECT and absolute URI to [v6], -L to a v6 target', async () => {
    const hello = `http://[${SERVER.v6}]/hello`;
    const want = `hello ${CLIENT.v6} http`;
    const text = async (args: string[]) => (await pair.exec(['curl', '-sS', '--max-time', '20', ...args])).stdout;
    expect(await text(['--socks5', '127.0.0.1:11081', hello])).toBe(want);
    expect(await text(['--socks5-hostname', '127.0.0.1:11081', hello])).toBe(want);
    expect(await text(['-p', '-x', 'http://bob:hunter2@127.0.0.1:13128', hello])).toBe(want);
    expect(await text(['-x', 'http://bob:hunter2@127.0.0.1:13128', hello])).toBe(want);
    expect(await text(['http://127.0.0.1:18086/hello'])).toBe(want);
    expect((await curl(['--socks5', '127.0.0.1:11081', `http://[${SERVER.v6}]/blob?size=${SIZE}`]))).toEqual(down);
    expect(await post(['-p', '-x', 'http://bob:hunter2@127.0.0.1:13128', `http://[${SERVER.v6}]/hash`])).toEqual(up);
  });

  it('serves /readyz and /metrics (--info) once traffic has flowed', async () => {
    const get = async (p: string): Promise<string> =>
      (await pair.exec(['curl', '-sS', '-w', ' %{http_code}', `http://127.0.0.1:19090${p}`])).stdout;
    expect(await get('/readyz')).toBe('ready\n 200');
    const m = /^wireguard_received_bytes_total\{interface="wg",public_key="[^"]+",allowed_ips="10.211.0.0\/24,fd00:211::\/64"\} (\d+)$/m.exec(await get('/metrics'));
    expect(Number(m?.[1])).toBeGreaterThan(5 * SIZE);
  });

  it('forwards UDP with -L .../udp to the server side echo', async () => {
    const script = `const s = require('dgram').createSocket('udp4');
      const t = setInterval(() => s.send('over udp', 15353, '127.0.0.1'), 200);
      s.on('message', (m) => { clearInterval(t); console.log(m.toString()); s.close(); });
      setTimeout(() => process.exit(3), 10000).unref();
      s.send('over udp', 15353, '127.0.0.1');`;
    expect((await must('ip', ['netns', 'exec', pair.cli.ns, process.execPath, '-e', script])).trim()).toBe('over udp');
  });

  it('refuses wrong credentials with the protocol replies', async () => {
    // curl: 97 is CURLE_PROXY (the SOCKS5 server refused the user/password).
    expect((await curl(['-x', 'socks5h://alice:wrong@127.0.0.1:11080', BLOB])).status).toBe(97);
    const r = await pair.exec(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-x', 'http://bob:wrong@127.0.0.1:13128', BLOB]);
    expect(r.stdout).toBe('407');
    expect((await curl(['-x', 'socks5h://127.0.0.1:11081', `http://${SERVER.v4}:81/`])).status).not.toBe(0);
  });

  it('refuses a port in use and a bad config with exit 1', async () => {
    const wgFile = path.join(pair.shared, 'wg.conf');
    const taken = await pair.exec([process.execPath, WIRETUN_CLI, 'proxy', wgFile, '--socks5', '127.0.0.1:11080']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/--socks5: socks5 on 127.0.0.1:11080: .*(in use|EADDRINUSE)/i);
    const badFile = path.join(pair.shared, 'bad.conf');
    writeFileSync(badFile, 'WGConfig = wg.conf\n[Socks5]\nBindAddress = 127.0.0.1:99999\n');
    const bad = await pair.exec([process.execPath, WIRETUN_CLI, 'proxy', badFile]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${badFile}:3: BindAddress: "99999" is not a port 1-65535`);
  });

  it('connects stdin/stdout to a tunnel port with --stdio and exits 0 when it closes', async () => {
    const wgFile = path.join(pair.shared, 'wg.conf');
    const r = await pair.exec(asNobody([process.execPath, WIRETUN_CLI, 'proxy', wgFile, '--stdio', `${SERVER.v4}:7`]),
      { input: 'through the echo server\n' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('through the echo server\n');
    expect(r.code).toBe(0);
  });

  it('closes its listeners and exits 0 on SIGTERM', async () => {
    proxy.child.kill('SIGTERM');
    expect(await proxy.exit, proxy.stderr()).toBe(0);
    expect(proxy.stderr()).toMatch(/SIGTERM: listeners closed/);
    expect((await curl([`http://127.0.0.1:18080/`])).status).toBe(7);
  });
});
