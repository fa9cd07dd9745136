// The daemon's life as wg-quick and users drive it: it ends when its interface or socket goes away or on
// SIGTERM, and it works as wg-quick's userspace fallback.
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addressTunnel, isRunning, sockPath, startDaemon, waitGone } from './lib/daemon';
import { assertAvailable, Impl, impls, skipReason, WIREGUARD_GO } from './lib/env';
import { daemonPids, killDaemons, Lab, removeSocket } from './lib/lab';
import { must, run, runDetaching } from './lib/proc';
import { waitFor } from './lib/wait';
import { genKeyPair, peerOf, ping, wg } from './lib/wg';

const linkExists = async (ns: string, name: string) => (await run('ip', ['-n', ns, 'link', 'show', 'dev', name])).code === 0;

describe.skipIf(skipReason !== undefined).each(impls())('daemon lifecycle: $label', ({ impl }) => {
  let lab: Lab;

  beforeAll(async () => {
    assertAvailable(impl);
    lab = await Lab.create(1);
  });

  afterEach(async () => {
    await lab?.stopDaemons();
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  const start = async () => {
    const i = await startDaemon(lab, impl, lab.nodes[0]);
    expect(isRunning(i.name), `${impl.name} ${i.name} should be running after it returned 0`).toBe(true);
    return i;
  };

  it('exits when its interface is deleted', async () => {
    const i = await start();
    await must('ip', ['-n', i.node.ns, 'link', 'del', 'dev', i.name]);
    await waitGone(i.name);
  });

  it('exits on SIGTERM, removing its interface and socket', async () => {
    const i = await start();
    killDaemons([i.name], 'SIGTERM');
    await waitGone(i.name);
    await waitFor(`${i.name} to be deleted`, async () => !(await linkExists(i.node.ns, i.name)), { timeoutMs: 5_000 });
  });

  it('exits when its UAPI socket is deleted', async () => {
    const i = await start();
    removeSocket(i.name);
    await waitFor(`${impl.name} to exit after its socket vanished`, () => !isRunning(i.name), { timeoutMs: 10_000 });
  });

  it('refuses a second daemon for the same interface name', async () => {
    const i = await start();
    const log = path.join(lab.tmp, `${i.name}.second.log`);
    const r = await runDetaching(impl.command, [i.name], log, { ns: i.node.ns, timeoutMs: 20_000 });
    expect(r.code, r.stdout).not.toBe(0);
    // The first daemon is unharmed.
    expect(existsSync(sockPath(i.name))).toBe(true);
    await wg(i.node.ns, ['show', i.name]);
  });
});

/** A wg-quick config named after its interface, readable only by root (wg-quick warns otherwise). */
function writeQuickConf(dir: string, ifname: string, body: string[]): string {
  const file = path.join(dir, `${ifname}.conf`);
  writeFileSync(file, `${body.join('\n')}\n`, { mode: 0o600 });
  return file;
}

describe.skipIf(skipReason !== undefined).each(impls())('wg-quick userspace fallback: $label', ({ impl }) => {
  let lab: Lab;

  beforeAll(async () => {
    assertAvailable(impl);
    lab = await Lab.create(2);
    await lab.waitUnderlay(lab.nodes[0], lab.nodes[1]);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  const cases = [
    { label: 'host routes', allowed: '10.211.0.2/32, fd00:211::2/128', probe: ['10.211.0.2', 'fd00:211::2'] },
    // A default route makes wg-quick mark the daemon's socket (fwmark 51820) and add policy rules: without the
    // mark honoured, the encrypted packets would be routed into the tunnel itself. Probe the far end's underlay
    // address too, which is now reached through the tunnel.
    { label: 'a default route', allowed: '0.0.0.0/0, ::/0', probe: ['10.211.0.2', 'fd00:211::2', '10.210.0.2'] },
  ];

  it.each(cases)('wg-quick up with $label brings up a working tunnel through the daemon; down ends it', async ({ allowed, probe }) => {
    const [mine, theirs] = [await genKeyPair(lab.tmp), await genKeyPair(lab.tmp)];
    const far = await startDaemon(lab, WIREGUARD_GO, lab.nodes[1]);
    await addressTunnel(far, 2);
    await wg(far.node.ns, ['set', far.name, 'private-key', theirs.file, 'listen-port', '51821',
      'peer', mine.pub, 'allowed-ips', '10.211.0.1/32,fd00:211::1/128']);

    const ifname = lab.ifname();
    const conf = writeQuickConf(lab.tmp, ifname, [
      '[Interface]', `PrivateKey = ${mine.priv}`, 'Address = 10.211.0.1/24, fd00:211::1/64', 'ListenPort = 51820', '',
      '[Peer]', `PublicKey = ${theirs.pub}`, `Endpoint = ${lab.nodes[1].v4}:51821`, `AllowedIPs = ${allowed}`,
    ]);
    const ns = lab.nodes[0].ns;
    await quick(impl, 'up', conf, ns, lab.tmp, ifname);
    expect(daemonPids([ifname]).length, `a daemon for ${ifname} after wg-quick up`).toBeGreaterThan(0);

    for (const addr of probe) {
      await waitFor(`ping ${addr} through wg-quick's tunnel`, () => ping(ns, addr), { timeoutMs: 10_000, intervalMs: 100, maxTries: 60 });
    }
    const rx = (await peerOf(far.node.ns, far.name, mine.pub))?.rx ?? 0;
    expect(rx, 'the far end received the probes through the tunnel').toBeGreaterThan(0);

    await quick(impl, 'down', conf, ns, lab.tmp, ifname);
    await waitGone(ifname);
    expect(await linkExists(ns, ifname)).toBe(false);
    await lab.stopDaemons();
  });
});

async function quick(impl: Impl, verb: 'up' | 'down', conf: string, ns: string, dir: string, ifname: string): Promise<void> {
  const log = path.join(dir, `wg-quick-${verb}-${ifname}.log`);
  const r = await runDetaching('wg-quick', [verb, conf], log, {
    ns,
    env: { WG_QUICK_USERSPACE_IMPLEMENTATION: impl.command },
    timeoutMs: 30_000,
  });
  expect(r.code, `wg-quick ${verb}:\n${r.stdout}`).toBe(0);
  // Proves the daemon under test ran, not a kernel module that happened to be loadable.
  if (verb === 'up') expect(r.stdout).toContain('Falling back to slow userspace implementation');
}
