// A live packet capture on one interface of a namespace (tshark), for tests that must prove what did NOT go
// on the wire: packets are printed one per line as they arrive, so a test can wait for a canary packet to
// know the capture is really running before it asserts that nothing else of interest showed up.
import { ChildProcess, spawn } from 'node:child_process';
import { waitFor } from './wait';

export interface Packet {
  /** Every IPv4/IPv6 source and destination in the frame (an ICMP error quotes a second header). */
  addresses: string[];
  /** tshark's Protocol column (the highest layer it decoded): ICMP, ICMPv6, UDP, TCP, WireGuard, ARP... */
  protocol: string;
  line: string;
}

/** A packet to or from any of `addresses` (outer header or one an ICMP error quotes). */
export const involves = (...addresses: string[]) => (p: Packet) => p.addresses.some((a) => addresses.includes(a));

const FIELDS = ['ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', '_ws.col.Protocol'];

function parse(line: string): Packet {
  const cols = line.split('\t');
  const addresses = cols
    .slice(0, 4)
    .flatMap((c) => c.split(','))
    .filter((a) => a !== '');
  return { addresses, protocol: cols[4] ?? '', line };
}

export class UnderlayCapture {
  private readonly seen: Packet[] = [];
  private stderr = '';
  private exited = false;

  private constructor(private readonly child: ChildProcess) {}

  /** Starts tshark on `dev` inside `ns`; resolves once it says it is capturing. */
  static async start(ns: string, dev: string, timeoutMs = 30_000): Promise<UnderlayCapture> {
    const args = ['netns', 'exec', ns, 'tshark', '-n', '-l', '-i', dev, '-T', 'fields', '-E', 'separator=/t'];
    for (const f of FIELDS) args.push('-e', f);
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const cap = new UnderlayCapture(child);
    let partial = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim() !== '') cap.seen.push(parse(l));
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (cap.stderr += d));
    child.on('exit', () => (cap.exited = true));
    try {
      await waitFor(`tshark on ${dev} in ${ns} to start capturing`, () => {
        if (cap.exited) throw new Error(`tshark exited: ${cap.stderr}`);
        return cap.stderr.includes('Capturing on');
      }, { timeoutMs, intervalMs: 100, maxTries: Math.ceil(timeoutMs / 100) + 1 });
    } catch (err) {
      await cap.stop();
      throw err;
    }
    return cap;
  }

  /** Everything captured so far, in order. */
  get packets(): readonly Packet[] {
    return this.seen;
  }

  /** Packets from index `from` on that satisfy `pred`. */
  matching(pred: (p: Packet) => boolean, from = 0): Packet[] {
    return this.seen.slice(from).filter(pred);
  }

  /** Waits until a packet from index `from` on satisfies `pred`: proof that the capture sees such traffic. */
  async waitFor(what: string, pred: (p: Packet) => boolean, from = 0, timeoutMs = 15_000): Promise<void> {
    await waitFor(`the capture to see ${what}`, () => this.matching(pred, from).length > 0, { timeoutMs, maxTries: timeoutMs / 100 + 1 });
  }

  /** Stops tshark (SIGINT lets it flush what it printed) and waits for it, SIGKILL after 10 s. */
  async stop(): Promise<readonly Packet[]> {
    if (!this.exited) {
      const done = new Promise<void>((r) => this.child.once('exit', () => r()));
      this.child.kill('SIGINT');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    }
    return this.seen;
  }
}
