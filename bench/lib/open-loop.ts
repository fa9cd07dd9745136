// An open-loop load: `count` operations at `rate` per second, each started at its due time whatever the earlier
// ones are doing (a closed loop would slow down with the system and hide its queueing).
import { performance } from 'node:perf_hooks';

export const now = () => performance.timeOrigin + performance.now();

/** Runs `op(i, due)` for i < count at its due time (wall-clock ms); resolves when all have finished. */
export async function openLoop(rate: number, count: number, op: (i: number, due: number) => Promise<void>): Promise<void> {
  const start = now() + 50;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(op(i, due));
  }
  await Promise.all(pending);
}
