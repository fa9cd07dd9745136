// `wiretun up --foreground`: after `up`, stay until SIGTERM/SIGINT and then take the interface down by the
// exact `wiretun down` path, so a service manager needs no ExecStop (systemd: Type=exec, KillMode=mixed). If
// the daemon dies on its own, `down` runs too and the exit status is 1, so the manager sees a failure.
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { socketPath } from '../uapi/server';
import { run as runDown } from './down';

/** How often the daemon's socket is probed; a crash is noticed within about this long. */
const PROBE_MS = 1_000;
/** How long to wait, after `down`, for the daemon to remove its socket before saying it did not. */
const SOCKET_GONE_MS = 10_000;

/** The signals `up` traps, and a way to wait for the first one. */
export interface Signals {
  interrupted(): boolean;
  next(): Promise<NodeJS.Signals>;
  release(): void;
}

/** Whether something accepts connections on the interface's UAPI socket. Only a refused connection or a missing
 * file count as "no": a daemon too busy to answer still accepts, and must not be taken for dead. */
function daemonListens(iface: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socketPath(iface));
    conn.once('connect', () => {
      conn.destroy();
      resolve(true);
    });
    conn.once('error', (err: NodeJS.ErrnoException) => {
      conn.destroy();
      resolve(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT');
    });
  });
}

/** Resolves once the daemon stops listening; `cancel` ends the probing. */
function daemonExit(iface: string): { gone: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const gone = new Promise<void>((resolve) => {
    const probe = async (): Promise<void> => {
      if (cancelled) return;
      if (!(await daemonListens(iface))) return resolve();
      if (!cancelled) timer = setTimeout(() => void probe(), PROBE_MS);
    };
    void probe();
  });
  return {
    gone,
    cancel: () => {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}

async function socketRemoved(iface: string): Promise<boolean> {
  const deadline = Date.now() + SOCKET_GONE_MS;
  while (existsSync(socketPath(iface))) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** `wiretun down CONFIG` as its own command would run it. */
function takeDown(configArg: string): Promise<number> {
  return runDown([configArg]);
}

/** Waits for a signal or the daemon's end, runs `down`, and returns the exit status for the process. */
export async function stayUp(iface: string, configArg: string, signals: Signals): Promise<number> {
  process.stderr.write(`wiretun: ${iface} is up; staying in the foreground until SIGTERM or SIGINT\n`);
  const daemon = daemonExit(iface);
  const event = await Promise.race([signals.next(), daemon.gone.then(() => 'daemon' as const)]);
  daemon.cancel();
  if (event === 'daemon') {
    process.stderr.write(`wiretun: ${iface}'s daemon exited on its own; taking ${iface} down\n`);
    const status = await takeDown(configArg);
    process.stderr.write(`wiretun: ${iface} failed: its daemon died (down ${status === 0 ? 'completed' : 'left steps undone'})\n`);
    return 1;
  }
  process.stderr.write(`wiretun: ${event}: taking ${iface} down\n`);
  const status = await takeDown(configArg);
  if (!(await socketRemoved(iface))) {
    process.stderr.write(`wiretun: ${socketPath(iface)} is still there ${SOCKET_GONE_MS / 1000} s after down\n`);
    return 1;
  }
  return status;
}
