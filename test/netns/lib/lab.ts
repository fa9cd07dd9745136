// A lab: uniquely named namespaces on one L2 segment (a bridge in a hub namespace), so any node can reach any
// other over IPv4 and IPv6 and a node can change its address (roaming). Everything is removed by destroy().
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { must, run } from './proc';
import { waitFor } from './wait';

// Namespace names carry our full pid (so a later run can tell ours from a live run's); interface names only
// have 15 bytes, so they carry part of it.
const PID = process.pid;
const TAG = `${PID % 100000}`;
let labCounter = 0;
let ifCounter = 0;

export const SOCK_DIR = '/var/run/wireguard';

export interface Node {
  ns: string;
  /** The underlay device inside `ns`. */
  dev: string;
  v4: string;
  v6: string;
}

/** Underlay addresses of node i (0-based); the namespaces isolate labs, so every lab can reuse them. */
export const underlay4 = (host: number) => `10.210.0.${host}`;
export const underlay6 = (host: number) => `fd00:210::${host.toString(16)}`;

async function nsSysctl(ns: string, ...settings: string[]): Promise<void> {
  await must('sysctl', ['-q', '-w', ...settings], { ns });
}

async function createNode(hub: string, name: string, i: number): Promise<Node> {
  const node: Node = { ns: name, dev: 'eth0', v4: underlay4(i + 1), v6: underlay6(i + 1) };
  await must('ip', ['netns', 'add', name]);
  // DAD off before any interface exists, so IPv6 addresses are usable at once.
  await nsSysctl(name, 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0');
  await must('ip', ['link', 'add', `p${i}`, 'netns', hub, 'type', 'veth', 'peer', 'name', node.dev, 'netns', name]);
  await must('ip', ['-n', hub, 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
  await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  await must('ip', ['-n', name, 'address', 'add', `${node.v4}/24`, 'dev', node.dev]);
  await must('ip', ['-n', name, 'address', 'add', `${node.v6}/64`, 'dev', node.dev, 'nodad']);
  await must('ip', ['-n', name, 'link', 'set', node.dev, 'up']);
  return node;
}

export class Lab {
  readonly ifnames: string[] = [];
  readonly tmp: string;

  private constructor(
    readonly id: string,
    readonly hub: string,
    readonly nodes: Node[],
  ) {
    this.tmp = mkdtempSync(path.join(os.tmpdir(), `wtnetns-${id}-`));
  }

  static async create(count: number): Promise<Lab> {
    if (labCounter === 0) await sweepStale();
    const id = `${PID}-${labCounter++}`;
    const hub = `wtn-${id}-hub`;
    const nodes: Node[] = [];
    const lab = new Lab(id, hub, nodes);
    try {
      await must('ip', ['netns', 'add', hub]);
      await must('ip', ['-n', hub, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0']);
      await must('ip', ['-n', hub, 'link', 'set', 'br0', 'up']);
      for (let i = 0; i < count; i++) nodes.push(await createNode(hub, `wtn-${id}-${String.fromCharCode(97 + i)}`, i));
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  /** One more node on the segment (the next address), removed with the lab: a middle box such as a relay. */
  async addNode(): Promise<Node> {
    const i = this.nodes.length;
    const node = await createNode(this.hub, `wtn-${this.id}-${String.fromCharCode(97 + i)}`, i);
    this.nodes.push(node);
    return node;
  }

  /** A fresh interface name, unique on the host (UAPI sockets share one directory across namespaces). */
  ifname(): string {
    const name = `wt${TAG}x${(ifCounter++).toString(36)}`.slice(0, 15);
    this.ifnames.push(name);
    return name;
  }

  /** Waits until the node's underlay can reach another node (the bridge learns addresses on first use). */
  async waitUnderlay(from: Node, to: Node): Promise<void> {
    for (const addr of [to.v4, to.v6]) {
      await waitFor(`underlay ${from.ns} -> ${addr}`, async () => (await run('ping', ['-c1', '-W1', addr], { ns: from.ns })).code === 0, {
        timeoutMs: 10_000,
      });
    }
  }

  /**
   * Ends every daemon this lab started, whatever state a failed test left it in: SIGTERM, then SIGKILL. A TUN
   * goes away with its last fd, so no interface survives; sockets a killed daemon left behind are removed.
   */
  async stopDaemons(): Promise<void> {
    killDaemons(this.ifnames);
    const gone = () => daemonPids(this.ifnames).length === 0;
    await waitFor('daemons to exit on SIGTERM', gone, { timeoutMs: 5_000, intervalMs: 50 }).catch(async () => {
      killDaemons(this.ifnames, 'SIGKILL');
      await waitFor('daemons to exit on SIGKILL', gone, { timeoutMs: 5_000, intervalMs: 50 });
    });
    for (const name of this.ifnames) removeSocket(name);
  }

  async destroy(): Promise<void> {
    await this.stopDaemons().catch(() => undefined);
    for (const ns of [...this.nodes.map((n) => n.ns), this.hub]) await deleteNamespace(ns);
    for (const name of this.ifnames) removeSocket(name);
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Kills what still runs inside (iperf3 servers, daemons): processes outlive their namespace otherwise. */
async function deleteNamespace(ns: string): Promise<void> {
  const pids = (await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  await run('ip', ['netns', 'del', ns]);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Removes namespaces left by an earlier run that was killed before its afterAll could run. */
async function sweepStale(): Promise<void> {
  const names = (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]);
  for (const ns of names) {
    const owner = /^wtn-(\d+)-\d+-/.exec(ns);
    if (owner && Number(owner[1]) !== PID && !alive(Number(owner[1]))) await deleteNamespace(ns);
  }
}

/** Daemons for our interface names: processes whose last argument is the name (not our `ip netns exec` wrappers). */
export function daemonPids(ifnames: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue; // exited while we looked
    }
    const last = args[args.length - 1];
    if (args.length > 1 && ifnames.includes(last) && args[0] !== 'ip' && !args.includes('wg')) pids.push(Number(entry));
  }
  return pids;
}

export function killDaemons(ifnames: string[], signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const pid of daemonPids(ifnames)) {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

export function removeSocket(ifname: string): void {
  try {
    unlinkSync(path.join(SOCK_DIR, `${ifname}.sock`));
  } catch {
    /* not there: the daemon cleaned up */
  }
}
