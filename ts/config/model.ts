// The one configuration model shared by the UAPI codec and server, the daemon, the wg-quick parser/formatter
// (ts/config/wgquick.ts wraps it) and the CLI.
//
// Two shapes:
// - DeviceUpdate / PeerUpdate: a change, with wireguard-tools' "has" and "replace" semantics. An absent optional
//   field means "leave as it is"; replacePeers / replaceAllowedIps say "drop what is there first". This is what
//   a `set=1` request carries, and what `wg set`, `wg setconf`/`addconf` and a config file turn into.
// - DeviceState / PeerState: what a device reports (`get=1`), including the runtime counters.
//
// Keys are raw 32-byte Buffers, never text: the UAPI wants lowercase hex, config files and `wg` want base64, and
// keeping bytes in the model means each edge does exactly one conversion and nothing compares two encodings.
// Endpoints are `a.b.c.d:port` or `[v6]:port` strings; only an update read from a config file may still name a
// host there, and formatSet refuses anything but numeric endpoints, so names are resolved before the UAPI;
// allowed IPs are CIDR strings `addr/prefix`.

/** The length of every WireGuard key (private, public, preshared). */
export const KEY_LEN = 32;

/** A change to one peer. `publicKey` identifies it; everything else is optional. */
export interface PeerUpdate {
  publicKey: Buffer;
  /** Remove the peer; every other field is then ignored. */
  remove: boolean;
  /** Only change an existing peer; never create it. */
  updateOnly: boolean;
  /** Set the preshared key; null removes it (all zeros on the wire). */
  presharedKey?: Buffer | null;
  /** `a.b.c.d:port` or `[v6]:port` (`host:port` only until a config file's names are resolved). */
  endpoint?: string;
  /** Seconds, 0 = off. */
  persistentKeepalive?: number;
  /** Drop every allowed IP before adding `allowedIps`. */
  replaceAllowedIps: boolean;
  /** CIDRs to add. */
  allowedIps: string[];
  /** CIDRs to remove (`allowed_ip=-CIDR`, newer wireguard-tools). */
  removeAllowedIps: string[];
}

/** A change to a device: device fields first, then peers in order. */
export interface DeviceUpdate {
  /** Set the private key; null clears it (all zeros on the wire). */
  privateKey?: Buffer | null;
  /** 0 picks a free port. */
  listenPort?: number;
  /** 0 turns it off. */
  fwmark?: number;
  /** Remove every peer before applying `peers`. */
  replacePeers: boolean;
  peers: PeerUpdate[];
}

/** One peer as a device reports it. */
export interface PeerState {
  publicKey: Buffer;
  /** Absent or null when none is set. */
  presharedKey?: Buffer | null;
  endpoint?: string | null;
  /** Absolute Unix time of the last handshake; 0 = never. */
  lastHandshakeSec: number;
  lastHandshakeNsec: number;
  txBytes: number;
  rxBytes: number;
  /** Seconds, 0 = off. */
  persistentKeepalive: number;
  allowedIps: string[];
}

/** A device as it reports itself. */
export interface DeviceState {
  /** null when none is set. */
  privateKey: Buffer | null;
  /** 0 when not bound. */
  listenPort: number;
  /** 0 = off. */
  fwmark: number;
  peers: PeerState[];
}

/** An update that changes nothing on the device itself. */
export function emptyDeviceUpdate(): DeviceUpdate {
  return { replacePeers: false, peers: [] };
}

/** An update for one peer that changes nothing yet. */
export function emptyPeerUpdate(publicKey: Buffer): PeerUpdate {
  return { publicKey, remove: false, updateOnly: false, replaceAllowedIps: false, allowedIps: [], removeAllowedIps: [] };
}

/** True for the all-zero key, which the protocol uses for "none". */
export function isZeroKey(key: Buffer): boolean {
  return key.every((b) => b === 0);
}

/** The update that makes a device equal to `state` (what `wg setconf` sends): replace every peer and every
 * peer's allowed IPs. Runtime counters are not configuration and are dropped. */
export function updateFromState(state: DeviceState): DeviceUpdate {
  return {
    privateKey: state.privateKey,
    listenPort: state.listenPort,
    fwmark: state.fwmark,
    replacePeers: true,
    peers: state.peers.map((p) => ({
      ...emptyPeerUpdate(p.publicKey),
      presharedKey: p.presharedKey ?? null,
      ...(p.endpoint ? { endpoint: p.endpoint } : {}),
      persistentKeepalive: p.persistentKeepalive,
      replaceAllowedIps: true,
      allowedIps: [...p.allowedIps],
    })),
  };
}
