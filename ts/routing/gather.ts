// The system facts the pure plans need, read from the live system just before planning. Every probe goes
// through `System` so unit tests can describe a machine as data. JSON output (`ip -j`) is parsed instead of
// wg-quick's regexes over text, except where the plan wants `ip rule show` lines as wg-quick matches them.
import { constants, promises as fs } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import * as path from 'node:path';
import { WgQuickConfig } from '../config/wgquick';
import { run, RunResult } from '../proc';
import { DownFacts, UpFacts } from './facts';

/** How apply/gather reach the machine. The real one runs processes; tests pass a fake. */
export interface System {
  /** Runs a command and returns its stdout; rejects when it cannot start or exits non-zero. */
  capture(argv: string[]): Promise<string>;
  /** Runs a command for its effect, `stdin` piped in, its stderr shown to the user; rejects on failure. */
  run(argv: string[], stdin?: string): Promise<void>;
  /** A user hook, run with `bash -c` like wg-quick's eval. */
  hook(command: string): Promise<void>;
  /** A file's text, or undefined when it cannot be read. */
  readFile(file: string): Promise<string | undefined>;
  /** Whether a program is on PATH (`command -v`). */
  has(program: string): Promise<boolean>;
  /** A host name to one numeric address (the first, like wg(8)). */
  resolve(host: string): Promise<string>;
}

type Json = Record<string, unknown>;

async function captureJson(sys: System, argv: string[]): Promise<Json[]> {
  try {
    const out = await sys.capture(argv);
    const parsed: unknown = JSON.parse(out.trim() === '' ? '[]' : out);
    return Array.isArray(parsed) ? (parsed as Json[]) : [];
  } catch {
    return [];
  }
}

/** Numeric routing tables that hold any IPv4 or IPv6 route: the auto table must skip them. */
export async function tablesInUse(sys: System): Promise<number[]> {
  const found = new Set<number>();
  for (const fam of ['-4', '-6']) {
    for (const r of await captureJson(sys, ['ip', '-j', fam, 'route', 'show', 'table', 'all'])) {
      const t = r.table;
      if (typeof t === 'string' && /^\d+$/.test(t)) found.add(Number(t));
    }
  }
  return [...found].sort((a, b) => a - b);
}

function routeMetricMtu(route: Json): number | undefined {
  const metrics = route.metrics;
  if (!Array.isArray(metrics)) return undefined;
  for (const m of metrics as Json[]) if (typeof m.mtu === 'number') return m.mtu;
  return undefined;
}

export async function linkMtu(sys: System, dev: string): Promise<number | undefined> {
  const [link] = await captureJson(sys, ['ip', '-j', 'link', 'show', 'dev', dev]);
  return typeof link?.mtu === 'number' ? link.mtu : undefined;
}

/** wg-quick's probe: the route's own `mtu`, else the MTU of the device it leaves through. */
async function mtuOfRoute(sys: System, route: Json | undefined): Promise<number | undefined> {
  if (!route) return undefined;
  const own = routeMetricMtu(route);
  if (own !== undefined) return own;
  return typeof route.dev === 'string' ? linkMtu(sys, route.dev) : undefined;
}

/** `host` of `host:port` / `[v6]:port`. */
export function endpointHost(endpoint: string): string {
  return endpoint.startsWith('[') ? endpoint.slice(1, endpoint.indexOf(']')) : endpoint.slice(0, endpoint.lastIndexOf(':'));
}

/** Resolves every endpoint host name once; numeric hosts are left out. A name that fails stops `up`. */
export async function resolveEndpoints(sys: System, config: WgQuickConfig): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const p of config.device.peers) {
    if (!p.endpoint) continue;
    const host = endpointHost(p.endpoint);
    if (isIP(host) || host in out) continue;
    try {
      out[host] = await sys.resolve(host);
    } catch {
      throw new Error(`cannot resolve endpoint host "${host}" of peer ${p.publicKey}`);
    }
  }
  return out;
}

/** The numeric address of each endpoint, as `wg show IF endpoints` would print it. */
function endpointAddresses(config: WgQuickConfig, resolved: Record<string, string>): string[] {
  const out: string[] = [];
  for (const p of config.device.peers) {
    if (!p.endpoint) continue;
    const host = endpointHost(p.endpoint);
    const address = isIP(host) ? host : resolved[host];
    if (address !== undefined && !out.includes(address)) out.push(address);
  }
  return out;
}

/** From /etc/resolvconf/interface-order: the first `NAME*` line gives `NAME.` (Debian: `tun.`). */
export async function resolvconfPrefix(sys: System): Promise<string> {
  const text = await sys.readFile('/etc/resolvconf/interface-order');
  for (const line of (text ?? '').split('\n')) {
    const m = /^([A-Za-z0-9-]+)\*$/.exec(line.trim());
    if (m) return `${m[1]}.`;
  }
  return '';
}

export async function readSysctl(sys: System, key: string): Promise<string | undefined> {
  const text = await sys.readFile(`/proc/sys/${key.split('.').join('/')}`);
  return text?.trim();
}

export async function linkExists(sys: System, iface: string): Promise<boolean> {
  try {
    await sys.capture(['ip', 'link', 'show', 'dev', iface]);
    return true;
  } catch {
    return false;
  }
}

/** Everything planUp needs except linkLocal6, which exists only once the link is up. */
export async function gatherUpFacts(sys: System, config: WgQuickConfig, resolved: Record<string, string>): Promise<UpFacts> {
  const routeMtus: Record<string, number> = {};
  for (const address of endpointAddresses(config, resolved)) {
    const [route] = await captureJson(sys, ['ip', '-j', 'route', 'get', address]);
    const mtu = await mtuOfRoute(sys, route);
    if (mtu !== undefined) routeMtus[address] = mtu;
  }
  const [defaultRoute] = await captureJson(sys, ['ip', '-j', 'route', 'show', 'default']);
  const srcValidMark = await readSysctl(sys, 'net.ipv4.conf.all.src_valid_mark');
  return {
    tablesInUse: await tablesInUse(sys),
    routeMtus,
    defaultRouteMtu: await mtuOfRoute(sys, defaultRoute),
    resolved,
    hasNft: await sys.has('nft'),
    hasIptables: await sys.has('iptables-restore'),
    hasResolvconf: await sys.has('resolvconf'),
    resolvconfPrefix: await resolvconfPrefix(sys),
    srcValidMark: srcValidMark === undefined ? undefined : Number(srcValidMark),
  };
}

/** The IPv6 link-local addresses the kernel gave the link, in `ip addr` order. */
export async function gatherLinkLocal6(sys: System, iface: string): Promise<string[]> {
  const [link] = await captureJson(sys, ['ip', '-j', '-6', 'address', 'show', 'dev', iface, 'scope', 'link']);
  const infos = Array.isArray(link?.addr_info) ? (link.addr_info as Json[]) : [];
  return infos.map((a) => a.local).filter((a): a is string => typeof a === 'string');
}

async function lines(sys: System, argv: string[]): Promise<string[]> {
  try {
    return (await sys.capture(argv)).split('\n').filter((l) => l.trim() !== '');
  } catch {
    return [];
  }
}

async function optionalCapture(sys: System, program: string): Promise<string | undefined> {
  if (!(await sys.has(program))) return undefined;
  try {
    return await sys.capture([program]);
  } catch {
    return undefined;
  }
}

/** What the device said about itself over UAPI, when its daemon still answers. */
export interface LiveDevice {
  fwmark: number;
  allowedIps: string[];
}

/** The system side of DownFacts; the caller fills in what the daemon (or the recorded state) says. */
export async function gatherDownFacts(sys: System, iface: string, live?: LiveDevice): Promise<DownFacts> {
  const hasNft = await sys.has('nft');
  return {
    fwmark: live?.fwmark,
    allowedIps: live?.allowedIps,
    interfaceExists: await linkExists(sys, iface),
    rules4: await lines(sys, ['ip', '-4', 'rule', 'show']),
    rules6: await lines(sys, ['ip', '-6', 'rule', 'show']),
    nftTables: hasNft ? await lines(sys, ['nft', 'list', 'tables']) : [],
    hasNft,
    iptablesSave4: await optionalCapture(sys, 'iptables-save'),
    iptablesSave6: await optionalCapture(sys, 'ip6tables-save'),
    resolvconfPrefix: await resolvconfPrefix(sys),
  };
}

/** fwmark and allowed IPs out of a UAPI `get=1` reply. */
export function parseLiveDevice(uapi: string): LiveDevice {
  let fwmark = 0;
  const allowedIps: string[] = [];
  for (const line of uapi.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'fwmark') fwmark = Number(value);
    else if (key === 'allowed_ip') allowedIps.push(value);
  }
  return { fwmark, allowedIps };
}

// --- the real machine ---------------------------------------------------------------------------------------

/** PATH plus the sbin directories, where ip/nft/sysctl live even when a user's PATH lacks them. */
function searchPath(): string {
  const dirs = (process.env.PATH ?? '').split(':').filter((d) => d !== '');
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!dirs.includes(d)) dirs.push(d);
  return dirs.join(':');
}

/** The error for a command that failed, as wg-quick's `set -e` leaves it: the `[#]` line printed before names
 * the command, so this gives the status and the last line of its stderr. */
function failure(file: string, r: RunResult): Error {
  if (r.error) return new Error(r.error.code === 'ENOENT' ? `${file}: command not found` : r.error.message);
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const status = r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
  return new Error(last ? `${status}: ${last}` : status);
}

/** Runs argv with no time limit (hooks and resolvconf may take long); stdout captured or passed through, stderr
 * passed through unless quiet, and kept for the error message either way. */
async function spawnRun(argv: string[], opts: { stdin?: string; capture: boolean; quiet: boolean }): Promise<string> {
  const r = await run(argv[0], argv.slice(1), {
    input: opts.stdin,
    timeoutMs: 0,
    env: { PATH: searchPath() },
    stdout: opts.capture ? 'capture' : 'inherit',
    stderr: opts.quiet ? 'capture' : 'tee',
  });
  if (r.code !== 0 || r.error) throw failure(argv[0], r);
  return r.stdout;
}

export function realSystem(): System {
  return {
    capture: (argv) => spawnRun(argv, { capture: true, quiet: true }),
    run: async (argv, stdin) => void (await spawnRun(argv, { stdin, capture: false, quiet: false })),
    hook: async (command) => void (await spawnRun(['bash', '-c', command], { capture: false, quiet: false })),
    readFile: (file) => fs.readFile(file, 'utf8').catch(() => undefined),
    has: async (program) => {
      for (const dir of searchPath().split(':')) {
        try {
          await fs.access(path.join(dir, program), constants.X_OK);
          return true;
        } catch {
          /* next */
        }
      }
      return false;
    },
    resolve: async (host) => (await lookup(host)).address,
  };
}
