// Two namespaces joined by a veth pair (MTU 1500 underlay), one daemon in each, tunnel MTU 1420.
// Everything here is created by the benchmark and removed by `teardown`, also after failures.
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Impl } from './impls';
import { inNs, sh, spawnInNs, waitFor } from './sh';

const TAG = `${process.pid % 100000}`;
export const NS = { a: `wtb-a-${TAG}`, b: `wtb-b-${TAG}` };
export const IF = { a: `wtba${TAG}`.slice(0, 15), b: `wtbb${TAG}`.slice(0, 15) };
export const UNDER = { a: '10.231.0.1', b: '10.231.0.2' };
export const TUN = { a: '10.232.0.1', b: '10.232.0.2' };
const TUNNEL_MTU = '1420';
const PORT = '51820';

export async function underlay(): Promise<void> {
  await teardown();
  await sh('ip', ['netns', 'add', NS.a]);
  await sh('ip', ['netns', 'add', NS.b]);
  await sh('ip', ['link', 'add', 'wtbv0', 'netns', NS.a, 'type', 'veth', 'peer', 'wtbv1', 'netns', NS.b]);
  for (const [ns, dev, addr] of [[NS.a, 'wtbv0', UNDER.a], [NS.b, 'wtbv1', UNDER.b]]) {
    await inNs(ns, 'ip', ['address', 'add', `${addr}/24`, 'dev', dev]);
    await inNs(ns, 'ip', ['link', 'set', dev, 'up']);
    await inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
  }
}

export async function teardown(): Promise<void> {
  for (const pid of daemonPids()) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  for (const ns of Object.values(NS)) {
    await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

/** Processes whose command line ends with one of our interface names. */
export function daemonPids(ifname?: string): number[] {
  const names = ifname ? [ifname] : Object.values(IF);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv.length > 1 && names.includes(argv[argv.length - 1]) && !argv.includes('netns')) pids.push(Number(entry));
    } catch {
      /* exited */
    }
  }
  return pids;
}

/** Starts both daemons and configures them with `wg`; resolves to the ms from config to first handshake. */
export async function tunnel(impl: Impl): Promise<number> {
  const keys = { a: (await sh('wg', ['genkey'])).trim(), b: (await sh('wg', ['genkey'])).trim() };
  const pub = { a: await sh('wg', ['pubkey'], { input: keys.a }), b: await sh('wg', ['pubkey'], { input: keys.b }) };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wtbench-'));
  try {
    for (const side of ['a', 'b'] as const) {
      const other = side === 'a' ? 'b' : 'a';
      await inNs(NS[side], impl.command!, [...(impl.args ?? []), IF[side]], { timeoutMs: 20_000 });
      const keyFile = path.join(dir, side);
      writeFileSync(keyFile, keys[side], { mode: 0o600 });
      await inNs(NS[side], 'ip', ['address', 'add', `${TUN[side]}/24`, 'dev', IF[side]]);
      await inNs(NS[side], 'ip', ['link', 'set', 'mtu', TUNNEL_MTU, 'up', 'dev', IF[side]]);
      await inNs(NS[side], 'wg', ['set', IF[side], 'private-key', keyFile, 'listen-port', PORT,
        'peer', pub[other].trim(), 'endpoint', `${UNDER[other]}:${PORT}`, 'allowed-ips', `${TUN[other]}/32`]);
    }
    const start = Date.now();
    await waitFor('first ping through the tunnel', async () => {
      try {
        await inNs(NS.a, 'ping', ['-c', '1', '-W', '1', TUN.b]);
        return true;
      } catch {
        return false;
      }
    });
    return Date.now() - start;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Stops both daemons (deleting the interface ends every implementation under test). */
export async function stopTunnel(): Promise<void> {
  for (const side of ['a', 'b'] as const) {
    await inNs(NS[side], 'ip', ['link', 'del', IF[side]]).catch(() => undefined);
  }
  await waitFor('daemons to exit', () => daemonPids().length === 0, 10_000).catch(() => {
    for (const pid of daemonPids()) process.kill(pid, 'SIGKILL');
  });
}
