// The lossy underlay helpers themselves (lib/lossy.ts): the delay relay adds 2 × delayMs to a UDP round trip
// and forwards in both directions; addLoss on the relay's egress drops about the asked share each way; with
// reorderPercent it reorders about that share of each direction, and counts it.
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason } from './lib/env';
import { Lab } from './lib/lab';
import { addLoss, DelayRelay, removeLoss, startDelayRelay } from './lib/lossy';
import { Background, must, start } from './lib/proc';
import { waitFor } from './lib/wait';

const PROBE = path.join(__dirname, 'lossy', 'udp-probe.cjs');
const ECHO = "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(m,r.port,r.address));s.bind(7007,()=>console.log('ready'))";

describe.skipIf(!!skipReason)('lossy underlay helpers', () => {
  let lab: Lab;
  let relay: DelayRelay | undefined;
  let echo: Background | undefined;

  const probe = async (count: number, port = relay!.port) =>
    JSON.parse(await must(process.execPath, [PROBE, lab.nodes[2].v4, String(port), String(count)], { ns: lab.nodes[1].ns })) as
      { sent: number; received: number; minRttMs: number; reordered: number };

  beforeAll(async () => {
    lab = await Lab.create(3);
    const [srv, cli, mid] = lab.nodes;
    await lab.waitUnderlay(cli, mid);
    await lab.waitUnderlay(mid, srv);
    echo = start(process.execPath, ['-e', ECHO], { ns: srv.ns, timeoutMs: 120_000 });
    await waitFor('UDP echo to listen', () => echo!.output().includes('ready'), { timeoutMs: 10_000, intervalMs: 50 });
    relay = await startDelayRelay({ ns: mid.ns, listen: { host: mid.v4, port: 0 }, target: { host: srv.v4, port: 7007 }, delayMs: 25 });
  });

  afterAll(async () => {
    await relay?.close();
    echo?.child.kill();
    await lab?.destroy();
  });

  it('adds 2 × delayMs to the round trip and relays both ways', async () => {
    const r = await probe(200);
    expect(r.received).toBe(200);
    expect(r.minRttMs).toBeGreaterThanOrEqual(50);
    expect(r.minRttMs).toBeLessThan(80);
    expect(r.reordered).toBe(0);
    expect((await relay!.stats()).reordered).toEqual({ toTarget: 0, toClient: 0 });
  });

  it('reorders about reorderPercent of each direction, held reorderDelayMs longer, and counts it', async () => {
    const [srv, , mid] = lab.nodes;
    await expect(startDelayRelay({ ns: mid.ns, listen: { host: mid.v4, port: 0 }, target: { host: srv.v4, port: 7007 }, delayMs: 25,
      reorderPercent: 2.5 })).rejects.toThrow(/reorderPercent must be an integer 0-100, got 2.5/);
    const reordering = await startDelayRelay({ ns: mid.ns, listen: { host: mid.v4, port: 0 }, target: { host: srv.v4, port: 7007 },
      delayMs: 25, reorderPercent: 10, reorderDelayMs: 10 });
    try {
      // Datagrams 2 ms apart: each held one is overtaken by the ones sent in its extra 10 ms.
      const r = await probe(500, reordering.port);
      expect(r.received).toBe(500);
      const { reordered } = await reordering.stats();
      // 10% of 500 each way is 50 on average; the bounds are > 5 sigma away.
      for (const n of [reordered.toTarget, reordered.toClient]) expect(n).toBeGreaterThan(15), expect(n).toBeLessThan(90);
      // Every reordering the relay counts reaches the probe, except where the other direction's undoes it.
      expect(r.reordered).toBeGreaterThan(15);
      expect(r.reordered).toBeLessThanOrEqual(reordered.toTarget + reordered.toClient);
    } finally {
      await reordering.close();
    }
  });

  it('drops about the asked share in each direction on the relay egress, and stops when removed', async () => {
    await addLoss(lab.nodes[2].ns, 'eth0', 10, { direction: 'egress' });
    const lossy = await probe(500);
    // Two independent 10% drops: 19% of round trips lost on average; the bounds are > 5 sigma away.
    expect(lossy.received).toBeGreaterThan(500 - 150);
    expect(lossy.received).toBeLessThan(500 - 45);
    await removeLoss(lab.nodes[2].ns, 'eth0');
    expect((await probe(100)).received).toBe(100);
  });
});
