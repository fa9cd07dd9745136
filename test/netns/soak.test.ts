// A one-minute soak for CI (bench/soak.ts runs the same for as long as asked): two wiretund nodes, A running
// as nobody after set-up, paced UDP both ways and a ping throughout, 200 throw-away peers added to and removed
// from each daemon every 3 seconds. Nothing may crash, stall, leak beyond the bound or lose peer state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertAvailable, skipReason, WIRETUND } from './lib/env';
import { Lab } from './lib/lab';
import { outOfBounds, soak } from './lib/soak';

const SECONDS = Number(process.env.WIRETUN_SOAK_SECONDS ?? 60);

describe.skipIf(skipReason !== undefined)('soak', () => {
  let lab: Lab;

  beforeAll(async () => {
    assertAvailable(WIRETUND);
    lab = await Lab.create(2);
    await lab.waitUnderlay(lab.nodes[0], lab.nodes[1]);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it(`${SECONDS} s of bidirectional traffic while peers come and go`, { timeout: (SECONDS + 120) * 1000 }, async () => {
    const r = await soak(lab, {
      durationMs: SECONDS * 1000,
      warmupMs: Math.min(20_000, (SECONDS * 1000) / 3),
      argsA: ['--user', 'nobody'],
      log: process.env.WIRETUN_SOAK_VERBOSE ? (l) => console.log(l) : undefined,
    });
    console.log(JSON.stringify({ ...r, samples: r.samples.length }, null, 1));
    // Crashes, peer state that changed or vanished, stale handshakes, failed wg set: none.
    expect(r.problems).toEqual([]);
    // Stalls, loss and RSS growth within the bounds (lib/soak.ts says where they come from).
    expect(outOfBounds(r)).toEqual([]);
    expect(r.churn.rounds).toBeGreaterThanOrEqual(Math.floor(SECONDS / 3) - 3);
    expect(r.aToB.bytes).toBeGreaterThan(0);
    expect(r.bToA.bytes).toBeGreaterThan(0);
  });
});
