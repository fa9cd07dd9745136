// wiretund --user nobody: after set-up every thread runs as nobody, only the UAPI thread keeps CAP_NET_ADMIN,
// and everything a running interface needs still works against a real peer (Debian's wireguard-go):
// handshake, fwmark changes (checked on the sockets and on the packets), peers, listen-port changes, SIGTERM.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRunning, sockPath } from './lib/daemon';
import { assertAvailable, Impl, skipReason, WIREGUARD_GO, WIRETUND } from './lib/env';
import { daemonPids, killDaemons, Lab } from './lib/lab';
import { must, run, runDetaching } from './lib/proc';
import { PORT_B, twoNode, TwoNode, waitPing } from './lib/tunnel';
import { waitFor } from './lib/wait';
import { dump, genKeyPair, peerOf, ping, wg } from './lib/wg';

const NET_ADMIN = 1n << 12n;
const DROPPED: Impl = { ...WIRETUND, args: ['--user', 'nobody'] };

interface ThreadCreds {
  tid: number;
  name: string;
  uid: string[];
  gid: string[];
  groups: string;
  capInh: bigint;
  capPrm: bigint;
  capEff: bigint;
  capBnd: bigint;
  capAmb: bigint;
  noNewPrivs: string;
}

function threads(pid: number): ThreadCreds[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const f = new Map(
      readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as [string, string]),
    );
    const cap = (k: string) => BigInt(`0x${f.get(k)}`);
    return {
      tid: Number(tid),
      name: f.get('Name')!,
      uid: f.get('Uid')!.split(/\s+/),
      gid: f.get('Gid')!.split(/\s+/),
      groups: f.get('Groups') ?? '',
      capInh: cap('CapInh'),
      capPrm: cap('CapPrm'),
      capEff: cap('CapEff'),
      capBnd: cap('CapBnd'),
      capAmb: cap('CapAmb'),
      noNewPrivs: f.get('NoNewPrivs')!,
    };
  });
}

const nftCounter = async (ns: string) => {
  const out = await must('nft', ['list', 'chain', 'inet', 'wtprivdrop', 'out'], { ns });
  return Number(/counter packets (\d+)/.exec(out)?.[1] ?? -1);
};

describe.skipIf(skipReason !== undefined)('wiretund --user nobody', () => {
  let lab: Lab;
  let t: TwoNode;
  let pid: number;
  let nobody: { uid: string; gid: string };

  beforeAll(async () => {
    assertAvailable(WIRETUND);
    nobody = { uid: (await must('id', ['-u', 'nobody'])).trim(), gid: (await must('id', ['-g', 'nobody'])).trim() };
    lab = await Lab.create(2);
    await lab.waitUnderlay(lab.nodes[0], lab.nodes[1]);
    t = await twoNode(lab, { label: 'privdrop', initiator: DROPPED, responder: WIREGUARD_GO });
    [pid] = daemonPids([t.a.iface.name]);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  const expectDropped = () => {
    const all = threads(pid);
    for (const th of all) {
      const who = `thread ${th.tid} (${th.name})`;
      expect(th.uid, who).toEqual(Array(4).fill(nobody.uid));
      expect(th.gid, who).toEqual(Array(4).fill(nobody.gid));
      expect(th.groups, who).toBe('');
      expect([th.capInh, th.capAmb], who).toEqual([0n, 0n]);
      // The UAPI thread applies every configuration change, SO_MARK included; the JS thread needs nothing.
      const kept = th.name === 'wt-uapi' ? NET_ADMIN : 0n;
      expect([th.capPrm, th.capEff], who).toEqual([kept, kept]);
    }
    expect(all.filter((th) => th.name === 'wt-uapi')).toHaveLength(1);
    const main = all.find((th) => th.tid === pid)!;
    expect([main.capBnd, main.noNewPrivs]).toEqual([NET_ADMIN, '1']);
    // The data plane's threads start after the restriction and inherit it: nothing to regain through execve.
    const dataPlane = all.filter((th) => th.name.startsWith('wt-'));
    expect(dataPlane.map((th) => th.name)).toEqual(expect.arrayContaining(['wt-recv', 'wt-send', 'wt-timers', 'wt-uapi']));
    for (const th of dataPlane) expect([th.capBnd, th.noNewPrivs], th.name).toEqual([NET_ADMIN, '1']);
  };

  it('runs every thread as nobody; only the UAPI thread keeps CAP_NET_ADMIN, with a reduced bounding set', () => {
    expectDropped();
    // The UAPI socket stays root's, closed to group and others: other processes running as nobody (a shared
    // account) cannot reach the keys.
    const st = statSync(sockPath(t.a.iface.name));
    expect([st.uid, st.mode & 0o077]).toEqual([0, 0]);
  });

  it('handshakes and pings both ways', async () => {
    await waitPing(t.a, t.b, 4);
    await waitPing(t.a, t.b, 6);
    await waitPing(t.b, t.a, 4);
    expect((await peerOf(t.a.iface.node.ns, t.a.iface.name, t.b.key.pub))!.latestHandshake).toBeGreaterThan(0);
  });

  it('applies fwmark changes: wg shows them, the sockets carry the mark, and so do the packets', async () => {
    const { name, node: { ns } } = t.a.iface;
    const peerPort = String(PORT_B);
    await must('nft', ['-f', '-'], {
      ns,
      input: `table inet wtprivdrop { chain out { type filter hook output priority 0; meta mark 0x1234 udp dport ${peerPort} counter; }; }\n`,
    });
    for (const mark of ['0x1234', '0x4321']) {
      await wg(ns, ['set', name, 'fwmark', mark]);
      expect((await wg(ns, ['show', name, 'fwmark'])).trim()).toBe(mark);
      // Both sockets (IPv4 and IPv6) of this daemon, as the kernel reports their mark.
      const marked = await must('ss', ['-Huapn', `fwmark = ${mark}`], { ns });
      expect(marked.split('\n').filter((l) => l.includes(`pid=${pid},`)).length, marked).toBe(2);
    }
    expect((await must('ss', ['-Huapn', 'fwmark = 0x1234'], { ns })).trim()).toBe('');
    await wg(ns, ['set', name, 'fwmark', '0x1234']);
    const before = await nftCounter(ns);
    expect(await ping(ns, t.b.iface.v4!)).toBe(true);
    expect(await nftCounter(ns)).toBeGreaterThan(before);
  });

  it('adds and removes peers while the real peer keeps working', async () => {
    const { name, node: { ns } } = t.a.iface;
    const extra = await Promise.all(Array.from({ length: 20 }, () => genKeyPair(lab.tmp)));
    const args = extra.flatMap((k, i) => ['peer', k.pub, 'allowed-ips', `10.212.${i}.0/24`]);
    await wg(ns, ['set', name, ...args]);
    expect((await dump(ns, name)).peers.length).toBe(21);
    await wg(ns, ['set', name, ...extra.flatMap((k) => ['peer', k.pub, 'remove'])]);
    const left = (await dump(ns, name)).peers;
    expect(left.map((p) => p.publicKey)).toEqual([t.b.key.pub]);
    expect(await ping(ns, t.b.iface.v4!)).toBe(true);
  });

  it('moves to another listen port >= 1024 and keeps talking; a port below 1024 is refused (EACCES)', async () => {
    const { name, node: { ns } } = t.a.iface;
    await wg(ns, ['set', name, 'listen-port', '40123']);
    expect((await wg(ns, ['show', name, 'listen-port'])).trim()).toBe('40123');
    // The new sockets are marked too (created by the thread that kept CAP_NET_ADMIN).
    const marked = await must('ss', ['-Huapn', 'fwmark = 0x1234', 'sport = :40123'], { ns });
    expect(marked.trim().split('\n').length, marked).toBe(2);
    await waitPing(t.a, t.b);
    await waitFor('the peer to see the new port', async () => (await peerOf(t.b.iface.node.ns, t.b.iface.name, t.a.key.pub))?.endpoint.endsWith(':40123') ?? false, {
      timeoutMs: 5_000,
    });
    const low = await run('wg', ['set', name, 'listen-port', '80'], { ns });
    expect(low.code).not.toBe(0);
    expect(low.stderr).toMatch(/Permission denied/);
    expect((await wg(ns, ['show', name, 'listen-port'])).trim()).toBe('40123');
    expect(await ping(ns, t.b.iface.v4!)).toBe(true);
  });

  it('exits on SIGTERM with its interface; the root-owned socket it leaves is removed by the next start and by wg', async () => {
    const { name, node: { ns } } = t.a.iface;
    expectDropped(); // still so after all of the above: no thread started since has gained anything
    killDaemons([name], 'SIGTERM');
    await waitFor(`${name} to exit`, () => !isRunning(name), { timeoutMs: 10_000 });
    expect((await run('ip', ['-n', ns, 'link', 'show', 'dev', name])).code).not.toBe(0);
    // Documented leftover: nobody cannot unlink in root's /var/run/wireguard.
    expect(existsSync(sockPath(name))).toBe(true);
    const again = await runDetaching(WIRETUND.command, ['--user', 'nobody', name], path.join(lab.tmp, 'again.log'), { ns, timeoutMs: 20_000 });
    expect(again.code, again.stdout).toBe(0);
    await wg(ns, ['show', name]);
    killDaemons([name], 'SIGTERM');
    await waitFor(`${name} to exit again`, () => !isRunning(name), { timeoutMs: 10_000 });
    expect((await must('wg', ['show', 'interfaces'])).split(/\s+/)).not.toContain(name);
    expect(existsSync(sockPath(name))).toBe(false);
  });
});

describe.skipIf(skipReason !== undefined)('wiretund --user refusals', () => {
  let lab: Lab;

  beforeAll(async () => {
    assertAvailable(WIRETUND);
    lab = await Lab.create(1);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  const attempt = async (args: string[], opts: { asNobody?: boolean } = {}) => {
    const name = lab.ifname();
    const cmd = opts.asNobody ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', WIRETUND.command] : [WIRETUND.command];
    const r = await runDetaching(cmd[0], [...cmd.slice(1), ...args, name], path.join(lab.tmp, `${name}.log`), { ns: lab.nodes[0].ns });
    const left = (await run('ip', ['-n', lab.nodes[0].ns, 'link', 'show', 'dev', name])).code === 0;
    return { code: r.code, out: r.stdout, left: left || existsSync(sockPath(name)) || daemonPids([name]).length > 0 };
  };

  it('an unknown user: a clear message, exit 1, nothing left behind', async () => {
    expect(await attempt(['--user', 'wt-no-such-user'])).toEqual({ code: 1, out: 'wiretund: unknown user "wt-no-such-user"\n', left: false });
  });

  it('not root: a clear message, exit 1, nothing left behind', async () => {
    const r = await attempt(['--user', 'nobody'], { asNobody: true });
    expect(r.out).toContain('wiretund: --user nobody needs root');
    expect(r, r.out).toMatchObject({ code: 1, left: false });
  });

  it('WIRETUN_USER is --user for callers that pass only the name (wg-quick)', async () => {
    const name = lab.ifname();
    const r = await runDetaching(WIRETUND.command, [name], path.join(lab.tmp, `${name}.log`), {
      ns: lab.nodes[0].ns,
      env: { WIRETUN_USER: 'nobody' },
    });
    expect(r.code, r.stdout).toBe(0);
    const [pid] = daemonPids([name]);
    const main = threads(pid).find((th) => th.tid === pid)!;
    expect(main.uid[0]).toBe((await must('id', ['-u', 'nobody'])).trim());
  });
});
