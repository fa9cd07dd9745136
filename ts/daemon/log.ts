// LOG_LEVEL as wireguard-go reads it: silent | error (default) | verbose | debug.
import { DeviceUpdate } from '../config/model';

const LEVELS = { silent: 0, error: 1, verbose: 2, debug: 3 } as const;
type Level = keyof typeof LEVELS;

export interface Logger {
  error(msg: string): void;
  verbose(msg: string): void;
  debug(msg: string): void;
}

export function logLevel(env = process.env.LOG_LEVEL): Level {
  return env && env in LEVELS ? (env as Level) : 'error';
}

/** Lines go to stderr with the interface name, as wireguard-go prefixes them. Never pass key material. */
export function logger(iface: string, level: Level = logLevel()): Logger {
  const at = LEVELS[level];
  const line = (tag: string, msg: string) => process.stderr.write(`${tag}: (${iface}) ${new Date().toISOString()} ${msg}\n`);
  return {
    error: (m) => at >= LEVELS.error && line('ERROR', m),
    verbose: (m) => at >= LEVELS.verbose && line('INFO', m),
    debug: (m) => at >= LEVELS.debug && line('DEBUG', m),
  };
}

/** One line saying what a set request changed, for the verbose log. Names fields and counts, never values:
 * a key must not reach a log, and the rest is what `wg show` is for. */
export function describeUpdate(u: DeviceUpdate): string {
  const parts: string[] = [];
  if (u.privateKey !== undefined) parts.push(u.privateKey ? 'private key' : 'private key cleared');
  if (u.listenPort !== undefined) parts.push(`listen port ${u.listenPort}`);
  if (u.fwmark !== undefined) parts.push(`fwmark ${u.fwmark}`);
  if (u.replacePeers) parts.push('replace peers');
  const removed = u.peers.filter((p) => p.remove).length;
  if (u.peers.length > removed) parts.push(`${u.peers.length - removed} peer(s) set`);
  if (removed) parts.push(`${removed} peer(s) removed`);
  return `UAPI set: ${parts.join(', ') || 'nothing'}`;
}
