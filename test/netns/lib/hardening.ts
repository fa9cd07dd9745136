// Shared by the hardening suites: a client namespace A whose default route leads, in the clear, to "internet"
// addresses on B; B also runs a wireguard-go peer, so `wiretun up` in A with AllowedIPs = 0.0.0.0/0, ::/0
// carries the same destinations through the tunnel. Plus the CLI runners.
import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { addressTunnel, Iface, startDaemon } from './daemon';
import { REPO, WIREGUARD_GO } from './env';
import { Lab, Node } from './lab';
import { must, run, RunResult, runDetaching } from './proc';
import { waitFor } from './wait';
import { genKeyPair, genPsk, KeyPair, wg } from './wg';

export const WIRETUN = path.join(REPO, 'bin', 'wiretun');
export const STATE_DIR = '/var/run/wiretun';
/** Reachable from A only through its default route: in the clear via B's underlay, or through the tunnel. */
export const INTERNET4 = '198.51.100.7';
export const INTERNET6 = '2001:db8:77::7';
export const PEER_PORT = 51820;

export interface DefaultRouteNet {
  a: Node;
  b: Node;
  peer: Iface;
  aKey: KeyPair;
  bKey: KeyPair;
  psk: string;
  /** A 0600 file holding psk, for `set ... preshared-key FILE`. */
  pskFile: string;
}

/** B: wireguard-go peer (tunnel .2) knowing A's key, the internet addresses on lo; A: default routes via B. */
export async function defaultRouteNet(lab: Lab): Promise<DefaultRouteNet> {
  const [a, b] = lab.nodes;
  const aKey = await genKeyPair(lab.tmp);
  const bKey = await genKeyPair(lab.tmp);
  const psk = await genPsk(lab.tmp);
  const peer = await startDaemon(lab, WIREGUARD_GO, b);
  await addressTunnel(peer, 2);
  const allowed = '10.211.0.1/32,fd00:211::1/128';
  await wg(b.ns, ['set', peer.name, 'private-key', bKey.file, 'listen-port', String(PEER_PORT), 'peer', aKey.pub, 'preshared-key', psk.file, 'allowed-ips', allowed]);
  await must('ip', ['-n', b.ns, 'address', 'add', `${INTERNET4}/32`, 'dev', 'lo']);
  await must('ip', ['-n', b.ns, 'address', 'add', `${INTERNET6}/128`, 'dev', 'lo']);
  await must('ip', ['-n', a.ns, 'route', 'add', 'default', 'via', b.v4]);
  await must('ip', ['-n', a.ns, '-6', 'route', 'add', 'default', 'via', b.v6]);
  // `down` leaves src_valid_mark on, as wg-quick does: set it first so before/after snapshots compare equal.
  await must('sysctl', ['-q', '-w', 'net.ipv4.conf.all.src_valid_mark=1'], { ns: a.ns });
  await lab.waitUnderlay(a, b);
  return { a, b, peer, aKey, bKey, psk: psk.key, pskFile: psk.file };
}

/** A's wg-quick config, 0600 in the lab's private directory, named IFNAME.conf as `wiretun up` wants. */
export function writeClientConf(lab: Lab, net: DefaultRouteNet, ifname: string, extra = '', allowedIps = '0.0.0.0/0, ::/0'): string {
  const dir = path.join(lab.tmp, `conf-${ifname}`);
  mkdirSync(dir, { mode: 0o700, recursive: true });
  const file = path.join(dir, `${ifname}.conf`);
  const text =
    `[Interface]\nPrivateKey = ${net.aKey.priv}\nAddress = 10.211.0.1/24, fd00:211::1/64\n${extra}\n` +
    `[Peer]\nPublicKey = ${net.bKey.pub}\nPresharedKey = ${net.psk}\nAllowedIPs = ${allowedIps}\nEndpoint = ${net.b.v4}:${PEER_PORT}\n`;
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** One `wiretun` command in `ns`, all of its output (and that of any daemon it leaves behind) in `log`. */
export function wiretun(ns: string, args: string[], log: string, env: Record<string, string> = {}): Promise<RunResult> {
  writeFileSync(log, '');
  return runDetaching(WIRETUN, args, log, { ns, env, timeoutMs: 90_000 });
}

export interface Foreground {
  child: ChildProcess;
  log: string;
  /** Resolves to the exit code (null when killed by a signal). */
  exit: Promise<number | null>;
  output(): string;
}

/** `wiretun ARGS` kept running in `ns` (up --foreground); output to `log`. `ip netns exec` and env exec, so the
 * child's pid is the wiretun process itself and signals reach it directly. */
export function startForeground(ns: string, args: string[], log: string, env: Record<string, string> = {}): Foreground {
  return startProcess(ns, WIRETUN, args, log, env);
}

/** Any long-running command in `ns` (e.g. `wiretund -f IF`), stdout and stderr into `log`. */
export function startProcess(ns: string, cmd: string, args: string[], log: string, env: Record<string, string> = {}): Foreground {
  const fd = openSync(log, 'w');
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exit = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(null));
  });
  return { child, log, exit, output: () => readFileSync(log, 'utf8') };
}

/** Waits for a child's exit, SIGKILL after `timeoutMs`; the exit code, or 'timeout'. */
export async function exitWithin(fg: Foreground, timeoutMs: number): Promise<number | null | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const result = await Promise.race([fg.exit, late]);
  clearTimeout(timer);
  if (result === 'timeout') fg.child.kill('SIGKILL');
  return result;
}

/** A stand-in resolvconf on a PATH directory: `-a NAME` stores stdin as DIR/entries/NAME, `-d NAME` removes it. */
export function stubResolvconf(lab: Lab): { env: Record<string, string>; entries(): Record<string, string> } {
  const dir = mkdtempSync(path.join(lab.tmp, 'resolvconf-'));
  const bin = path.join(dir, 'bin');
  const entries = path.join(dir, 'entries');
  mkdirSync(bin);
  mkdirSync(entries);
  const script = `#!/bin/sh\ncase "$1" in\n  -a) cat > '${entries}'/"$2" ;;\n  -d) rm -f '${entries}'/"$2" ;;\nesac\n`;
  writeFileSync(path.join(bin, 'resolvconf'), script, { mode: 0o755 });
  return {
    env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
    entries: () => Object.fromEntries(readdirSync(entries).map((n) => [n, readFileSync(path.join(entries, n), 'utf8')])),
  };
}

/** One ping to `to` from `ns`; true on a reply. */
export async function pingOnce(ns: string, to: string): Promise<boolean> {
  return (await run('ping', ['-c', '1', '-W', '1', to], { ns, timeoutMs: 5_000 })).code === 0;
}

export async function waitPing(ns: string, to: string, what: string): Promise<void> {
  await waitFor(`ping ${to} ${what}`, () => pingOnce(ns, to), { timeoutMs: 20_000, maxTries: 40 });
}

export const linkExists = async (ns: string, name: string) => (await run('ip', ['-n', ns, 'link', 'show', 'dev', name])).code === 0;

export const stateFile = (ifname: string) => path.join(STATE_DIR, `${ifname}.json`);

export const hasStateFile = (ifname: string) => existsSync(stateFile(ifname));
