// wiretund: the wireguard-go command-line contract. `wiretund [-f|--foreground] IFNAME` creates the TUN and
// /var/run/wireguard/IFNAME.sock, then serves UAPI until SIGINT/SIGTERM, until its interface is deleted, or
// until its socket file is deleted. Exit 0 means ready (background) or a clean stop (foreground); 1 failure.
import { promises as fs } from 'node:fs';
import { native, NativeDevice, NativeEvent, packageVersion } from '../native';
import { callNative, WiretunError } from '../errors';
import { nativeUapiDevice } from '../uapi/device';
import { serveUapi, UapiServer } from '../uapi/server';
import { detach, reportReady } from './background';
import { logger, Logger } from './log';
import { requireLinux } from '../platform';

const USAGE = `Usage: wiretund [-f/--foreground] INTERFACE-NAME

Creates a userspace WireGuard interface and its UAPI socket (/var/run/wireguard/INTERFACE-NAME.sock),
configured with wg(8). Without -f it detaches once the interface is ready.
Environment: LOG_LEVEL=silent|error|verbose|debug (default error).
`;

const SOCKET_CHECK_MS = 500;

/** Same rules the kernel and wg-quick apply, checked before touching the system. */
export function checkName(name: string): string | undefined {
  if (!name || Buffer.byteLength(name) > 15) return `interface name ${JSON.stringify(name)} must be 1 to 15 bytes`;
  if (/[/\s]/.test(name) || name === '.' || name === '..') return `interface name ${JSON.stringify(name)} is not valid`;
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  let foreground = process.env.WG_PROCESS_FOREGROUND === '1';
  const names: string[] = [];
  for (const a of argv) {
    if (a === '-f' || a === '--foreground') foreground = true;
    else if (a === '--version' || a === '-v') return void process.stdout.write(`wiretund ${packageVersion()}\n`), 0;
    else if (a === '-h' || a === '--help') return void process.stdout.write(USAGE), 0;
    else if (a.startsWith('-')) return usageError(`unknown option ${a}`);
    else names.push(a);
  }
  if (names.length !== 1) return usageError('expected exactly one interface name');
  requireLinux('wiretund');
  const bad = checkName(names[0]);
  if (bad) return usageError(bad);
  if (!foreground) return detach(process.argv[1], names[0]);
  return runForeground(names[0]);
}

function usageError(msg: string): number {
  process.stderr.write(`wiretund: ${msg}\n\n${USAGE}`);
  return 1;
}

async function runForeground(iface: string): Promise<number> {
  const log = logger(iface);
  let device: NativeDevice;
  let server: UapiServer;
  try {
    device = callNative(() => native().BindingDevice.create(iface));
  } catch (err) {
    reportReady(describe(err));
    return 1;
  }
  try {
    server = await serveUapi(iface, nativeUapiDevice(device), { onError: (m) => log.error(m) });
  } catch (err) {
    device.close();
    reportReady(describe(err));
    return 1;
  }
  log.verbose(`interface ${iface} is up, UAPI on ${server.path}`);
  return new Promise<number>((resolve) => {
    const stop = once(async (why: string) => {
      log.verbose(`shutting down: ${why}`);
      clearInterval(watch);
      device.close();
      await server.close().catch(() => undefined);
      resolve(0);
    });
    device.onEvent((e) => onEvent(e, log, stop));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
    const watch = watchSocket(server.path, () => void stop('UAPI socket removed'));
    reportReady(undefined);
  });
}

function onEvent(e: NativeEvent, log: Logger, stop: (why: string) => void): void {
  const peer = e.publicKey ? `peer ${e.publicKey.toString('base64')}` : '';
  if (e.kind === 'handshake') log.verbose(`${peer}: handshake completed`);
  else if (e.kind === 'stale') log.verbose(`${peer}: no handshake for 180 s`);
  else if (e.kind === 'endpoint') log.verbose(`${peer}: endpoint is now ${e.endpoint}`);
  else if (e.kind === 'closed') stop(`device closed (${e.reason ?? 'unknown'})`);
}

/** Polls the socket's inode: deleting (or replacing) the file is how users stop a userspace WireGuard. */
function watchSocket(sock: string, gone: () => void): NodeJS.Timeout {
  let inode: number | undefined;
  void fs.stat(sock).then((s) => (inode = s.ino), gone);
  return setInterval(() => {
    fs.stat(sock).then(
      (s) => inode !== undefined && s.ino !== inode && gone(),
      () => gone(),
    );
  }, SOCKET_CHECK_MS);
}

function once<A extends unknown[]>(fn: (...a: A) => unknown): (...a: A) => void {
  let called = false;
  return (...a: A) => {
    if (called) return;
    called = true;
    void fn(...a);
  };
}

function describe(err: unknown): string {
  if (err instanceof WiretunError) return `wiretund: ${err.message}`;
  return `wiretund: ${err instanceof Error ? err.message : String(err)}`;
}
