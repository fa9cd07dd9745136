// The cross-platform userspace configuration protocol (what `wg` speaks over /var/run/wireguard/IF.sock):
// `set=1` bodies parsed into a change set with wireguard-tools' has/replace flags, `get=1` replies formatted
// in wireguard-go's order. Keys travel as 64 lowercase hex characters. Parsing validates everything, so a
// bad request is refused before anything is applied.
import { isIP } from 'node:net';
import { parseCidr, canonicalCidr } from '../config/ip';

/** Errnos as wireguard-go writes them in `errno=N` (negative), which `wg` turns back into messages. */
export const ERRNO = { EIO: -5, EPROTO: -71, EINVAL: -22, EADDRINUSE: -98, UNKNOWN: -55 } as const;

export class UapiError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
    this.name = 'UapiError';
  }
}

export interface PeerChange {
  publicKey: Buffer;
  remove: boolean;
  updateOnly: boolean;
  /** All zeros removes it. */
  presharedKey?: Buffer;
  /** Numeric `a.b.c.d:port` or `[v6]:port`. */
  endpoint?: string;
  persistentKeepalive?: number;
  replaceAllowedIps: boolean;
  allowedIps: string[];
  removeAllowedIps: string[];
}

export interface DeviceChange {
  /** null clears the key (all zeros on the wire). */
  privateKey?: Buffer | null;
  listenPort?: number;
  fwmark?: number;
  replacePeers: boolean;
  peers: PeerChange[];
}

export interface PeerState {
  publicKey: Buffer;
  presharedKey?: Buffer | null;
  endpoint?: string | null;
  lastHandshakeSec: number;
  lastHandshakeNsec: number;
  txBytes: number;
  rxBytes: number;
  persistentKeepalive: number;
  allowedIps: string[];
}

export interface DeviceState {
  privateKey: Buffer | null;
  listenPort: number;
  fwmark: number;
  peers: PeerState[];
}

const invalid = (msg: string) => new UapiError(ERRNO.EINVAL, msg);

function hexKey(key: string, value: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(value)) throw invalid(`${key}: expected 64 lowercase hex characters`);
  return Buffer.from(value, 'hex');
}

function uint(key: string, value: string, max: number): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) > max) throw invalid(`${key}: expected an integer 0-${max}`);
  return Number(value);
}

function flag(key: string, value: string): true {
  if (value !== 'true') throw invalid(`${key}: the only accepted value is true`);
  return true;
}

function endpoint(value: string): string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]+):(\d+)$/.exec(value);
  if (!m || isIP(m[1]) === 0) throw invalid('endpoint: expected a.b.c.d:port or [v6]:port');
  uint('endpoint port', m[2], 65535);
  return value;
}

function cidr(value: string): string {
  const c = parseCidr(value);
  if (!c) throw invalid(`allowed_ip: ${JSON.stringify(value)} is not an IP prefix`);
  return canonicalCidr(c);
}

function newPeer(publicKey: Buffer): PeerChange {
  return { publicKey, remove: false, updateOnly: false, replaceAllowedIps: false, allowedIps: [], removeAllowedIps: [] };
}

function setPeerKey(p: PeerChange, key: string, value: string): void {
  switch (key) {
    case 'remove':
      p.remove = flag(key, value);
      return;
    case 'update_only':
      p.updateOnly = flag(key, value);
      return;
    case 'preshared_key':
      p.presharedKey = hexKey(key, value);
      return;
    case 'endpoint':
      p.endpoint = endpoint(value);
      return;
    case 'persistent_keepalive_interval':
      p.persistentKeepalive = uint(key, value, 65535);
      return;
    case 'replace_allowed_ips':
      p.replaceAllowedIps = flag(key, value);
      return;
    case 'allowed_ip':
      if (value.startsWith('-')) p.removeAllowedIps.push(cidr(value.slice(1)));
      else p.allowedIps.push(cidr(value));
      return;
    case 'protocol_version':
      if (value !== '1') throw invalid('protocol_version: only 1 is supported');
      return;
    default:
      throw invalid(`unknown peer key ${JSON.stringify(key)}`);
  }
}

function setDeviceKey(d: DeviceChange, key: string, value: string): void {
  switch (key) {
    case 'private_key': {
      const k = hexKey(key, value);
      d.privateKey = k.every((b) => b === 0) ? null : k;
      return;
    }
    case 'listen_port':
      d.listenPort = uint(key, value, 65535);
      return;
    case 'fwmark':
      d.fwmark = value === '' ? 0 : uint(key, value, 0xffffffff);
      return;
    case 'replace_peers':
      d.replacePeers = flag(key, value);
      return;
    default:
      throw invalid(`unknown device key ${JSON.stringify(key)}`);
  }
}

/** Parses the `key=value` lines of a set request (without `set=1` and the closing blank line). */
export function parseSet(lines: string[]): DeviceChange {
  const d: DeviceChange = { replacePeers: false, peers: [] };
  let peer: PeerChange | undefined;
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq < 1) throw new UapiError(ERRNO.EPROTO, `malformed line ${JSON.stringify(line.slice(0, 80))}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      peer = newPeer(hexKey(key, value));
      d.peers.push(peer);
    } else if (peer) {
      setPeerKey(peer, key, value);
    } else {
      setDeviceKey(d, key, value);
    }
  }
  return d;
}

/** Formats a get reply body (without the errno line), in the order wireguard-go writes it. */
export function formatGet(s: DeviceState): string {
  const out: string[] = [];
  if (s.privateKey) out.push(`private_key=${s.privateKey.toString('hex')}`);
  if (s.listenPort) out.push(`listen_port=${s.listenPort}`);
  if (s.fwmark) out.push(`fwmark=${s.fwmark}`);
  for (const p of s.peers) {
    out.push(`public_key=${p.publicKey.toString('hex')}`);
    out.push(`preshared_key=${(p.presharedKey ?? Buffer.alloc(32)).toString('hex')}`);
    out.push('protocol_version=1');
    if (p.endpoint) out.push(`endpoint=${p.endpoint}`);
    out.push(`last_handshake_time_sec=${p.lastHandshakeSec}`, `last_handshake_time_nsec=${p.lastHandshakeNsec}`);
    out.push(`tx_bytes=${p.txBytes}`, `rx_bytes=${p.rxBytes}`);
    out.push(`persistent_keepalive_interval=${p.persistentKeepalive}`);
    for (const ip of p.allowedIps) out.push(`allowed_ip=${ip}`);
  }
  return out.map((l) => `${l}\n`).join('');
}

/** The reverse of formatGet, for clients. */
export function parseGet(body: string): DeviceState {
  const s: DeviceState = { privateKey: null, listenPort: 0, fwmark: 0, peers: [] };
  let p: PeerState | undefined;
  for (const line of body.split('\n').filter(Boolean)) {
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      p = { publicKey: Buffer.from(value, 'hex'), lastHandshakeSec: 0, lastHandshakeNsec: 0, txBytes: 0, rxBytes: 0, persistentKeepalive: 0, allowedIps: [] };
      s.peers.push(p);
    } else if (!p) {
      if (key === 'private_key') s.privateKey = Buffer.from(value, 'hex');
      else if (key === 'listen_port') s.listenPort = Number(value);
      else if (key === 'fwmark') s.fwmark = Number(value);
    } else if (key === 'preshared_key') {
      p.presharedKey = /^0+$/.test(value) ? null : Buffer.from(value, 'hex');
    } else if (key === 'endpoint') p.endpoint = value;
    else if (key === 'allowed_ip') p.allowedIps.push(value);
    else if (key === 'last_handshake_time_sec') p.lastHandshakeSec = Number(value);
    else if (key === 'last_handshake_time_nsec') p.lastHandshakeNsec = Number(value);
    else if (key === 'tx_bytes') p.txBytes = Number(value);
    else if (key === 'rx_bytes') p.rxBytes = Number(value);
    else if (key === 'persistent_keepalive_interval') p.persistentKeepalive = Number(value);
  }
  return s;
}
