// Where .ci/install-peers puts the pinned WireGuard implementations Debian does not package, for the benchmark
// and the interop matrix alike. The pins themselves live in that script: it is the one installer.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { run } from '../../ts/proc';

export const INSTALLER = path.resolve(__dirname, '..', '..', '.ci', 'install-peers');
const BIN = path.join(process.env.WIRETUN_BENCH_CACHE ?? '/var/cache/wiretun-bench', 'bin');

export interface PeerBinary {
  name: 'wireguard-go (latest)' | 'boringtun-cli';
  command: string;
  /** Arguments before the interface name. */
  args: string[];
}

export const LATEST_WIREGUARD_GO: PeerBinary = { name: 'wireguard-go (latest)', command: path.join(BIN, 'wireguard'), args: [] };
// boringtun-cli refuses to run as root unless told to keep its privileges.
export const BORINGTUN_CLI: PeerBinary = { name: 'boringtun-cli', command: path.join(BIN, 'boringtun-cli'), args: ['--disable-drop-privileges'] };

export const installed = (p: PeerBinary) => existsSync(p.command);

/** Runs the installer (a no-op when both pins are current); resolves to its output, exit status aside. */
export async function installPeers(): Promise<{ ok: boolean; output: string }> {
  // A cold cargo build of boringtun-cli takes minutes on 2 cores.
  const r = await run('bash', [INSTALLER], { timeoutMs: 30 * 60_000 });
  return { ok: r.code === 0, output: `${r.stdout}${r.stderr}`.trim() };
}
