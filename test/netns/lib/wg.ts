// Everything is configured and observed through the real `wg` tool, exactly as a user would.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { getDevice } from '../../../ts/uapi/client';
import { must, run } from './proc';

export interface KeyPair {
  priv: string;
  pub: string;
  /** A 0600 file holding the private key, for `wg set ... private-key FILE`. */
  file: string;
}

let keyCounter = 0;

export async function genKeyPair(dir: string): Promise<KeyPair> {
  const priv = (await must('wg', ['genkey'])).trim();
  const pub = (await must('wg', ['pubkey'], { input: `${priv}\n` })).trim();
  const file = path.join(dir, `key${keyCounter++}`);
  writeFileSync(file, `${priv}\n`, { mode: 0o600 });
  return { priv, pub, file };
}

export async function genPsk(dir: string): Promise<{ key: string; file: string }> {
  const key = (await must('wg', ['genpsk'])).trim();
  const file = path.join(dir, `psk${keyCounter++}`);
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, file };
}

export const wg = (ns: string, args: string[]) => must('wg', args, { ns });

export interface PeerDump {
  publicKey: string;
  presharedKey: string;
  endpoint: string;
  allowedIps: string;
  /** As `wg` printed it: whole seconds, and for boringtun an age, not a time. handshakeTime() reads it right. */
  latestHandshake: number;
  rx: number;
  tx: number;
  keepalive: string;
}

export interface Dump {
  privateKey: string;
  publicKey: string;
  listenPort: string;
  fwmark: string;
  peers: PeerDump[];
}

export function parseDump(text: string): Dump {
  const lines = text.trim().split('\n').map((l) => l.split('\t'));
  const [privateKey, publicKey, listenPort, fwmark] = lines[0];
  const peers = lines.slice(1).map(([publicKey, presharedKey, endpoint, allowedIps, hs, rx, tx, keepalive]) => ({
    publicKey,
    presharedKey,
    endpoint,
    allowedIps,
    latestHandshake: Number(hs),
    rx: Number(rx),
    tx: Number(tx),
    keepalive,
  }));
  return { privateKey, publicKey, listenPort, fwmark, peers };
}

export async function dump(ns: string, ifname: string): Promise<Dump> {
  return parseDump(await wg(ns, ['show', ifname, 'dump']));
}

/** The peer's row, or undefined if the interface has no such peer (or the interface is unreachable). */
export async function peerOf(ns: string, ifname: string, pub: string): Promise<PeerDump | undefined> {
  const r = await run('wg', ['show', ifname, 'dump'], { ns });
  if (r.code !== 0) return undefined;
  return parseDump(r.stdout).peers.find((p) => p.publicKey === pub);
}

/**
 * When `ifname` last completed a handshake with `pub`, in ms since the epoch; undefined for never, or when there
 * is no such peer or interface. Read over UAPI, not from `wg show dump`: the dump keeps whole seconds only, and
 * shows whatever the daemon reported, which for boringtun is the age of the handshake (so a fresh one reads 0,
 * "never"). parseGet turns boringtun's ages into times. The socket is reachable from any namespace.
 */
export async function handshakeTime(ifname: string, pub: string): Promise<number | undefined> {
  const state = await getDevice(ifname, { timeoutMs: 5_000 }).catch(() => undefined);
  const p = state?.peers.find((peer) => peer.publicKey.toString('base64') === pub);
  if (!p || (p.lastHandshakeSec === 0 && p.lastHandshakeNsec === 0)) return undefined;
  return p.lastHandshakeSec * 1000 + p.lastHandshakeNsec / 1e6;
}

export async function handshakeDone(_ns: string, ifname: string, pub: string): Promise<boolean> {
  return (await handshakeTime(ifname, pub)) !== undefined;
}

export async function ping(ns: string, addr: string, opts: { size?: number; dontFragment?: boolean } = {}): Promise<boolean> {
  const extra = [...(opts.size === undefined ? [] : ['-s', String(opts.size)]), ...(opts.dontFragment ? ['-M', 'do'] : [])];
  return (await run('ping', ['-c', '1', '-W', '1', ...extra, addr], { ns, timeoutMs: 5_000 })).code === 0;
}

/** `wg showconf` split into a comparable form: the [Interface] block and the peer blocks in a stable order. */
export function normalizeShowconf(text: string): string[] {
  const blocks = text.split(/\n(?=\[)/).map((b) =>
    b
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(sortAllowedIpsLine)
      .join('\n'),
  );
  const [iface, ...peers] = blocks;
  return [iface, ...peers.sort()];
}

function sortAllowedIpsLine(line: string): string {
  const m = /^AllowedIPs = (.*)$/.exec(line);
  return m ? `AllowedIPs = ${sortCsv(m[1])}` : line;
}

/** Allowed-IP order is an implementation detail (wireguard-go itself changed it between versions). */
export const sortCsv = (csv: string) => csv.split(',').map((s) => s.trim()).sort().join(',');
