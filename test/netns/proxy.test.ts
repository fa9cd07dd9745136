// `wiretun proxy` as nobody with every capability dropped, against a real WireGuard server (Debian's
// wireguard-go in a namespace, node's HTTP server behind its TUN: rootless/server.cjs). The client namespace
// runs the proxy from a wireproxy config ([Socks5] and [http] with credentials, [TCPClientTunnel]) plus a
// --socks5 flag without them; curl there downloads a 32 MB file through SOCKS5, the HTTP proxy (absolute URI
// and CONNECT) and the forward, each checked against the sha256 the server side sees. Wrong credentials get
// SOCKS5's RFC 1929 refusal and HTTP's 407; SIGTERM closes the listeners and exits 0.
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey, publicKeyFromPrivate } from '../../ts/keys';
import { addressTunnel, startDaemon } from './lib/daemon';
import { REPO, skipReason, WIREGUARD_GO } from './lib/env';
import { Lab } from './lib/lab';
import { must, run } from './lib/proc';
import { genKeyPair, wg } from './lib/wg';

const CLI = path.join(REPO, 'bin', 'wiretun');
const SIZE = 32 << 20;
const SERVER = '10.211.0.1';
const URL = `http://${SERVER}/blob?size=${SIZE}`;
const hasSetpriv = existsSync('/usr/bin/setpriv');
if (!skipReason && !hasSetpriv) console.warn('\n*** SKIPPED: proxy needs setpriv (util-linux) ***\n');

describe.skipIf(!!skipReason || !hasSetpriv)('wiretun proxy as nobody against wireguard-go', () => {
  let lab: Lab;
  let shared: string;
  let server: ChildProcess | undefined;
  let proxy: ChildProcess | undefined;
  let local: ChildProcess | undefined;
  let stderr = '';
  let clientNs: string;
  let want: string;

  /** curl in the client namespace; stdout's sha256 and curl's exit status. */
  const curl = async (args: string[]): Promise<{ sha: string; status: number }> => {
    const r = await run('ip', ['netns', 'exec', clientNs, 'bash', '-c',
      `set -o pipefail; curl -sS --max-time 60 ${args.map((a) => `'${a}'`).join(' ')} | sha256sum | cut -d' ' -f1`]);
    return { sha: r.stdout.trim(), status: r.code ?? -1 };
  };

  beforeAll(async () => {
    if (!existsSync(path.join(REPO, 'dist', 'cli', 'proxy.js'))) throw new Error('dist/ missing: run `npm run build:ts` first');
    lab = await Lab.create(2);
    const [srv, cli] = lab.nodes;
    clientNs = cli.ns;
    await lab.waitUnderlay(cli, srv);
    shared = mkdtempSync(path.join(tmpdir(), 'wtproxy-'));
    chmodSync(shared, 0o755);
    const key = path.join(lab.tmp, 'key.pem');
    const cert = path.join(lab.tmp, 'cert.pem');
    await must('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=service.test', '-keyout', key, '-out', cert]);
    const iface = await startDaemon(lab, WIREGUARD_GO, srv);
    await addressTunnel(iface, 1);
    const serverKey = await genKeyPair(lab.tmp);
    const clientKey = generatePrivateKey();
    await wg(srv.ns, ['set', iface.name, 'private-key', serverKey.file, 'listen-port', '51820',
      'peer', publicKeyFromPrivate(clientKey), 'allowed-ips', '10.211.0.2/32']);
    const serverCfg = path.join(lab.tmp, 'server.json');
    writeFileSync(serverCfg, JSON.stringify({ keyFile: key, certFile: cert, records: { 'files.test': { a: [SERVER] } } }));
    server = spawn('ip', ['netns', 'exec', srv.ns, process.execPath, path.join(__dirname, 'rootless', 'server.cjs'), serverCfg],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server services did not start')), 20_000);
      server!.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && (clearTimeout(timer), resolve()));
    });
    want = (await must('ip', ['netns', 'exec', srv.ns, 'sh', '-c', `curl -sS ${URL} | sha256sum | cut -d' ' -f1`])).trim();
    writeFileSync(path.join(shared, 'wg.conf'), [
      '[Interface]', `PrivateKey = ${clientKey}`, 'Address = 10.211.0.2/24', `DNS = ${SERVER}`, '',
      '[Peer]', `PublicKey = ${serverKey.pub}`, `Endpoint = ${srv.v4}:51820`, 'AllowedIPs = 10.211.0.0/24', '',
    ].join('\n'), { mode: 0o644 });
    writeFileSync(path.join(shared, 'wireproxy.conf'), [
      'WGConfig = wg.conf', '',
      '[Socks5]', 'BindAddress = 127.0.0.1:11080', 'Username = alice', 'Password = s3cret', '',
      '[http]', 'BindAddress = 127.0.0.1:13128', 'Username = bob', 'Password = hunter2', '',
      '[TCPClientTunnel]', 'BindAddress = 127.0.0.1:18080', `Target = ${SERVER}:80`, '',
      '[TCPServerTunnel]', 'ListenPort = 8081', 'Target = 127.0.0.1:18181', '',
    ].join('\n'), { mode: 0o644 });
    proxy = spawn('ip', ['netns', 'exec', clientNs, 'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups',
      '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', process.execPath, CLI, 'proxy',
      path.join(shared, 'wireproxy.conf'), '--socks5', '127.0.0.1:11081', '--info', '127.0.0.1:19090',
      '-L', `15353:${SERVER}:7/udp`], { stdio: ['ignore', 'ignore', 'pipe'], cwd: '/' });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`proxy did not start: ${stderr}`)), 20_000);
      proxy!.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if ((stderr.match(/ on /g) ?? []).length >= 7) (clearTimeout(timer), resolve());
      });
      proxy!.once('exit', (code) => reject(new Error(`proxy exited (${code}): ${stderr}`)));
    });
  });

  afterAll(async () => {
    local?.kill();
    proxy?.kill('SIGKILL');
    server?.kill();
    await lab?.destroy();
    if (shared) rmSync(shared, { recursive: true, force: true });
  });

  it('runs as nobody with no capabilities', async () => {
    // ip netns exec and setpriv exec: the spawned pid is the proxy's node process.
    const status = await must('cat', [`/proc/${proxy!.pid}/status`]);
    expect(status).toMatch(/^Uid:\s+65534\s/m);
    expect(status).toMatch(/^CapEff:\s+0000000000000000$/m);
    expect(status).toMatch(/^CapBnd:\s+0000000000000000$/m);
  });

  it('moves 32 MB through SOCKS5 with and without credentials, hashes intact', async () => {
    expect(await curl(['--socks5-hostname', '127.0.0.1:11081', URL])).toEqual({ sha: want, status: 0 });
    // By name: resolved by the proxy through the tunnel's DNS (the server side's DNS server), not the host's.
    const byName = URL.replace(SERVER, 'files.test');
    expect(await curl(['--socks5-hostname', '127.0.0.1:11081', byName])).toEqual({ sha: want, status: 0 });
    expect(await curl(['-p', '-x', 'http://bob:hunter2@127.0.0.1:13128', byName])).toEqual({ sha: want, status: 0 });
    // An unknown name: SOCKS5 reply 0x04, which curl reports as exit 97.
    expect((await curl(['--socks5-hostname', '127.0.0.1:11081', 'http://nowhere.test/'])).status).toBe(97);
    expect(await curl(['-x', 'socks5h://alice:s3cret@127.0.0.1:11080', URL])).toEqual({ sha: want, status: 0 });
  });

  it('moves 32 MB through the HTTP proxy (absolute URI and CONNECT) and the forward', async () => {
    expect(await curl(['-x', 'http://bob:hunter2@127.0.0.1:13128', URL])).toEqual({ sha: want, status: 0 });
    expect(await curl(['-p', '-x', 'http://bob:hunter2@127.0.0.1:13128', URL])).toEqual({ sha: want, status: 0 });
    expect(await curl([`http://127.0.0.1:18080/blob?size=${SIZE}`])).toEqual({ sha: want, status: 0 });
  });

  it('serves /readyz and /metrics (--info) once traffic has flowed', async () => {
    const get = async (p: string): Promise<string> =>
      must('ip', ['netns', 'exec', clientNs, 'curl', '-sS', '-w', ' %{http_code}', `http://127.0.0.1:19090${p}`]);
    expect(await get('/readyz')).toBe('ready\n 200');
    const m = /^wireguard_received_bytes_total\{interface="wg",public_key="[^"]+",allowed_ips="10.211.0.0\/24"\} (\d+)$/m.exec(await get('/metrics'));
    expect(Number(m?.[1])).toBeGreaterThan(5 * SIZE);
  });

  it('forwards UDP with -L .../udp to the server side echo', async () => {
    const script = `const s = require('dgram').createSocket('udp4');
      const t = setInterval(() => s.send('over udp', 15353, '127.0.0.1'), 200);
      s.on('message', (m) => { clearInterval(t); console.log(m.toString()); s.close(); });
      setTimeout(() => process.exit(3), 10000).unref();
      s.send('over udp', 15353, '127.0.0.1');`;
    expect((await must('ip', ['netns', 'exec', clientNs, process.execPath, '-e', script])).trim()).toBe('over udp');
  });

  it('serves a client-side port to the server side with [TCPServerTunnel] (-R)', async () => {
    local = spawn('ip', ['netns', 'exec', clientNs, process.execPath, '-e',
      "require('http').createServer((q, r) => r.end('from the client host')).listen(18181, '127.0.0.1', () => console.log('ready'))"],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => local!.stdout!.once('data', () => resolve()));
    const got = await must('ip', ['netns', 'exec', lab.nodes[0].ns, 'curl', '-sS', '--max-time', '10', 'http://10.211.0.2:8081/']);
    expect(got).toBe('from the client host');
  });

  it('refuses wrong credentials with the protocol replies', async () => {
    // curl: 97 is CURLE_PROXY (the SOCKS5 server refused the user/password).
    expect((await curl(['-x', 'socks5h://alice:wrong@127.0.0.1:11080', URL])).status).toBe(97);
    const r = await run('ip', ['netns', 'exec', clientNs, 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}',
      '-x', 'http://bob:wrong@127.0.0.1:13128', URL]);
    expect(r.stdout).toBe('407');
    expect((await curl(['-x', 'socks5h://127.0.0.1:11081', 'http://10.211.0.1:81/'])).status).not.toBe(0);
  });

  it('refuses a port in use and a bad config with exit 1', async () => {
    const wgFile = path.join(shared, 'wg.conf');
    const taken = await run('ip', ['netns', 'exec', clientNs, process.execPath, CLI, 'proxy', wgFile, '--socks5', '127.0.0.1:11080']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/--socks5: socks5 on 127.0.0.1:11080: .*(in use|EADDRINUSE)/i);
    const badFile = path.join(shared, 'bad.conf');
    writeFileSync(badFile, 'WGConfig = wg.conf\n[Socks5]\nBindAddress = 127.0.0.1:99999\n');
    const bad = await run('ip', ['netns', 'exec', clientNs, process.execPath, CLI, 'proxy', badFile]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${badFile}:3: BindAddress: "99999" is not a port 1-65535`);
  });

  it('connects stdin/stdout to a tunnel port with --stdio and exits 0 when it closes', async () => {
    const wgFile = path.join(shared, 'wg.conf');
    const r = await run('ip', ['netns', 'exec', clientNs, 'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups',
      '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', process.execPath, CLI, 'proxy', wgFile, '--stdio', `${SERVER}:7`],
    { input: 'through the echo server\n' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('through the echo server\n');
    expect(r.code).toBe(0);
  });

  it('closes its listeners and exits 0 on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => proxy!.once('exit', resolve));
    proxy!.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(stderr).toMatch(/SIGTERM: listeners closed/);
    expect((await curl([`http://127.0.0.1:18080/`])).status).toBe(7);
  });
});
