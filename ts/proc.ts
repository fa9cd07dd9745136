// Child processes: the one runner for everything that runs a command — the routing engine's ip, nft, sysctl and
// hooks, the daemon launcher, `wiretun tun`, the demo, and (re-exported) the tests and the benchmark. Every
// command gets a time limit unless the caller says it may run long, no stdin unless given input, and fails with
// a message naming the command, its namespace and what it printed.
import { ChildProcess, spawn, spawnSync, StdioOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface RunResult {
  /** Exit status; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed for running past its time limit. */
  timedOut: boolean;
  /** Set when the command could not be started (ENOENT: not on PATH). */
  error?: NodeJS.ErrnoException;
}

export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec NS ...`). */
  ns?: string;
  /** Written to the command's stdin; without it stdin is /dev/null. */
  input?: string;
  /** SIGKILL after this long; default 20 s. 0: no limit, for commands a user may make long (hooks). */
  timeoutMs?: number;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** 'inherit': the command writes straight to our stdout; otherwise captured. */
  stdout?: 'capture' | 'inherit';
  /** 'inherit': straight to our stderr; 'tee': copied to our stderr as it comes, and its last 2000 characters kept
   * for the error message; otherwise captured. */
  stderr?: 'capture' | 'inherit' | 'tee';
  /** Told the full command line before it starts (the demo's --verbose). */
  trace?: (file: string, args: string[]) => void;
}

const DEFAULT_TIMEOUT_MS = 20_000;
/** Synchronous commands block the event loop (cleanup at exit or in a signal handler): a shorter limit. */
const SYNC_TIMEOUT_MS = 10_000;
const TEE_TAIL = 2000;

/** The program and arguments to spawn, `ip netns exec NS` in front for a namespace. */
export function inNamespace(cmd: string, args: string[], ns?: string): [string, string[]] {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
}

/** A command as wg-quick shows the ones it runs: `[#] cmd args`. Only the first line of a multi-line argument
 * (an inline script for node -e), which says enough without drowning the log. */
export function commandLine(file: string, args: string[]): string {
  return `[#] ${[file, ...args].map((a) => a.split('\n')[0]).join(' ')}`;
}

/** SIGKILLs `child` after `ms` (never when 0); `fired` tells whether it did. */
function limit(child: ChildProcess, ms: number): { clear(): void; fired(): boolean } {
  let fired = false;
  const kill = () => {
    fired = true;
    child.kill('SIGKILL');
  };
  const timer = ms > 0 ? setTimeout(kill, ms) : undefined;
  return { clear: () => clearTimeout(timer), fired: () => fired };
}

/** Runs a short-lived command to completion; never throws. Not for commands that leave daemons behind holding
 * its pipes: see runDetaching. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, fullArgs] = inNamespace(cmd, args, opts.ns);
  opts.trace?.(file, fullArgs);
  return new Promise((resolve) => {
    const stdio: StdioOptions = [
      opts.input === undefined ? 'ignore' : 'pipe',
      opts.stdout === 'inherit' ? 'inherit' : 'pipe',
      opts.stderr === 'inherit' ? 'inherit' : 'pipe',
    ];
    const child = spawn(file, fullArgs, { env: { ...process.env, ...opts.env }, stdio });
    const timer = limit(child, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let stdout = '';
    let stderr = '';
    let error: NodeJS.ErrnoException | undefined;
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => {
      if (opts.stderr !== 'tee') return void (stderr += d.toString());
      process.stderr.write(d);
      stderr = (stderr + d.toString()).slice(-TEE_TAIL);
    });
    child.on('error', (e) => {
      error = e;
      stderr += e.message;
    });
    child.on('close', (code, signal) => {
      timer.clear();
      resolve({ code, signal, stdout, stderr, timedOut: timer.fired(), error });
    });
    // A child that exits without reading its input must not crash us with EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input);
  });
}

function outcome(r: RunResult): string {
  if (r.error) return 'could not start';
  if (r.timedOut) return 'timed out';
  return r.signal ? `was killed by ${r.signal}` : `exited with ${r.code}`;
}

/** What went wrong, for an error message: `` `cmd args` (in NS) exited with 1: `` and its stderr and stdout. */
export function describe(cmd: string, args: string[], r: RunResult, ns?: string): string {
  const where = ns ? ` (in ${ns})` : '';
  const why = outcome(r);
  const out = `${r.stderr.trim()}\n${r.stdout.trim()}`.trim();
  return `\`${[cmd, ...args].join(' ')}\`${where} ${why}${out ? `:\n${out}` : ''}`;
}

/** A command that did not exit 0; `result` has all it printed. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

function check(cmd: string, args: string[], opts: RunOptions, r: RunResult): string {
  if (r.code !== 0 || r.timedOut) throw new CommandError(describe(cmd, args, r, opts.ns), r);
  return r.stdout;
}

/** Runs a command and throws a CommandError unless it exits 0; resolves to its stdout. */
export async function must(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return check(cmd, args, opts, await run(cmd, args, opts));
}

/**
 * Runs a command that may fork a daemon (wireguard-go, wiretund, wg-quick). Output goes to a log file, not a
 * pipe: a daemonized grandchild inherits the pipe and `close` would never fire. Resolves on the direct child's
 * exit, with the log as stdout. `stdout` and `stderr` options do not apply.
 */
export function runDetaching(cmd: string, args: string[], logFile: string, opts: RunOptions = {}): Promise<RunResult> {
  const [file, fullArgs] = inNamespace(cmd, args, opts.ns);
  opts.trace?.(file, fullArgs);
  const fd = openSync(logFile, 'a');
  return new Promise((resolve) => {
    const child = spawn(file, fullArgs, { env: { ...process.env, ...opts.env }, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const timer = limit(child, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let error: NodeJS.ErrnoException | undefined;
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      timer.clear();
      const stdout = readFileSync(logFile, 'utf8');
      resolve({ code, signal, stdout, stderr: error?.message ?? '', timedOut: timer.fired(), error });
    };
    child.on('error', (e) => {
      error = e;
      done(null, null);
    });
    child.on('exit', done);
  });
}

export async function mustDetaching(cmd: string, args: string[], logFile: string, opts: RunOptions = {}): Promise<string> {
  return check(cmd, args, opts, await runDetaching(cmd, args, logFile, opts));
}

/** Synchronous, for cleanup that must also work from a signal handler and at exit. Never throws. */
export function runSync(cmd: string, args: string[], opts: Pick<RunOptions, 'ns' | 'timeoutMs' | 'trace'> = {}): RunResult {
  const [file, fullArgs] = inNamespace(cmd, args, opts.ns);
  opts.trace?.(file, fullArgs);
  const timeout = opts.timeoutMs ?? SYNC_TIMEOUT_MS;
  const r = spawnSync(file, fullArgs, { encoding: 'utf8', timeout, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'] });
  const error = r.error as NodeJS.ErrnoException | undefined;
  const timedOut = error?.code === 'ETIMEDOUT';
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', timedOut, error: timedOut ? undefined : error };
}

/** Blocks the thread briefly: the interval of a bounded poll in synchronous cleanup. */
export function pauseSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface Background {
  child: ChildProcess;
  /** Its stdout and stderr so far, interleaved as they came. */
  output(): string;
  /** Its exit status once it has ended. */
  done: Promise<number | null>;
}

/** Starts a long-running command (a server for a measurement) and returns at once; the caller kills it. */
export function start(cmd: string, args: string[], opts: Pick<RunOptions, 'ns' | 'timeoutMs' | 'env' | 'trace'> = {}): Background {
  const [file, fullArgs] = inNamespace(cmd, args, opts.ns);
  opts.trace?.(file, fullArgs);
  const child = spawn(file, fullArgs, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const timer = limit(child, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  child.on('error', (e) => (output += e.message));
  const done = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      timer.clear();
      resolve(code);
    }),
  );
  return { child, output: () => output, done };
}

/** Whether `cmd` is on PATH. */
export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
