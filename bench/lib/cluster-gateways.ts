// Three `wiretun gateway` processes of one location for bench/cluster.ts, each in a namespace of its own with its
// own database role, started with WIRETUN_GATEWAY_TRACE so each prints the revision it has just applied and when
// (`applied revision R at MS`, wall-clock milliseconds, comparable across processes on one machine).
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { gatewayUrl, grantGateway } from '../../ts/gateway/grant';
import { Lab } from '../../test/netns/lib/lab';
import { waitFor } from '../../test/netns/lib/wait';

const BIN = path.join(__dirname, '..', '..', 'bin', 'wiretun');
const TRACE = /applied revision (\d+) at ([\d.]+)/;

interface Proc {
  name: string;
  ns: string;
  iface: string;
  url?: string;
  child?: ChildProcess;
  exited?: Promise<void>;
  /** [revision, time] in the order applied. */
  applied: [number, number][];
}

export class Gateways {
  private lab: Lab | undefined;
  private readonly procs: Proc[] = [];

  constructor(
    private readonly location: string,
    private readonly count: number,
  ) {}

  async start(consoleUrl: string): Promise<void> {
    if (!this.lab) {
      this.lab = await Lab.create(this.count);
      for (const [i, node] of this.lab.nodes.entries()) {
        const name = `gw${i}`;
        const role = `bench_${name}`;
        const grant = await grantGateway(consoleUrl, this.location, role);
        this.procs.push({ name, ns: node.ns, iface: this.lab.ifname(), url: gatewayUrl(consoleUrl, role, grant.password!), applied: [] });
      }
    }
    for (const p of this.procs) this.spawn(p);
  }

  private spawn(p: Proc): void {
    p.applied = [];
    const args = ['netns', 'exec', p.ns, BIN, 'gateway', '--location', this.location, '--name', p.name, '--interface', p.iface];
    const child = spawn('ip', args, { env: { ...process.env, WIRETUN_STORE: p.url, WIRETUN_GATEWAY_TRACE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    const take = (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        const m = TRACE.exec(l);
        if (m) p.applied.push([Number(m[1]), Number(m[2])]);
        else if (l.trim()) process.stderr.write(`  [${p.name}] ${l}\n`);
      }
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    p.child = child;
    p.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  private reached(p: Proc, rev: number): number | undefined {
    return p.applied.find(([r]) => r >= rev)?.[1];
  }

  /** Waits until every gateway has applied `rev`. */
  async applied(rev: number, timeoutMs: number): Promise<void> {
    await waitFor(`every gateway at revision ${rev}`, () => this.procs.every((p) => this.reached(p, rev) !== undefined), { timeoutMs, intervalMs: 20 });
  }

  /** When the last gateway applied `rev` (or a later revision). */
  appliedEverywhere(rev: number): number {
    return Math.max(...this.procs.map((p) => this.reached(p, rev) ?? NaN));
  }

  /** Per gateway, ms from `since` until it applied `rev`. */
  async appliedTimes(rev: number, timeoutMs: number, since: number): Promise<number[]> {
    await this.applied(rev, timeoutMs);
    return this.procs.map((p) => this.reached(p, rev)! - since);
  }

  async stop(): Promise<void> {
    for (const p of this.procs) p.child?.kill('SIGTERM');
    await Promise.all(this.procs.map((p) => p.exited));
    for (const p of this.procs) p.child = undefined;
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs) p.child?.kill('SIGKILL');
    await this.lab?.destroy();
  }
}
