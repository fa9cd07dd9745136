// `wiretun proxy`'s configuration: wireproxy's INI (case-insensitive, sections repeatable; the wg-quick parts
// inline or through a root `WGConfig = path`) or a plain wg-quick file plus flags. Pure: text in, a plan out,
// or a ConfigError naming file:line and key. Nothing is bound until the whole plan is valid.
import { isIP } from 'node:net';
import { ConfigError } from '../config/wgquick';
import type { NativeProxySpec } from '../native';
import { Env, expandValue, iniValue, takesEnv } from './proxy-env';

export type ProxyKind = 'socks5' | 'http' | 'sni' | 'forward' | 'udp-forward' | 'reverse' | 'stdio';

/**
 * One listener to start, in the binding's terms (its spec's fields, so the two stay in step): `bind` is the
 * host's `ip:port`; `host`/`port` a forward's target through the tunnel or a reverse forward's on the host;
 * `listenPort` the tunnel port a reverse forward listens on; `certFile`/`keyFile` make an HTTPS proxy.
 */
export interface ProxyListener
  extends Pick<NativeProxySpec, 'bind' | 'username' | 'password' | 'host' | 'port' | 'listenPort' | 'inactivityTimeoutS' | 'certFile' | 'keyFile'> {
  kind: ProxyKind;
  /** Where it was asked for, for messages: `file:line` or the flag. */
  where: string;
  /** The config lines of CertFile and KeyFile, for their errors. */
  tlsWhere?: { file: string; cert: number; key: number };
}

/** wireproxy's ResolveStrategy: the address family target names are dialed by (auto: either). */
export type ResolveStrategy = 'auto' | 'ipv4' | 'ipv6';

/** `[Interface]` CheckAlive/CheckAliveInterval: addresses pinged through the tunnel every `interval` s. */
export interface CheckAlive {
  ips: string[];
  interval: number;
  where: string;
}

export interface ProxyPlan {
  /** The wg-quick config: a file to read (`wireproxy` when a WGConfig names it: then read with wireproxy's
   * meaning, see proxy-env.ts), or wg-quick text cut out of the wireproxy file (same line numbers). */
  wg: { path: string; wireproxy?: true } | { text: string; file: string };
  listeners: ProxyListener[];
  resolve?: ResolveStrategy;
  checkAlive?: CheckAlive;
}

const WG_SECTIONS = new Set(['interface', 'peer']);
const KEYS: Record<string, string[]> = {
  socks5: ['bindaddress', 'username', 'password'],
  http: ['bindaddress', 'username', 'password', 'certfile', 'keyfile'],
  sni: ['bindaddress'],
  tcpclienttunnel: ['bindaddress', 'target'],
  tcpservertunnel: ['listenport', 'target'],
  stdiotunnel: ['target'],
  udpproxytunnel: ['bindaddress', 'target', 'inactivitytimeout'],
  resolve: ['resolvestrategy'],
};
const NOT_YET: Record<string, string> = {};
const CHECK_ALIVE_KEYS = new Set(['checkalive', 'checkaliveinterval']);

/** Whether a file is wireproxy's format rather than plain wg-quick. */
export function isWireproxyConfig(text: string): boolean {
  return text.split(/\r?\n/).some((raw) => {
    const line = raw.trim().toLowerCase();
    const m = /^\[([^\]]*)\]\s*(?:[#;].*)?$/.exec(line);
    if (m) return Object.hasOwn(KEYS, m[1].trim()) || Object.hasOwn(NOT_YET, m[1].trim());
    return /^(wgconfig|checkalive|checkaliveinterval)\s*=/.test(line);
  });
}

/** `HOST:PORT`, `[IPv6]:PORT` or `PORT` (on 127.0.0.1) → `ip:port`; names other than localhost are refused. */
export function parseBind(value: string, fail: (msg: string) => never): string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(value) ?? (/^(\d+)$/.test(value) ? [value, undefined, '127.0.0.1', value] : null);
  if (!m) return fail(`${JSON.stringify(value)} is not HOST:PORT`);
  let host = m[1] ?? m[2] ?? '';
  if (host === '' || host === 'localhost') host = '127.0.0.1';
  const port = parsePort(m[3], fail);
  if (!isIP(host)) return fail(`${JSON.stringify(host)} is not an IP address (listeners bind to addresses)`);
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function parsePort(s: string, fail: (msg: string) => never): number {
  const port = /^\d{1,5}$/.test(s) ? Number(s) : NaN;
  if (!(port >= 1 && port <= 65535)) return fail(`${JSON.stringify(s)} is not a port 1-65535`);
  return port;
}

/** Whole seconds, 0 up to a year (wireproxy takes an int; 0 there, as here, means no timeout). */
function parseSeconds(s: string, fail: (msg: string) => never): number {
  const n = /^\d{1,8}$/.test(s) ? Number(s) : NaN;
  if (!(n <= 366 * 86400)) return fail(`${JSON.stringify(s)} is not a whole number of seconds (0 for none, at most a year)`);
  return n;
}

/** `HOST:PORT` of a target; HOST may be a name (resolved through the tunnel's DNS, or on the host for -R). */
export function parseTarget(value: string, fail: (msg: string) => never): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(value);
  if (!m) return fail(`${JSON.stringify(value)} is not HOST:PORT`);
  const host = m[1] ?? m[2];
  if (m[1] !== undefined && isIP(host) !== 6) return fail(`${JSON.stringify(host)} is not an IPv6 address`);
  return { host, port: parsePort(m[3], fail) };
}

/** Parses a wireproxy file. `file` names it in errors; a relative WGConfig is taken relative to `dir`; `$VAR`
 * values of the listener sections and CheckAlive come from `env` (the wg-quick part's: parseWireproxyWg).
 * Values are read as wireproxy reads them (iniValue: inline comments, quotes). */
export function parseWireproxy(text: string, file: string, dir: string, env: Env = process.env): ProxyPlan {
  const lines = text.split(/\r?\n/);
  const wgLines: string[] = [];
  const listeners: ProxyListener[] = [];
  let wgPath: string | undefined;
  let section: string | undefined;
  let current: { kind: string; line: number; values: Map<string, { value: string; line: number }> } | undefined;
  let resolve: ResolveStrategy | undefined;
  const finish = (): void => {
    if (current?.kind === 'resolve') resolve = toResolve(current.values, file, current.line, resolve !== undefined);
    else if (current) listeners.push(toListener(current.kind, current.values, file, current.line, dir));
    current = undefined;
  };
  lines.forEach((raw, i) => {
    const line = raw.replace(/^\s+|\s+$/g, '');
    const n = i + 1;
    const header = /^\[([^\]]*)\]\s*(?:[#;].*)?$/.exec(line);
    if (header) {
      finish();
      section = header[1].trim().toLowerCase();
      if (Object.hasOwn(NOT_YET, section)) throw new ConfigError(`[${header[1]}]: ${NOT_YET[section]}`, { file, line: n });
      if (Object.hasOwn(KEYS, section)) current = { kind: section, line: n, values: new Map() };
      else if (!WG_SECTIONS.has(section)) throw new ConfigError(`unknown section [${header[1]}]`, { file, line: n });
      wgLines.push(WG_SECTIONS.has(section) ? `[${section === 'peer' ? 'Peer' : 'Interface'}]` : '');
      return;
    }
    if (line === '' || line.startsWith('#') || line.startsWith(';')) {
      wgLines.push('');
      return;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new ConfigError(`${line}: expected Key = Value`, { file, line: n });
    const key = line.slice(0, eq).trim();
    const value = iniValue(line.slice(eq + 1));
    if (section === undefined) {
      if (key.toLowerCase() !== 'wgconfig') throw new ConfigError(`${key}: unknown key before any section (only WGConfig)`, { file, line: n, key });
      if (value === '') throw new ConfigError(`${key}: a path is required`, { file, line: n, key });
      wgPath = value.startsWith('/') ? value : `${dir}/${value}`;
      wgLines.push('');
    } else if (current) {
      if (!KEYS[current.kind].includes(key.toLowerCase())) throw new ConfigError(`${key}: unknown key in [${current.kind}]`, { file, line: n, key });
      if (current.values.has(key.toLowerCase())) throw new ConfigError(`${key}: given twice`, { file, line: n, key });
      const v = takesEnv(current.kind, key) ? expandValue(value, { file, line: n, key }, env) : value;
      current.values.set(key.toLowerCase(), { value: v, line: n });
      wgLines.push('');
    } else {
      wgLines.push(raw);
    }
  });
  finish();
  const { text: wgText, checkAlive } = takeCheckAlive(wgLines.join('\n'), file, env);
  // An [Interface] holding only CheckAlive keys goes with WGConfig; any wg-quick key makes the part inline.
  const inline = wgText.split('\n').some((l) => l.trim() !== '' && !/^\[/.test(l));
  if (wgPath !== undefined && inline) throw new ConfigError('WGConfig and an inline [Interface]/[Peer]: give one of them', { file });
  if (wgPath === undefined && !inline) throw new ConfigError('no WireGuard config: a root WGConfig = path or an [Interface] section', { file });
  if (listeners.length === 0) throw new ConfigError('no listeners: add [Socks5], [http], [TCPClientTunnel] or [TCPServerTunnel]', { file });
  return {
    wg: wgPath !== undefined ? { path: wgPath, wireproxy: true } : { text: wgText, file },
    listeners,
    ...(resolve !== undefined ? { resolve } : {}),
    ...(checkAlive ? { checkAlive } : {}),
  };
}

function toResolve(values: Map<string, { value: string; line: number }>, file: string, line: number, again: boolean): ResolveStrategy {
  if (again) throw new ConfigError('[Resolve]: given twice', { file, line });
  const v = values.get('resolvestrategy');
  if (!v) return 'auto';
  const strategy = v.value.toLowerCase();
  if (strategy !== 'auto' && strategy !== 'ipv4' && strategy !== 'ipv6') {
    throw new ConfigError(`ResolveStrategy: ${JSON.stringify(v.value)} is not auto, ipv4 or ipv6`, { file, line: v.line, key: 'ResolveStrategy' });
  }
  return strategy;
}

/**
 * CheckAlive and CheckAliveInterval taken out of the [Interface] of a wireproxy file's wg-quick part, or of
 * the file its WGConfig names (wireproxy reads every [Interface] key from that file): the text without them
 * (their lines blank, so line numbers hold) and what they ask for.
 */
export function takeCheckAlive(text: string, file: string, env: Env = process.env): { text: string; checkAlive?: CheckAlive } {
  const alive = new Map<string, { value: string; line: number }>();
  let section = '';
  const lines = text.split('\n').map((raw, i) => {
    const header = /^\s*\[([^\]]*)\]/.exec(raw);
    if (header) section = header[1].trim().toLowerCase();
    const eq = raw.indexOf('=');
    const key = raw.slice(0, Math.max(eq, 0)).trim();
    if (header || section !== 'interface' || !CHECK_ALIVE_KEYS.has(key.toLowerCase())) return raw;
    const where = { file, line: i + 1, key };
    if (alive.has(key.toLowerCase())) throw new ConfigError(`${key}: given twice`, where);
    const value = iniValue(raw.slice(eq + 1));
    alive.set(key.toLowerCase(), { value: takesEnv(section, key) ? expandValue(value, where, env) : value, line: i + 1 });
    return '';
  });
  const checkAlive = toCheckAlive(alive, file);
  return { text: lines.join('\n'), ...(checkAlive ? { checkAlive } : {}) };
}

function toCheckAlive(values: Map<string, { value: string; line: number }>, file: string): CheckAlive | undefined {
  const ips = values.get('checkalive');
  const every = values.get('checkaliveinterval');
  if (!ips) {
    if (every) throw new ConfigError('CheckAliveInterval: needs CheckAlive (the addresses to ping)', { file, line: every.line, key: 'CheckAliveInterval' });
    return undefined;
  }
  const list = ips.value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = list.find((ip) => isIP(ip) === 0);
  if (bad !== undefined || list.length === 0) {
    throw new ConfigError(`CheckAlive: ${JSON.stringify(bad ?? ips.value)} is not an IP address`, { file, line: ips.line, key: 'CheckAlive' });
  }
  let interval = 5;
  if (every) {
    interval = /^\d{1,6}$/.test(every.value) ? Number(every.value) : NaN;
    if (!(interval >= 1)) throw new ConfigError(`CheckAliveInterval: ${JSON.stringify(every.value)} is not a whole number of seconds >= 1`, { file, line: every.line, key: 'CheckAliveInterval' });
  }
  return { ips: list, interval, where: `${file}:${ips.line}` };
}

function toListener(kind: string, values: Map<string, { value: string; line: number }>, file: string, line: number, dir: string): ProxyListener {
  const where = `${file}:${line}`;
  const get = (key: string, name: string, required: boolean): { value: string; fail: (m: string) => never } | undefined => {
    const v = values.get(key);
    if (!v) {
      if (required) throw new ConfigError(`${name}: required in this section`, { file, line, key: name });
      return undefined;
    }
    return { value: v.value, fail: (m: string) => { throw new ConfigError(`${name}: ${m}`, { file, line: v.line, key: name }); } };
  };
  const creds = (): Pick<ProxyListener, 'username' | 'password'> => {
    const u = get('username', 'Username', false);
    const p = get('password', 'Password', false);
    if (!u !== !p) (u ?? p)!.fail('Username and Password go together');
    return u && p ? { username: u.value, password: p.value } : {};
  };
  if (kind === 'socks5' || kind === 'http') {
    const b = get('bindaddress', 'BindAddress', true)!;
    return { kind, bind: parseBind(b.value, b.fail), ...creds(), ...tls(values, file, dir), where };
  }
  if (kind === 'sni') {
    const b = get('bindaddress', 'BindAddress', true)!;
    return { kind, bind: parseBind(b.value, b.fail), where };
  }
  const t = get('target', 'Target', true)!;
  const target = parseTarget(t.value, t.fail);
  if (kind === 'stdiotunnel') return { kind: 'stdio', ...target, where };
  if (kind === 'udpproxytunnel') {
    const idle = get('inactivitytimeout', 'InactivityTimeout', false);
    const b = get('bindaddress', 'BindAddress', true)!;
    const timeout = idle ? { inactivityTimeoutS: parseSeconds(idle.value, idle.fail) } : {};
    return { kind: 'udp-forward', bind: parseBind(b.value, b.fail), ...target, ...timeout, where };
  }
  if (kind === 'tcpclienttunnel') {
    const b = get('bindaddress', 'BindAddress', true)!;
    return { kind: 'forward', bind: parseBind(b.value, b.fail), ...target, where };
  }
  const l = get('listenport', 'ListenPort', true)!;
  return { kind: 'reverse', listenPort: parsePort(l.value, l.fail), ...target, where };
}

/** [http] CertFile and KeyFile (both or neither), taken relative to the config's directory like WGConfig. */
function tls(values: Map<string, { value: string; line: number }>, file: string, dir: string): Pick<ProxyListener, 'certFile' | 'keyFile' | 'tlsWhere'> {
  const cert = values.get('certfile');
  const key = values.get('keyfile');
  if (!cert && !key) return {};
  if (!cert || !key) {
    const [name, other, line] = cert ? ['KeyFile', 'CertFile', cert.line] : ['CertFile', 'KeyFile', key!.line];
    throw new ConfigError(`${name}: required with ${other} (HTTPS needs a PEM certificate and its key)`, { file, line, key: name });
  }
  for (const [v, name] of [[cert, 'CertFile'], [key, 'KeyFile']] as const) {
    if (v.value === '') throw new ConfigError(`${name}: a path is required`, { file, line: v.line, key: name });
  }
  const abs = (p: string): string => (p.startsWith('/') ? p : `${dir}/${p}`);
  return { certFile: abs(cert.value), keyFile: abs(key.value), tlsWhere: { file, cert: cert.line, key: key.line } };
}

/** `--socks5 [USER:PASS@]HOST:PORT`, `--http [USER:PASS@]HOST:PORT`, `--sni HOST:PORT`, `-L [BIND:]PORT:HOST:PORT`, `-R PORT:HOST:PORT`. */
export function parseFlag(flag: string, value: string): ProxyListener {
  const fail = (m: string): never => { throw new ConfigError(`${flag} ${value}: ${m}`); };
  if (flag === '--stdio') return { kind: 'stdio', ...parseTarget(value, fail), where: flag };
  if (flag === '--sni') return { kind: 'sni', bind: parseBind(value, fail), where: flag };
  if (flag === '--socks5' || flag === '--http') {
    const at = value.lastIndexOf('@');
    const bind = parseBind(at < 0 ? value : value.slice(at + 1), fail);
    const kind = flag === '--socks5' ? 'socks5' : 'http';
    if (at < 0) return { kind, bind, where: flag };
    const userpass = value.slice(0, at);
    const colon = userpass.indexOf(':');
    if (colon <= 0) fail('credentials are USER:PASS@');
    return { kind, bind, username: userpass.slice(0, colon), password: userpass.slice(colon + 1), where: flag };
  }
  // Split off the last HOST:PORT (HOST may be [IPv6]); what is left is [BIND:]PORT. `/udp` makes -L a UDP one.
  const udp = flag === '-L' && value.endsWith('/udp');
  const m = /^(.*):((?:\[[^\]]+\]|[^:[\]]+):\d+)$/.exec(udp ? value.slice(0, -4) : value);
  if (!m) return fail('expected PORT:HOST:PORT');
  const target = parseTarget(m[2], fail);
  if (flag === '-R') return { kind: 'reverse', listenPort: parsePort(m[1], fail), ...target, where: flag };
  return { kind: udp ? 'udp-forward' : 'forward', bind: parseBind(m[1], fail), ...target, where: flag };
}

/** A warning for a listener anyone on the network can use, or undefined. */
export function exposureWarning(l: ProxyListener): string | undefined {
  if (!l.bind || l.username !== undefined) return undefined;
  const host = l.bind.replace(/^\[|\]?:\d+$/g, '');
  if (host === '127.0.0.1' || host === '::1' || host.startsWith('127.')) return undefined;
  const what = l.kind === 'forward' ? 'a forward' : l.kind === 'sni' ? 'an SNI pass-through (it has no credentials)' : `a ${l.kind} proxy without credentials`;
  return `${l.where}: ${what} on ${l.bind}: anyone who can reach it can use the tunnel`;
}
