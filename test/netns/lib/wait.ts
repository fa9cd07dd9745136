// Polling with deadlines instead of sleeps: each loop is bounded by both a wall-clock limit and a try count.

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  maxTries?: number;
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves once `cond` holds; throws naming `what` (and the last detail returned) when the deadline passes. */
export async function waitFor(
  what: string,
  cond: () => Promise<boolean> | boolean,
  opts: WaitOptions = {},
): Promise<number> {
  const start = Date.now();
  const deadline = start + (opts.timeoutMs ?? 10_000);
  const maxTries = opts.maxTries ?? 1_000;
  for (let i = 0; i < maxTries; i++) {
    if (await cond()) return Date.now() - start;
    if (Date.now() >= deadline) break;
    await pause(opts.intervalMs ?? 100);
  }
  throw new Error(`timed out after ${Date.now() - start} ms waiting for ${what}`);
}

/**
 * For negative assertions: polls `cond` for `ms` and returns true if it ever held. The window is a bound on
 * how long we look, not a synchronisation point.
 */
export async function everHolds(cond: () => Promise<boolean> | boolean, ms: number, intervalMs = 200): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 1_000 && Date.now() < deadline; i++) {
    if (await cond()) return true;
    await pause(intervalMs);
  }
  return false;
}
