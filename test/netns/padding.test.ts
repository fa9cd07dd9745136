// WireGuard's padding on the wire from the TUN path: two wiretund daemons, pings of every payload size from 0 to
// 100 bytes and up to the MTU over IPv4 and IPv6, and a capture of the underlay. Every data message must carry
// a plaintext that is a multiple of 16 bytes, or exactly the MTU, and never more than the MTU, as the paper,
// the kernel and wireguard-go pad; every ping must come back (the receiver trims the padding by the IP
// header's length). The MTU is changed after the daemon started, as wg-quick does, so the cap must follow it.
// Root only.
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressTunnel, Iface, startDaemon } from './lib/daemon';
import { assertAvailable, skipReason, WIRETUND } from './lib/env';
import { Lab } from './lib/lab';
import { must } from './lib/proc';
import { waitFor } from './lib/wait';
import { genKeyPair, ping, wg } from './lib/wg';
import { captureSkipReason, WG, wgType, WireCapture } from './lib/wire-capture';

const PORT = 51820;
/** Not a multiple of 16, so a packet of exactly the MTU must not be padded up to 1392. */
const MTU = 1380;
/** WireGuard's data message: 16 bytes of header before the ciphertext, a 16-byte tag after it. */
const DATA_OVERHEAD = 32;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.skipIf(skipReason !== undefined || captureSkipReason !== undefined)('padding of data messages (root)', () => {
  let lab: Lab;
  let a: Iface;
  let b: Iface;

  beforeAll(async () => {
    assertAvailable(WIRETUND);
    lab = await Lab.create(2);
    await lab.waitUnderlay(lab.nodes[0], lab.nodes[1]);
    [a, b] = [await startDaemon(lab, WIRETUND, lab.nodes[0]), await startDaemon(lab, WIRETUND, lab.nodes[1])];
    const [ka, kb] = [await genKeyPair(lab.tmp), await genKeyPair(lab.tmp)];
    await addressTunnel(a, 1);
    await addressTunnel(b, 2);
    for (const [me, key, other, otherKey] of [[a, ka, b, kb], [b, kb, a, ka]] as const) {
      await must('ip', ['-n', me.node.ns, 'link', 'set', 'dev', me.name, 'mtu', String(MTU)]);
      await wg(me.node.ns, ['set', me.name, 'private-key', key.file, 'listen-port', String(PORT), 'peer', otherKey.pub,
        'endpoint', `${other.node.v4}:${PORT}`, 'allowed-ips', `${other.v4}/32,${other.v6}/128`]);
    }
    await waitFor('a first ping through the tunnel', () => ping(a.node.ns, b.v4!), { timeoutMs: 10_000, intervalMs: 100 });
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('pads every data message to a multiple of 16 bytes, capped at the MTU', async () => {
    const cap = await WireCapture.start(a.node.ns, 'eth0', `udp port ${PORT}`, path.join(lab.tmp, 'padding.pcap'));
    // ICMP payload sizes: IPv4 packets of 28-128 bytes, IPv6 of 48-88, and each up to exactly the MTU.
    const pings = [
      ...range(0, 100).map((size) => ({ to: b.v4!, size })),
      ...range(0, 40).map((size) => ({ to: b.v6!, size })),
      ...range(MTU - 28 - 20, MTU - 28).map((size) => ({ to: b.v4!, size })),
      ...range(MTU - 48 - 20, MTU - 48).map((size) => ({ to: b.v6!, size })),
    ];
    const dataMessages = () => cap.datagrams().filter((d) => wgType(d) === WG.data);
    try {
      for (const { to, size } of pings) {
        expect(await ping(a.node.ns, to, { size, dontFragment: true }), `ping -s ${size} ${to}`).toBe(true);
      }
      // Each ping's request and reply crossed A's underlay; dumpcap writes them out a little later.
      await waitFor('every ping in the capture', () => dataMessages().length >= 2 * pings.length, { timeoutMs: 10_000, intervalMs: 100 });
    } finally {
      await cap.stop();
    }
    const data = dataMessages();
    const plain = data.map((d) => d.length - DATA_OVERHEAD);
    expect(plain.filter((n) => n > MTU || (n % 16 !== 0 && n !== MTU))).toEqual([]);
    expect(plain, 'packets of exactly the MTU stay at the MTU').toContain(MTU);
  });
});
