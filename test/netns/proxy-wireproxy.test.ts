// wireproxy's configs as wireproxy's own documentation writes them, under `wiretun proxy` as nobody with every
// capability dropped, against Debian's wireguard-go (rootless/server.cjs behind its TUN): the private key read
// from the environment (`PrivateKey = $VAR`), a [Peer] without AllowedIPs carrying IPv4 and IPv6, a
// [TCPClientTunnel] whose Target name does not exist at start (that connection fails, logged; the next one,
// once the DNS record exists, goes through), a [TCPServerTunnel] to `localhost` (the host's resolver, not
// the tunnel's DNS), `-s` (a silent stderr), and `-n` (exit 0 and nothing bound, or exit 1 saying what and
// where). Set-up:
// lib/rootless-pair.ts, shared with proxy.test.ts.
import { spawn, ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason, WIREGUARD_GO } from './lib/env';
import { asNobody, CLIENT, hasSetpriv, RootlessPair, rootlessPair, Running, SERVER, startProxy, WIRETUN_CLI } from './lib/rootless-pair';
import { waitFor } from './lib/wait';

const SOCKS = '127.0.0.1:11190';
const LATE_PORT = 11191;
const LOCAL_PORT = 25545;
const REVERSE_PORT = 3422;
const KEY_VAR = 'WIRETUN_TEST_PRIVATE_KEY';
if (!skipReason && !hasSetpriv) console.warn('\n*** SKIPPED: proxy-wireproxy needs setpriv (util-linux) ***\n');

describe.skipIf(!!skipReason || !hasSetpriv)("wireproxy's own configs under wiretun proxy, as nobody", () => {
  let pair: RootlessPair;
  let proxy: Running;
  let local: ChildProcess;
  let silent: ChildProcess | undefined;
  let conf: string;

  // The services listen on :: (dual-stack), so an IPv4 client shows as ::ffff:10.211.0.2.
  const curl = (args: string[]) => pair.exec(['curl', '-sS', '--max-time', '20', ...args]);
  /** The config wireproxy's README shows, the key as `$VAR`, no AllowedIPs, and the listeners at `ports`. */
  const config = (name: string, socks: string, late: number, reverse: number): string => {
    const file = path.join(pair.shared, name);
    writeFileSync(file, [
      '[Interface]', `PrivateKey = $${KEY_VAR}`, `Address = ${CLIENT.v4}/24, ${CLIENT.v6}/64`, `DNS = ${SERVER.v4}`, '',
      '[Peer]', `PublicKey = ${pair.serverKey.pub}`, `Endpoint = ${pair.srv.v4}:51820`, '',
      '[Socks5]', `BindAddress = ${socks}`, '',
      '[TCPClientTunnel]', `BindAddress = 127.0.0.1:${late}`, 'Target = late.test:80', '',
      '[TCPServerTunnel]', `ListenPort = ${reverse}`, `Target = localhost:${LOCAL_PORT}`, '',
    ].join('\n'), { mode: 0o644 });
    return file;
  };
  const withKey = (cmd: string[]): string[] => ['env', `${KEY_VAR}=${pair.clientKey}`, ...cmd];

  beforeAll(async () => {
    pair = await rootlessPair(WIREGUARD_GO);
    // A service on the client host's loopback only, for the reverse forward to reach by the name localhost.
    local = spawn('ip', ['netns', 'exec', pair.cli.ns, process.execPath, '-e',
      `require('node:http').createServer((q, r) => r.end('on this host')).listen(${LOCAL_PORT}, '127.0.0.1', () => console.log('up'))`],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => local.stdout!.once('data', () => resolve()));
    conf = config('wireproxy.conf', SOCKS, LATE_PORT, REVERSE_PORT);
    proxy = await startProxy(pair, ['-c', conf], 3, { env: { [KEY_VAR]: pair.clientKey } });
  });

  afterAll(async () => {
    proxy?.child.kill('SIGKILL');
    local?.kill('SIGKILL');
    silent?.kill('SIGKILL');
    await pair?.destroy();
  });

  it('reads PrivateKey = $VAR from the environment, and routes IPv4 and IPv6 to a peer without AllowedIPs', async () => {
    const v4 = await curl(['--socks5-hostname', SOCKS, `http://${SERVER.v4}/hello`]);
    expect(v4.stdout + v4.stderr).toBe(`hello ::ffff:${CLIENT.v4} http`);
    const v6 = await curl(['--socks5-hostname', SOCKS, `http://[${SERVER.v6}]/hello`]);
    expect(v6.stdout + v6.stderr).toBe(`hello ${CLIENT.v6} http`);
  });

  it('resolves a forward\'s target per connection: a name that does not exist yet fails that connection only', async () => {
    const url = `http://127.0.0.1:${LATE_PORT}/hello`;
    const early = await curl([url]);
    // Accepted, then closed: curl's 52 (empty reply) or 56 (reset).
    expect([52, 56]).toContain(early.code);
    await waitFor('the failure logged', () => /forward to late\.test:80: .*no such name/.test(proxy.stderr()), { timeoutMs: 10_000 });
    const added = await pair.exec(['curl', '-sS', `http://127.0.0.1/records?name=late.test&a=${SERVER.v4}`], { ns: pair.srv.ns });
    expect(added.stdout).toBe('ok');
    const late = await curl([url]);
    expect(late.stdout + late.stderr).toBe(`hello ::ffff:${CLIENT.v4} http`);
    expect(proxy.child.exitCode).toBeNull();
  });

  it('reaches a [TCPServerTunnel] Target = localhost:PORT by the host\'s resolver', async () => {
    const r = await pair.exec(['curl', '-sS', '--max-time', '20', `http://${CLIENT.v4}:${REVERSE_PORT}/`], { ns: pair.srv.ns });
    expect(r.stdout + r.stderr).toBe('on this host');
  });

  it('checks a config with -n: exit 0 binding nothing, or exit 1 with file:line and the variable, no key', async () => {
    // The running proxy holds this config's ports: a check that bound anything would fail.
    const ok = await pair.exec(withKey(asNobody([process.execPath, WIRETUN_CLI, 'proxy', '-n', '-c', conf])));
    expect(ok.stdout + ok.stderr).toBe('Config OK\n');
    expect(ok.code).toBe(0);
    const unset = await pair.exec(asNobody([process.execPath, WIRETUN_CLI, 'proxy', '--configtest', conf]));
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain(`${conf}:2: PrivateKey: environment variable "${KEY_VAR}" is not set`);
    const bad = config('bad.conf', '127.0.0.1:99999', 11291, 3423);
    const port = await pair.exec(withKey(asNobody([process.execPath, WIRETUN_CLI, 'proxy', '-n', bad])));
    expect(port.code).toBe(1);
    expect(port.stderr).toContain(`${bad}:11: BindAddress: "99999" is not a port`);
    for (const r of [ok, unset, port]) expect(r.stdout + r.stderr).not.toContain(pair.clientKey);
  });

  it('says nothing on stderr with -s: not its listeners, a failed connection, or its exit', async () => {
    proxy.child.kill('SIGTERM');
    expect(await proxy.exit).toBe(0);
    await pair.exec(['curl', '-sS', 'http://127.0.0.1/records?name=late.test'], { ns: pair.srv.ns });
    const child = silent = spawn('ip', ['netns', 'exec', pair.cli.ns, ...withKey(asNobody([process.execPath, WIRETUN_CLI, 'proxy', '-s', '-c', conf]))],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waitFor('the SOCKS5 listener answering', async () => (await curl(['--socks5-hostname', SOCKS, `http://${SERVER.v4}/hello`])).code === 0,
      { timeoutMs: 20_000, intervalMs: 200 });
    expect([52, 56]).toContain((await curl([`http://127.0.0.1:${LATE_PORT}/hello`])).code);
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(stderr).toBe('');
  });
});
