// The implementations compared. Each is a daemon with the wireguard-go contract (`PROG IFNAME` creates
// the interface and its UAPI socket, then backgrounds), configured with the real `wg`.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { sh, trySh } from './sh';

export interface Impl {
  name: string;
  /** The daemon command, or why it is unavailable. */
  command?: string;
  /** Arguments before the interface name. */
  args?: string[];
  skipped?: string;
  env?: Record<string, string>;
}

const REPO = path.resolve(__dirname, '..', '..');
/** Pinned peers, installed from their registries into a cache outside the repo. */
export const WIREGUARD_GO_MODULE = 'golang.zx2c4.com/wireguard@v0.0.0-20260522210424-ecfc5a8d5446'; // tag 0.0.20250522
export const BORINGTUN_CLI_VERSION = '0.7.1';
const CACHE = process.env.WIRETUN_BENCH_CACHE ?? '/var/cache/wiretun-bench';

async function which(cmd: string): Promise<string | undefined> {
  try {
    return (await sh('sh', ['-c', `command -v ${cmd}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

async function latestWireguardGo(): Promise<Impl> {
  const bin = path.join(CACHE, 'bin', 'wireguard');
  if (!existsSync(bin)) {
    if (!(await which('go'))) return { name: 'wireguard-go (latest)', skipped: 'Go is not installed' };
    const ok = await trySh('env', [`GOBIN=${path.join(CACHE, 'bin')}`, 'go', 'install', WIREGUARD_GO_MODULE]);
    if (!ok) return { name: 'wireguard-go (latest)', skipped: `go install ${WIREGUARD_GO_MODULE} failed` };
  }
  return { name: 'wireguard-go (latest)', command: bin };
}

async function boringtun(): Promise<Impl> {
  const bin = path.join(CACHE, 'bin', 'boringtun-cli');
  if (!existsSync(bin)) {
    if (!(await which('cargo'))) return { name: 'boringtun-cli', skipped: 'cargo is not installed' };
    const args = ['install', 'boringtun-cli', '--locked', '--version', BORINGTUN_CLI_VERSION, '--root', CACHE];
    if (!(await trySh('cargo', args))) return { name: 'boringtun-cli', skipped: 'cargo install boringtun-cli failed' };
  }
  // boringtun-cli refuses to run as root unless told to keep its privileges.
  return { name: 'boringtun-cli', command: bin, args: ['--disable-drop-privileges'] };
}

export async function implementations(only?: string[]): Promise<Impl[]> {
  const debian = await which('wireguard-go');
  const all: Impl[] = [
    { name: 'wiretun', command: path.join(REPO, 'bin', 'wiretund') },
    debian ? { name: 'wireguard-go (Debian)', command: debian } : { name: 'wireguard-go (Debian)', skipped: 'package wireguard-go is not installed' },
    await latestWireguardGo(),
    await boringtun(),
  ];
  return only ? all.filter((i) => only.some((o) => i.name.startsWith(o))) : all;
}
