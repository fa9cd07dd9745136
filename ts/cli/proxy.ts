// `wiretun proxy CONFIG`: wireproxy's job without root. A rootless tunnel (userspace stack, no interface) with
// SOCKS5, HTTP and TCP-forward listeners on host sockets in front of it; every proxied byte stays in Rust
// (crates/wiretun-proxy). CONFIG is wireproxy's file or a wg-quick file with flags.
import { lookup } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { isIP } from 'node:net';
import { ConfigError, WgQuickConfig } from '../config/wgquick';
import { readConfigFile } from '../config/locate';
import { parseConfig } from '../config/parse';
import { native, NativeProxy, packageVersion, TcpEngineName } from '../native';
import { Tunnel } from '../tunnel';
import { WiretunError } from '../errors';
import { usageError } from './common';
import { serveInfo } from './proxy-info';
import { AliveChecker } from './proxy-alive';
import { checkTls } from './proxy-tls';
import { sandboxLine, sandboxPaths } from './proxy-sandbox';
import { exposureWarning, isWireproxyConfig, parseBind, parseFlag, parseWireproxy, ProxyListener, ProxyPlan, takeCheckAlive } from './proxy-config';
import { parseWireproxyWg } from './proxy-env';

const USAGE = `Usage: wiretun proxy [CONFIG | -c CONFIG] [--socks5 [USER:PASS@]HOST:PORT] [--http [USER:PASS@]HOST:PORT]
                     [--sni HOST:PORT] [-L [BIND:]PORT:HOST:PORT]... [-R PORT:HOST:PORT]... [-n] [-s] [-i ADDR] [-v]
                     [--no-sandbox] [--tcp-engine tcp2|smoltcp]

  Runs a rootless tunnel (no interface, no privilege) and proxies into it, as wireproxy does.
  CONFIG is a wireproxy config ([Socks5], [http] (CertFile/KeyFile: HTTPS), [SNI], [TCPClientTunnel],
  [TCPServerTunnel], [UDPProxyTunnel], [STDIOTunnel], [Resolve] ResolveStrategy = auto|ipv4|ipv6, and
  [Interface] CheckAlive/CheckAliveInterval for /readyz; WGConfig = path or an inline [Interface]/[Peer])
  or a wg-quick file, with listeners from the flags. In a wireproxy config, values of $NAME come from the
  environment ($$ for a literal $) and a [Peer] without AllowedIPs gets 0.0.0.0/0 and ::/0.
    -c, --config FILE          the config (default: /etc/wireproxy/wireproxy.conf, else
                               ~/.config/wireproxy.conf)
    -n, --configtest           check the config and the files it names, say what is wrong, bind nothing;
                               exit 0 (printing Config OK) or 1
    -s, --silent               no informational lines on stderr (warnings and errors still)
    -v, --version              print the version
    -d, --daemon               refused: run it under a service manager (systemd, OpenRC, runit...)
    --socks5 ADDR   SOCKS5 (CONNECT and UDP ASSOCIATE; no auth, or USER:PASS@ for RFC 1929 username/password)
    --http ADDR     HTTP proxy (CONNECT and http:// requests; USER:PASS@ for Basic proxy auth)
    --sni ADDR      TLS pass-through: each connection goes to port 443 of the host its TLS ClientHello
                    names (SNI), bytes untouched
    -L [BIND:]PORT:HOST:PORT[/udp]  forward a host TCP (or UDP) port to HOST:PORT through the tunnel
    -R PORT:HOST:PORT          forward the tunnel's PORT to HOST:PORT on this host
    --stdio HOST:PORT          connect stdin/stdout to HOST:PORT (an ssh ProxyCommand); exits when it closes
    -i, --info ADDR            /metrics (Prometheus) and /readyz (200 after a recent handshake, or while
                               every CheckAlive address answers) on ADDR
    --system-dns               with no DNS servers in the config, resolve target names with this host's
                               resolver (they are then asked outside the tunnel); otherwise a name is refused
    --no-sandbox               do not restrict this process with Landlock once the listeners are up (by
                               default, on Linux 5.13+, it can then open only its config, certificate and key
                               files, and the resolver's where it uses this host's)
    --tcp-engine NAME          the tunnel side's TCP: tcp2 (our own: SACK, RACK-TLP, BBR-style pacing; many
                               times smoltcp's uploads on lossy paths), or smoltcp (the one before it);
                               default: $WIRETUN_TCP_ENGINE, else tcp2
  Listeners bind 127.0.0.1 unless told otherwise. Forward targets are resolved for each connection (a
  name that fails fails that connection, logged). SIGINT/SIGTERM close them and exit 0.
`;

/** wireproxy's config locations when none is given, in order. */
export function defaultConfigPaths(home = process.env.HOME): string[] {
  return ['/etc/wireproxy/wireproxy.conf', ...(home ? [path.join(home, '.config', 'wireproxy.conf')] : [])];
}

const DAEMON_REFUSAL = '-d/--daemon: wiretun does not put itself in the background; run it under a service manager ' +
  '(a systemd unit with Type=simple, OpenRC, runit...), which also restarts it and keeps its log';


const FLAGS = new Set(['--socks5', '--http', '--sni', '-L', '-R', '--stdio']);

export interface ProxyArgs {
  /** Undefined when neither CONFIG nor -c was given (wireproxy's default paths then). */
  config?: string;
  flags: ProxyListener[];
  info?: string;
  systemDns?: true;
  configTest?: true;
  silent?: true;
  noSandbox?: true;
  tcpEngine?: TcpEngineName;
}

/** wireproxy's switches without a value, and what each sets. */
const SWITCHES: Record<string, 'configTest' | 'silent' | 'version' | 'daemon' | 'systemDns' | 'noSandbox'> = {
  '-n': 'configTest', '--configtest': 'configTest', '-s': 'silent', '--silent': 'silent', '-v': 'version',
  '--version': 'version', '-d': 'daemon', '--daemon': 'daemon', '--system-dns': 'systemDns',
  '--no-sandbox': 'noSandbox',
};

/** CONFIG and the flag listeners, or a usage error's message. */
export function parseArgs(argv: string[]): ProxyArgs | { error: string } | { refused: string } | { help: true } | { version: true } {
  // `--config=FILE` (the GNU form many scripts use) is `--config FILE`.
  argv = argv.flatMap((a) => (/^--[a-z0-9-]+=/.test(a) ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a]));
  let config: string | undefined;
  let info: string | undefined;
  let tcpEngine: TcpEngineName | undefined;
  const set = new Set<string>();
  const flags: ProxyListener[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') return { help: true };
    if (Object.hasOwn(SWITCHES, a)) {
      set.add(SWITCHES[a]);
    } else if (a === '-c' || a === '--config') {
      const value = argv[++i];
      if (value === undefined) return { error: `${a} needs a value` };
      if (config !== undefined) return { error: `two configs: ${config} and ${value}` };
      config = value;
    } else if (a === '--info' || a === '-i') {
      const value = argv[++i];
      if (value === undefined) return { error: `${a} needs a value` };
      try {
        info = parseBind(value, (m) => { throw new ConfigError(`${a} ${value}: ${m}`); });
      } catch (err) {
        return { error: (err as Error).message };
      }
    } else if (a === '--tcp-engine') {
      const value = argv[++i];
      if (value === undefined) return { error: `${a} needs a value` };
      if (value !== 'tcp2' && value !== 'smoltcp') return { error: `${a} ${value}: not tcp2 or smoltcp` };
      tcpEngine = value;
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
  if (set.has('version')) return { version: true };
  if (set.has('daemon')) return { refused: DAEMON_REFUSAL };
  return {
    flags,
    ...(config !== undefined ? { config } : {}),
    ...(info !== undefined ? { info } : {}),
    ...(tcpEngine !== undefined ? { tcpEngine } : {}),
    ...(set.has('systemDns') ? { systemDns: true as const } : {}),
    ...(set.has('configTest') ? { configTest: true as const } : {}),
    ...(set.has('silent') ? { silent: true as const } : {}),
    ...(set.has('noSandbox') ? { noSandbox: true as const } : {}),
  };
}

/** The config given, or the first of wireproxy's default paths that exists. */
export function configFile(given: string | undefined, exists: (p: string) => boolean = existsSync): string {
  if (given !== undefined) return given;
  const found = defaultConfigPaths().find((p) => exists(p));
  if (found === undefined) throw new ConfigError(`no config given (CONFIG or -c FILE), and none at ${defaultConfigPaths().join(' or ')}`);
  return found;
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

/** The wg-quick part, parsed (errors before anything binds), the tunnel's name and the file it came from. A
 * WGConfig file or an inline part is read as wireproxy reads it ($VAR values, AllowedIPs defaulting to
 * everything); a WGConfig file's CheckAlive keys go into the plan, as wireproxy reads them from there. */
async function wgConfig(plan: ProxyPlan): Promise<{ config: WgQuickConfig; name: string; file: string }> {
  if ('path' in plan.wg) {
    const located = await readConfigFile(plan.wg.path);
    const text = located.data.toString('utf8');
    if (!plan.wg.wireproxy) return { config: parseConfig(text, { file: located.path }), name: located.interfaceName, file: located.path };
    const { text: wgText, checkAlive } = takeCheckAlive(text, located.path);
    if (checkAlive && plan.checkAlive) {
      throw new ConfigError(`CheckAlive: given at ${checkAlive.where} and at ${plan.checkAlive.where}: give it in one file`);
    }
    if (checkAlive) plan.checkAlive = checkAlive;
    return { config: parseWireproxyWg(wgText, located.path), name: located.interfaceName, file: located.path };
  }
  const name = path.basename(plan.wg.file).replace(/\.[^.]*$/, '').replace(/[^a-zA-Z0-9_=+.-]/g, '').slice(0, 15);
  return { config: parseWireproxyWg(plan.wg.text, plan.wg.file), name: name || 'proxy', file: plan.wg.file };
}

/** How target names resolve: through the tunnel's DNS servers, or (`--system-dns`, when it has none) the host's. */
interface Resolving {
  dns: string[];
  dnsSearch: string[];
  family: 0 | 4 | 6;
  system: boolean;
}

/** The stdio target as an IP address (its one connection starts now; forwards resolve in Rust, per
 * connection). */
async function targetIp(tunnel: Tunnel, host: string, r: Resolving): Promise<string> {
  if (isIP(host)) return host;
  if (r.dns.length === 0 && r.system) return (await lookup(host, { family: r.family })).address;
  return (await tunnel.lookup(host, { family: r.family })).address;
}

/** Starts every listener or none: one that fails closes those already started. */
function startAll(tunnel: Tunnel, listeners: ProxyListener[], r: Resolving, quiet: boolean): NativeProxy[] {
  const { dns, dnsSearch, family } = r;
  const systemDns = r.system && dns.length === 0;
  const started: NativeProxy[] = [];
  try {
    for (const l of listeners) {
      if (l.kind === 'stdio') continue;
      const kind = l.kind;
      try {
        // A forward's target name goes as it is: the listener resolves it for each connection.
        const { where: _where, kind: _kind, tlsWhere: _tls, ...spec } = l;
        started.push(native().startProxy(tunnel.nativeNetstack(), { ...spec, kind, dns, dnsSearch, resolveFamily: family, systemDns, quiet }));
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
  if ('version' in args) {
    process.stdout.write(`wiretun ${packageVersion()}\n`);
    return 0;
  }
  if ('error' in args) return usageError('proxy', args.error, USAGE);
  if ('refused' in args) {
    process.stderr.write(`wiretun proxy: ${args.refused}\n`);
    return 1;
  }
  const file = configFile(args.config);
  const plan = await loadPlan(file, args.flags);
  const stdioCount = plan.listeners.filter((l) => l.kind === 'stdio').length;
  if (stdioCount > 1) throw new ConfigError(`${file}: only one stdio tunnel (there is one stdin)`);
  const wg = await wgConfig(plan);
  checkNames(plan.listeners, wg.config.dns.length > 0 || args.systemDns === true);
  if (args.configTest) {
    // What wireproxy -n prints; a fault was thrown above, as file:line: what (exit 1).
    process.stdout.write('Config OK\n');
    return 0;
  }
  return serve(args, plan, wg, file);
}

/** Forward targets resolve per connection, so a name that does not resolve yet is fine; but with nothing to
 * resolve names at all it never could: that is the config's fault, said at start. */
export function checkNames(listeners: ProxyListener[], canResolve: boolean): void {
  if (canResolve) return;
  const named = listeners.find((l) => l.kind !== 'reverse' && l.host !== undefined && isIP(l.host) === 0);
  if (named) {
    throw new ConfigError(`${named.where}: target ${named.host}: a name needs DNS servers (DNS = in [Interface]), or --system-dns`);
  }
}

/** Runs the tunnel and every listener until a signal (or the stdio connection's end). */
async function serve(args: ProxyArgs, plan: ProxyPlan, wg: { config: WgQuickConfig; name: string; file: string }, file: string): Promise<number> {
  const { config, name } = wg;
  const say = args.silent ? (): void => {} : (line: string): void => void process.stderr.write(`wiretun proxy: ${line}\n`);
  const family = ({ auto: 0, ipv4: 4, ipv6: 6 } as const)[plan.resolve ?? 'auto'];
  const tunnel = await Tunnel.fromConfig(config, { netstack: true, name, tcpEngine: args.tcpEngine });
  const resolving: Resolving = { dns: config.dns, dnsSearch: config.dnsSearch, family, system: args.systemDns === true };
  if (config.dns.length === 0) {
    say(args.systemDns
      ? 'the config has no DNS servers: target names are resolved by this host (--system-dns), outside the tunnel'
      : 'the config has no DNS servers: targets by name will be refused (--system-dns to use this host\'s)');
  }
  let proxies: NativeProxy[];
  try {
    proxies = startAll(tunnel, plan.listeners, resolving, args.silent === true);
  } catch (err) {
    await tunnel.close();
    throw err;
  }
  const alive = plan.checkAlive && new AliveChecker(plan.checkAlive, (ip, ms) => tunnel.ping(ip, { timeout: ms }), say);
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
    say(`/metrics and /readyz on http://${args.info}`);
  }
  sandbox(args, plan, [file, wg.file], resolving, say, proxies.length > 0 || info !== undefined);
  for (const l of plan.listeners) {
    const warning = exposureWarning(l);
    if (warning) process.stderr.write(`wiretun proxy: warning: ${warning}\n`);
  }
  plan.listeners.filter((l) => l.kind !== 'stdio').forEach((l, i) => {
    const target = l.kind === 'socks5' || l.kind === 'http' ? '' : l.kind === 'sni' ? ' -> the TLS server name\'s port 443' : ` -> ${l.host}:${l.port}`;
    say(`${l.certFile !== undefined ? 'https' : l.kind} on ${proxies[i].address}${target}`);
  });
  const stop = async (): Promise<void> => {
    alive?.stop();
    for (const p of proxies) p.close();
    info?.close();
    await tunnel.close();
  };
  const stdio = plan.listeners.filter((l) => l.kind === 'stdio');
  if (stdio.length === 1) {
    const status = await pipeStdio(tunnel, stdio[0], resolving);
    await stop();
    return status;
  }
  // The native listeners hold no handle on the event loop, and signal handlers do not either: a timer does.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(keepAlive);
  await stop();
  say(`${signal}: listeners closed`);
  return 0;
}

/** Every listener is up and every file read: from here on the process needs none but its config files and,
 * where this host's resolver is used (--system-dns, or a reverse forward to a name), the resolver's. A lone
 * --stdio says nothing (an ssh ProxyCommand's stderr is the user's terminal). */
function sandbox(args: ProxyArgs, plan: ProxyPlan, files: string[], r: Resolving, say: (line: string) => void, loud: boolean): void {
  if (args.noSandbox) {
    if (loud) say(sandboxLine('off'));
    return;
  }
  const tls = plan.listeners.flatMap((l) => [l.certFile ?? [], l.keyFile ?? []].flat());
  const hostResolver = (r.system && r.dns.length === 0) || plan.listeners.some((l) => l.kind === 'reverse' && isIP(l.host ?? '') === 0);
  const outcome = native().restrictFiles(sandboxPaths([...files, ...tls], hostResolver));
  if (loud) say(sandboxLine(outcome));
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
