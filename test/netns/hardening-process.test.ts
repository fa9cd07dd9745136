// What happens to a default-route tunnel when its processes end. kill -9 of the daemon must fail closed: not
// one plaintext packet towards the tunnelled destinations on the underlay (tshark on A's underlay device) until
// `wiretun down`, which then restores the routing so the same traffic visibly leaves in the clear. And
// `wiretun up --foreground` must, on SIGTERM/SIGINT, leave the system exactly as before `up` (routes of every
// table, rules, nftables, sysctls, DNS, the socket) with exit code 0; if its daemon dies, take it down, exit 1.
import { accessSync, constants, existsSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sockPath } from './lib/daemon';
import { assertAvailable, skipReason as labSkipReason, WIRETUND } from './lib/env';
import {
  DefaultRouteNet, defaultRouteNet, exitWithin, Foreground, hasStateFile, INTERNET4, INTERNET6, linkExists, pingOnce,
  startForeground, stateFile, stubResolvconf, waitPing, wiretun, writeClientConf,
} from './lib/hardening';
import { daemonPids, Lab } from './lib/lab';
import { snapshot } from './lib/netstate';
import { run, RunResult } from './lib/proc';
import { involves, Packet, UnderlayCapture } from './lib/underlay-capture';
import { waitFor } from './lib/wait';

function tsharkMissing(): boolean {
  try {
    accessSync('/usr/bin/tshark', constants.X_OK);
    return false;
  } catch {
    return true;
  }
}
const skipReason = labSkipReason ?? (tsharkMissing() ? 'hardening-process.test.ts needs tshark' : undefined);
if (skipReason && !labSkipReason) console.warn(`\n*** SKIPPED: ${skipReason} ***\n`);

const DAEMON_ENV = { WIRETUN_DAEMON: WIRETUND.command };
const tunnelled = involves(INTERNET4, INTERNET6);
const plaintextTo = (addr: string) => (p: Packet) => /^ICMP/.test(p.protocol) && p.addresses.includes(addr);

/** ICMP, UDP and TCP towards both tunnelled destinations; each attempt is bounded and expected to fail. */
async function tunnelledTraffic(ns: string): Promise<{ what: string; r: RunResult }[]> {
  const out: { what: string; r: RunResult }[] = [];
  for (const dst of [INTERNET4, INTERNET6]) {
    const tries: [string, string, string[]][] = [
      [`ICMP ${dst}`, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', dst]],
      [`UDP ${dst}`, 'bash', ['-c', `echo leak > /dev/udp/${dst}/5353`]],
      [`TCP ${dst}`, 'bash', ['-c', `exec 3<>/dev/tcp/${dst}/80`]],
    ];
    for (const [what, cmd, args] of tries) out.push({ what, r: await run(cmd, args, { ns, timeoutMs: 8_000 }) });
  }
  return out;
}

describe.skipIf(skipReason !== undefined)('hardening: processes ending under a default-route tunnel', () => {
  let lab: Lab;
  let net: DefaultRouteNet;
  let capture: UnderlayCapture | undefined;
  const running: Foreground[] = [];
  /** Configs brought up by a test: a failed test must not leave rules that break the next one. */
  const brought = new Map<string, string>();

  beforeAll(async () => {
    assertAvailable(WIRETUND);
    lab = await Lab.create(2);
    net = await defaultRouteNet(lab);
  }, 120_000);

  afterEach(async () => {
    for (const fg of running.splice(0)) fg.child.kill('SIGKILL');
    for (const [ifname, conf] of brought) {
      if (hasStateFile(ifname)) await wiretun(net.a.ns, ['down', conf], path.join(lab.tmp, `${ifname}.cleanup.log`), DAEMON_ENV);
    }
    brought.clear();
  }, 90_000);

  afterAll(async () => {
    await capture?.stop();
    for (const fg of running) fg.child.kill('SIGKILL');
    for (const name of lab?.ifnames ?? []) rmSync(stateFile(name), { force: true });
    await lab?.destroy();
  }, 60_000);

  /** The canary: LAN traffic stays in the clear by design (main's /24 wins via suppress_prefixlength 0). tshark
   * says "Capturing on" a moment before it really captures, so ping until the capture has seen one. */
  async function canary(from: number): Promise<void> {
    const seen = () => capture!.matching(plaintextTo(net.b.v4), from).length > 0;
    await waitFor('the capture to see a plaintext canary ping to the LAN', async () => (await pingOnce(net.a.ns, net.b.v4)) && seen(), {
      timeoutMs: 20_000,
      intervalMs: 200,
      maxTries: 60,
    });
  }

  it('kill -9 of the daemon fails closed: no plaintext packet until `down`, which restores the clear path', async () => {
    const ifname = lab.ifname();
    const conf = writeClientConf(lab, net, ifname);
    brought.set(ifname, conf);
    const log = path.join(lab.tmp, `${ifname}.up.log`);
    const before = await snapshot(net.a.ns);
    const up = await wiretun(net.a.ns, ['up', conf], log, DAEMON_ENV);
    expect(up.code, up.stdout).toBe(0);

    capture = await UnderlayCapture.start(net.a.ns, net.a.dev);
    await canary(0);
    const whileUp = capture.packets.length;
    await waitPing(net.a.ns, INTERNET4, 'through the tunnel');
    await waitPing(net.a.ns, INTERNET6, 'through the tunnel');
    const sealed = (p: Packet) => p.addresses.includes(net.b.v4) && /WireGuard|UDP/.test(p.protocol);
    await capture.waitFor('the pings as WireGuard datagrams to B', sealed, whileUp);
    // tshark prints in order: once a later canary shows, everything sent before it has been printed.
    await canary(capture.packets.length);
    expect(capture.matching(tunnelled).map((p) => p.line)).toEqual([]);

    const pids = daemonPids([ifname]);
    expect(pids.length, `daemon of ${ifname}`).toBe(1);
    process.kill(pids[0], 'SIGKILL');
    await waitFor(`${ifname} to vanish with its daemon`, async () => !(await linkExists(net.a.ns, ifname)), { timeoutMs: 10_000 });

    const mark = capture.packets.length;
    const traffic = await tunnelledTraffic(net.a.ns);
    await canary(mark); // the capture was live all along: it saw this packet sent after the traffic
    expect(capture.matching(tunnelled, mark).map((p) => p.line)).toEqual([]);
    for (const { what, r } of traffic) expect(r.code, `${what} should have failed: ${r.stdout}${r.stderr}`).not.toBe(0);
    const route = await run('ip', ['route', 'get', INTERNET4], { ns: net.a.ns });
    expect(route.stderr).toContain('No route to host');

    // A second `up` would add rules on top of the dead one's: refused, nothing changed, still closed.
    const again = await wiretun(net.a.ns, ['up', conf], log, DAEMON_ENV);
    expect(again.code, again.stdout).toBe(1);
    expect(again.stdout).toContain('never taken down');
    expect(await pingOnce(net.a.ns, INTERNET4)).toBe(false);

    const down = await wiretun(net.a.ns, ['down', conf], log, DAEMON_ENV);
    expect(down.code, down.stdout).toBe(0);
    expect(down.stdout).toContain('daemon is gone');
    expect(await snapshot(net.a.ns)).toEqual(before);
    expect(hasStateFile(ifname)).toBe(false);

    // The same traffic now leaves in the clear, and the capture sees it: its silence above meant something.
    const afterDown = capture.packets.length;
    expect(capture.matching(tunnelled, mark).map((p) => p.line)).toEqual([]);
    await waitPing(net.a.ns, INTERNET4, 'in the clear after down');
    await waitPing(net.a.ns, INTERNET6, 'in the clear after down');
    await capture.waitFor(`plaintext ICMP to ${INTERNET4}`, plaintextTo(INTERNET4), afterDown);
    await capture.waitFor(`plaintext ICMPv6 to ${INTERNET6}`, plaintextTo(INTERNET6), afterDown);
    await capture.stop();
    capture = undefined;
  }, 180_000);

  describe.each(['SIGTERM', 'SIGINT'] as const)('wiretun up --foreground, then %s', (signal) => {
    it('removes routes, rules, nftables, DNS, forwarding and the socket, and exits 0', async () => {
      const ifname = lab.ifname();
      const dns = stubResolvconf(lab);
      const conf = writeClientConf(lab, net, ifname, 'DNS = 10.211.0.2, corp.example\n');
      brought.set(ifname, conf);
      const before = await snapshot(net.a.ns);
      expect(dns.entries()).toEqual({});
      // SIGTERM also undoes --masquerade (forwarding sysctls and the NAT table).
      const masq = signal === 'SIGTERM' ? ['--masquerade', net.a.dev] : [];
      const fg = startForeground(net.a.ns, ['up', '-f', conf, ...masq], path.join(lab.tmp, `${ifname}.fg.log`), { ...DAEMON_ENV, ...dns.env });
      running.push(fg);
      await waitFor('`up -f` to finish bringing the interface up', () => fg.output().includes('staying in the foreground'), {
        timeoutMs: 60_000,
        maxTries: 600,
      });
      await waitPing(net.a.ns, INTERNET4, 'through the tunnel');
      const up = await snapshot(net.a.ns);
      expect(up.rules4).toContain('lookup 51820');
      expect(Object.values(dns.entries())).toEqual(['nameserver 10.211.0.2\nsearch corp.example\n']);
      if (masq.length) expect(up.forward4).toBe('1');
      expect(existsSync(sockPath(ifname))).toBe(true);

      fg.child.kill(signal);
      const code = await exitWithin(fg, 60_000);
      expect(code, fg.output()).toBe(0);
      expect(fg.output()).toContain(`${signal}: taking ${ifname} down`);
      expect(existsSync(sockPath(ifname))).toBe(false);
      await waitFor(`the daemon of ${ifname} to exit`, () => daemonPids([ifname]).length === 0, { timeoutMs: 10_000 });
      expect(await snapshot(net.a.ns)).toEqual(before);
      expect(dns.entries()).toEqual({});
      expect(hasStateFile(ifname)).toBe(false);
    }, 150_000);
  });

  it('wiretun up --foreground whose daemon dies takes the interface down and exits 1, saying why', async () => {
    const ifname = lab.ifname();
    const conf = writeClientConf(lab, net, ifname);
    brought.set(ifname, conf);
    const before = await snapshot(net.a.ns);
    const fg = startForeground(net.a.ns, ['up', '--foreground', conf], path.join(lab.tmp, `${ifname}.fg.log`), DAEMON_ENV);
    running.push(fg);
    await waitFor('`up -f` to finish bringing the interface up', () => fg.output().includes('staying in the foreground'), {
      timeoutMs: 60_000,
      maxTries: 600,
    });
    const pids = daemonPids([ifname]);
    expect(pids.length).toBe(1);
    process.kill(pids[0], 'SIGKILL');
    const code = await exitWithin(fg, 60_000);
    expect(code, fg.output()).toBe(1);
    expect(fg.output()).toContain(`${ifname}'s daemon exited on its own`);
    expect(fg.output()).toMatch(/failed: its daemon died \(down completed\)/);
    expect(await snapshot(net.a.ns)).toEqual(before);
    expect(hasStateFile(ifname)).toBe(false);
  }, 150_000);
});
