// The demo's lab: two network namespaces joined by a veth pair, one daemon in each. Everything is named after
// the demo's pid, so two demos can run at once and a later demo can recognise what a killed one left behind.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { must, mustDetaching, pauseSync, runSync } from '../proc';
import { show, waitFor } from './util';

const SOCKET_DIR = '/var/run/wireguard';
const STALE = /^wtdemo-[ab]-(\d+)$/;

export interface Side {
  label: 'a' | 'b';
  ns: string;
  /** Distinct per side because UAPI sockets live in /var/run/wireguard, which every namespace shares. */
  iface: string;
  veth: string;
  underlay4: string;
  underlay6: string;
  tunnel4: string;
  tunnel6: string;
}

export interface Lab {
  a: Side;
  b: Side;
  /** Daemon logs, removed with the lab. */
  dir: string;
}

function side(label: 'a' | 'b', pid: number, host: number): Side {
  return {
    label,
    ns: `wtdemo-${label}-${pid}`,
    iface: `wtd${pid}${label}`,
    veth: `veth-${label}`,
    underlay4: `10.200.0.${host}`,
    underlay6: `fd00:200::${host}`,
    tunnel4: `10.201.0.${host}`,
    tunnel6: `fd00:201::${host}`,
  };
}

export function planLab(pid = process.pid): Lab {
  return { a: side('a', pid, 1), b: side('b', pid, 2), dir: mkdtempSync(path.join(os.tmpdir(), 'wtdemo-')) };
}

function namespaces(): string[] {
  const r = runSync('ip', ['netns', 'list']);
  return r.stdout.split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

function pidsIn(ns: string): number[] {
  return runSync('ip', ['netns', 'pids', ns]).stdout.split('\n').map(Number).filter((p) => p > 0);
}

/** Signals every process left in the namespace, polling until none is left (zombies are not listed). */
function stopProcessesIn(ns: string): void {
  for (const [signal, graceMs] of [['SIGTERM', 3000], ['SIGKILL', 2000]] as const) {
    const pids = pidsIn(ns);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    }
    const deadline = Date.now() + graceMs;
    while (pidsIn(ns).length > 0 && Date.now() < deadline) pauseSync(20);
  }
}

/** Removes one namespace of the demo and its daemon's socket. Synchronous so a signal handler can call it. */
function removeSide(s: Pick<Side, 'ns' | 'iface'>): void {
  if (namespaces().includes(s.ns)) {
    // The daemons hold their TUN and sockets, which would keep the namespace alive past `ip netns del`.
    stopProcessesIn(s.ns);
    runSync('ip', ['netns', 'del', s.ns], { trace: show });
  }
  rmSync(path.join(SOCKET_DIR, `${s.iface}.sock`), { force: true });
}

export function teardown(lab: Lab): void {
  removeSide(lab.a);
  removeSide(lab.b);
  rmSync(lab.dir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Namespaces of earlier demos whose process died without cleaning up (kill -9, power loss). Returns them. */
export function sweepStale(): string[] {
  const swept: string[] = [];
  for (const ns of namespaces()) {
    const m = STALE.exec(ns);
    if (!m || alive(Number(m[1]))) continue;
    const label = ns.split('-')[1];
    removeSide({ ns, iface: `wtd${m[1]}${label}` });
    swept.push(ns);
  }
  return swept;
}

/** Both namespaces, the veth pair between them, underlay addresses. Nothing is created outside the two. */
export async function buildUnderlay(lab: Lab): Promise<void> {
  const { a, b } = lab;
  for (const s of [a, b]) await must('ip', ['netns', 'add', s.ns], { trace: show });
  // Created inside A with its peer placed straight into B: the pair never appears in the caller's namespace.
  await must('ip', ['-n', a.ns, 'link', 'add', a.veth, 'type', 'veth', 'peer', 'name', b.veth, 'netns', b.ns], { trace: show });
  for (const s of [a, b]) {
    await must('ip', ['-n', s.ns, 'link', 'set', 'lo', 'up'], { trace: show });
    await must('ip', ['-n', s.ns, 'addr', 'add', `${s.underlay4}/24`, 'dev', s.veth], { trace: show });
    // nodad: the address is usable at once instead of after duplicate address detection (~2 s).
    await must('ip', ['-n', s.ns, 'addr', 'add', `${s.underlay6}/64`, 'dev', s.veth, 'nodad'], { trace: show });
    await must('ip', ['-n', s.ns, 'link', 'set', s.veth, 'up'], { trace: show });
  }
}

/**
 * Starts a daemon that follows wireguard-go's contract (`DAEMON IFNAME`, exit 0 once the interface and its UAPI
 * socket exist, then it runs in the background). Its output goes to a log that is shown only on failure.
 */
export async function startDaemon(daemon: string, lab: Lab, s: Side): Promise<void> {
  const log = path.join(lab.dir, `${s.label}.log`);
  // The backgrounded daemon keeps the log open, so completion is the exit of the foreground process.
  const env = { LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' };
  await mustDetaching(daemon, [s.iface], log, { ns: s.ns, env, timeoutMs: 30_000, trace: show });
  const sock = path.join(SOCKET_DIR, `${s.iface}.sock`);
  await waitFor(`${sock} to appear`, 5000, async () => (existsSync(sock) ? true : undefined));
}

/** Tunnel addresses (IPv4 and IPv6) on the WireGuard interface, and the link up. */
export async function addressTunnel(s: Side): Promise<void> {
  await must('ip', ['-n', s.ns, 'addr', 'add', `${s.tunnel4}/24`, 'dev', s.iface], { trace: show });
  await must('ip', ['-n', s.ns, 'addr', 'add', `${s.tunnel6}/64`, 'dev', s.iface, 'nodad'], { trace: show });
  await must('ip', ['-n', s.ns, 'link', 'set', s.iface, 'up'], { trace: show });
}
