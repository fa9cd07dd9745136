// The benchmark's process helpers: the package's runner (ts/proc.ts) under the names the benchmark uses, with its
// longer default time limit (installs, long transfers); polling for a condition; and the statistics it reports.
import { ChildProcess } from 'node:child_process';
import { must, start } from '../../ts/proc';

const TIMEOUT_MS = 120_000;

export interface ShOptions {
  input?: string;
  timeoutMs?: number;
}

/** Runs a command; resolves to its stdout, throws naming it and its stderr unless it exits 0. */
export function sh(cmd: string, args: string[], opts: ShOptions = {}): Promise<string> {
  return must(cmd, args, { input: opts.input, timeoutMs: opts.timeoutMs ?? TIMEOUT_MS });
}

export function inNs(ns: string, cmd: string, args: string[], opts: ShOptions = {}): Promise<string> {
  return must(cmd, args, { ns, input: opts.input, timeoutMs: opts.timeoutMs ?? TIMEOUT_MS });
}

export async function trySh(cmd: string, args: string[]): Promise<boolean> {
  try {
    await sh(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** A server for the length of a measurement: no time limit, the caller kills it. */
export function spawnInNs(ns: string, cmd: string, args: string[]): ChildProcess {
  return start(cmd, args, { ns, timeoutMs: 0 }).child;
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
