// Daemonising the wireguard-go way: the parent re-runs itself in the foreground as a detached child and exits
// 0 only when the child reports that the TUN and the UAPI socket exist (or 1 with the child's error).
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { logLevel } from './log';

/** Environment telling the child it is the daemon and which fd to report readiness on. */
export const READY_FD_ENV = 'WIRETUN_READY_FD';

export function detach(script: string, iface: string): Promise<number> {
  // Like wireguard-go, the daemon keeps the caller's stdout/stderr only when asked to log; otherwise a
  // caller capturing output (execFile, $(...)) would wait for a pipe the daemon never closes.
  const keep = logLevel() !== 'error' && logLevel() !== 'silent' && process.env.LOG_LEVEL !== undefined;
  const out = keep ? 'inherit' : 'ignore';
  // --expose-gc lets the server hand a large request's garbage back to the OS right away (see server.ts).
  const child = spawn(process.execPath, ['--expose-gc', script, '-f', iface], {
    detached: true,
    stdio: ['ignore', out, out, 'pipe'],
    env: { ...process.env, WG_PROCESS_FOREGROUND: '1', [READY_FD_ENV]: '3' },
  });
  return new Promise((resolve) => {
    let report = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => {
      report += d;
      if (report.includes('\n')) finish();
    });
    child.once('exit', () => finish());
    let done = false;
    function finish(): void {
      if (done) return;
      done = true;
      if (report.startsWith('ready')) {
        child.unref();
        (pipe as unknown as { destroy(): void }).destroy();
        resolve(0);
        return;
      }
      process.stderr.write(report.replace(/^error: /, '') || `wiretund: the daemon exited before it was ready\n`);
      resolve(1);
    }
  });
}

/** The child's side: one line on the readiness fd, then the fd is closed. */
export function reportReady(message: string | undefined): void {
  const fd = Number(process.env[READY_FD_ENV]);
  const line = message === undefined ? 'ready\n' : `error: ${message}\n`;
  if (!Number.isInteger(fd) || fd < 3) {
    if (message !== undefined) process.stderr.write(line.replace(/^error: /, ''));
    return;
  }
  const s = createWriteStream('', { fd, autoClose: true });
  s.end(line);
}
