// Process helpers. Every child has a hard time limit so a wedged tool fails a test instead of hanging the run.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec`). */
  ns?: string;
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

const DEFAULT_TIMEOUT_MS = 20_000;

function argv(cmd: string, args: string[], ns?: string): [string, string[]] {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
}

/** Runs a short-lived command with pipes; never throws. Not for commands that leave daemons behind. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, fullArgs] = argv(cmd, args, opts.ns);
  return new Promise((resolve) => {
    const stdin = opts.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(file, fullArgs, { env: { ...process.env, ...opts.env }, stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => (stderr += String(e)));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
    // A child that exits without reading its input must not crash the test run with EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input);
  });
}

function describeFailure(cmd: string, args: string[], opts: RunOptions, r: RunResult): string {
  const where = opts.ns ? ` (in ${opts.ns})` : '';
  const why = r.timedOut ? 'timed out' : `exit ${r.code}`;
  return `${cmd} ${args.join(' ')}${where}: ${why}\n${r.stderr.trim()}\n${r.stdout.trim()}`.trim();
}

/** Runs a command and throws with its output unless it exits 0. */
export async function must(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(describeFailure(cmd, args, opts, r));
  return r.stdout;
}

/**
 * Runs a command that may fork a daemon (wireguard-go, wiretund, wg-quick). Output goes to a log file, not a
 * pipe: a daemonized grandchild inherits the pipe and `close` would never fire. Resolves on the direct child's exit.
 */
export function runDetaching(cmd: string, args: string[], logFile: string, opts: RunOptions = {}): Promise<RunResult> {
  const [file, fullArgs] = argv(cmd, args, opts.ns);
  const fd = openSync(logFile, 'a');
  return new Promise((resolve) => {
    const child = spawn(file, fullArgs, { env: { ...process.env, ...opts.env }, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const done = (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, stdout: readFileSync(logFile, 'utf8'), stderr: '', timedOut });
    };
    child.on('error', () => done(null));
    child.on('exit', (code) => done(code));
  });
}

export async function mustDetaching(cmd: string, args: string[], logFile: string, opts: RunOptions = {}): Promise<string> {
  const r = await runDetaching(cmd, args, logFile, opts);
  if (r.code !== 0) throw new Error(describeFailure(cmd, args, opts, r));
  return r.stdout;
}
