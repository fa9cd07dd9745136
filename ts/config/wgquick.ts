// The wg-quick configuration model: the `wg` part (device + peers) wrapped with the keys only wg-quick handles.
// The device/peer types are local until ts/config/model.ts (the UAPI codec's model) exists; this file is the
// one place to switch them over.

/** A peer as a wg-quick [Peer] section describes it. Undefined means "not given in the file". */
export interface WgPeer {
  /** Base64. */
  publicKey: string;
  /** Base64. */
  presharedKey?: string;
  /** `host:port` or `[v6]:port`; host names are kept for resolution at apply time. */
  endpoint?: string;
  /** Seconds; 0 = off. */
  persistentKeepalive?: number;
  /** As written (whitespace removed), in file order. Each [Peer] section replaces the peer's list. */
  allowedIps: string[];
}

/** The part of the file that `wg setconf` reads. */
export interface WgDevice {
  /** Base64. */
  privateKey?: string;
  /** UDP port; absent = any free port. */
  listenPort?: number;
  /** 0 = off. */
  fwmark?: number;
  /** In file order. */
  peers: WgPeer[];
}

/** `off`, `auto`, a table number (as a decimal string) or a table name. */
export type TableSetting = string;

/** Everything a wg-quick file says: the wg part plus wg-quick's own [Interface] keys. */
export interface WgQuickConfig {
  /** What `wg setconf` would apply. */
  device: WgDevice;
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
    device: { peers: [] },
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

export interface ParseResult {
  config: WgQuickConfig;
  /** Non-fatal findings (a peer repeated later in the file, ...), each prefixed with file:line. */
  warnings: string[];
}

/** wg-quick's own [Interface] keys (matched case-insensitively on the trimmed key). */
export const WG_QUICK_KEYS = ['Address', 'MTU', 'DNS', 'Table', 'PreUp', 'PreDown', 'PostUp', 'PostDown', 'SaveConfig'];
export const WG_INTERFACE_KEYS = ['PrivateKey', 'ListenPort', 'FwMark'];
export const WG_PEER_KEYS = ['PublicKey', 'PresharedKey', 'AllowedIPs', 'Endpoint', 'PersistentKeepalive'];

/** Interface names wg-quick accepts (also the config file's base name). */
export const INTERFACE_NAME = /^[a-zA-Z0-9_=+.-]{1,15}$/;
