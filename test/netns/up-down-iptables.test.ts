// The iptables fallback of `wiretun up`: on a machine without nft, wg-quick writes its default-route firewall
// rules with iptables-restore, and so must we. The same default-route config goes through the real `wg-quick up`
// and through `wiretun up` (both with wiretund as the daemon, both where nft cannot be found); the
// iptables and ip6tables rules, policy rules, routes and sysctl must be the same, and `down` must give back the
// state from before.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './lib/env';
import { killDaemons, removeSocket } from './lib/lab';
import { must, run, runDetaching } from './lib/proc';

const isRoot = process.getuid?.() === 0;
const hasIptables = existsSync('/usr/sbin/iptables-restore') || existsSync('/sbin/iptables-restore');
const skip = !isRoot
  ? 'needs root'
  : !hasIptables
    ? 'needs iptables (apt-get install iptables)'
    : !existsSync('/usr/sbin/nft')
      ? 'needs /usr/sbin/nft to hide'
      : undefined;
if (skip) console.warn(`\n*** SKIPPED: test/netns/up-down-iptables.test.ts ${skip} ***\n`);

const NS = `wtipt-${process.pid}`;
const IF = `wtipt${process.pid % 10000}`;
const WIRETUND = path.join(REPO, 'bin', 'wiretund');

let work: string;

/** Runs argv in the test namespace with nft gone: in a private mount namespace, /usr/sbin (and so /sbin) is
 * replaced by a tmpfs of links to everything in it but nft. wg-quick's `type -p nft` and our own lookup (which
 * also searches the sbin directories) then both take the iptables path; the host's /usr/sbin is untouched. */
function withoutNft(argv: string[]): [string, string[]] {
  const real = path.join(work, 'real-sbin');
  const hide = [
    `mkdir -p ${real}`,
    `mount --bind /usr/sbin ${real}`,
    'mount -t tmpfs tmpfs /usr/sbin',
    `for f in ${real}/*; do [ "\${f##*/}" = nft ] || ln -s "$f" "/usr/sbin/\${f##*/}"; done`,
    'exec "$@"',
  ].join(' && ');
  return ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', hide, 'sh', 'ip', 'netns', 'exec', NS, ...argv]];
}

const inNs = (cmd: string, args: string[]) => must(cmd, args, { ns: NS });

/** Rules as iptables-save prints them, without the lines that differ between two identical set-ups. */
async function rules(save: string): Promise<string> {
  const out = await inNs(save, []);
  return out
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[n:n]').replace(/fe80::[0-9a-f:]+/g, 'fe80::LL'))
    .join('\n');
}

/** Route dumps list a table's routes in an order that depends on their history; the set is what counts. */
const sorted = (text: string) => text.trim().split('\n').sort().join('\n');

async function snapshot(): Promise<Record<string, string>> {
  return {
    iptables: await rules('iptables-save'),
    ip6tables: await rules('ip6tables-save'),
    rules4: await inNs('ip', ['-4', 'rule', 'show']),
    rules6: await inNs('ip', ['-6', 'rule', 'show']),
    routes4: sorted(await inNs('ip', ['-4', 'route', 'show', 'table', 'all'])),
    routes6: sorted((await inNs('ip', ['-6', 'route', 'show', 'table', 'all'])).replace(/fe80::[0-9a-f:]+/g, 'fe80::LL')),
    srcValidMark: (await inNs('sysctl', ['-n', 'net.ipv4.conf.all.src_valid_mark'])).trim(),
  };
}

/** wiretun's one addition to wg-quick's state: the fail-closed unreachable default per family (SECURITY.md). */
function withoutFailClosed(s: Record<string, string>): Record<string, string> {
  const drop = (text: string) => {
    const lines = text.split('\n');
    const ours = lines.filter((l) => /^unreachable default (dev lo )?table \d+ .*metric 4294967295/.test(l));
    expect(ours, 'the fail-closed route').toHaveLength(1);
    return lines.filter((l) => !ours.includes(l)).join('\n');
  };
  return { ...s, routes4: drop(s.routes4), routes6: drop(s.routes6) };
}

async function upDown(tool: string[], verb: 'up' | 'down', conf: string): Promise<void> {
  const log = path.join(work, `${path.basename(tool[0])}-${verb}.log`);
  const env = { WG_QUICK_USERSPACE_IMPLEMENTATION: WIRETUND, WIRETUN_DAEMON: WIRETUND };
  const [cmd, args] = withoutNft([...tool, verb, conf]);
  const r = await runDetaching(cmd, args, log, { env, timeoutMs: 60_000 });
  expect(r.code, `${tool.join(' ')} ${verb}: ${r.stdout}`).toBe(0);
}

describe.skipIf(skip !== undefined)('wiretun up/down without nft: iptables rules as wg-quick makes them (root)', () => {
  let conf: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'wtipt-'));
    await must('ip', ['netns', 'add', NS]);
    await inNs('ip', ['link', 'set', 'lo', 'up']);
    // DAD off before any link exists, so link-local addresses (and their routes) are there at once.
    await inNs('sysctl', ['-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    // An underlay with a default route, as a real machine has (wg-quick derives the MTU from it).
    await inNs('ip', ['link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
    await inNs('ip', ['link', 'set', 'up1', 'up']);
    await inNs('ip', ['address', 'add', '192.0.2.1/24', 'dev', 'up0']);
    await inNs('ip', ['link', 'set', 'up0', 'up']);
    await inNs('ip', ['route', 'add', 'default', 'via', '192.0.2.254']);
    const priv = (await must('wg', ['genkey'])).trim();
    const peer = (await must('wg', ['pubkey'], { input: (await must('wg', ['genkey'])).trim() })).trim();
    conf = path.join(work, `${IF}.conf`);
    writeFileSync(
      conf,
      `[Interface]\nPrivateKey = ${priv}\nAddress = 10.89.0.2/24, fd89::2/64\n\n` +
        `[Peer]\nPublicKey = ${peer}\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 192.0.2.2:51820\n`,
      { mode: 0o600 },
    );
  }, 60_000);

  afterAll(async () => {
    killDaemons([IF], 'SIGKILL');
    removeSocket(IF);
    await run('ip', ['netns', 'del', NS]);
    rmSync(`/var/run/wiretun/${IF}.json`, { force: true });
    if (work && !process.env.WIRETUN_KEEP) rmSync(work, { recursive: true, force: true });
  });

  it('up writes the rules wg-quick writes with iptables-restore, and down removes them', async () => {
    const before = await snapshot();
    await upDown(['wg-quick'], 'up', conf);
    const quick = await snapshot();
    // The comparison is only meaningful if wg-quick really used iptables here.
    expect(quick.iptables).toMatch(/wg-quick\(8\) rule for /);
    expect(quick.ip6tables).toMatch(/wg-quick\(8\) rule for /);
    await upDown(['wg-quick'], 'down', conf);
    // wg-quick down leaves the (now empty) raw and mangle tables behind, and src_valid_mark on: that is the
    // state to come back to.
    const baseline = await snapshot();
    expect(baseline.iptables).not.toMatch(/wg-quick/);
    expect({ ...baseline, iptables: '', ip6tables: '' }).toEqual({ ...before, iptables: '', ip6tables: '', srcValidMark: '1' });

    await upDown([path.join(REPO, 'bin', 'wiretun')], 'up', conf);
    expect(withoutFailClosed(await snapshot())).toEqual(quick);
    await upDown([path.join(REPO, 'bin', 'wiretun')], 'down', conf);
    expect(await snapshot()).toEqual(baseline);
  }, 180_000);
});
