// The client half of the cross-platform userspace configuration protocol (what `wg` speaks over
// /var/run/wireguard/IF.sock): DeviceUpdate → `set=1` request lines, and `get=1` replies → DeviceState (see
// ../config/model.ts). The server half (parsing sets, writing gets) is native: crates/wiretun-core/src/uapi,
// answered on a Rust thread (./server.ts). Round trips between the two are checked in test/unit/props-uapi.
import { DeviceState, DeviceUpdate, isZeroKey, PeerState, PeerUpdate } from '../config/model';
import { checkUint, ERRNO, formatHexKey, parseAllowedIp, parseEndpoint, shown, UapiError } from './values';

export { ERRNO, UapiError } from './values';
export type { DeviceState, PeerState } from '../config/model';
/** Older names of the update types, kept for existing importers. */
export type DeviceChange = DeviceUpdate;
export type PeerChange = PeerUpdate;

const U16 = 0xffff;
const U32 = 0xffffffff;

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
 * `set=1` line and the closing blank line (what uapiSet takes). Every value is validated on the way out, in
 * the one canonical spelling the native parser writes back (so a formatted request reads back as itself). */
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

/** Reads a get reply (as the native server, wireguard-go or boringtun writes it), for clients talking to any
 * userspace WireGuard. The body may still end with its `errno=N` line and blank line; a non-zero errno throws.
 * `now` (ms) dates boringtun's handshake ages. */
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
