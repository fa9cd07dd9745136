// The lossy underlay helpers themselves (lib/lossy.ts): the delay relay adds 2 × delayMs to a UDP round trip
// and forwards in both directions; addLoss on the relay's egress drops about the asked share each way.
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

  const probe = async (count: number) =>
    JSON.parse(await must(process.execPath, [PROBE, lab.nodes[2].v4, String(relay!.port), String(count)], { ns: lab.nodes[1].ns })) as
      { sent: number; received: number; minRttMs: number };

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
