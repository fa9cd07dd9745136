// Child processes for the demo. Every command has a time limit so a wedged tool fails the demo instead of
// hanging it, and every command can be shown (--verbose) the way wg-quick shows its own: `[#] cmd`.
import { spawn, spawnSync } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec NS ...`). */
  ns?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** A read-only query (polls, listings): not shown by --verbose, which lists what changes the system. */
  quiet?: boolean;
}

let verbose = false;

export function setVerbose(on: boolean): void {
  verbose = on;
}

function argv(cmd: string, args: string[], ns?: string): [string, string[]] {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
}

export function show(file: string, args: string[]): void {
  // Long inline scripts (node -e) would drown the log; their first line says enough.
  if (verbose) process.stderr.write(`[#] ${[file, ...args].map((a) => a.split('\n')[0]).join(' ')}\n`);
}

/** Runs a command to completion with pipes; never throws. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, fullArgs] = argv(cmd, args, opts.ns);
  if (!opts.quiet) show(file, fullArgs);
  return new Promise((resolve) => {
    const child = spawn(file, fullArgs, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 15_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => (stderr += e.message));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

export function describe(cmd: string, args: string[], r: RunResult): string {
  const why = r.timedOut ? 'timed out' : `exited with ${r.code}`;
  const out = `${r.stderr.trim()}\n${r.stdout.trim()}`.trim();
  return `\`${cmd} ${args.join(' ')}\` ${why}${out ? `:\n${out}` : ''}`;
}

/** Runs a command and throws with its output unless it exits 0; resolves to stdout. */
export async function must(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0 || r.timedOut) throw new Error(describe(cmd, args, r));
  return r.stdout;
}

/** Synchronous variant for cleanup, which must also work from a signal handler and at exit. */
export function runSync(cmd: string, args: string[], quiet = false): RunResult {
  if (!quiet) show(cmd, args);
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', timedOut: r.error !== undefined };
}

/** Blocks the thread briefly; only the synchronous cleanup uses it, as the interval of a bounded poll. */
export function pauseSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Polls `check` until it returns a value other than undefined, or throws `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Whether `cmd` is on PATH. */
export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
