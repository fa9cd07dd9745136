// The rootless benchmark: one TCP stream each way through a local port forward (iperf3) and through SOCKS5 (the
// pump, bench/lib/pump.cjs), from the client namespace into a tunnel whose server is wiretund (TUN mode) in the
// server namespace, for each contender in netstack-clients.ts; on the plain veth, then through iperf3 alone over
// each lossy path of LOSSY_PATHS (a delay relay in a third namespace, loss on its egress: test/netns/lib/lossy.ts,
// as the proxy-lossy test does). Then the memory per idle proxied connection with 1,000 held open.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { start } from '../../ts/proc';
import { addLoss, DelayRelay, startDelayRelay } from '../../test/netns/lib/lossy';
import { ClientSetup, LOCAL_PORT, RootlessClient, RunningClient, SERVER_PORT } from './netstack-clients';
import { rssBytes } from './scale';
import { inNs, sh, spawnInNs, waitFor } from './sh';
import { IF, NS, TUN, UNDER, teardown, underlay } from './topology';

const PUMP = path.join(__dirname, 'pump.cjs');
export const MID = { ns: NS.a.replace('-a-', '-m-'), a: '10.233.1.1', ma: '10.233.1.2', mb: '10.233.2.1', b: '10.233.2.2' };
export const HELD_CONNECTIONS = 1000;

/** A path between client and server: the plain veth (rttMs 0), or the relay adding rttMs with lossPercent% of
 * datagrams dropped in each direction. */
export interface PathSpec { rttMs: number; lossPercent: number }
export const CLEAN: PathSpec = { rttMs: 0, lossPercent: 0 };
/** The issue's grid: 0.1, 1 and 3% loss at 10, 50 and 150 ms. */
export const LOSSY_PATHS: PathSpec[] = [0.1, 1, 3].flatMap((lossPercent) => [10, 50, 150].map((rttMs) => ({ rttMs, lossPercent })));
export const pathName = (p: PathSpec): string => (p.rttMs === 0 ? '0 ms' : `${p.rttMs} ms RTT, ${p.lossPercent}% loss`);

/** Bits per second, NaN where the run failed (the reason is in `errors`). */
export interface Directions { up: number; down: number }
export interface ConditionResult { forward: Directions; socks?: Directions }
export interface NetstackResult {
  name: string;
  skipped?: string;
  /** By pathName. */
  runs: Record<string, ConditionResult>;
  rss?: { before: number; after: number; perConnection: number };
  errors: string[];
}

export interface NetstackOptions { seconds: number; lossySeconds: number; conns: number; paths: PathSpec[] }

/** Processes this module started, for the signal handler's cleanup. */
const live = new Set<RunningClient>();
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop()));
  await sh('ip', ['netns', 'del', MID.ns]).catch(() => undefined);
}

async function keyPair(): Promise<{ priv: string; pub: string }> {
  const priv = (await sh('wg', ['genkey'])).trim();
  return { priv, pub: (await sh('wg', ['pubkey'], { input: priv })).trim() };
}

/** The lossy path: client ns -- mid ns (relay, drops on egress) -- server ns; resolves to the client's endpoint. */
async function lossyPath(spec: PathSpec): Promise<{ endpoint: string; relay: DelayRelay }> {
  await sh('ip', ['netns', 'add', MID.ns]);
  const links = [[NS.a, 'wtbm0', MID.a, 'wtbm1', MID.ma], [NS.b, 'wtbm3', MID.b, 'wtbm2', MID.mb]] as const;
  for (const [ns, dev, addr, midDev, midAddr] of links) {
    await sh('ip', ['link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', midDev, 'netns', MID.ns]);
    await inNs(ns, 'ip', ['address', 'add', `${addr}/24`, 'dev', dev]);
    await inNs(ns, 'ip', ['link', 'set', dev, 'up']);
    await inNs(MID.ns, 'ip', ['address', 'add', `${midAddr}/24`, 'dev', midDev]);
    await inNs(MID.ns, 'ip', ['link', 'set', midDev, 'up']);
    // On the relay's egress, where datagrams leave one by one (not as GSO bursts): each direction loses its share.
    await addLoss(MID.ns, midDev, spec.lossPercent, { direction: 'egress' });
  }
  const relay = await startDelayRelay({ ns: MID.ns, listen: { host: MID.ma, port: 0 }, target: { host: MID.b, port: 51820 }, delayMs: spec.rttMs / 2 });
  return { endpoint: `${MID.ma}:${relay.port}`, relay };
}

/** wiretund with a TUN in the server namespace, knowing the client's key, and the pump's server behind it. */
async function serverSide(dir: string, clientPub: string): Promise<{ pub: string; pump: RunningClient }> {
  const keys = await keyPair();
  const keyFile = path.join(dir, 'server.key');
  writeFileSync(keyFile, keys.priv, { mode: 0o600 });
  await inNs(NS.b, path.join(__dirname, '..', '..', 'bin', 'wiretund'), [IF.b], { timeoutMs: 20_000 });
  await inNs(NS.b, 'ip', ['address', 'add', `${TUN.b}/24`, 'dev', IF.b]);
  await inNs(NS.b, 'ip', ['link', 'set', 'mtu', '1420', 'up', 'dev', IF.b]);
  await inNs(NS.b, 'wg', ['set', IF.b, 'private-key', keyFile, 'listen-port', '51820', 'peer', clientPub, 'allowed-ips', `${TUN.a}/32`]);
  const bg = start(process.execPath, [PUMP, 'server', TUN.b, String(SERVER_PORT.pump)], { ns: NS.b, timeoutMs: 60 * 60_000 });
  await waitFor('the pump server', () => bg.output().includes('ready'));
  const pump: RunningClient = { output: bg.output, stop: async () => void (bg.child.kill(), await bg.done) };
  live.add(pump);
  return { pub: keys.pub, pump };
}

/** Where a client's streams go: its local forwards, or the server itself for the TUN mode. */
function targets(c: RootlessClient): { iperf: [string, number]; pump: [string, number]; socks?: string } {
  if (c.direct) return { iperf: [TUN.b, SERVER_PORT.iperf], pump: [TUN.b, SERVER_PORT.pump] };
  return { iperf: ['127.0.0.1', LOCAL_PORT.iperf], pump: ['127.0.0.1', LOCAL_PORT.pump], socks: c.socks ? `127.0.0.1:${LOCAL_PORT.socks}` : undefined };
}

/** The algorithm a socket gets unless it asks (the pump cannot ask); new namespaces start with the host's. */
function hostCongestion(): string {
  return readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
}

async function pump(args: string[], timeoutMs: number): Promise<string> {
  return inNs(NS.a, process.execPath, [PUMP, ...args], { timeoutMs });
}

async function iperfBps(host: string, port: number, seconds: number, reverse: boolean, cc?: string): Promise<number> {
  const srv = spawnInNs(NS.b, 'iperf3', ['-s', '-1', '-B', TUN.b, '-p', String(SERVER_PORT.iperf)]);
  try {
    await waitFor('iperf3 server', async () => (await inNs(NS.b, 'ss', ['-ltnH', `sport = :${SERVER_PORT.iperf}`])).trim() !== '');
    const out = await inNs(NS.a, 'iperf3', ['-c', host, '-p', String(port), '-t', String(seconds), '-J', '--connect-timeout', '10000',
      ...(reverse ? ['-R'] : []), ...(cc ? ['-C', cc] : [])], { timeoutMs: (seconds + 60) * 1000 });
    const end = JSON.parse(out).end;
    // iperf3 hands -C to the server for -R; a sender on another algorithm would make the row a lie.
    if (cc && end.sender_tcp_congestion !== cc) throw new Error(`iperf3 -C ${cc}: the sender used ${end.sender_tcp_congestion}`);
    return end.sum_received.bits_per_second as number;
  } finally {
    srv.kill();
  }
}

/** Up and down, each direction on its own and failing on its own. */
async function both(errors: string[], what: string, run: (down: boolean) => Promise<number>): Promise<Directions> {
  const one = async (down: boolean) => {
    try {
      return await run(down);
    } catch (err) {
      errors.push(`${what} ${down ? 'down' : 'up'}: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`);
      return NaN;
    }
  };
  return { up: await one(false), down: await one(true) };
}

/** iperf3 on every path; the pump (SOCKS5, or direct for a TUN client that can use the host's default TCP) only
 * on the clean one, where it checks that a second client program agrees. */
async function streams(c: RootlessClient, seconds: number, errors: string[], spec: PathSpec): Promise<ConditionResult> {
  const t = targets(c);
  const cond = pathName(spec);
  const forward = await both(errors, `${cond} ${c.direct ? 'direct' : '-L'}`, (down) => iperfBps(...t.iperf, seconds, down, c.congestion));
  if (spec.rttMs !== 0 || (!t.socks && !c.direct) || (c.congestion && c.congestion !== hostCongestion())) return { forward };
  // Through SOCKS5 the pump names the server itself; the TUN mode goes there directly.
  const to = [TUN.b, String(SERVER_PORT.pump), String(seconds), ...(t.socks ? [t.socks] : [])];
  const socks = await both(errors, `${cond} ${c.direct ? 'pump direct' : 'SOCKS5'}`, async (down) =>
    JSON.parse(await pump([down ? 'down' : 'up', ...to], (seconds + 60) * 1000)).bps as number);
  return { forward, socks };
}

/** RSS growth of the client process with `n` idle connections held through its -L forward, per connection. */
async function heldRss(c: RunningClient, n: number): Promise<NetstackResult['rss']> {
  const before = rssBytes(c.pid!);
  const bg = start(process.execPath, [PUMP, 'hold', '127.0.0.1', String(LOCAL_PORT.pump), String(n)], { ns: NS.a, timeoutMs: 10 * 60_000 });
  try {
    await waitFor(`${n} held connections`, () => bg.output().includes(`ready ${n}`) || bg.child.exitCode !== null, 120_000);
    if (!bg.output().includes(`ready ${n}`)) throw new Error(`holding ${n} connections failed: ${bg.output().trim()}`);
    await new Promise((r) => setTimeout(r, 1000)); // let lazily grown buffers settle
    const after = rssBytes(c.pid!);
    return { before, after, perConnection: (after - before) / n };
  } finally {
    bg.child.kill();
    await bg.done;
  }
}

/** Starts a client and waits until a connection through it is answered. */
async function started(c: RootlessClient, setup: ClientSetup): Promise<RunningClient> {
  const running = await c.start(setup);
  live.add(running);
  const [host, port] = targets(c).pump;
  await waitFor(`${c.name} to carry a connection`, async () => {
    try {
      await pump(['probe', host, String(port)], 5000);
      return true;
    } catch {
      return false;
    }
  }, 30_000).catch(async (err) => {
    await stop(running);
    throw new Error(`${(err as Error).message}; its output: ${running.output().trim().slice(-500)}`);
  });
  return running;
}

async function stop(running: RunningClient): Promise<void> {
  await running.stop();
  live.delete(running);
}

/** The streams, then (at 0 ms, for a process of its own) the held connections in a fresh client process, so
 * neither the streams' buffers nor a client that chokes on 1,000 connections spoils the other figure. */
async function measureClient(c: RootlessClient, setup: ClientSetup, spec: PathSpec, o: NetstackOptions, r: NetstackResult): Promise<void> {
  let running = await started(c, setup);
  try {
    r.runs[pathName(spec)] = await streams(c, spec.rttMs === 0 ? o.seconds : o.lossySeconds, r.errors, spec);
  } finally {
    await stop(running);
  }
  if (spec.rttMs !== 0 || c.direct) return;
  running = await started(c, setup);
  try {
    r.rss = await heldRss(running, o.conns).catch((err) => (r.errors.push(`rss: ${(err as Error).message}`), undefined));
  } finally {
    await stop(running);
  }
}

/** Every client on one path, one after another against the same server. */
async function condition(clients: RootlessClient[], results: NetstackResult[], spec: PathSpec, o: NetstackOptions): Promise<void> {
  await underlay();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wtbench-ns-'));
  chmodSync(dir, 0o755);
  let relay: DelayRelay | undefined;
  try {
    const client = await keyPair();
    const server = await serverSide(dir, client.pub);
    const lossy = spec.rttMs !== 0 ? await lossyPath(spec) : undefined;
    relay = lossy?.relay;
    const setup = { ns: NS.a, dir, privateKey: client.priv, serverPublicKey: server.pub, endpoint: lossy?.endpoint ?? `${UNDER.b}:51820` };
    for (const [i, c] of clients.entries()) {
      if (c.skipped) continue;
      const cond = pathName(spec);
      console.log(`  ${cond}: ${c.name}`);
      await measureClient(c, setup, spec, o, results[i]).catch((err) => results[i].errors.push(`${cond}: ${(err as Error).message}`));
      const got = results[i].runs[cond];
      if (got) console.log(`    ${fmtDirs(got.forward, spec)}${got.socks ? `; socks/pump ${fmtDirs(got.socks, spec)}` : ''}`);
    }
  } finally {
    await relay?.close();
    await stopAll();
    await teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmtDirs = (d: Directions, spec: PathSpec) =>
  spec.rttMs === 0 ? `${(d.up / 1e9).toFixed(3)} / ${(d.down / 1e9).toFixed(3)} Gb/s` : `${(d.up / 1e6).toFixed(2)} / ${(d.down / 1e6).toFixed(2)} Mb/s`;

export async function runNetstack(clients: RootlessClient[], o: NetstackOptions): Promise<NetstackResult[]> {
  const results: NetstackResult[] = clients.map((c) => ({ name: c.name, skipped: c.skipped, runs: {}, errors: [] }));
  for (const spec of [CLEAN, ...o.paths]) await condition(clients, results, spec, o);
  for (const r of results) for (const e of r.errors) console.log(`  ${r.name}: ${e}`);
  return results;
}
