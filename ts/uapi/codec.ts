// The cross-platform userspace configuration protocol (what `wg` speaks over /var/run/wireguard/IF.sock), in
// both directions: `set=1` requests ⇄ DeviceUpdate and `get=1` replies ⇄ DeviceState (see ../config/model.ts).
// Parsing a set validates every line before returning, so the server applies all of a request or none of it.
import {
  DeviceState,
  DeviceUpdate,
  emptyDeviceUpdate,
  emptyPeerUpdate,
  isZeroKey,
  PeerState,
  PeerUpdate,
} from '../config/model';
import {
  checkUint,
  ERRNO,
  formatHexKey,
  invalid,
  parseAllowedIp,
  parseEndpoint,
  parseHexKey,
  parseTrue,
  parseUint,
  shown,
  UapiError,
} from './values';

export { ERRNO, UapiError, errnoForCode } from './values';
export type { DeviceState, PeerState } from '../config/model';
/** Older names of the update types, kept for existing importers. */
export type DeviceChange = DeviceUpdate;
export type PeerChange = PeerUpdate;

const U16 = 0xffff;
const U32 = 0xffffffff;

function setPeerKey(p: PeerUpdate, key: string, value: string): void {
  switch (key) {
    case 'remove':
      p.remove = parseTrue(key, value);
      return;
    case 'update_only':
      p.updateOnly = parseTrue(key, value);
      return;
    case 'preshared_key': {
      const k = parseHexKey(key, value);
      p.presharedKey = isZeroKey(k) ? null : k;
      return;
    }
    case 'endpoint':
      p.endpoint = parseEndpoint(value);
      return;
    case 'persistent_keepalive_interval':
      p.persistentKeepalive = parseUint(key, value, U16);
      return;
    case 'replace_allowed_ips':
      p.replaceAllowedIps = parseTrue(key, value);
      return;
    case 'allowed_ip':
      if (value.startsWith('-')) p.removeAllowedIps.push(parseAllowedIp(value.slice(1)));
      else p.allowedIps.push(parseAllowedIp(value));
      return;
    case 'protocol_version':
      if (value !== '1') throw invalid('protocol_version: only 1 is supported');
      return;
    default:
      throw invalid(`unknown peer key ${shown(key, 40)}`);
  }
}

function setDeviceKey(d: DeviceUpdate, key: string, value: string): void {
  switch (key) {
    case 'private_key': {
      const k = parseHexKey(key, value);
      d.privateKey = isZeroKey(k) ? null : k;
      return;
    }
    case 'listen_port':
      d.listenPort = parseUint(key, value, U16);
      return;
    case 'fwmark':
      d.fwmark = parseUint(key, value, U32);
      return;
    case 'replace_peers':
      d.replacePeers = parseTrue(key, value);
      return;
    default:
      throw invalid(`unknown device key ${shown(key, 40)}`);
  }
}

/** Parses the `key=value` lines of a set request (without `set=1` and the closing blank line). Device keys come
 * first; each `public_key` starts a peer block, after which only peer keys are valid (as in wireguard-go). */
export function parseSet(lines: string[]): DeviceUpdate {
  const d = emptyDeviceUpdate();
  let peer: PeerUpdate | undefined;
  for (const line of lines) {
    const eq = line.indexOf('=');
    // No `=` is a framing error (EPROTO); `=value` is an empty, hence unknown, key (EINVAL), as in wireguard-go.
    if (eq < 0) throw new UapiError(ERRNO.EPROTO, `malformed line ${shown(line, 80)}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      peer = emptyPeerUpdate(parseHexKey(key, value));
      d.peers.push(peer);
    } else if (peer) {
      setPeerKey(peer, key, value);
    } else {
      setDeviceKey(d, key, value);
    }
  }
  return d;
}

/** Parses a whole set request, `set=1\n` + lines + `\n`, refusing anything not framed exactly so. */
export function parseSetRequest(text: string): DeviceUpdate {
  if (!text.startsWith('set=1\n')) throw new UapiError(ERRNO.EPROTO, 'a set request starts with set=1');
  if (!text.endsWith('\n\n')) throw new UapiError(ERRNO.EPROTO, 'a request ends with a blank line');
  const lines = text.slice('set=1\n'.length, -1).split('\n');
  lines.pop(); // the empty string after the last line's newline
  if (lines.includes('')) throw new UapiError(ERRNO.EPROTO, 'a blank line inside a set request');
  return parseSet(lines);
}

function peerLines(p: PeerUpdate): string[] {
  const out = [`public_key=${formatHexKey('public_key', p.publicKey)}`];
  if (p.remove) return [...out, 'remove=true'];
  if (p.updateOnly) out.push('update_only=true');
  if (p.presharedKey !== undefined) {
    out.push(`preshared_key=${p.presharedKey === null ? '0'.repeat(64) : formatHexKey('preshared_key', p.presharedKey)}`);
  }
  if (p.endpoint !== undefined) out.push(`endpoint=${parseEndpoint(p.endpoint)}`);
  if (p.persistentKeepalive !== undefined) {
    out.push(`persistent_keepalive_interval=${checkUint('persistent_keepalive_interval', p.persistentKeepalive, U16)}`);
  }
  if (p.replaceAllowedIps) out.push('replace_allowed_ips=true');
  for (const ip of p.allowedIps) out.push(`allowed_ip=${parseAllowedIp(ip)}`);
  for (const ip of p.removeAllowedIps) out.push(`allowed_ip=-${parseAllowedIp(ip)}`);
  return out;
}

/** Formats an update as the body of a set request: `key=value\n` lines in wireguard-tools' order, without the
 * `set=1` line and the closing blank line (what uapiSet takes). Every value is validated on the way out. */
export function formatSet(u: DeviceUpdate): string {
  const out: string[] = [];
  if (u.privateKey !== undefined) {
    out.push(`private_key=${u.privateKey === null ? '0'.repeat(64) : formatHexKey('private_key', u.privateKey)}`);
  }
  if (u.listenPort !== undefined) out.push(`listen_port=${checkUint('listen_port', u.listenPort, U16)}`);
  if (u.fwmark !== undefined) out.push(`fwmark=${checkUint('fwmark', u.fwmark, U32)}`);
  if (u.replacePeers) out.push('replace_peers=true');
  for (const p of u.peers) out.push(...peerLines(p));
  return out.map((l) => `${l}\n`).join('');
}

/** Formats a get reply body (without the errno line), in the order wireguard-go writes it: private_key only
 * when set, listen_port only when bound, fwmark only when non-zero; per peer a zero preshared key when none. */
export function formatGet(s: DeviceState): string {
  const out: string[] = [];
  if (s.privateKey && !isZeroKey(s.privateKey)) out.push(`private_key=${s.privateKey.toString('hex')}`);
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

const protoError = (msg: string) => new UapiError(ERRNO.EPROTO, `malformed get reply: ${msg}`);

function replyKey(key: string, value: string): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw protoError(`${key} is not a hex key`);
  return Buffer.from(value, 'hex');
}

function replyNum(key: string, value: string): number {
  if (!/^[0-9]+$/.test(value)) throw protoError(`${key}=${shown(value, 30)} is not a number`);
  return Number(value);
}

function newPeerState(publicKey: Buffer): PeerState {
  const zero = { lastHandshakeSec: 0, lastHandshakeNsec: 0, txBytes: 0, rxBytes: 0, persistentKeepalive: 0 };
  return { publicKey, presharedKey: null, endpoint: null, ...zero, allowedIps: [] };
}

function setPeerState(p: PeerState, key: string, value: string): void {
  const numeric: Record<string, keyof PeerState> = {
    last_handshake_time_sec: 'lastHandshakeSec',
    last_handshake_time_nsec: 'lastHandshakeNsec',
    tx_bytes: 'txBytes',
    rx_bytes: 'rxBytes',
    persistent_keepalive_interval: 'persistentKeepalive',
  };
  if (key in numeric) (p as unknown as Record<string, number>)[numeric[key]] = replyNum(key, value);
  else if (key === 'preshared_key') {
    const k = replyKey(key, value);
    p.presharedKey = isZeroKey(k) ? null : k;
  } else if (key === 'endpoint') p.endpoint = value;
  else if (key === 'allowed_ip') p.allowedIps.push(value);
  // Anything else (protocol_version, keys of newer or other implementations) is skipped, as wg skips it.
}

/**
 * boringtun's own device reports the last handshake as the time elapsed since it (and only while a session
 * exists), where the protocol has an absolute Unix time. Its get reply is recognisable: it names the device by
 * `own_public_key` instead of `private_key`. Turns those ages into times as of `now`, so callers see one meaning.
 */
function handshakeAgesToTimes(peers: Iterable<PeerState>, now: number): void {
  for (const p of peers) {
    const at = Math.max(0, now - (p.lastHandshakeSec * 1000 + p.lastHandshakeNsec / 1e6));
    p.lastHandshakeSec = Math.floor(at / 1000);
    p.lastHandshakeNsec = Math.round((at - p.lastHandshakeSec * 1000) * 1e6);
  }
}

/** The reverse of formatGet, for clients talking to any userspace WireGuard. The body may still end with its
 * `errno=N` line and blank line; a non-zero errno throws. `now` (ms) dates boringtun's handshake ages. */
export function parseGet(body: string, now = Date.now()): DeviceState {
  const s: DeviceState = { privateKey: null, listenPort: 0, fwmark: 0, peers: [] };
  let p: PeerState | undefined;
  let reportsAges = false;
  const handshaken = new Set<PeerState>();
  for (const line of body.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq < 1) throw protoError(`line ${shown(line, 40)}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'errno') {
      // An errno is a decimal int32 (wireguard-go writes negative ones); anything else is a broken reply.
      if (!/^-?[0-9]{1,10}$/.test(value) || Math.abs(Number(value)) > 0x7fffffff) throw protoError(`errno=${shown(value, 30)}`);
      if (Number(value) !== 0) throw new UapiError(Number(value), `get failed with errno=${value}`);
    } else if (key === 'public_key') {
      p = newPeerState(replyKey(key, value));
      s.peers.push(p);
    } else if (p) {
      setPeerState(p, key, value);
      if (key.startsWith('last_handshake_time_')) handshaken.add(p);
    } else if (key === 'own_public_key') reportsAges = true;
    else if (key === 'private_key') {
      const k = replyKey(key, value);
      s.privateKey = isZeroKey(k) ? null : k;
    } else if (key === 'listen_port') s.listenPort = replyNum(key, value);
    else if (key === 'fwmark') s.fwmark = replyNum(key, value);
  }
  if (reportsAges) handshakeAgesToTimes(handshaken, now);
  return s;
}
