// The interop matrix (test/netns/README.md has the table): wiretund as initiator and as responder against
// Debian's wireguard-go, the latest wireguard-go and boringtun-cli (and against itself), without and with a
// preshared key. Each case: handshake seen by both sides at a time within the case, pings over IPv4 and IPv6
// both ways, and a short iperf3 transfer each way. One lab for the whole file; fresh daemons and keys per case.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertAvailable, skipReason, WIRETUND } from './lib/env';
import { iperf3 } from './lib/iperf';
import { Lab } from './lib/lab';
import { assertPeerInstalled, inCI, MATRIX_PEERS, MatrixCase, matrixCases } from './lib/matrix';
import { Side, twoNode, waitPing } from './lib/tunnel';
import { genPsk, handshakeTime, peerOf } from './lib/wg';

/** Bytes, not speed: long enough for TCP to leave slow start, short enough to keep CI's budget. */
const IPERF_SECONDS = 2;
/** The daemons and this process read one clock; this only absorbs rounding and scheduling. */
const CLOCK_SLACK_MS = 1_000;

describe.skipIf(skipReason !== undefined)('interop matrix', () => {
  let lab: Lab;

  beforeAll(async () => {
    assertAvailable(WIRETUND);
    lab = await Lab.create(2);
    await lab.waitUnderlay(lab.nodes[0], lab.nodes[1]);
  });

  afterEach(async () => {
    await lab?.stopDaemons();
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  /** Both sides report the handshake at a moment inside this case: not never, not 1970, not in the future. */
  async function expectHandshakeSince(since: number, viewer: Side, subject: Side): Promise<void> {
    const at = await handshakeTime(viewer.iface.name, subject.key.pub);
    const who = `${viewer.iface.impl.name}'s last handshake with ${subject.iface.impl.name}`;
    expect(at, `${who}: never`).toBeDefined();
    expect(at!, `${who}: ${new Date(at!).toISOString()}, before the case began`).toBeGreaterThanOrEqual(since - CLOCK_SLACK_MS);
    expect(at!, `${who}: ${new Date(at!).toISOString()}, in the future`).toBeLessThanOrEqual(Date.now() + CLOCK_SLACK_MS);
  }

  async function expectTransfer(client: Side, server: Side, reverse: boolean): Promise<void> {
    const t = await iperf3(client, server, { reverse, seconds: IPERF_SECONDS });
    expect(t.bytes, 'iperf3 bytes received').toBeGreaterThan(0);
    // Every byte iperf3 received crossed the tunnel: the receiver's counter holds it plus WireGuard overhead.
    const rx = (await peerOf(t.receiver.iface.node.ns, t.receiver.iface.name, t.sender.key.pub))!.rx;
    expect(rx).toBeGreaterThan(t.bytes);
  }

  async function runCase(c: MatrixCase): Promise<void> {
    const psk = c.psk ? await genPsk(lab.tmp) : undefined;
    const since = Date.now();
    const { a, b } = await twoNode(lab, c.pair, psk ? { pskFileA: psk.file, pskFileB: psk.file } : {});
    for (const family of [4, 6] as const) {
      await waitPing(a, b, family);
      await waitPing(b, a, family);
    }
    await expectHandshakeSince(since, a, b);
    await expectHandshakeSince(since, b, a);
    for (const [viewer, subject] of [[a, b], [b, a]]) {
      expect((await peerOf(viewer.iface.node.ns, viewer.iface.name, subject.key.pub))!.presharedKey).toBe(psk?.key ?? '(none)');
    }
    await expectTransfer(a, b, false);
    await expectTransfer(a, b, true);
  }

  for (const peer of MATRIX_PEERS) {
    describe.skipIf(peer.missing !== undefined && !inCI)(`against ${peer.label}`, () => {
      beforeAll(() => assertPeerInstalled(peer));

      for (const c of matrixCases(peer)) {
        it(c.label, () => runCase(c));
      }
    });
  }
});
