// The wg-quick configuration model: the `wg` part of a file is the one model of ts/config/model.ts (a
// DeviceUpdate with `wg setconf` semantics: replace every peer, and each peer's allowed IPs), wrapped with the
// keys only wg-quick handles. The parser, the formatter, the UAPI client and the CLI all speak this model;
// base64 (files, `wg`) and hex (UAPI) exist only at those edges.
import { DeviceState, DeviceUpdate, emptyDeviceUpdate, emptyPeerUpdate, PeerUpdate } from './model';
import { checkOptions, PEER_UPDATE_FIELDS } from '../options';

/** A [Peer] section as `wg setconf` applies it: created if missing, its allowed IPs replaced. Its endpoint may
 * still name a host (`host:port`, `[v6]:port`); names are resolved when the config is applied.
 * @throws TypeError for a field a PeerUpdate does not have or of the wrong type. */
export function configPeer(publicKey: Buffer, fields: Partial<PeerUpdate> = {}): PeerUpdate {
  checkOptions('configPeer', fields, PEER_UPDATE_FIELDS, 'fields');
  return { ...emptyPeerUpdate(publicKey), replaceAllowedIps: true, ...fields };
}

/** A running device as `wg showconf` writes it: what is unset or zero (no key, port 0, fwmark off, no PSK, no
 * endpoint, keepalive off) is left out rather than written as a value. */
export function configDevice(state: DeviceState): DeviceUpdate {
  const d: DeviceUpdate = { ...emptyDeviceUpdate(), replacePeers: true };
  if (state.privateKey) d.privateKey = state.privateKey;
  if (state.listenPort) d.listenPort = state.listenPort;
  if (state.fwmark) d.fwmark = state.fwmark;
  d.peers = state.peers.map((p) => {
    const peer = configPeer(p.publicKey, { allowedIps: [...p.allowedIps] });
    if (p.presharedKey) peer.presharedKey = p.presharedKey;
    if (p.endpoint) peer.endpoint = p.endpoint;
    if (p.persistentKeepalive) peer.persistentKeepalive = p.persistentKeepalive;
    return peer;
  });
  return d;
}

/** `off`, `auto`, a table number (as a decimal string) or a table name. */
export type TableSetting = string;

/** Everything a wg-quick file says: the wg part plus wg-quick's own [Interface] keys. */
export interface WgQuickConfig {
  /** What `wg setconf` would apply: replacePeers is set, and every peer replaces its allowed IPs. */
  device: DeviceUpdate;
  /** `addr` or `addr/prefix`, IPv4 or IPv6, in file order. */
  addresses: string[];
  /** DNS values that look like IP addresses (wg-quick's test) become nameservers... */
  dns: string[];
  /** ...and the other words search domains. */
  dnsSearch: string[];
  /** Interface MTU; absent = wg-quick's choice (the route's MTU minus 80). */
  mtu?: number;
  /** Where routes for AllowedIPs go; absent = `auto`. */
  table?: TableSetting;
  /** Shell commands run before the interface is created (`%i` = interface name). */
  preUp: string[];
  /** Shell commands run after it is up. */
  postUp: string[];
  /** Shell commands run before it is taken down. */
  preDown: string[];
  /** Shell commands run after it is gone. */
  postDown: string[];
  /** Write the running configuration back to the file on `down`. */
  saveConfig: boolean;
}

/** A config with nothing set: the base to spread your own fields over when building one in code. */
export function emptyConfig(): WgQuickConfig {
  return {
    device: { ...emptyDeviceUpdate(), replacePeers: true },
    addresses: [],
    dns: [],
    dnsSearch: [],
    preUp: [],
    postUp: [],
    preDown: [],
    postDown: [],
    saveConfig: false,
  };
}

/** A problem in a config file, located by file, line and key. Messages never contain key material. */
export class ConfigError extends Error {
  /** The file, when parsing one. */
  readonly file: string | undefined;
  /** 1-based line number of the problem. */
  readonly line: number | undefined;
  /** The key of the line at fault, as written. */
  readonly key: string | undefined;
  constructor(message: string, where: { file?: string; line?: number; key?: string } = {}) {
    const loc = [where.file, where.line].filter((x) => x !== undefined).join(':');
    super(loc ? `${loc}: ${message}` : message);
    this.name = 'ConfigError';
    this.file = where.file;
    this.line = where.line;
    this.key = where.key;
  }
}

/**
 * What parseConfig returns: the config itself, so `formatConfig(parseConfig(text))` works as written, with the
 * parser's warnings on it. `warnings` and `config` are not enumerable: the result compares (toEqual,
 * isDeepStrictEqual), spreads and serialises (JSON) as exactly the WgQuickConfig it is.
 */
export type ParseResult = WgQuickConfig & {
  /** Non-fatal findings (a peer repeated later in the file, ...), each prefixed with file:line. */
  readonly warnings: string[];
  /** The same object (parseConfig used to return `{ config, warnings }`).
   * @deprecated Use the result itself. */
  readonly config: WgQuickConfig;
};

/** wg-quick's own [Interface] keys (matched case-insensitively on the trimmed key). */
export const WG_QUICK_KEYS = ['Address', 'MTU', 'DNS', 'Table', 'PreUp', 'PreDown', 'PostUp', 'PostDown', 'SaveConfig'];
export const WG_INTERFACE_KEYS = ['PrivateKey', 'ListenPort', 'FwMark'];
export const WG_PEER_KEYS = ['PublicKey', 'PresharedKey', 'AllowedIPs', 'Endpoint', 'PersistentKeepalive'];

/** Interface names wg-quick accepts (also the config file's base name). */
export const INTERFACE_NAME = /^[a-zA-Z0-9_=+.-]{1,15}$/;
