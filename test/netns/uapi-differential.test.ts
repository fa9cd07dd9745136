// Differential UAPI test: the same sequence of `wg set` commands against wiretund and wireguard-go must give the
// same exit status and the same `wg show dump` (minus counters and handshake times) after every step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Iface, startDaemon } from './lib/daemon';
import { assertAvailable, comparisons, skipReason } from './lib/env';
import { Lab } from './lib/lab';
import { run } from './lib/proc';
import { Dump, genKeyPair, genPsk, KeyPair, parseDump, sortCsv } from './lib/wg';

interface Material {
  key: KeyPair;
  p1: KeyPair;
  p2: KeyPair;
  p3: KeyPair;
  psk: string;
}

/** Each step is the argument list after `wg set IF`. Chosen for edge cases in the UAPI's set semantics. */
function steps(m: Material): string[][] {
  return [
    ['private-key', m.key.file, 'listen-port', '51820', 'fwmark', '0x51'],
    ['peer', m.p1.pub, 'allowed-ips', '10.1.0.0/16,10.1.2.0/24,fd00:1::/64', 'endpoint', '10.210.0.9:4000'],
    // An allowed IP given to another peer leaves the first one.
    ['peer', m.p2.pub, 'allowed-ips', '10.1.2.0/24', 'endpoint', '[fd00:210::9]:4001', 'persistent-keepalive', '30'],
    // Host bits set: stored masked.
    ['peer', m.p3.pub, 'allowed-ips', '10.7.7.7/8,fd00:7::7/32', 'preshared-key', m.psk],
    ['peer', m.p3.pub, 'allowed-ips', '0.0.0.0/0,::/0'],
    ['peer', m.p1.pub, 'allowed-ips', ''], // replace with nothing
    ['peer', m.p2.pub, 'persistent-keepalive', 'off', 'endpoint', '10.210.0.10:4002'],
    ['peer', m.p3.pub, 'preshared-key', '/dev/null'], // clears the PSK
    ['peer', m.p2.pub, 'remove'],
    ['peer', m.p2.pub, 'remove'], // removing an absent peer
    ['peer', m.key.pub, 'allowed-ips', '10.9.0.0/16'], // the device's own key: ignored, never a peer
    ['fwmark', '0'],
    ['listen-port', '51821'],
    ['private-key', '/dev/null'], // clears the key: dump shows (none)
    ['private-key', m.key.file],
  ];
}

const normalized = (d: Dump) => [
  [d.privateKey, d.publicKey, d.listenPort, d.fwmark].join('\t'),
  ...d.peers.map((p) => [p.publicKey, p.presharedKey, p.endpoint, sortCsv(p.allowedIps), p.keepalive].join('\t')).sort(),
];

async function apply(i: Iface, args: string[]): Promise<{ code: number | null; dump: string[] }> {
  const r = await run('wg', ['set', i.name, ...args], { ns: i.node.ns });
  const d = await run('wg', ['show', i.name, 'dump'], { ns: i.node.ns });
  expect(d.code, `${i.impl.name}: wg show dump after ${args.join(' ')}: ${d.stderr}`).toBe(0);
  return { code: r.code, dump: normalized(parseDump(d.stdout)) };
}

describe.skipIf(skipReason !== undefined).each(comparisons())('wg set sequence, differential: $label', ({ subject, reference }) => {
  let lab: Lab;

  beforeAll(async () => {
    assertAvailable(subject);
    lab = await Lab.create(2);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('gives the same status and dump after every step', async () => {
    const keys = await Promise.all([0, 1, 2, 3].map(() => genKeyPair(lab.tmp)));
    const m: Material = { key: keys[0], p1: keys[1], p2: keys[2], p3: keys[3], psk: (await genPsk(lab.tmp)).file };
    const subj = await startDaemon(lab, subject, lab.nodes[0]);
    const ref = await startDaemon(lab, reference, lab.nodes[1]);
    for (const step of steps(m)) {
      const [s, r] = [await apply(subj, step), await apply(ref, step)];
      const what = `after wg set ${step.join(' ')}`;
      expect(s.code, `exit status ${what}`).toBe(r.code);
      expect(s.dump, `dump ${what}`).toEqual(r.dump);
    }
  });
});
