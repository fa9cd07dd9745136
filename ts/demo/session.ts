// The demo's run: two throw-away network namespaces, a daemon in each, a tunnel between them with fresh keys,
// measured and removed again, also on failure and on a signal. Nothing is sent outside those namespaces.
import * as path from 'node:path';
import { native } from '../native';
import { uapiGet, uapiSet } from '../uapi/client';
import { parseGet } from '../uapi/codec';
import { addressTunnel, buildUnderlay, Lab, planLab, startDaemon, Side, sweepStale, teardown } from './lab';
import { firstPing, formatRate, iperf3, nodeTransfer, ping, PingResult, Throughput } from './measure';
import { have } from '../proc';
import { setVerbose, show, waitFor } from './util';

const PORT = 51820;

type IperfChoice = 'use' | 'missing' | 'declined';
const TRANSFER_SECONDS = 3;

interface Report {
  daemon: string;
  handshakeAbsolute: boolean;
  firstPingMs: number;
  ping4: PingResult;
  ping6: PingResult;
  throughput: Throughput;
}

function daemonCommand(): string {
  return process.env.WIRETUN_DEMO_DAEMON || path.resolve(__dirname, '..', '..', 'bin', 'wiretund');
}

function step(text: string): void {
  process.stderr.write(`wiretun demo: ${text}\n`);
}

interface Keys {
  privateHex: string;
  publicHex: string;
}

function newKeys(): Keys {
  const priv = native().generatePrivateKey();
  return { privateHex: priv.toString('hex'), publicHex: native().publicKeyFromPrivate(priv).toString('hex') };
}

/** The UAPI set body for `self`, with `peer` as its one peer. Holds a private key: never logged. */
function uapiBody(self: Keys, peer: Keys, peerSide: Side): string {
  return [
    `private_key=${self.privateHex}`,
    `listen_port=${PORT}`,
    'replace_peers=true',
    `public_key=${peer.publicHex}`,
    `endpoint=${peerSide.underlay4}:${PORT}`,
    'replace_allowed_ips=true',
    `allowed_ip=${peerSide.tunnel4}/32`,
    `allowed_ip=${peerSide.tunnel6}/128`,
  ].join('\n');
}

/** Time of the last handshake in ms since the epoch; undefined while there is none. parseGet also dates the
 * handshake ages boringtun's device reports, so WIRETUN_DEMO_DAEMON=boringtun-cli is read right too. */
function lastHandshakeMs(get: string): number | undefined {
  const peer = parseGet(get).peers[0];
  return peer?.lastHandshakeSec ? peer.lastHandshakeSec * 1000 + peer.lastHandshakeNsec / 1e6 : undefined;
}

async function connect(lab: Lab, daemon: string): Promise<void> {
  step('creating namespaces and a veth pair');
  await buildUnderlay(lab);
  step(`starting ${path.basename(daemon)} in each namespace`);
  for (const s of [lab.a, lab.b]) await startDaemon(daemon, lab, s);
  const ka = newKeys();
  const kb = newKeys();
  // The sockets live in /var/run/wireguard, shared by all namespaces, so they are reachable from here.
  for (const [s, body] of [[lab.a, uapiBody(ka, kb, lab.b)], [lab.b, uapiBody(kb, ka, lab.a)]] as const) {
    show('uapi set', [s.iface, `<<< ${body.replace(/^private_key=.*$/m, 'private_key=(hidden)').replace(/\n/g, ' ')}`]);
    await uapiSet(s.iface, body);
  }
  for (const s of [lab.a, lab.b]) await addressTunnel(s);
}

async function measure(lab: Lab, daemon: string, iperf: IperfChoice): Promise<Report> {
  const { a, b } = lab;
  step('handshake and first ping');
  const start = Date.now();
  const firstPingMs = await firstPing(a.ns, b.tunnel4);
  const doneAt = Date.now();
  const handshakeAt = await waitFor('a handshake to be reported', 5000, async () => lastHandshakeMs(await uapiGet(a.iface)));
  // The first ping's RTT bounds the handshake (the echo waited for it); starting ping costs more than both, so
  // the daemon's timestamp only confirms that the handshake belongs to this ping. A daemon reporting elapsed
  // rather than absolute time (as boringtun's own device does) is called out.
  const handshakeAbsolute = handshakeAt >= start - 1000 && handshakeAt <= doneAt + 1000;
  step('pinging over IPv4 and IPv6');
  const ping4 = await ping(a.ns, b.tunnel4, 10);
  const ping6 = await ping(a.ns, b.tunnel6, 10);
  step(`measuring throughput for ${TRANSFER_SECONDS} s`);
  const throughput =
    iperf === 'use'
      ? await iperf3(a.ns, b.ns, b.tunnel4, TRANSFER_SECONDS)
      : await nodeTransfer(a.ns, b.ns, b.tunnel4, TRANSFER_SECONDS, iperf === 'missing' ? 'iperf3 not installed' : '--no-iperf3');
  return { daemon, handshakeAbsolute, firstPingMs, ping4, ping6, throughput };
}

function printReport(lab: Lab, r: Report): void {
  const ms = (v: number) => `${v.toFixed(3)} ms`;
  const pingLine = (p: PingResult) => `${p.received}/${p.sent} replies, rtt min ${ms(p.minMs)}, avg ${ms(p.avgMs)}`;
  const hs = r.handshakeAbsolute ? 'confirmed by the daemon' : 'reported, but last_handshake_time is not an absolute time';
  process.stdout.write(
    [
      '',
      `wiretun demo: ${lab.a.ns} (${lab.a.tunnel4}, ${lab.a.tunnel6}) <-> ${lab.b.ns} (${lab.b.tunnel4}, ${lab.b.tunnel6})`,
      `  daemon       ${r.daemon}`,
      `  handshake    <= ${ms(r.firstPingMs)}: the first ping's round trip, which waited for it (${hs})`,
      `  ping IPv4    ${pingLine(r.ping4)}`,
      `  ping IPv6    ${pingLine(r.ping6)}`,
      `  throughput   ${formatRate(r.throughput.bitsPerSecond)} over ${r.throughput.seconds.toFixed(1)} s (${r.throughput.tool})`,
      '',
    ].join('\n'),
  );
}

export interface DemoOptions {
  /** Show every command that changes the system, as `[#] cmd`. */
  verbose: boolean;
  /** Measure with iperf3 when it is installed; false: node's own transfer. */
  iperf: boolean;
}

/** The demo once the CLI checked its arguments, root and tools: a fresh lab, connected, measured, removed. */
export async function runDemo(opts: DemoOptions): Promise<number> {
  setVerbose(opts.verbose);
  for (const ns of sweepStale()) step(`removed ${ns}, left behind by an earlier demo that was killed`);
  const iperf: IperfChoice = !opts.iperf ? 'declined' : have('iperf3') ? 'use' : 'missing';
  return withLab((lab) => demo(lab, iperf));
}

async function demo(lab: Lab, iperf: IperfChoice): Promise<number> {
  const daemon = daemonCommand();
  await connect(lab, daemon);
  const report = await measure(lab, daemon, iperf);
  printReport(lab, report);
  return 0;
}

/** Runs `body` with a fresh lab that is torn down afterwards whatever happens: success, error, SIGINT, SIGTERM. */
async function withLab(body: (lab: Lab) => Promise<number>): Promise<number> {
  const lab = planLab();
  let removed = false;
  const cleanup = () => {
    if (removed) return;
    removed = true;
    step('removing namespaces, daemons and sockets');
    teardown(lab);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nwiretun demo: ${signal}\n`);
    cleanup();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', cleanup);
  try {
    return await body(lab);
  } catch (err) {
    process.stderr.write(`wiretun demo: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', cleanup);
  }
}
