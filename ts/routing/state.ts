// What `up` changed on the system, kept under /var/run/wiretun/IFNAME.json so `down` can undo it even when the
// daemon that answered `wg show` is gone (wg-quick then stops at "is not a WireGuard interface" and leaves
// rules, firewall tables and DNS behind). The file holds no key material: only what the cleanup needs.
// It is written before anything is changed (with what is about to be done) and updated as facts become known,
// so an `up` killed half way still leaves enough behind for `down`.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export const STATE_DIR = '/var/run/wiretun';

export interface SysctlChange {
  /** e.g. net.ipv4.ip_forward */
  key: string;
  /** The value before `up` changed it, written back by `down`. */
  previous: string;
}

export interface MasqueradeState {
  /** `ip NAME` / `ip6 NAME` nft tables holding the masquerade rules. */
  nftTables: string[];
  /** Forwarding sysctls `up` turned on (only those that were off). */
  sysctls: SysctlChange[];
}

export interface UpState {
  version: 1;
  iface: string;
  /** The config file `up` read, for `down IFACE` to find the same one. */
  configPath: string;
  /** The default-route table (= fwmark) whose rules `up` added; undefined without policy routing. */
  table?: number;
  /** All peers' allowed IPs as configured, so `down` decides on rules without asking the daemon. */
  allowedIps: string[];
  /** The resolver entry `up` set: `resolvconf` name (prefix + interface) or a resolvectl link. */
  dns?: { tool: 'resolvconf' | 'resolvectl'; name: string };
  /** The firewall tool used for the default-route marks. */
  firewall?: 'nft' | 'iptables';
  masquerade?: MasqueradeState;
  /** The daemon's pid as far as known (informational: `down` deletes the link, which ends the daemon). */
  daemonPid?: number;
}

export function statePath(iface: string, dir = STATE_DIR): string {
  return path.join(dir, `${iface}.json`);
}

/** Writes atomically (tmp + rename) with mode 0600 in a 0700 directory. */
export async function writeState(state: UpState, dir = STATE_DIR): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  const file = statePath(state.iface, dir);
  const tmp = `${file}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
}

function isUpState(v: unknown, iface: string): v is UpState {
  const s = v as Partial<UpState> | null;
  return !!s && s.version === 1 && s.iface === iface && typeof s.configPath === 'string' && Array.isArray(s.allowedIps);
}

/** The recorded state, or undefined when there is none; a corrupt file is reported, not trusted. */
export async function readState(iface: string, dir = STATE_DIR): Promise<{ state?: UpState; problem?: string }> {
  let text: string;
  try {
    text = await fs.readFile(statePath(iface, dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { problem: `cannot read ${statePath(iface, dir)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (isUpState(parsed, iface)) return { state: parsed };
  } catch {
    /* reported below */
  }
  return { problem: `${statePath(iface, dir)} is not a wiretun state file for ${iface}: ignored` };
}

export async function removeState(iface: string, dir = STATE_DIR): Promise<void> {
  await fs.rm(statePath(iface, dir), { force: true });
}
