// wiretund: the wireguard-go command-line contract. `wiretund [-f|--foreground] [--user NAME] IFNAME` creates
// the TUN and /var/run/wireguard/IFNAME.sock (then, with --user, runs as NAME: see ./privs.ts), then serves
// UAPI until SIGINT/SIGTERM, until its interface is deleted, or until its socket file is deleted. Exit 0 means
// ready (background) or a clean stop (foreground); 1 failure. UAPI is answered on a native thread
// (../uapi/server.ts); this process only logs what it reports and watches for the reasons to stop.
// After creation nothing here refers to the interface by name, so it keeps working when the interface is moved
// into another network namespace.
import { existsSync, promises as fs, statSync } from 'node:fs';
import { callNative, WiretunError } from '../errors';
import { native, NativeDevice, NativeEvent, packageVersion } from '../native';
import { requireLinux } from '../platform';
import { serveUapi, UapiServer } from '../uapi/server';
import { detach, reportReady } from './background';
import { logger, Logger } from './log';
import { planDrop, PlannedDrop, resolveUser } from './privs';

const USAGE = `Usage: wiretund [-f/--foreground] [--user NAME] INTERFACE-NAME

Creates a userspace WireGuard interface and its UAPI socket (/var/run/wireguard/INTERFACE-NAME.sock),
configured with wg(8). Without -f it detaches once the interface is ready.
--user NAME: once both exist, run as NAME keeping only CAP_NET_ADMIN (fwmark changes keep working;
listen ports below 1024 then need net.ipv4.ip_unprivileged_port_start). Needs root.
Environment: LOG_LEVEL=silent|error|verbose|debug (default error); WIRETUN_USER=NAME as --user (for
wg-quick, which passes only the interface name).
`;

const SOCKET_CHECK_MS = 500;
const TUN_DEVICE = '/dev/net/tun';

/** The kernel's rules for a name (IFNAMSIZ 16 with the NUL), checked before touching the system. */
export function checkName(name: string): string | undefined {
  if (!name || Buffer.byteLength(name) > 15) return `interface name ${JSON.stringify(name)} must be 1 to 15 bytes`;
  if (/[/\s]/.test(name) || name === '.' || name === '..' || name.includes(':')) {
    return `interface name ${JSON.stringify(name)} is not valid (no '/', ':' or whitespace)`;
  }
  return undefined;
}

export interface Args {
  foreground: boolean;
  iface?: string;
  /** Run as this user after set-up (--user, else WIRETUN_USER). */
  user?: string;
  /** What to print and exit with instead of running. */
  exit?: { code: number; out?: string; err?: string };
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Args {
  let foreground = env.WG_PROCESS_FOREGROUND === '1';
  const names: string[] = [];
  let user = env.WIRETUN_USER || undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-f' || a === '--foreground') foreground = true;
    else if (a === '--user') user = argv[++i] ?? '';
    else if (a.startsWith('--user=')) user = a.slice('--user='.length);
    else if (a === '--version' || a === '-v') return { foreground, exit: { code: 0, out: `wiretund ${packageVersion()}\n` } };
    else if (a === '-h' || a === '--help') return { foreground, exit: { code: 0, out: USAGE } };
    else if (a.startsWith('-') && a !== '-') return usageError(`unknown option ${a}`);
    else names.push(a);
  }
  if (user === '') return usageError('--user needs a user name');
  if (names.length !== 1) return usageError('expected exactly one interface name');
  const bad = checkName(names[0]);
  if (bad) return usageError(bad);
  return user === undefined ? { foreground, iface: names[0] } : { foreground, iface: names[0], user };
}

function usageError(msg: string): Args {
  return { foreground: false, exit: { code: 1, err: `wiretund: ${msg}\n\n${USAGE}` } };
}

/** The daemon's entry point (bin/wiretund). Resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.exit) {
    if (args.exit.out) process.stdout.write(args.exit.out);
    if (args.exit.err) process.stderr.write(args.exit.err);
    return args.exit.code;
  }
  const iface = args.iface!;
  try {
    requireLinux('wiretund');
    // Checked here too, so a bad --user fails at once instead of in a child that may still be exiting.
    if (args.user !== undefined) resolveUser(args.user);
    // The interface name stays the child's last argument: that is how tools find a daemon by its interface.
    if (!args.foreground) return await detach(process.argv[1], iface, args.user ? ['--user', args.user] : []);
    return await runForeground(iface, args.user);
  } catch (err) {
    // Whatever fails before readiness must reach the waiting parent, whose stderr the user sees.
    reportReady(describe(err, iface));
    return 1;
  }
}

async function runForeground(iface: string, user?: string): Promise<number> {
  const log = logger(iface);
  if (!existsSync(TUN_DEVICE)) throw new Error(`${TUN_DEVICE} is missing: load the tun module (modprobe tun)`);
  // Before the device exists: a bad user leaves nothing behind, and the device's threads inherit the limits.
  const drop = user === undefined ? undefined : planDrop(user);
  const device = callNative(() => native().BindingDevice.create(iface));
  // Before the socket exists, so the log sees the very first request; `stop` is set once serving.
  let stop: ((why: string) => void) | undefined;
  device.onEvent((e) => onEvent(e, log, (why) => stop?.(why)));
  let server: UapiServer | undefined;
  try {
    server = serveUapi(device);
    if (drop) log.verbose(drop.apply(device));
  } catch (err) {
    try {
      server?.close();
    } catch {
      // Left behind after a failed drop: wg or the next wiretund removes it.
    }
    device.close();
    throw err;
  }
  log.verbose(`interface ${iface} is up, UAPI on ${server.path}`);
  return serve(iface, device, server, log, (s) => (stop = s), drop);
}

function serve(
  iface: string,
  device: NativeDevice,
  server: UapiServer,
  log: Logger,
  onStop: (stop: (why: string) => void) => void,
  drop?: PlannedDrop,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let watch: NodeJS.Timeout | undefined;
    let stopping = false;
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      log.verbose(`shutting down: ${why}`);
      clearInterval(watch);
      try {
        server.close();
      } catch (err) {
        // Expected after --user: the socket's directory belongs to root (see ./privs.ts).
        const code = (err as NodeJS.ErrnoException).code;
        if (drop) log.verbose(`left ${server.path} behind (${code}): wg or the next wiretund ${iface} removes it`);
      }
      device.close();
      log.debug('device closed');
      resolve(0);
    };
    onStop(stop);
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    watch = watchSocket(server.path, () => stop('UAPI socket removed'));
    reportReady(undefined);
  });
}

/** Peer events and applied UAPI changes at verbose level, refused requests as errors. Public keys only:
 * nothing here ever has a private or preshared key (the native side withholds them from its messages). */
function onEvent(e: NativeEvent, log: Logger, stop: (why: string) => void): void {
  const peer = e.publicKey ? `peer ${e.publicKey.toString('base64')}` : 'peer';
  if (e.kind === 'handshake') log.verbose(`${peer}: handshake completed`);
  else if (e.kind === 'stale') log.verbose(`${peer}: no handshake for a while, session is stale`);
  else if (e.kind === 'endpoint') log.verbose(`${peer}: endpoint is now ${e.endpoint}`);
  else if (e.kind === 'uapiSet') log.verbose(e.message ?? 'UAPI set');
  else if (e.kind === 'uapiError') log.error(e.message ?? 'UAPI request refused');
  else if (e.kind === 'closed') stop(`device closed (${e.reason ?? 'interface deleted'})`);
  else log.debug(`event ${e.kind}`);
}

/** Polls the socket's inode: deleting (or replacing) the file is how users stop a userspace WireGuard. The
 * first inode is read synchronously so a deletion right after readiness is not missed. */
function watchSocket(sock: string, gone: () => void): NodeJS.Timeout {
  const inode = statSync(sock).ino;
  return setInterval(() => {
    fs.stat(sock).then(
      (s) => s.ino !== inode && gone(),
      () => gone(),
    );
  }, SOCKET_CHECK_MS);
}

/** One clear line for the user; native errors already say what failed, the codes add what to do. */
export function describe(err: unknown, iface: string): string {
  const msg = err instanceof Error ? err.message : String(err);
  const code = err instanceof WiretunError ? err.code : (err as NodeJS.ErrnoException | undefined)?.code;
  if ((code === 'EPERM' || code === 'EACCES') && !msg.includes('CAP_NET_ADMIN')) {
    return `wiretund: ${msg} (creating ${iface} needs root or CAP_NET_ADMIN)`;
  }
  if ((code === 'EBUSY' || code === 'EEXIST') && !msg.includes('in use')) {
    return `wiretund: interface ${iface} is in use: ${msg}`;
  }
  return `wiretund: ${msg}`;
}
