// The kernel's rules for keys, as its WireGuard selftest (netns.sh) checks them through `wg` and wireguard-go
// passes them: a private key is stored clamped, so `wg show IF private-key` prints the clamped key; and a peer
// whose public key is a point of small order is accepted and listed, but nothing is ever sent to it (a shared
// secret with it is all zeros, so anyone could answer as it). wireguard-go runs the same checks beside
// wiretund, so the test states what the reference does. Root only.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressTunnel, Iface, startDaemon } from './lib/daemon';
import { assertAvailable, Impl, skipReason, WIREGUARD_GO, WIRETUND } from './lib/env';
import { Lab } from './lib/lab';
import { waitFor } from './lib/wait';
import { genKeyPair, wg } from './lib/wg';
import { captureSkipReason, WG, wgType, WireCapture } from './lib/wire-capture';

/** The seven encodings of small-order points (0, 1, the two of order 8, p-1, p, p+1), as netns.sh lists them. */
const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((hex) => Buffer.from(hex, 'hex').toString('base64'));
const SILENT_PORT = 1111;
const CONTROL_PORT = 1112;
/** netns.sh's window: with a keepalive of 1 s, two seconds without a datagram. */
const WINDOW_MS = 2_000;

describe.skipIf(skipReason !== undefined).each([WIRETUND, WIREGUARD_GO] as Impl[])('key rules through wg: $name', (impl) => {
  let lab: Lab;
  let iface: Iface;

  beforeAll(async () => {
    assertAvailable(impl);
    lab = await Lab.create(1);
    iface = await startDaemon(lab, impl, lab.nodes[0]);
    await addressTunnel(iface, 1);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('stores a private key clamped: "/" + the rest of a key reads back as "+" + the rest', async () => {
    // `wg genkey` keys are clamped already; "/" sets bit 2 of the first byte, which clamping clears.
    const { priv } = await genKeyPair(lab.tmp);
    const file = path.join(lab.tmp, 'unclamped');
    writeFileSync(file, `/${priv.slice(1)}\n`, { mode: 0o600 });
    await wg(iface.node.ns, ['set', iface.name, 'private-key', file]);
    expect((await wg(iface.node.ns, ['show', iface.name, 'private-key'])).trim()).toBe(`+${priv.slice(1)}`);
  });

  it.skipIf(captureSkipReason !== undefined)('lists low-order peers and never sends them anything', async () => {
    const ns = iface.node.ns;
    const key = await genKeyPair(lab.tmp);
    const control = await genKeyPair(lab.tmp);
    const cap = await WireCapture.start(ns, 'lo', `udp and (dst port ${SILENT_PORT} or dst port ${CONTROL_PORT})`, path.join(lab.tmp, `low-${impl.name}.pcap`));
    try {
      const peers = LOW_ORDER.flatMap((p) => ['peer', p, 'endpoint', `127.0.0.1:${SILENT_PORT}`, 'persistent-keepalive', '1']);
      // A genuine peer in the same request shows the capture sees what a keepalive makes the device send.
      const ok = ['peer', control.pub, 'endpoint', `127.0.0.1:${CONTROL_PORT}`, 'persistent-keepalive', '1'];
      await wg(ns, ['set', iface.name, 'private-key', key.file, ...peers, ...ok]);
      const listed = (await wg(ns, ['show', iface.name, 'peers'])).trim().split('\n');
      expect(listed.sort()).toEqual([...LOW_ORDER, control.pub].sort());
      const start = Date.now();
      await waitFor('a handshake initiation to the genuine peer', () => cap.datagrams().some((d) => d.dport === CONTROL_PORT && wgType(d) === WG.initiation), { timeoutMs: 10_000, intervalMs: 100 });
      // The assertion's window, not a synchronisation: netns.sh waits the same two seconds.
      await new Promise((r) => setTimeout(r, Math.max(0, WINDOW_MS - (Date.now() - start))));
      const silent = (await cap.stop()).filter((d) => d.dport === SILENT_PORT);
      expect(silent.map((d) => `${d.length} bytes, type ${wgType(d)}`)).toEqual([]);
    } finally {
      await cap.stop();
    }
  });
});
