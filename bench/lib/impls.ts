// The implementations compared. Each is a daemon with the wireguard-go contract (`PROG IFNAME` creates
// the interface and its UAPI socket, then backgrounds), configured with the real `wg`.
import * as path from 'node:path';
import { sh } from './sh';
import { BORINGTUN_CLI, INSTALLER, installed, installPeers, LATEST_WIREGUARD_GO } from './peers';

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

async function which(cmd: string): Promise<string | undefined> {
  try {
    return (await sh('sh', ['-c', `command -v ${cmd}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The pinned peers, installed (or brought up to their pins) by the same script .ci/setup runs. */
async function pinnedPeers(): Promise<Impl[]> {
  const { ok, output } = await installPeers();
  if (!ok) console.log(output);
  const why = `bash ${path.relative(REPO, INSTALLER)} could not install it (its output is above)`;
  return [LATEST_WIREGUARD_GO, BORINGTUN_CLI].map((p) =>
    installed(p) ? { name: p.name, command: p.command, args: p.args } : { name: p.name, skipped: why },
  );
}

export async function implementations(only?: string[]): Promise<Impl[]> {
  const debian = await which('wireguard-go');
  const all: Impl[] = [
    { name: 'wiretun', command: path.join(REPO, 'bin', 'wiretund') },
    debian ? { name: 'wireguard-go (Debian)', command: debian } : { name: 'wireguard-go (Debian)', skipped: 'package wireguard-go is not installed' },
    ...(await pinnedPeers()),
  ];
  return only ? all.filter((i) => only.some((o) => i.name.startsWith(o))) : all;
}
