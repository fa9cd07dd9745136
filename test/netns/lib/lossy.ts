// A lossy, slow underlay without netem (this kernel has none): random drops with nftables and a fixed delay
// with a small UDP relay of our own (relay.cjs) that the tunnel's endpoint points at.
//
// Where to drop matters: WireGuard implementations send with UDP GSO, and a GSO burst (up to 64 datagrams)
// crosses veth and the bridge as ONE packet, so a rule on a sender's device or on the receiving device drops
// whole bursts (far fewer, longer loss events than "1%" suggests). The relay reads and sends datagrams one by
// one, so a rule on the egress of the relay's own namespace drops single datagrams in both directions of the
// tunnel: that is `addLoss(relayNs, dev, N, { direction: 'egress' })`, what proxy-lossy.test.ts uses.
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { must } from './proc';

export type LossDirection = 'both' | 'ingress' | 'egress';

/**
 * Drops `percent`% (0-100, to 0.01) of the packets crossing `dev` in `ns`, picked at random per packet, in
 * `direction` (both by default). Its own netdev table per device, so it neither meets nor clobbers other rules; it goes away with
 * the namespace (or removeLoss).
 */
export async function addLoss(ns: string, dev: string, percent: number, opts: { direction?: LossDirection } = {}): Promise<void> {
  // In hundredths of a percent, so 0.1% is 10 in 10,000.
  const basis = Math.round(percent * 100);
  if (!(percent >= 0 && percent <= 100) || Math.abs(basis - percent * 100) > 1e-6) {
    throw new Error(`addLoss: percent must be 0-100 in steps of 0.01, got ${percent}`);
  }
  if (!/^[\w.-]{1,15}$/.test(dev)) throw new Error(`addLoss: bad device name ${JSON.stringify(dev)}`);
  const direction = opts.direction ?? 'both';
  const chain = (hook: 'ingress' | 'egress') =>
    `  chain ${hook} { type filter hook ${hook} device "${dev}" priority 0; numgen random mod 10000 < ${basis} counter drop; }`;
  const hooks = direction === 'both' ? (['ingress', 'egress'] as const) : [direction];
  const table = lossTable(dev);
  // Replacing an earlier table for this device makes a second call change the rate instead of adding to it.
  const script = [`table netdev ${table} {}`, `delete table netdev ${table}`, `table netdev ${table} {`, ...hooks.map(chain), '}', ''].join('\n');
  await must('nft', ['-f', '-'], { ns, input: script });
}

export async function removeLoss(ns: string, dev: string): Promise<void> {
  await must('nft', ['delete', 'table', 'netdev', lossTable(dev)], { ns });
}

const lossTable = (dev: string) => `wtloss_${dev.replace(/[^\w]/g, '_')}`;

export interface Endpoint {
  host: string;
  /** 0 for the listen side: an ephemeral port, reported as `port` of the relay. */
  port: number;
}

export interface DelayRelayOptions {
  ns: string;
  listen: Endpoint;
  target: Endpoint;
  /** One-way delay added in EACH direction: the round trip grows by 2 × delayMs (25 for a 50 ms RTT). */
  delayMs: number;
  /** Datagrams held at once (both directions); more are dropped as a full router queue would. Default 16384,
   * above the bandwidth-delay product of ~1 Gb/s at 50 ms. */
  maxPackets?: number;
  /** Bytes held at once; default 32 MiB. */
  maxBytes?: number;
  /** Distinct clients (source address and port) relayed; default 16. */
  maxClients?: number;
  /** The relay exits on its own after this long, whatever the test does; default 10 minutes. */
  lifetimeMs?: number;
  /** Share of each direction's datagrams, picked at random, held `reorderDelayMs` longer than the rest so later
   * ones overtake them (an integer 0-100); default 0, no reordering. */
  reorderPercent?: number;
  /** The extra hold of a reordered datagram, 1-1000 ms; default 3. */
  reorderDelayMs?: number;
}

export interface RelayStats {
  /** Datagrams dropped by the relay's own bounds (not by addLoss). */
  dropped: number;
  /** Datagrams sent after one that reached the relay later, per direction (toTarget: from the listen side). */
  reordered: { toTarget: number; toClient: number };
}

export interface DelayRelay {
  /** The port it listens on (the endpoint's port for the client side). */
  port: number;
  /** The relay's counters since it started. */
  stats(): Promise<RelayStats>;
  close(): Promise<void>;
}

const RELAY = path.join(__dirname, 'relay.cjs');

/** Starts the relay in `ns`; resolves once it listens. */
export async function startDelayRelay(opts: DelayRelayOptions): Promise<DelayRelay> {
  if (!(opts.delayMs >= 0 && opts.delayMs <= 10_000)) throw new Error(`startDelayRelay: delayMs must be 0-10000, got ${opts.delayMs}`);
  const reorderPercent = opts.reorderPercent ?? 0;
  const reorderDelayMs = opts.reorderDelayMs ?? 3;
  if (!Number.isInteger(reorderPercent) || reorderPercent < 0 || reorderPercent > 100)
    throw new Error(`startDelayRelay: reorderPercent must be an integer 0-100, got ${reorderPercent}`);
  if (!(reorderDelayMs >= 1 && reorderDelayMs <= 1000)) throw new Error(`startDelayRelay: reorderDelayMs must be 1-1000, got ${reorderDelayMs}`);
  const config = {
    listen: opts.listen,
    target: opts.target,
    delayMs: opts.delayMs,
    maxPackets: opts.maxPackets ?? 16_384,
    maxBytes: opts.maxBytes ?? 32 << 20,
    maxClients: opts.maxClients ?? 16,
    lifetimeMs: opts.lifetimeMs ?? 600_000,
    reorderPercent,
    reorderDelayMs,
  };
  // stdin stays a pipe we never write: when this process dies it closes, and the relay exits.
  const child = spawn('ip', ['netns', 'exec', opts.ns, process.execPath, RELAY, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`delay relay in ${opts.ns} did not start within 10 s: ${stderr}`)), 10_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    };
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^ready (\d+)$/m.exec(out);
      if (m) (clearTimeout(timer), resolve(Number(m[1])));
    });
    child.once('exit', (code) => fail(new Error(`delay relay in ${opts.ns} exited (${code}): ${stderr}`)));
  });
  child.stdin!.on('error', () => undefined); // a stats question to a relay that just exited: askStats times out
  return { port, stats: () => askStats(child, opts.ns), close: () => stopRelay(child, exited) };
}

/** Asks the relay for its counters over its stdin and reads the `stats {json}` line it answers with. */
async function askStats(child: ChildProcess, ns: string): Promise<RelayStats> {
  return new Promise<RelayStats>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /^stats (.*)$/m.exec(out);
      if (m) (done(), resolve(JSON.parse(m[1]) as RelayStats));
    };
    const timer = setTimeout(() => (done(), reject(new Error(`delay relay in ${ns} did not report its stats within 5 s`))), 5_000);
    const done = () => (clearTimeout(timer), child.stdout!.off('data', onData));
    child.stdout!.on('data', onData);
    child.stdin!.write('stats\n');
  });
}

async function stopRelay(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}
