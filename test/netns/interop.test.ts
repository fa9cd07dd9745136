// Interop between implementation pairs, each side a daemon in its own namespace, configured only with `wg`.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertAvailable, Pair, pairs, skipReason } from './lib/env';
import { Lab, underlay4, underlay6 } from './lib/lab';
import { must, run } from './lib/proc';
import { addSpoke, endpointOf, PORT_A, restartAsResponder, Side, twoNode, TunnelOptions, waitPing } from './lib/tunnel';
import { everHolds, waitFor } from './lib/wait';
import { dump, genKeyPair, genPsk, handshakeDone, peerOf, ping, wg } from './lib/wg';

describe.skipIf(skipReason !== undefined).each(pairs())('interop $label', (pair: Pair) => {
  let lab: Lab;

  beforeAll(async () => {
    assertAvailable(pair.initiator);
    assertAvailable(pair.responder);
    lab = await Lab.create(3);
    await lab.waitUnderlay(lab.nodes[0], lab.nodes[1]);
    await lab.waitUnderlay(lab.nodes[0], lab.nodes[2]);
  });

  afterEach(async () => {
    await lab?.stopDaemons();
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  const up = (opts: TunnelOptions = {}) => twoNode(lab, pair, opts);
  const endpointSeenBy = async (viewer: Side, subject: Side) =>
    (await peerOf(viewer.iface.node.ns, viewer.iface.name, subject.key.pub))?.endpoint;

  for (const outer of [4, 6] as const) {
    it(`handshakes and pings over IPv4 and IPv6 inside, IPv${outer} outside`, async () => {
      const { a, b } = await up({ outer });
      await waitPing(a, b, 4);
      await waitPing(a, b, 6);
      await waitPing(b, a, 4);
      await waitPing(b, a, 6);
      expect(await handshakeDone(a.iface.node.ns, a.iface.name, b.key.pub)).toBe(true);
      expect(await handshakeDone(b.iface.node.ns, b.iface.name, a.key.pub)).toBe(true);
      // The responder learned the initiator's address from the packets, over the chosen outer family.
      const expected = outer === 4 ? `${a.iface.node.v4}:${PORT_A}` : `[${a.iface.node.v6}]:${PORT_A}`;
      expect(await endpointSeenBy(b, a)).toBe(expected);
      // Full-size packets for the 1420 MTU, unfragmented: the data path must not truncate or drop them.
      expect(await ping(a.iface.node.ns, b.iface.v4!, { size: 1420 - 28, dontFragment: true })).toBe(true);
      expect(await ping(a.iface.node.ns, b.iface.v6!, { size: 1420 - 48, dontFragment: true })).toBe(true);
    });
  }

  // iperf3 both ways and a matching preshared key, for these pairs and the other implementations: interop-matrix.test.ts.

  it('does not handshake when only one side has a preshared key, or they differ', async () => {
    const [p1, p2] = [await genPsk(lab.tmp), await genPsk(lab.tmp)];
    for (const opts of [{ pskFileA: p1.file }, { pskFileA: p1.file, pskFileB: p2.file }]) {
      const { a, b } = await up(opts);
      // Ping keeps the initiator trying; look for any success over two handshake attempts' worth of time.
      const sawTraffic = await everHolds(() => ping(a.iface.node.ns, b.iface.v4!), 3_000, 100);
      expect(sawTraffic).toBe(false);
      expect(await handshakeDone(a.iface.node.ns, a.iface.name, b.key.pub), 'initiator handshake with wrong PSK').toBe(false);
      // Like the kernel and wireguard-go, a responder counts a handshake only once the initiator confirms it
      // with data; here the initiator can never derive the session.
      expect(await handshakeDone(b.iface.node.ns, b.iface.name, a.key.pub), 'responder reports an unconfirmed handshake').toBe(false);
      await lab.stopDaemons();
    }
  });

  for (const outer of [4, 6] as const) {
    it(`follows a roaming peer to a new address and port (IPv${outer} outside)`, async () => {
      const { a, b } = await up({ outer });
      await waitPing(a, b);
      const { ns, dev } = b.iface.node;
      const [oldAddr, newAddr, prefix] = outer === 4 ? [b.iface.node.v4, underlay4(12), 24] : [b.iface.node.v6, underlay6(12), 64];
      const newPort = 51831;
      // Replace rather than add-then-delete: deleting a primary IPv4 address also drops its secondaries.
      await must('ip', ['-n', ns, 'address', 'del', `${oldAddr}/${prefix}`, 'dev', dev]);
      await must('ip', ['-n', ns, 'address', 'add', `${newAddr}/${prefix}`, 'dev', dev, ...(outer === 6 ? ['nodad'] : [])]);
      await wg(ns, ['set', b.iface.name, 'listen-port', String(newPort)]);
      try {
        await waitPing(b, a); // B speaks first from its new address
        const expected = outer === 4 ? `${newAddr}:${newPort}` : `[${newAddr}]:${newPort}`;
        await waitFor(`A to see B at ${expected}`, async () => (await endpointSeenBy(a, b)) === expected, { timeoutMs: 5_000 });
        await waitPing(a, b);
        await waitPing(a, b, 6);
      } finally {
        await run('ip', ['-n', ns, 'address', 'flush', 'dev', dev, 'scope', 'global']);
        await must('ip', ['-n', ns, 'address', 'add', `${b.iface.node.v4}/24`, 'dev', dev]);
        await must('ip', ['-n', ns, 'address', 'add', `${b.iface.node.v6}/64`, 'dev', dev, 'nodad']);
      }
    });
  }

  it('sends persistent keepalives without other traffic', async () => {
    const { a, b } = await up({ keepaliveA: 1 });
    // Setting a keepalive on a peer with an endpoint starts the handshake by itself: no ping needed.
    await waitFor('handshake from keepalive alone', () => handshakeDone(b.iface.node.ns, b.iface.name, a.key.pub), {
      timeoutMs: 8_000,
    });
    const rxAt = async () => (await peerOf(b.iface.node.ns, b.iface.name, a.key.pub))!.rx;
    const base = await rxAt();
    // Three 32-byte keepalives: more than the single passive keepalive a peer may send after data.
    await waitFor('B to receive three keepalives', async () => (await rxAt()) - base >= 96, { timeoutMs: 6_000, intervalMs: 250 });
    expect((await peerOf(a.iface.node.ns, a.iface.name, b.key.pub))!.keepalive).toBe('1');
  });

  it('stops traffic for a removed peer', async () => {
    const { a, b } = await up();
    await waitPing(a, b);
    await waitPing(b, a);
    await wg(a.iface.node.ns, ['set', a.iface.name, 'peer', b.key.pub, 'remove']);
    expect(await peerOf(a.iface.node.ns, a.iface.name, b.key.pub)).toBeUndefined();
    const either = async () => (await ping(a.iface.node.ns, b.iface.v4!)) || (await ping(b.iface.node.ns, a.iface.v4!));
    expect(await everHolds(either, 2_500, 100)).toBe(false);
  });

  it('drops packets whose inner source is outside the sending peer\'s allowed IPs', async () => {
    const { a, b } = await up();
    await waitPing(a, b); // B learns A's endpoint
    await waitPing(b, a);
    // B may send it (A's address is in B's allowed IPs for A) but A must not accept a source it didn't allow for B.
    await must('ip', ['-n', b.iface.node.ns, 'address', 'add', '10.211.0.99/32', 'dev', b.iface.name]);
    const spoofed = () => run('ping', ['-c1', '-W1', '-I', '10.211.0.99', a.iface.v4!], { ns: b.iface.node.ns }).then((r) => r.code === 0);
    expect(await everHolds(spoofed, 2_000, 100)).toBe(false);
    expect(await ping(b.iface.node.ns, a.iface.v4!)).toBe(true);
  });

  it('routes by allowed IPs among two peers, and an allowed IP moves between peers', async () => {
    const { a, b } = await up();
    const c = await addSpoke(lab, a, pair.responder, lab.nodes[2], 3, 51822);
    await waitPing(a, b);
    await waitPing(a, c);
    // Giving B the address C had takes it away from C: each allowed IP belongs to one peer.
    await wg(a.iface.node.ns, ['set', a.iface.name, 'peer', b.key.pub, 'allowed-ips', `${b.iface.v4}/32,${c.iface.v4}/32`]);
    const peers = new Map((await dump(a.iface.node.ns, a.iface.name)).peers.map((p) => [p.publicKey, p.allowedIps]));
    expect(peers.get(b.key.pub)?.split(',').sort()).toEqual([`${b.iface.v4}/32`, `${c.iface.v4}/32`].sort());
    expect(peers.get(c.key.pub)).toBe(`${c.iface.v6}/128`);
    // Now sent to B, which has no such address: no echo reply can come back.
    expect(await everHolds(() => ping(a.iface.node.ns, c.iface.v4!), 2_000, 100)).toBe(false);
    await waitPing(a, c, 6);
    await waitPing(a, b);
  });

  it('recovers on its own when the responder restarts and forgets the session', async () => {
    const { a, b } = await up();
    await waitPing(a, b);
    const fresh = await restartAsResponder(lab, b, a, 2);
    // A still holds a session B no longer knows; only A's timers (data sent, nothing back for
    // KEEPALIVE_TIMEOUT + REKEY_TIMEOUT = 15 s) can bring a new handshake.
    await waitPing(a, fresh, 4, 30_000);
    expect(await handshakeDone(fresh.iface.node.ns, fresh.iface.name, a.key.pub)).toBe(true);
  });

  it('moves to a newly configured endpoint of the other address family on a live session', async () => {
    const { a, b } = await up({ outer: 4 });
    await waitPing(a, b);
    await wg(a.iface.node.ns, ['set', a.iface.name, 'peer', b.key.pub, 'endpoint', endpointOf(b.iface.node, b.port, 6)]);
    expect(await endpointSeenBy(a, b)).toBe(endpointOf(b.iface.node, b.port, 6));
    await waitPing(a, b);
    // B learns A's new source from authenticated packets: proof they really went over IPv6.
    await waitFor("B to see A's IPv6 endpoint", async () => (await endpointSeenBy(b, a)) === endpointOf(a.iface.node, a.port, 6), {
      timeoutMs: 5_000,
    });
  });

  it('re-handshakes at once after its private key changes', async () => {
    const { a, b } = await up();
    await waitPing(a, b);
    const newKey = await genKeyPair(lab.tmp);
    await wg(a.iface.node.ns, ['set', a.iface.name, 'private-key', newKey.file]);
    await wg(b.iface.node.ns, ['set', b.iface.name, 'peer', a.key.pub, 'remove', 'peer', newKey.pub, 'allowed-ips', `${a.iface.v4}/32,${a.iface.v6}/128`]);
    // Old sessions must be dropped with the old key; keeping them would stall until the 15 s retry timer.
    await waitPing(a, b, 4, 6_000);
    expect(await handshakeDone(b.iface.node.ns, b.iface.name, newKey.pub)).toBe(true);
  });
});
