// Daemonising the wireguard-go way: the parent re-runs itself in the foreground as a detached child and exits
// 0 only when the child reports, on an extra pipe, that the TUN and the UAPI socket exist (or 1 with the
// child's error). The pipe closing without a report means the child died early.
import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { logLevel } from './log';

/** Environment telling the child which fd to report readiness on. */
export const READY_FD_ENV = 'WIRETUN_READY_FD';

/** wireguard-go's rule: the child keeps the caller's stdout/stderr only when LOG_LEVEL is set and not silent;
 * otherwise they go to /dev/null, because a caller capturing output (execFile, $(...)) would otherwise wait
 * for a pipe the daemon never closes. */
export function childKeepsOutput(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env.LOG_LEVEL && logLevel(env.LOG_LEVEL) !== 'silent';
}

/**
 * V8 flags for the long-running daemon. A 1 MiB semi-space: V8 keeps a young generation it grew committed, and
 * the daemon's JS (events and log lines; UAPI requests are parsed natively) never needs a large nursery.
 */
export const DAEMON_V8_FLAGS = ['--max-semi-space-size=1'];

/** Starts `script -f ...options iface` detached and resolves to the exit code the parent should use. */
export function detach(script: string, iface: string, options: string[] = []): Promise<number> {
  const out = childKeepsOutput() ? 'inherit' : 'ignore';
  const child = spawn(process.execPath, [...DAEMON_V8_FLAGS, script, '-f', ...options, iface], {
    detached: true,
    stdio: ['ignore', out, out, 'pipe'],
    env: { ...process.env, WG_PROCESS_FOREGROUND: '1', [READY_FD_ENV]: '3' },
  });
  return new Promise((resolve) => {
    let report = '';
    let done = false;
    const pipe = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
    const finish = (): void => {
      if (done) return;
      done = true;
      pipe.destroy();
      if (report.startsWith('ready\n')) {
        child.unref();
        resolve(0);
        return;
      }
      const why = report.replace(/^error: /, '').trim() || 'wiretund: the daemon exited before it was ready';
      process.stderr.write(`${why}\n`);
      resolve(1);
    };
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => {
      report += d;
      if (report.includes('\n')) finish();
    });
    pipe.on('end', finish);
    pipe.on('error', finish);
    child.once('error', (err) => {
      report = `error: wiretund: cannot start the daemon: ${err.message}\n`;
      finish();
    });
    child.once('exit', () => setImmediate(finish)); // let a report still in the pipe arrive first
  });
}

/** The child's side: one line on the readiness fd (`ready` or `error: message`), then the fd is closed.
 * Synchronous, so the report is out even if the process exits right after. Without the fd (a user ran
 * `wiretund -f`), errors go to stderr. */
export function reportReady(message: string | undefined): void {
  const fd = Number(process.env[READY_FD_ENV]);
  delete process.env[READY_FD_ENV]; // report once; never hand the fd number on to anything we spawn
  if (!Number.isInteger(fd) || fd < 3) {
    if (message !== undefined) process.stderr.write(`${message}\n`);
    return;
  }
  try {
    writeSync(fd, message === undefined ? 'ready\n' : `error: ${message.replace(/\n/g, ' ')}\n`);
    closeSync(fd);
  } catch {
    // The parent is gone (or the fd was not a pipe): nobody is waiting for the report.
  }
}
