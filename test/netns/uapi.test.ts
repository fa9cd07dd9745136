// The UAPI as `wg` sees it: identical configuration must read back identically from wiretund and wireguard-go,
// and the config-file verbs (setconf/addconf/syncconf) must behave like they do against wireguard-go.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addressTunnel, Iface, startDaemon } from './lib/daemon';
import { assertAvailable, comparisons, Impl, impls, skipReason, WIREGUARD_GO } from './lib/env';
import { Lab } from './lib/lab';
import { Dump, dump, genKeyPair, genPsk, KeyPair, normalizeShowconf, peerOf, ping, PeerDump, sortCsv, wg } from './lib/wg';
import { run } from './lib/proc';
import { waitFor } from './lib/wait';


/** The fields two implementations must agree on; handshake time and counters legitimately differ. */
const stable = (p: PeerDump) => [p.publicKey, p.presharedKey, p.endpoint, sortCsv(p.allowedIps), p.keepalive].join('\t');
const stableLines = (d: Dump) => [[d.privateKey, d.publicKey, d.listenPort, d.fwmark].join('\t'), ...d.peers.map(stable).sort()];

interface Keys {
  key: KeyPair;
  remote: KeyPair;
  o1: KeyPair;
  o2: KeyPair;
  psk: string;
}

const pingUntil = (ns: string, addr: string) =>
  waitFor(`ping ${addr} from ${ns}`, () => ping(ns, addr), { timeoutMs: 10_000, intervalMs: 100, maxTries: 60 });

describe.skipIf(skipReason !== undefined).each(comparisons())('wg show dump/showconf: $label', ({ subject, reference }) => {
  // One lab per implementation, identical addresses in each, so both get byte-identical configuration and
  // each talks to its own far end (two initiations with one key to one responder would look like a replay).
  const labs: Lab[] = [];

  beforeAll(async () => {
    assertAvailable(subject);
    for (let i = 0; i < 2; i++) {
      labs.push(await Lab.create(2));
      await labs[i].waitUnderlay(labs[i].nodes[0], labs[i].nodes[1]);
    }
  });

  afterAll(async () => {
    for (const lab of labs) await lab.destroy();
  });

  /** Starts `impl` in node a of `lab`, with a far end (wireguard-go holding `remote`) in node b. */
  async function build(lab: Lab, impl: Impl, keys: Keys): Promise<Iface> {
    const [me, far] = [await startDaemon(lab, impl, lab.nodes[0]), await startDaemon(lab, WIREGUARD_GO, lab.nodes[1])];
    await addressTunnel(me, 1);
    await addressTunnel(far, 2);
    await wg(me.node.ns, ['set', me.name, 'private-key', keys.key.file, 'listen-port', '51820', 'fwmark', '0x2a',
      'peer', keys.remote.pub, 'preshared-key', keys.psk, 'endpoint', `${far.node.v4}:51820`, 'allowed-ips', '10.211.0.2/32,fd00:211::2/128',
      'peer', keys.o1.pub, 'endpoint', '[fd00:210::99]:4000', 'persistent-keepalive', '25',
      'allowed-ips', '192.168.50.0/24,fd00:99::/48,10.99.0.0/16',
      'peer', keys.o2.pub]);
    await wg(far.node.ns, ['set', far.name, 'private-key', keys.remote.file, 'listen-port', '51820',
      'peer', keys.key.pub, 'preshared-key', keys.psk, 'allowed-ips', '10.211.0.1/32,fd00:211::1/128']);
    return me;
  }

  it('reads back the same configuration, and counters move with traffic', async () => {
    const tmp = labs[0].tmp;
    const [key, remote, o1, o2] = [await genKeyPair(tmp), await genKeyPair(tmp), await genKeyPair(tmp), await genKeyPair(tmp)];
    const keys: Keys = { key, remote, o1, o2, psk: (await genPsk(tmp)).file };
    const subj = await build(labs[0], subject, keys);
    const ref = await build(labs[1], reference, keys);

    const [ds, dr] = [await dump(subj.node.ns, subj.name), await dump(ref.node.ns, ref.name)];
    expect(stableLines(ds)).toEqual(stableLines(dr));
    expect(ds.fwmark).toBe('0x2a');
    // A peer without endpoint has never sent or received: all of its row must match, counters included.
    const idle = (d: Dump) => d.peers.find((p) => p.publicKey === o2.pub);
    expect(idle(ds)).toEqual(idle(dr));

    const showconf = async (i: Iface) => normalizeShowconf(await wg(i.node.ns, ['showconf', i.name]));
    expect(await showconf(subj)).toEqual(await showconf(ref));
    expect((await showconf(subj))[0]).toContain(`PrivateKey = ${key.priv}`);

    for (const i of [subj, ref]) {
      await pingUntil(i.node.ns, '10.211.0.2');
      const p = (await peerOf(i.node.ns, i.name, remote.pub))!;
      expect(p.rx, `${i.impl.name} rx`).toBeGreaterThan(0);
      expect(p.tx, `${i.impl.name} tx`).toBeGreaterThan(0);
      // Absolute Unix time, not "seconds since": wg would otherwise print "55 years ago".
      expect(Math.abs(p.latestHandshake - Date.now() / 1000), `${i.impl.name} handshake time`).toBeLessThan(60);
    }
  });
});

function confFile(dir: string, name: string, lines: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

describe.skipIf(skipReason !== undefined).each(impls())(
  'wg setconf/addconf/syncconf: $label',
  ({ impl }) => {
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

    it('setconf configures, addconf adds, syncconf removes what the file lacks without breaking sessions', async () => {
      const [key, remote, x1, x2] = [await genKeyPair(lab.tmp), await genKeyPair(lab.tmp), await genKeyPair(lab.tmp), await genKeyPair(lab.tmp)];
      const me = await startDaemon(lab, impl, lab.nodes[0]);
      const far = await startDaemon(lab, WIREGUARD_GO, lab.nodes[1]);
      await addressTunnel(me, 1);
      await addressTunnel(far, 2);
      await wg(far.node.ns, ['set', far.name, 'private-key', remote.file, 'listen-port', '51821', 'peer', key.pub, 'allowed-ips', '10.211.0.1/32']);

      const iface = ['[Interface]', `PrivateKey = ${key.priv}`, 'ListenPort = 51820'];
      const remotePeer = ['[Peer]', `PublicKey = ${remote.pub}`, `Endpoint = ${lab.nodes[1].v4}:51821`, 'AllowedIPs = 10.211.0.2/32'];
      const x1Peer = ['[Peer]', `PublicKey = ${x1.pub}`, 'AllowedIPs = 10.99.1.0/24'];
      const ns = me.node.ns;
      const peers = async () => new Map((await dump(ns, me.name)).peers.map((p) => [p.publicKey, p]));

      await wg(ns, ['setconf', me.name, confFile(lab.tmp, 'set.conf', [...iface, ...remotePeer, ...x1Peer])]);
      expect((await dump(ns, me.name)).listenPort).toBe('51820');
      expect([...(await peers()).keys()].sort()).toEqual([remote.pub, x1.pub].sort());
      await pingUntil(ns, '10.211.0.2');

      await wg(ns, ['addconf', me.name, confFile(lab.tmp, 'add.conf', ['[Peer]', `PublicKey = ${x2.pub}`, 'AllowedIPs = 10.99.2.0/24'])]);
      expect([...(await peers()).keys()].sort()).toEqual([remote.pub, x1.pub, x2.pub].sort());
      const handshakeBefore = (await peers()).get(remote.pub)!.latestHandshake;

      const x2Moved = ['[Peer]', `PublicKey = ${x2.pub}`, 'AllowedIPs = 10.99.3.0/24'];
      await wg(ns, ['syncconf', me.name, confFile(lab.tmp, 'sync.conf', [...iface, ...remotePeer, ...x2Moved])]);
      const synced = await peers();
      expect([...synced.keys()].sort()).toEqual([remote.pub, x2.pub].sort());
      expect(synced.get(x2.pub)!.allowedIps).toBe('10.99.3.0/24');
      expect(synced.get(remote.pub)!.latestHandshake).toBe(handshakeBefore);
      expect(await ping(ns, '10.211.0.2')).toBe(true);

      // setconf replaces everything: the peers not in the file go, including the live one.
      await wg(ns, ['setconf', me.name, confFile(lab.tmp, 'set2.conf', ['[Interface]', `PrivateKey = ${key.priv}`, 'ListenPort = 51830', ...x1Peer])]);
      const replaced = await dump(ns, me.name);
      expect(replaced.listenPort).toBe('51830');
      expect(replaced.peers.map((p) => p.publicKey)).toEqual([x1.pub]);
    });

    it('rejects a listen port that another socket holds, and recovers', async () => {
      const me = await startDaemon(lab, impl, lab.nodes[0]);
      const other = await startDaemon(lab, WIREGUARD_GO, lab.nodes[0]);
      const ns = me.node.ns;
      await wg(ns, ['set', me.name, 'listen-port', '51850']);
      await wg(ns, ['set', other.name, 'listen-port', '51851']);
      const r = await run('wg', ['set', me.name, 'listen-port', '51851'], { ns });
      expect(r.code, 'wg set should fail (EADDRINUSE)').not.toBe(0);
      expect(r.stderr).toMatch(/in use/i);
      // wireguard-go has already closed its old socket at this point and reports port 0; only require that the
      // daemon survives the error and accepts a free port afterwards.
      await wg(ns, ['set', me.name, 'listen-port', '51852']);
      expect((await wg(ns, ['show', me.name, 'listen-port'])).trim()).toBe('51852');
    });
  },
);
