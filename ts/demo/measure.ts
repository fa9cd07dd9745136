// What the demo measures across the tunnel: ping RTT and a short TCP transfer (iperf3, or node itself).
import { describe, must, run, start } from '../proc';
import { show, waitFor } from './util';

export interface PingResult {
  sent: number;
  received: number;
  minMs: number;
  avgMs: number;
  maxMs: number;
}

/** Parses iputils ping's summary; undefined if ping printed none (e.g. every packet was lost). */
export function parsePing(out: string): PingResult | undefined {
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/[\d.]+ ms/.exec(out);
  if (!counts || !rtt) return undefined;
  return { sent: +counts[1], received: +counts[2], minMs: +rtt[1], avgMs: +rtt[2], maxMs: +rtt[3] };
}

export async function ping(ns: string, target: string, count: number): Promise<PingResult> {
  const args = ['-n', '-q', '-c', String(count), '-i', '0.1', '-W', '2', target];
  const r = await run('ping', args, { ns, timeoutMs: 5000 + count * 2000, trace: show });
  const parsed = parsePing(r.stdout);
  if (!parsed || parsed.received === 0) throw new Error(`no reply across the tunnel: ${describe('ping', args, r)}`);
  return parsed;
}

/** The RTT of one ping, in ms: sent first, it also carries the handshake. */
export async function firstPing(ns: string, target: string): Promise<number> {
  const args = ['-n', '-c', '1', '-W', '5', target];
  const out = await must('ping', args, { ns, timeoutMs: 10_000, trace: show });
  const m = /time=([\d.]+) ms/.exec(out);
  if (!m) throw new Error(`cannot read the RTT from ping's output:\n${out}`);
  return Number(m[1]);
}

export interface Throughput {
  bitsPerSecond: number;
  seconds: number;
  tool: string;
}

async function listening(ns: string, port: number): Promise<true | undefined> {
  const r = await run('ss', ['-Hltn', `sport = :${port}`], { ns });
  return r.stdout.trim() ? true : undefined;
}

export async function iperf3(client: string, server: string, target: string, seconds: number): Promise<Throughput> {
  const port = 5201;
  const srv = start('iperf3', ['-s', '-1', '-B', target, '-p', String(port)], { ns: server, timeoutMs: 30_000 });
  try {
    await waitFor('iperf3 to listen', 5000, () => listening(server, port));
    const args = ['-c', target, '-p', String(port), '-t', String(seconds), '-J'];
    const out = await must('iperf3', args, { ns: client, timeoutMs: (seconds + 15) * 1000, trace: show });
    const report = JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number; seconds?: number } } };
    const sum = report.end?.sum_received;
    if (!sum?.bits_per_second) throw new Error(`iperf3 reported no throughput:\n${out.slice(0, 2000)}`);
    return { bitsPerSecond: sum.bits_per_second, seconds: sum.seconds ?? seconds, tool: 'iperf3, 1 TCP stream' };
  } finally {
    srv.child.kill();
    await srv.done;
  }
}

// Inline scripts for the fallback: node runs inside the namespaces, so nothing but the tunnel carries the data.
const SINK = `// wiretun demo: TCP sink
const net = require('node:net');
const [host, port] = process.argv.slice(1);
let bytes = 0;
const server = net.createServer((c) => {
  c.on('data', (d) => (bytes += d.length));
  c.on('end', () => { process.stdout.write('received ' + bytes + '\\n'); c.end(); server.close(); });
});
server.listen(Number(port), host, () => process.stdout.write('listening\\n'));`;

const SOURCE = `// wiretun demo: TCP source
const net = require('node:net');
const [host, port, ms, max] = process.argv.slice(1).map((v, i) => (i ? Number(v) : v));
const chunk = Buffer.alloc(128 * 1024, 0x5a);
const start = process.hrtime.bigint();
let sent = 0;
const c = net.connect(port, host, () => pump());
function pump() {
  while (Number(process.hrtime.bigint() - start) / 1e6 < ms && sent < max) {
    sent += chunk.length;
    if (!c.write(chunk)) return void c.once('drain', pump);
  }
  c.end();
}
c.on('data', () => {});
c.on('close', () => process.stdout.write('seconds ' + Number(process.hrtime.bigint() - start) / 1e9 + '\\n'));`;

/** A bounded TCP transfer with node on both ends, for machines without iperf3. */
export async function nodeTransfer(client: string, server: string, target: string, seconds: number, why: string): Promise<Throughput> {
  const port = 5202;
  const maxBytes = 4 * 1024 ** 3;
  const srv = start(process.execPath, ['-e', SINK, target, String(port)], { ns: server, timeoutMs: 30_000 });
  try {
    await waitFor('the node TCP sink to listen', 5000, async () => (srv.output().includes('listening') ? true : undefined));
    const args = ['-e', SOURCE, target, String(port), String(seconds * 1000), String(maxBytes)];
    const out = await must(process.execPath, args, { ns: client, timeoutMs: (seconds + 15) * 1000, trace: show });
    await srv.done;
    const secs = Number(/seconds ([\d.]+)/.exec(out)?.[1]);
    const bytes = Number(/received (\d+)/.exec(srv.output())?.[1]);
    if (!(secs > 0) || !(bytes > 0)) throw new Error(`the node TCP transfer failed:\n${out}\n${srv.output()}`);
    return { bitsPerSecond: (bytes * 8) / secs, seconds: secs, tool: `node TCP transfer, ${why}` };
  } finally {
    srv.child.kill();
    await srv.done;
  }
}

export function formatRate(bps: number): string {
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(2)} Gbit/s`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(1)} Mbit/s`;
  return `${(bps / 1e3).toFixed(1)} kbit/s`;
}
