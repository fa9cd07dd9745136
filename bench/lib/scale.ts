// Many peers: how long configuring them through UAPI takes, what they cost in memory, and whether
// throughput to the one real peer survives them. Each step adds peers with one `wg addconf` to those already
// there: 1,000, then 9,000 (10,000 in all); then for the implementations that claim to scale 55,535 more
// (65,535: with the one real peer that is wireguard-go's limit, its MaxPeers = 2^16, so ours and both
// wireguard-go builds compare there), and for wiretun alone on to 100,000.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { daemonPids, IF, NS } from './topology';
import { inNs } from './sh';

/** Peers configured after each step. */
export const SCALE_STEPS = [1000, 10_000, 65_535, 100_000] as const;
/** Throughput is measured once, with this many peers configured. */
export const THROUGHPUT_AT = 10_000;
/** Implementations that go on past 10,000 peers (boringtun-cli stops there). */
export const LARGE_SCALE = /^(wiretun|wireguard-go)/;
/** wireguard-go refuses a peer beyond its MaxPeers (2^16, counting the one real peer): EINVAL, or `wg addconf`
 * dies of SIGPIPE when it hangs up mid-request. */
export const WIREGUARD_GO_MAX_PEERS = 65_535; // added peers, beside the real one

export interface ScaleResult {
  /** Peers configured in all after this step (the time and memory are those of the peers this step added). */
  peers: number;
  configureMs: number;
  bytesPerPeer: number;
  /** TCP single stream with this many peers configured (measured at THROUGHPUT_AT only). */
  gbpsWithPeers?: number;
}

/** A config fragment of `n` peers with random keys and 1-4 distinct /32s each, none overlapping ours. */
export function peersConf(n: number): string {
  const lines: string[] = [];
  let host = 0;
  for (let i = 0; i < n; i++) {
    const ips = Array.from({ length: 1 + (i % 4) }, () => {
      host++;
      return `10.${100 + (host >> 16)}.${(host >> 8) & 255}.${host & 255}/32`;
    });
    lines.push('[Peer]', `PublicKey = ${randomBytes(32).toString('base64')}`, `AllowedIPs = ${ips.join(', ')}`, '');
  }
  return lines.join('\n');
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** The steps an implementation goes through. */
export function scaleSteps(impl: string): number[] {
  return SCALE_STEPS.filter(
    (n) => n <= THROUGHPUT_AT || (LARGE_SCALE.test(impl) && (!impl.startsWith('wireguard-go') || n <= WIREGUARD_GO_MAX_PEERS)),
  );
}

/** Adds `n` peers to side A's running daemon with `wg addconf`. */
export async function addPeers(n: number): Promise<ScaleResult> {
  const [pid] = daemonPids(IF.a);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wtscale-'));
  try {
    const file = path.join(dir, 'peers.conf');
    writeFileSync(file, peersConf(n), { mode: 0o600 });
    const before = rssBytes(pid);
    const start = process.hrtime.bigint();
    await inNs(NS.a, 'wg', ['addconf', IF.a, file], { timeoutMs: 300_000 });
    const configureMs = Number(process.hrtime.bigint() - start) / 1e6;
    return { peers: n, configureMs, bytesPerPeer: (rssBytes(pid) - before) / n };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
