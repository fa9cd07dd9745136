// The measured workloads. Each runs between namespace A (client) and B (server) over one address pair:
// the tunnel addresses for an implementation, the underlay addresses for the raw veth ceiling.
import { readFileSync } from 'node:fs';
import { daemonPids, NS } from './topology';
import { inNs, percentile, spawnInNs, waitFor } from './sh';

export interface Sample {
  tcpGbps: number;
  tcpReverseGbps: number;
  tcp4Gbps: number;
  udpGbps: number;
  udpLossPct: number;
  rttIdle: RttStats;
  rttLoaded: RttStats;
  cpuSecPerGB: number;
  peakRssMiB: number;
}

export interface RttStats {
  min: number;
  avg: number;
  p99: number;
}

const UDP_PAYLOAD = '1372'; // fits a 1420 tunnel MTU without fragmentation

async function iperf(server: string, args: string[], seconds: number): Promise<any> {
  const srv = spawnInNs(NS.b, 'iperf3', ['-s', '-1']);
  try {
    await waitFor('iperf3 server', async () => (await inNs(NS.b, 'ss', ['-ltnH', 'sport = :5201'])).trim() !== '');
    const out = await inNs(NS.a, 'iperf3', ['-c', server, '-t', String(seconds), '-J', ...args], {
      timeoutMs: (seconds + 30) * 1000,
    });
    return JSON.parse(out);
  } finally {
    srv.kill();
  }
}

const gbps = (bps: number) => bps / 1e9;

async function pingStats(target: string, count: number): Promise<RttStats> {
  const out = await inNs(NS.a, 'ping', ['-c', String(count), '-i', '0.01', '-W', '1', target], { timeoutMs: 60_000 });
  const rtts = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const avg = rtts.reduce((a, b) => a + b, 0) / Math.max(1, rtts.length);
  return { min: Math.min(...rtts), avg, p99: percentile(rtts, 99) };
}

function cpuTicks(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the parenthesised command: utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      /* exited */
    }
  }
  return ticks;
}

function peakRssMiB(pids: number[]): number {
  let peak = 0;
  for (const pid of pids) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
    } catch {
      /* exited */
    }
  }
  return peak;
}

/** One repetition of every workload. `daemons` false for the raw veth (no process to account). */
export async function runSample(target: string, seconds: number, daemons: boolean): Promise<Sample> {
  const pids = daemons ? daemonPids() : [];
  const ticks0 = cpuTicks(pids);
  const tcp = await iperf(target, [], seconds);
  const cpuSec = (cpuTicks(pids) - ticks0) / 100; // USER_HZ
  const bytes = tcp.end.sum_received.bytes as number;
  const reverse = await iperf(target, ['-R'], seconds);
  const four = await iperf(target, ['-P', '4'], seconds);
  const udp = await iperf(target, ['-u', '-b', '0', '-l', UDP_PAYLOAD], seconds);
  // 1000 idle pings: with 200, p99 is the second-worst sample and one scheduling hiccup decides it.
  const rttIdle = await pingStats(target, 1000);
  const load = iperf(target, [], 4);
  await new Promise((r) => setTimeout(r, 500));
  const rttLoaded = await pingStats(target, 200);
  await load;
  return {
    tcpGbps: gbps(tcp.end.sum_received.bits_per_second),
    tcpReverseGbps: gbps(reverse.end.sum_received.bits_per_second),
    tcp4Gbps: gbps(four.end.sum_received.bits_per_second),
    udpGbps: gbps(udp.end.sum.bits_per_second * (1 - udp.end.sum.lost_percent / 100)),
    udpLossPct: udp.end.sum.lost_percent,
    rttIdle,
    rttLoaded,
    cpuSecPerGB: daemons ? cpuSec / (bytes / 1e9) : NaN,
    peakRssMiB: peakRssMiB(pids),
  };
}
