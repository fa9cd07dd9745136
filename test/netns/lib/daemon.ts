// Starting and observing daemons that follow the wireguard-go contract: `PROG IFNAME` exits 0 once the TUN and
// the UAPI socket exist, leaving a background process behind.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Impl } from './env';
import { daemonPids, Lab, Node, SOCK_DIR } from './lab';
import { must, mustDetaching } from './proc';
import { waitFor } from './wait';

export interface Iface {
  impl: Impl;
  node: Node;
  name: string;
  /** Tunnel addresses assigned inside the namespace. */
  v4?: string;
  v6?: string;
}

export const sockPath = (ifname: string) => path.join(SOCK_DIR, `${ifname}.sock`);

/** Starts `impl` for a new interface in `node`'s namespace; resolves when the interface and its socket exist. */
export async function startDaemon(lab: Lab, impl: Impl, node: Node): Promise<Iface> {
  const name = lab.ifname();
  const log = path.join(lab.tmp, `${name}.log`);
  // No LOG_LEVEL: the daemon must not hold output open for us; whatever it prints lands in the log file.
  await mustDetaching(impl.command, [...(impl.args ?? []), name], log, { ns: node.ns, timeoutMs: 20_000 });
  await waitFor(`${impl.name} ${name}: UAPI socket`, () => existsSync(sockPath(name)), { timeoutMs: 5_000 });
  await must('ip', ['-n', node.ns, 'link', 'show', 'dev', name]);
  return { impl, node, name };
}

/** Gives the interface tunnel addresses (host part `host` of 10.211.0.0/24 and fd00:211::/64) and brings it up. */
export async function addressTunnel(iface: Iface, host: number): Promise<void> {
  iface.v4 = `10.211.0.${host}`;
  iface.v6 = `fd00:211::${host.toString(16)}`;
  const ns = iface.node.ns;
  await must('ip', ['-n', ns, 'address', 'add', `${iface.v4}/24`, 'dev', iface.name]);
  await must('ip', ['-n', ns, 'address', 'add', `${iface.v6}/64`, 'dev', iface.name, 'nodad']);
  await must('ip', ['-n', ns, 'link', 'set', 'dev', iface.name, 'mtu', '1420', 'up']);
}

export function isRunning(ifname: string): boolean {
  return daemonPids([ifname]).length > 0;
}

/** Waits for the daemon process and its socket to disappear (bounded). */
export async function waitGone(ifname: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(`daemon for ${ifname} to exit`, () => !isRunning(ifname), { timeoutMs });
  await waitFor(`${sockPath(ifname)} to vanish`, () => !existsSync(sockPath(ifname)), { timeoutMs });
}

