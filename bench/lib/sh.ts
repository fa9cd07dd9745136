// Small process helpers for the benchmark: run a command, run it inside a namespace, poll for a condition.
import { execFile, spawn, ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export async function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const child = execFileP(cmd, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 });
  if (opts.input !== undefined) {
    child.child.stdin?.end(opts.input);
  }
  return (await child).stdout;
}

export function inNs(ns: string, cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

export async function trySh(cmd: string, args: string[]): Promise<boolean> {
  try {
    await sh(cmd, args);
    return true;
  } catch {
    return false;
  }
}

export function spawnInNs(ns: string, cmd: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'ignore' });
}

/** Polls `cond` every 50 ms until it holds or `ms` pass. */
export async function waitFor(what: string, cond: () => Promise<boolean> | boolean, ms = 15_000): Promise<number> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - start;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
