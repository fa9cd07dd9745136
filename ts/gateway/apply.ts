// The running side of a gateway: the location's rows turned into the wg-quick model (ts/config/), brought up
// and down by the code of `wiretun up` / `down` (ts/routing/apply.ts), and its peers changed over UAPI. What
// `ip` applies (addresses, MTU) can only change by taking the interface down and up again; everything else
// (key, port, peers) changes in place, so sessions of untouched peers live on.
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import { formatIp, parseCidr } from '../config/ip';
import { DeviceState, DeviceUpdate, PeerUpdate } from '../config/model';
import { configPeer, emptyConfig, WgQuickConfig } from '../config/wgquick';
import { decodeKey } from '../keys';
import { liveDevice } from '../peers/live';
import { applyDown, applyUp, ApplyEnv } from '../routing/apply';
import { linkExists } from '../routing/gather';
import { readState } from '../routing/state';
import { setDevice } from '../uapi/client';
import { Client, Location } from './source';

/** A row the gateway cannot use; the message names the row and column, never a key's value. */
export class RowError extends Error {
  override name = 'RowError';
}

export const list = (text: string | null): string[] => (text ? text.split(',').map((s) => s.trim()).filter(Boolean) : []);

function cidrs(text: string, what: string): string[] {
  return list(text).map((item) => {
    const c = parseCidr(item);
    if (!c) throw new RowError(`${what}: ${JSON.stringify(item)} is not an address or CIDR`);
    return item;
  });
}

function key(value: string, what: string): Buffer {
  try {
    return decodeKey(value, what);
  } catch {
    throw new RowError(`${what} is not a base64 WireGuard key`);
  }
}

/** The peer a client is on the server: its addresses as allowed IPs (replacing any), its PSK or none. */
export function clientPeer(c: Client): PeerUpdate {
  const what = `client ${c.publicKey}`;
  const peer = configPeer(key(c.publicKey, `${what}: public_key`), { allowedIps: cidrs(c.addresses, `${what}: addresses`) });
  peer.presharedKey = c.presharedKey === null ? null : key(c.presharedKey, `${what}: preshared_key`);
  return peer;
}

/** The settings `ip` applies; a change means the interface goes down and up again. */
export interface Shape {
  /** Canonical `addr/prefix`, sorted. */
  addresses: string[];
  mtu: number | null;
}

/** `addr/prefix` in one spelling (host bits kept: it is an address, not a route). */
const canonicalAddress = (a: string) => {
  const c = parseCidr(a)!;
  return `${formatIp(c)}/${c.prefix}`;
};

export function shapeOf(loc: Location): Shape {
  return { addresses: cidrs(loc.addresses, `location ${loc.name}: addresses`).map(canonicalAddress).sort(), mtu: loc.mtu };
}

/** Whether an interface with shape `have` runs what `want` says; no MTU in `want` means wg-quick's choice,
 * which any MTU may be. */
export function fits(have: Shape, want: Shape): boolean {
  return (want.mtu === null || want.mtu === have.mtu) && have.addresses.join() === want.addresses.join();
}

/**
 * The interface a location describes, with every usable enabled client as a peer. Table = off: a gateway's
 * peers come and go after `up`, so routes are the Address subnets' own (clients' addresses belong inside
 * them), never something `up` alone would add. A client row that cannot be used is left out and reported in
 * `problems`; a location row that cannot be used throws.
 */
export function wantedConfig(loc: Location, clients: Client[], problems: string[]): WgQuickConfig {
  const config = emptyConfig();
  config.device.privateKey = key(loc.privateKey, `location ${loc.name}: private_key`);
  config.device.listenPort = loc.listenPort;
  config.addresses = cidrs(loc.addresses, `location ${loc.name}: addresses`);
  if (config.addresses.length === 0) throw new RowError(`location ${loc.name}: addresses is empty`);
  if (loc.mtu !== null) config.mtu = loc.mtu;
  config.table = 'off';
  for (const c of clients) {
    try {
      config.device.peers.push(clientPeer(c));
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return config;
}

/** What is already there when the gateway starts. */
export type Existing = 'none' | 'ours' | 'stale' | 'foreign';

/** The interface, as the gateway drives it; unit tests fake it. */
export interface DeviceSide {
  readonly iface: string;
  /** The running device; undefined when its daemon does not answer. */
  get(): Promise<DeviceState | undefined>;
  set(update: DeviceUpdate): Promise<void>;
  existing(): Promise<Existing>;
  /** The addresses and MTU the interface has now. */
  liveShape(): Promise<Shape>;
  up(config: WgQuickConfig): Promise<void>;
  /** Takes it down; from the recorded state alone when its daemon is gone. */
  down(config: WgQuickConfig): Promise<void>;
}

/** The state file's config path for a gateway's interface: not a file, so `wiretun down IF` goes by the state. */
export const stateMarker = (location: string) => `wiretun gateway --location ${location}`;

function liveAddresses(iface: string): string[] {
  return (os.networkInterfaces()[iface] ?? []).filter((a) => !a.address.startsWith('fe80')).map((a) => canonicalAddress(a.cidr ?? a.address));
}

function liveMtu(iface: string): number | null {
  const file = `/sys/class/net/${iface}/mtu`;
  return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : null;
}

export function realDevice(iface: string, location: string, env: ApplyEnv): DeviceSide {
  return {
    iface,
    get: () => liveDevice(iface),
    set: (update) => setDevice(iface, update),
    existing: async () => {
      const { state } = await readState(iface, env.stateDir);
      if (state?.configPath === stateMarker(location)) return (await liveDevice(iface)) ? 'ours' : 'stale';
      if (state || (await linkExists(env.sys, iface))) return 'foreign';
      return 'none';
    },
    liveShape: async () => ({ addresses: liveAddresses(iface).sort(), mtu: liveMtu(iface) }),
    up: (config) => applyUp(env, config, iface, { configPath: stateMarker(location) }),
    down: async (config) => {
      const failed = await applyDown(env, config, iface);
      if (failed) throw new Error(`down ${iface}: ${failed} step(s) failed (see above)`);
    },
  };
}
