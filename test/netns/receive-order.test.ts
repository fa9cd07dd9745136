// The receive path's order against Debian's wireguard-go: an authenticated data packet moves its sender's
// endpoint and counts, as in the kernel (receive.c) and wireguard-go (device/receive.go), even when the
// allowed-IPs check then drops it. The sender here is wireguard-go; it changes its listen port and sends from
// a tunnel address that A gave to a more specific peer, or to no peer at all. Conformance suites check this.
// With WIRETUN_TEST_BASELINE=1 the same test runs with wireguard-go on A's side too, proving the expectation.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertAvailable, impls, Impl, skipReason, WIREGUARD_GO } from './lib/env';
import { Lab } from './lib/lab';
import { must, run } from './lib/proc';
import { PORT_B, Side, twoNode, waitPing } from './lib/tunnel';
import { waitFor } from './lib/wait';
import { genKeyPair, peerOf, ping, wg } from './lib/wg';

/** Packets the TUN handed to the kernel: what a userspace daemon wrote to it. */
async function tunRxPackets(side: Side): Promise<number> {
  const out = await must('ip', ['-n', side.iface.node.ns, '-s', '-j', 'link', 'show', 'dev', side.iface.name]);
  return (JSON.parse(out) as { stats64: { rx: { packets: number } } }[])[0].stats64.rx.packets;
}

/** One ping from `src` (an address on B's tunnel interface) to A; no reply is expected, A drops it. */
const pingFrom = (b: Side, src: string, dst: string) =>
  run('ping', [...(src.includes(':') ? ['-6'] : []), '-c1', '-W1', '-I', src, dst], { ns: b.iface.node.ns });

describe.skipIf(skipReason !== undefined).each(impls())('receive order $label', ({ impl }: { impl: Impl }) => {
  let lab: Lab;

  beforeAll(async () => {
    assertAvailable(impl);
    lab = await Lab.create(2);
    await lab.waitUnderlay(lab.nodes[0], lab.nodes[1]);
  });

  afterEach(async () => {
    await lab?.stopDaemons();
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('a roamed peer\'s packet moves its endpoint and counts even when its inner source is not allowed', async () => {
    const { a, b } = await twoNode(lab, { label: `${impl.name}→wireguard-go`, initiator: impl, responder: WIREGUARD_GO });
    // A gives B 10.211.0.128/25 too, and C (a peer without endpoint or daemon) the more specific .200 and
    // fd00:211::c8; .99 and fd00:211::99 belong to nobody.
    const c = await genKeyPair(lab.tmp);
    await wg(a.iface.node.ns, ['set', a.iface.name, 'peer', b.key.pub, 'allowed-ips', '10.211.0.2/32,10.211.0.128/25,fd00:211::2/128',
      'peer', c.pub, 'allowed-ips', '10.211.0.200/32,fd00:211::c8/128']);
    await waitPing(a, b);
    await waitPing(b, a);
    for (const addr of ['10.211.0.200/32', '10.211.0.99/32', 'fd00:211::c8/128', 'fd00:211::99/128']) {
      await must('ip', ['-n', b.iface.node.ns, 'address', 'add', addr, 'dev', b.iface.name, ...(addr.includes(':') ? ['nodad'] : [])]);
    }
    const viewOfB = async () => (await peerOf(a.iface.node.ns, a.iface.name, b.key.pub))!;
    const sentByB = async () => (await peerOf(b.iface.node.ns, b.iface.name, a.key.pub))!.tx;
    expect((await viewOfB()).endpoint).toBe(`${b.iface.node.v4}:${PORT_B}`);

    const cases = [
      { src: '10.211.0.200', dst: a.iface.v4!, what: 'a more specific peer\'s IPv4 address' },
      { src: '10.211.0.99', dst: a.iface.v4!, what: 'an IPv4 address no peer has' },
      { src: 'fd00:211::c8', dst: a.iface.v6!, what: 'a more specific peer\'s IPv6 address' },
      { src: 'fd00:211::99', dst: a.iface.v6!, what: 'an IPv6 address no peer has' },
    ];
    for (const [i, { src, dst, what }] of cases.entries()) {
      const port = PORT_B + 20 + i;
      await wg(b.iface.node.ns, ['set', b.iface.name, 'listen-port', String(port)]);
      const [rx0, tx0, tun0] = [(await viewOfB()).rx, await sentByB(), await tunRxPackets(a)];
      expect((await pingFrom(b, src, dst)).code, `a reply to ${what}`).not.toBe(0);
      const expected = `${b.iface.node.v4}:${port}`;
      // Every byte B says it sent A counted, and nothing else (waits out anything still in flight).
      await waitFor(`A to see B at ${expected} and count what B sent (${what})`, async () => {
        const seen = await viewOfB();
        return seen.endpoint === expected && seen.rx - rx0 === (await sentByB()) - tx0;
      }, { timeoutMs: 5_000 });
      // One ICMP echo at least: 20 + 8 + 56 bytes (IPv6: 40 + 8 + 56), plus 32 of WireGuard.
      expect((await viewOfB()).rx - rx0, what).toBeGreaterThanOrEqual((src.includes(':') ? 104 : 84) + 32);
      expect(await tunRxPackets(a), `a packet from ${what} reached A's TUN`).toBe(tun0);
    }
    const viewOfC = (await peerOf(a.iface.node.ns, a.iface.name, c.pub))!;
    expect([viewOfC.endpoint, viewOfC.rx]).toEqual(['(none)', 0]);
    // B listens only on its last port now: A reaches it there at once, before B sends anything honest.
    expect(await ping(a.iface.node.ns, b.iface.v4!)).toBe(true);
    expect((await viewOfB()).endpoint).toBe(`${b.iface.node.v4}:${PORT_B + 20 + cases.length - 1}`);
  });
});
