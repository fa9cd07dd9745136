// `wiretun show/showconf/set/syncconf` against the real `wg` on the same live wiretund interface: byte for byte
// equal output, after a real handshake so the handshake and transfer lines exist. Root only.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressTunnel, Iface, startDaemon } from './lib/daemon';
import { assertAvailable, REPO, skipReason, WIRETUND } from './lib/env';
import { Lab } from './lib/lab';
import { must, run, RunResult } from './lib/proc';
import { genKeyPair, genPsk, KeyPair, ping, wg } from './lib/wg';
import { waitFor } from './lib/wait';

const BIN = path.join(REPO, 'bin', 'wiretun');
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('\n*** SKIPPED: test/netns/wg-cli.test.ts needs root (namespaces, TUN, /var/run/wireguard) ***\n');

const wiretun = (ns: string, args: string[], env?: Record<string, string>) => run(BIN, args, { ns, env });

/**
 * Runs `wg ARGS` and `wiretun ARGS` until both print the same (at most 3 tries): "N seconds ago" may tick
 * between the two calls, which is the only difference allowed.
 */
async function sameAsWg(ns: string, args: string[], env?: Record<string, string>): Promise<{ ours: RunResult; theirs: RunResult }> {
  let last: { ours: RunResult; theirs: RunResult } | undefined;
  for (let i = 0; i < 3; i++) {
    const theirs = await run('wg', args, { ns, env });
    const ours = await wiretun(ns, args, env);
    last = { ours, theirs };
    if (ours.stdout === theirs.stdout && ours.code === theirs.code) break;
  }
  expect(last!.ours.stdout, `wiretun ${args.join(' ')} vs wg: stderr ${last!.ours.stderr}`).toBe(last!.theirs.stdout);
  expect(last!.ours.code).toBe(last!.theirs.code);
  return last!;
}

const FIELDS = ['public-key', 'private-key', 'listen-port', 'fwmark', 'peers', 'preshared-keys', 'endpoints', 'allowed-ips', 'latest-handshakes', 'persistent-keepalive', 'transfer', 'dump'];

describe.skipIf(!isRoot || skipReason !== undefined)('wiretun show/showconf/set/syncconf = wg', () => {
  let lab: Lab;
  let a: Iface;
  let b: Iface;
  let keyA: KeyPair;
  let keyB: KeyPair;
  let keyC: KeyPair;
  let psk: string;

  beforeAll(async () => {
    assertAvailable(WIRETUND);
    lab = await Lab.create(2);
    [keyA, keyB, keyC] = await Promise.all([0, 1, 2].map(() => genKeyPair(lab.tmp)));
    psk = (await genPsk(lab.tmp)).file;
    a = await startDaemon(lab, WIRETUND, lab.nodes[0]);
    b = await startDaemon(lab, WIRETUND, lab.nodes[1]);
    await addressTunnel(a, 1);
    await addressTunnel(b, 2);
    await wg(b.node.ns, ['set', b.name, 'private-key', keyB.file, 'listen-port', '51821', 'peer', keyA.pub, 'preshared-key', psk, 'allowed-ips', `${a.v4}/32,${a.v6}/128`]);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('configures with wiretun set, refusing bad arguments without applying anything', async () => {
    const ns = a.node.ns;
    const set = (args: string[]) => wiretun(ns, ['set', a.name, ...args]);
    let r = await set(['private-key', keyA.file, 'listen-port', '51820', 'fwmark', '0x1234', 'peer', keyB.pub, 'preshared-key', psk, 'endpoint', `${lab.nodes[1].v4}:51821`, 'persistent-keepalive', '25', 'allowed-ips', `${b.v4}/32, 10.99.0.0/16`]);
    expect(r.code, r.stderr).toBe(0);
    r = await set(['peer', keyB.pub, 'allowed-ips', `+${b.v6}/128,-10.99.0.0/16`, 'peer', keyC.pub, 'allowed-ips', '10.77.0.0/16', 'endpoint', 'localhost:9']);
    expect(r.code, r.stderr).toBe(0);
    const before = await must('wg', ['show', a.name, 'dump'], { ns });
    for (const bad of [['peer', 'notakey'], ['fwmark', '0x1ffffffff'], ['listen-port', '70000'], ['peer', keyB.pub, 'allowed-ips', '10.0.0.0/33'], ['peer', keyB.pub, 'persistent-keepalive', 'often'], ['peer', keyB.pub, 'listen-port', '1'], ['private-key', '/nonexistent']]) {
      r = await set(['listen-port', '40000', ...bad]);
      expect(r.code, `wiretun set ${bad.join(' ')}`).toBe(1);
      expect(r.stderr).toMatch(new RegExp(bad[bad.length - 2] === 'peer' && bad.length === 2 ? 'peer' : bad[bad.length - 2]));
    }
    expect(await must('wg', ['show', a.name, 'dump'], { ns })).toBe(before);
    expect(before).toContain(`${b.v4}/32,${b.v6}/128\t`);
    expect(before).toContain('127.0.0.1:9');
  });

  it('prints what wg prints, after a handshake', async () => {
    await waitFor('ping through the tunnel', () => ping(a.node.ns, b.v4!), { timeoutMs: 15_000, intervalMs: 200, maxTries: 60 });
    const ns = a.node.ns;
    const shown = await sameAsWg(ns, ['show', a.name]);
    expect(shown.ours.stdout).toMatch(/latest handshake: .*ago|latest handshake: Now/);
    expect(shown.ours.stdout).toMatch(/transfer: .* received, .* sent/);
    expect(shown.ours.stdout).toContain('private key: (hidden)');
    await sameAsWg(ns, ['show', a.name], { WG_COLOR_MODE: 'always' });
    await sameAsWg(ns, ['show', a.name], { WG_HIDE_KEYS: 'never' });
    for (const f of FIELDS) await sameAsWg(ns, ['show', a.name, f]);
    await sameAsWg(ns, ['showconf', a.name]);
    // `all` also meets other interfaces on this host (wg hangs on a wedged one): compare our interface's lines
    // with wg's single-interface dump, prefixed as wg prefixes them.
    const theirs = (await must('wg', ['show', a.name, 'dump'], { ns })).split('\n').filter(Boolean).map((l) => `${a.name}\t${l}`);
    const all = await run(BIN, ['show', 'all', 'dump'], { ns, timeoutMs: 30_000 });
    expect(all.stdout.split('\n').filter((l) => l.startsWith(`${a.name}\t`)).map((l) => l.replace(/\t\d+\t\d+\t(\d+|off)$/, ''))).toEqual(
      theirs.map((l) => l.replace(/\t\d+\t\d+\t(\d+|off)$/, '')),
    );
    const json = JSON.parse(await must(BIN, ['show', a.name, '--json'], { ns }));
    expect(json.publicKey).toBe(keyA.pub);
    expect(JSON.stringify(json)).not.toContain(keyA.priv);
  });

  it('syncconf removes the peer missing from the file and keeps the other session', async () => {
    const ns = a.node.ns;
    const hs = async () => (await must('wg', ['show', a.name, 'latest-handshakes'], { ns })).split('\n').find((l) => l.startsWith(keyB.pub));
    const before = await hs();
    const conf = (await must(BIN, ['showconf', a.name], { ns })).split('\n\n').filter((block) => !block.includes(keyC.pub)).join('\n\n');
    const file = path.join(lab.tmp, 'sync.conf');
    writeFileSync(file, conf, { mode: 0o600 });
    const r = await wiretun(ns, ['syncconf', a.name, file]);
    expect(r.code, r.stderr).toBe(0);
    const peers = await must('wg', ['show', a.name, 'peers'], { ns });
    expect(peers).not.toContain(keyC.pub);
    expect(peers).toContain(keyB.pub);
    expect(await ping(a.node.ns, b.v4!)).toBe(true);
    // The same session: no new handshake was needed for that ping.
    expect(await hs()).toBe(before);
    await sameAsWg(ns, ['showconf', a.name]);
  });
});
