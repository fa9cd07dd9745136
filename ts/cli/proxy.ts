// `wiretun proxy CONFIG`: wireproxy's job without root. A rootless tunnel (userspace stack, no interface) with
// SOCKS5, HTTP and TCP-forward listeners on host sockets in front of it; every proxied byte stays in Rust
// (crates/wiretun-proxy). CONFIG is wireproxy's file or a wg-quick file with flags.
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { isIP } from 'node:net';
import { ConfigError, WgQuickConfig } from '../config/wgquick';
import { readConfigFile } from '../config/locate';
import { parseConfig } from '../config/parse';
import { native, NativeProxy } from '../native';
import { Tunnel } from '../tunnel';
import { WiretunError } from '../errors';
import { usageError } from './common';
import { serveInfo } from './proxy-info';
import { AliveChecker } from './proxy-alive';
import { checkTls } from './proxy-tls';
import { exposureWarning, isWireproxyConfig, parseBind, parseFlag, parseWireproxy, ProxyListener, ProxyPlan } from './proxy-config';

const USAGE = `Usage: wiretun proxy CONFIG [--socks5 [USER:PASS@]HOST:PORT] [--http [USER:PASS@]HOST:PORT]
                     [-L [BIND:]PORT:HOST:PORT]... [-R PORT:HOST:PORT]...

  Runs a rootless tunnel (no interface, no privilege) and proxies into it, as wireproxy does.
  CONFIG is a wireproxy config ([Socks5], [http] (CertFile/KeyFile: HTTPS), [TCPClientTunnel],
  [TCPServerTunnel], [UDPProxyTunnel], [STDIOTunnel], [Resolve] ResolveStrategy = auto|ipv4|ipv6, and
  [Interface] CheckAlive/CheckAliveInterval for /readyz; WGConfig = path or an inline [Interface]/[Peer])
  or a wg-quick file, with listeners from the flags:
    --socks5 ADDR   SOCKS5 (CONNECT and UDP ASSOCIATE; no auth, or USER:PASS@ for RFC 1929 username/password)
    --http ADDR     HTTP proxy (CONNECT and http:// requests; USER:PASS@ for Basic proxy auth)
    -L [BIND:]PORT:HOST:PORT[/udp]  forward a host TCP (or UDP) port to HOST:PORT through the tunnel
    -R PORT:HOST:PORT          forward the tunnel's PORT to HOST:PORT on this host
    --stdio HOST:PORT          connect stdin/stdout to HOST:PORT (an ssh ProxyCommand); exits when it closes
    --info ADDR                /metrics (Prometheus) and /readyz (200 after a recent handshake, or while
                               every CheckAlive address answers) on ADDR
    --system-dns               with no DNS servers in the config, resolve target names with this host's
                               resolver (they are then asked outside the tunnel); otherwise a name is refused
  Listeners bind 127.0.0.1 unless told otherwise. SIGINT/SIGTERM close them and exit 0.
`;

const FLAGS = new Set(['--socks5', '--http', '-L', '-R', '--stdio']);

/** CONFIG and the flag listeners, or a usage error's message. */
export function parseArgs(argv: string[]): { config: string; flags: ProxyListener[]; info?: string; systemDns?: true } | { error: string } | { help: true } {
  let config: string | undefined;
  let info: string | undefined;
  let systemDns = false;
  const flags: ProxyListener[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') return { help: true };
    if (a === '--system-dns') {
      systemDns = true;
    } else if (a === '--info' || a === '-i') {
      const value = argv[++i];
      if (value === undefined) return { error: `${a} needs a value` };
      try {
        info = parseBind(value, (m) => { throw new ConfigError(`${a} ${value}: ${m}`); });
      } catch (err) {
        return { error: (err as Error).message };
      }
    } else if (FLAGS.has(a)) {
      const value = argv[++i];
      if (value === undefined) return { error: `${a} needs a value` };
      try {
        flags.push(parseFlag(a, value));
      } catch (err) {
        return { error: (err as Error).message };
      }
    } else if (a.startsWith('-')) {
      return { error: `unknown option ${a}` };
    } else if (config === undefined) {
      config = a;
    } else {
      return { error: `unexpected argument ${a}` };
    }
  }
  if (config === undefined) return { error: 'missing CONFIG' };
  return { config, flags, ...(info !== undefined ? { info } : {}), ...(systemDns ? { systemDns: true as const } : {}) };
}

/** Reads CONFIG into a plan; throws ConfigError naming file:line. */
export async function loadPlan(file: string, flags: ProxyListener[]): Promise<ProxyPlan> {
  const text = (await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`cannot read: ${err.code ?? err.message}`, { file });
  })).toString('utf8');
  const plan: ProxyPlan = isWireproxyConfig(text)
    ? parseWireproxy(text, file, path.dirname(file))
    : { wg: { path: file }, listeners: [] };
  plan.listeners.push(...flags);
  if (plan.listeners.length === 0) throw new ConfigError('no listeners: give --socks5, --http, -L or -R (or use a wireproxy config)', { file });
  for (const l of plan.listeners) await checkTls(l);
  return plan;
}

/** The wg-quick part, parsed (errors before anything binds), and the tunnel's name. */
async function wgConfig(plan: ProxyPlan): Promise<{ config: WgQuickConfig; name: string }> {
  if ('path' in plan.wg) {
    const located = await readConfigFile(plan.wg.path);
    return { config: parseConfig(located.data.toString('utf8'), { file: located.path }), name: located.interfaceName };
  }
  const name = path.basename(plan.wg.file).replace(/\.[^.]*$/, '').replace(/[^a-zA-Z0-9_=+.-]/g, '').slice(0, 15);
  return { config: parseConfig(plan.wg.text, { file: plan.wg.file }), name: name || 'proxy' };
}

/** How target names resolve: through the tunnel's DNS servers, or (`--system-dns`, when it has none) the host's. */
interface Resolving {
  dns: string[];
  dnsSearch: string[];
  family: 0 | 4 | 6;
  system: boolean;
}

/** A forward's or stdio's target as an IP address. */
async function targetIp(tunnel: Tunnel, host: string, r: Resolving): Promise<string> {
  if (isIP(host)) return host;
  if (r.dns.length === 0 && r.system) return (await lookup(host, { family: r.family })).address;
  return (await tunnel.lookup(host, { family: r.family })).address;
}

/** Starts every listener or none: one that fails closes those already started. */
async function startAll(tunnel: Tunnel, listeners: ProxyListener[], r: Resolving): Promise<NativeProxy[]> {
  const { dns, dnsSearch, family } = r;
  const systemDns = r.system && dns.length === 0;
  const started: NativeProxy[] = [];
  try {
    for (const l of listeners) {
      if (l.kind === 'stdio') continue;
      const kind = l.kind;
      let host = l.host;
      // A forward's target name is resolved once, through the tunnel's DNS.
      if ((l.kind === 'forward' || l.kind === 'udp-forward') && host !== undefined) host = await targetIp(tunnel, host, r);
      try {
        const { where: _where, kind: _kind, tlsWhere: _tls, ...spec } = l;
        started.push(native().startProxy(tunnel.nativeNetstack(), { ...spec, kind, host, dns, dnsSearch, resolveFamily: family, systemDns }));
      } catch (err) {
        const [code, ...rest] = String((err as Error).message).split(': ');
        const what = l.kind === 'reverse' ? `tunnel port ${l.listenPort}` : l.bind;
        throw new WiretunError(code, `${l.where}: ${l.kind} on ${what}: ${rest.join(': ') || code}`);
      }
    }
    return started;
  } catch (err) {
    for (const p of started) p.close();
    throw err;
  }
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if ('help' in args) {
    process.stdout.write(USAGE);
    return 0;
  }
  if ('error' in args) return usageError('proxy', args.error, USAGE);
  const plan = await loadPlan(args.config, args.flags);
  const stdioCount = plan.listeners.filter((l) => l.kind === 'stdio').length;
  if (stdioCount > 1) throw new ConfigError(`${args.config}: only one stdio tunnel (there is one stdin)`);
  const { config, name } = await wgConfig(plan);
  const family = ({ auto: 0, ipv4: 4, ipv6: 6 } as const)[plan.resolve ?? 'auto'];
  const tunnel = await Tunnel.fromConfig(config, { netstack: true, name });
  const resolving: Resolving = { dns: config.dns, dnsSearch: config.dnsSearch, family, system: args.systemDns === true };
  if (config.dns.length === 0) {
    process.stderr.write(args.systemDns
      ? 'wiretun proxy: the config has no DNS servers: target names are resolved by this host (--system-dns), outside the tunnel\n'
      : 'wiretun proxy: the config has no DNS servers: targets by name will be refused (--system-dns to use this host\'s)\n');
  }
  let proxies: NativeProxy[];
  try {
    proxies = await startAll(tunnel, plan.listeners, resolving);
  } catch (err) {
    await tunnel.close();
    throw err;
  }
  const log = (line: string): void => void process.stderr.write(`wiretun proxy: ${line}\n`);
  const alive = plan.checkAlive && new AliveChecker(plan.checkAlive, (ip, ms) => tunnel.ping(ip, { timeout: ms }), log);
  alive?.start();
  let info: import('node:http').Server | undefined;
  if (args.info !== undefined) {
    const [, host, port] = /^\[?(.*?)\]?:(\d+)$/.exec(args.info)!;
    try {
      info = await serveInfo(host, Number(port), name, () => tunnel.peers(), alive);
    } catch (err) {
      alive?.stop();
      for (const p of proxies) p.close();
      await tunnel.close();
      const e = err as NodeJS.ErrnoException;
      throw new WiretunError(e.code ?? 'EIO', `--info ${args.info}: ${e.message}`);
    }
    process.stderr.write(`wiretun proxy: /metrics and /readyz on http://${args.info}\n`);
  }
  for (const l of plan.listeners) {
    const warning = exposureWarning(l);
    if (warning) process.stderr.write(`wiretun proxy: warning: ${warning}\n`);
  }
  plan.listeners.filter((l) => l.kind !== 'stdio').forEach((l, i) => {
    const target = l.kind === 'socks5' || l.kind === 'http' ? '' : ` -> ${l.host}:${l.port}`;
    process.stderr.write(`wiretun proxy: ${l.certFile !== undefined ? 'https' : l.kind} on ${proxies[i].address}${target}\n`);
  });
  const stdio = plan.listeners.filter((l) => l.kind === 'stdio');
  if (stdio.length === 1) {
    const status = await pipeStdio(tunnel, stdio[0], resolving);
    alive?.stop();
    for (const p of proxies) p.close();
    info?.close();
    await tunnel.close();
    return status;
  }
  // The native listeners hold no handle on the event loop, and signal handlers do not either: a timer does.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(keepAlive);
  alive?.stop();
  for (const p of proxies) p.close();
  info?.close();
  await tunnel.close();
  process.stderr.write(`wiretun proxy: ${signal}: listeners closed\n`);
  return 0;
}

/** stdin to HOST:PORT through the tunnel and its answer to stdout, joined in Rust (no byte passes through
 * JS); resolves to 0 when the far end closes, 1 on an error. The end of stdin only half-closes. */
async function pipeStdio(tunnel: Tunnel, l: ProxyListener, r: Resolving): Promise<number> {
  try {
    const ip = await targetIp(tunnel, l.host!, r);
    await native().proxyStdio(tunnel.nativeNetstack(), ip, l.port!, 10_000);
    return 0;
  } catch (err) {
    process.stderr.write(`wiretun proxy: ${l.where}: ${l.host}:${l.port}: ${(err as Error).message}\n`);
    return 1;
  }
}
