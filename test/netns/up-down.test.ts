// `wiretun up/down` against the real `wg-quick up/down` (userspace fallback, same daemon for both) in
// namespaces this test creates: a client namespace running them, a server namespace with a wireguard-go peer,
// joined by a veth pair. The client's whole network state (addresses, routes of every table, rules, sysctls,
// nft ruleset, MTU) after `wiretun up` must equal what wg-quick produced, traffic must flow through the default
// route, and `down` (also after `kill -9` of the daemon, and the rollback of a failing PostUp) must give back
// exactly the state from before.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './lib/env';
import { daemonPids, killDaemons, removeSocket } from './lib/lab';
import { snapshot } from './lib/netstate';
import { must, run, runDetaching } from './lib/proc';
import { waitFor } from './lib/wait';
import { localBinary } from '../../ts/native-loader';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('\n*** SKIPPED: test/netns/up-down.test.ts needs root (namespaces, TUN, nft) ***\n');

const NS_C = `wtud-c-${process.pid}`;
const NS_S = `wtud-s-${process.pid}`;
const IF_C = 'wtud0';
const IF_S = 'wtuds0';
const STATE_DIR = '/var/run/wiretun';

/** The daemon both wg-quick and wiretun start: this repo's when built, else wireguard-go (said loudly). */
function daemon(): string {
  const own = process.env.WIRETUN_TEST_WIRETUND ?? path.join(REPO, 'bin', 'wiretund');
  if (existsSync(own) && existsSync(localBinary(REPO))) return own;
  console.warn(`\n*** up-down.test.ts: ${own} is not built; both sides use /usr/bin/wireguard-go as the daemon ***\n`);
  return '/usr/bin/wireguard-go';
}

let work: string;
let DAEMON: string;
const keys: Record<string, string> = {};

const inC = (cmd: string, args: string[]) => must(cmd, args, { ns: NS_C });
const inS = (cmd: string, args: string[]) => must(cmd, args, { ns: NS_S });

async function genKey(): Promise<[string, string]> {
  const priv = (await must('wg', ['genkey'])).trim();
  const pub = (await must('wg', ['pubkey'], { input: priv })).trim();
  return [priv, pub];
}

function writeConf(dir: string, extra = ''): string {
  const file = path.join(work, dir, `${IF_C}.conf`);
  const text =
    `[Interface]\nPrivateKey = ${keys.cPriv}\nAddress = 10.88.0.2/24, fd88::2/64\n${extra}\n` +
    `[Peer]\nPublicKey = ${keys.sPub}\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 192.0.2.2:51820\n`;
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** wiretun through the compiled CLI modules (bin/wiretun when the dispatcher exists). */
function wiretun(args: string[], env: Record<string, string> = {}) {
  const log = path.join(work, 'wiretun.log');
  writeFileSync(log, '');
  const bin = path.join(REPO, 'bin', 'wiretun');
  const argv = existsSync(bin)
    ? [bin, ...args]
    : ['node', '-e', `require(${JSON.stringify(path.join(REPO, 'dist/cli'))} + '/' + process.argv[1] + '.js').run(process.argv.slice(2)).then((c) => process.exit(c))`, ...args];
  return runDetaching(argv[0], argv.slice(1), log, { ns: NS_C, env: { WIRETUN_DAEMON: DAEMON, ...env }, timeoutMs: 60_000 });
}

function wgQuick(args: string[]) {
  const log = path.join(work, 'wg-quick.log');
  writeFileSync(log, '');
  return runDetaching('wg-quick', args, log, { ns: NS_C, env: { WG_QUICK_USERSPACE_IMPLEMENTATION: DAEMON }, timeoutMs: 60_000 });
}

/** The snapshot less wiretun's one addition to wg-quick's state, which must be there: an unreachable default
 * per family in the policy table (ts/routing/fail-closed.ts). */
function withoutFailClosed(s: Record<string, unknown>): Record<string, unknown> {
  const out = { ...s };
  for (const k of ['routes4', 'routes6']) {
    const routes = s[k] as Record<string, unknown>[];
    const ours = (r: Record<string, unknown>) => r.type === 'unreachable' && r.dst === 'default' && r.metric === 4294967295;
    expect(routes.filter(ours).map((r) => r.table ?? '51820')).toEqual(['51820']);
    out[k] = routes.filter((r) => !ours(r));
  }
  return out;
}

const ping = (to: string) => run('ping', ['-c', '1', '-W', '2', to], { ns: NS_C, timeoutMs: 5_000 });

async function waitPing(to: string): Promise<void> {
  await waitFor(`ping ${to} through the tunnel`, async () => (await ping(to)).code === 0, { timeoutMs: 15_000, maxTries: 30 });
}

async function setupServer(): Promise<void> {
  const log = path.join(work, 'server.log');
  const r = await runDetaching('/usr/bin/wireguard-go', [IF_S], log, { ns: NS_S });
  if (r.code !== 0) throw new Error(`wireguard-go ${IF_S} failed: ${r.stdout}`);
  writeFileSync(path.join(work, 's.key'), keys.sPriv, { mode: 0o600 });
  await inS('wg', ['set', IF_S, 'private-key', path.join(work, 's.key'), 'listen-port', '51820', 'peer', keys.cPub, 'allowed-ips', '10.88.0.2/32,fd88::2/128']);
  await inS('ip', ['address', 'add', '10.88.0.1/24', 'dev', IF_S]);
  await inS('ip', ['-6', 'address', 'add', 'fd88::1/64', 'dev', IF_S, 'nodad']);
  await inS('ip', ['link', 'set', IF_S, 'up']);
  // An address beyond the tunnel subnet: reachable from the client only through the tunnel's default route.
  await inS('ip', ['address', 'add', '198.51.100.1/32', 'dev', 'lo']);
}

async function setupNamespaces(): Promise<void> {
  await must('ip', ['netns', 'add', NS_C]);
  await must('ip', ['netns', 'add', NS_S]);
  await inC('ip', ['link', 'set', 'lo', 'up']);
  await inS('ip', ['link', 'set', 'lo', 'up']);
  await inC('ip', ['link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1', 'netns', NS_S]);
  await inC('ip', ['address', 'add', '192.0.2.1/24', 'dev', 'up0']);
  await inS('ip', ['address', 'add', '192.0.2.2/24', 'dev', 'up1']);
  await inC('ip', ['link', 'set', 'up0', 'up']);
  await inS('ip', ['link', 'set', 'up1', 'up']);
  await inC('ip', ['route', 'add', 'default', 'via', '192.0.2.2']);
  // Snapshots taken while up0's link-local is still in DAD would differ from later ones. The kernel adds that
  // address only once the veth has carrier, so wait for it to exist, not just for "nothing tentative".
  await waitFor('IPv6 link-local on up0, past DAD', async () => {
    const ll = await inC('ip', ['-6', 'address', 'show', 'dev', 'up0', 'scope', 'link']);
    return ll.includes('fe80') && !ll.includes('tentative');
  }, {
    timeoutMs: 10_000,
    maxTries: 100,
  });
}

async function cleanup(): Promise<void> {
  killDaemons([IF_C, IF_S], 'SIGKILL');
  for (const ns of [NS_C, NS_S]) await run('ip', ['netns', 'del', ns]);
  for (const i of [IF_C, IF_S]) removeSocket(i);
  rmSync(path.join(STATE_DIR, `${IF_C}.json`), { force: true });
  if (work) rmSync(work, { recursive: true, force: true });
}

describe.skipIf(!isRoot)('wiretun up/down against wg-quick', () => {
  let before: Record<string, unknown>;
  let wgQuickUp: Record<string, unknown>;
  let conf: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'wiretun-updown-'));
    DAEMON = daemon();
    await must('npx', ['tsc', '-p', path.join(REPO, 'tsconfig.json')], { timeoutMs: 120_000 });
    [keys.cPriv, keys.cPub] = await genKey();
    [keys.sPriv, keys.sPub] = await genKey();
    for (const d of ['main', 'failing']) await must('mkdir', ['-m', '700', path.join(work, d)]);
    conf = writeConf('main');
    try {
      await setupNamespaces();
      await setupServer();
    } catch (err) {
      await cleanup();
      throw err;
    }
  }, 180_000);

  afterAll(cleanup, 30_000);

  it('wg-quick up/down: the reference state (and the tunnel works under it)', async () => {
    const initial = await snapshot(NS_C);
    const up = await wgQuick(['up', conf]);
    expect(up.code, up.stdout).toBe(0);
    wgQuickUp = await snapshot(NS_C);
    // The comparison below is only worth something if this is the full default-route set-up.
    expect(wgQuickUp.rules4).toContain('not from all fwmark 0xca6c lookup 51820');
    expect(wgQuickUp.nft).toContain('table ip6 wg-quick-wtud0');
    expect(JSON.stringify(wgQuickUp.routes4)).toContain('"table":"51820"');
    await waitPing('198.51.100.1');
    const down = await wgQuick(['down', conf]);
    expect(down.code, down.stdout).toBe(0);
    before = await snapshot(NS_C);
    // wg-quick leaves src_valid_mark on; everything else is as it was.
    expect({ ...before, srcValidMark: initial.srcValidMark }).toEqual(initial);
  }, 60_000);

  it('wiretun up gives the same addresses, routes, rules, sysctls, nft ruleset and MTU; traffic flows', async () => {
    const up = await wiretun(['up', conf]);
    expect(up.code, up.stdout).toBe(0);
    expect(withoutFailClosed(await snapshot(NS_C))).toEqual(wgQuickUp);
    await waitPing('198.51.100.1');
    await waitPing('fd88::1');
  }, 60_000);

  it('wiretun down restores the state from before exactly', async () => {
    const down = await wiretun(['down', conf]);
    expect(down.code, down.stdout).toBe(0);
    expect(await snapshot(NS_C)).toEqual(before);
    expect(existsSync(path.join(STATE_DIR, `${IF_C}.json`))).toBe(false);
  }, 60_000);

  it('down after kill -9 of the daemon restores it too', async () => {
    const up = await wiretun(['up', conf]);
    expect(up.code, up.stdout).toBe(0);
    const pids = daemonPids([IF_C]);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await waitFor(`${IF_C} to vanish`, async () => (await run('ip', ['-n', NS_C, 'link', 'show', IF_C])).code !== 0, { timeoutMs: 10_000 });
    removeSocket(IF_C);
    const down = await wiretun(['down', conf]);
    expect(down.code, down.stdout).toBe(0);
    expect(down.stdout).toContain('daemon is gone');
    expect(await snapshot(NS_C)).toEqual(before);
  }, 60_000);

  it('a failing PostUp rolls everything back and exits 1', async () => {
    const failing = writeConf('failing', 'PostUp = echo post-up-ran; false\n');
    const up = await wiretun(['up', failing]);
    expect(up.code, up.stdout).toBe(1);
    expect(up.stdout).toContain('post-up-ran');
    expect(up.stdout).toMatch(/up wtud0 failed; everything it changed was undone/);
    expect(await snapshot(NS_C)).toEqual(before);
    expect(existsSync(path.join(STATE_DIR, `${IF_C}.json`))).toBe(false);
  }, 60_000);

  it('--masquerade adds forwarding and NAT for the tunnel subnets; down removes exactly that', async () => {
    const up = await wiretun(['up', conf, '--masquerade', 'up0']);
    expect(up.code, up.stdout).toBe(0);
    const s = await snapshot(NS_C);
    expect([s.forward4, s.forward6]).toEqual(['1', '1']);
    expect(s.nft).toContain('ip saddr 10.88.0.0/24 oifname "up0" masquerade');
    expect(s.nft).toContain('ip6 saddr fd88::/64 oifname "up0" masquerade');
    const down = await wiretun(['down', conf]);
    expect(down.code, down.stdout).toBe(0);
    expect(await snapshot(NS_C)).toEqual(before);
  }, 60_000);

  it('SaveConfig = true: down writes the running config back, keeping the wg-quick keys', async () => {
    const saving = writeConf('failing', 'SaveConfig = true\nPostDown = echo bye %i\n');
    const up = await wiretun(['up', saving]);
    expect(up.code, up.stdout).toBe(0);
    await inC('wg', ['set', IF_C, 'peer', keys.sPub, 'persistent-keepalive', '25']);
    const down = await wiretun(['down', saving]);
    expect(down.code, down.stdout).toBe(0);
    expect(down.stdout).toContain('[#] wg showconf wtud0');
    const text = readFileSync(saving, 'utf8');
    expect(text).toContain('PersistentKeepalive = 25');
    expect(text).toContain(`PrivateKey = ${keys.cPriv}`);
    expect(text).toContain('Address = 10.88.0.2/24');
    expect(text).toContain('PostDown = echo bye %i');
    expect(text).not.toContain('fe80');
    expect(statSync(saving).mode & 0o777).toBe(0o600);
    expect(await snapshot(NS_C)).toEqual(before);
  }, 60_000);

  it('refuses unknown flags', async () => {
    const r = await wiretun(['up', '--bogus', conf]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('unknown option --bogus');
  });
});
