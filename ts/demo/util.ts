// What the demo's files share besides the runner (../proc): --verbose, which shows every command that changes
// the system the way wg-quick shows its own (`[#] cmd`), and polling for a condition.
import { commandLine } from '../proc';

let verbose = false;

export function setVerbose(on: boolean): void {
  verbose = on;
}

/** The runner's `trace` under --verbose. Read-only queries (polls, listings) are run without it. */
export function show(file: string, args: string[]): void {
  if (verbose) process.stderr.write(`${commandLine(file, args)}\n`);
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
