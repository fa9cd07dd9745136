// What the wg-quick commands (up, down, save) share: the real machine and daemon behind the routing engine's
// ApplyEnv, and how they report a failure. Apart from ./common so that the small subcommands, which import
// that, do not load the routing code.
import * as path from 'node:path';
import { ConfigError } from '../config/wgquick';
import { ApplyEnv, ApplyError, Control } from '../routing/apply';
import { realSystem } from '../routing/gather';
import { run } from '../proc';
import { uapiGet, uapiSet } from '../uapi/client';

const DAEMON_TIMEOUT_MS = 30_000;

/** The daemon of this package (bin/wiretund), or WIRETUN_DAEMON (e.g. wireguard-go) when set. */
export function daemonCommand(): string {
  return process.env.WIRETUN_DAEMON || path.resolve(__dirname, '..', '..', 'bin', 'wiretund');
}

/** Runs the daemon launcher; like wireguard-go it backgrounds itself and exits 0 once the interface is ready. */
async function startDaemon(command: string, iface: string): Promise<void> {
  const r = await run(command, [iface], { stdout: 'inherit', stderr: 'inherit', timeoutMs: DAEMON_TIMEOUT_MS });
  if (r.error) {
    const hint = r.error.code === 'ENOENT' ? ' (not found; build the package or set WIRETUN_DAEMON)' : '';
    throw new Error(`cannot start ${command}${hint}: ${r.error.message}`);
  }
  if (r.code !== 0) throw new Error(`${command} did not create ${iface}: ${r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`}`);
}

export function realControl(): Control {
  const command = daemonCommand();
  return {
    daemonName: command,
    startDaemon: (iface) => startDaemon(command, iface),
    set: (iface, body) => uapiSet(iface, body),
    get: (iface) => uapiGet(iface),
  };
}

export function realEnv(): ApplyEnv {
  return { sys: realSystem(), control: realControl(), log: (line) => process.stderr.write(`${line}\n`) };
}

/** One line for the user; WIRETUN_DEBUG=1 adds the stack of failures that are not ours to explain. */
export function reportFailure(err: unknown): number {
  const known = err instanceof ApplyError || err instanceof ConfigError;
  const text = err instanceof Error ? err.message : String(err);
  process.stderr.write(`wiretun: ${text}\n`);
  if (!known && process.env.WIRETUN_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return 1;
}
