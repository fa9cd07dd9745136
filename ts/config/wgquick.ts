// The wg-quick configuration model: the `wg` part (device + peers) wrapped with the keys only wg-quick handles.
// The device/peer types are local until ts/config/model.ts (the UAPI codec's model) exists; this file is the
// one place to switch them over.

/** A peer as a wg-quick [Peer] section describes it. Undefined means "not given in the file". */
export interface WgPeer {
  publicKey: string;
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
  privateKey?: string;
  listenPort?: number;
  /** 0 = off. */
  fwmark?: number;
  peers: WgPeer[];
}

/** `off`, `auto`, a table number (as a decimal string) or a table name. */
export type TableSetting = string;

/** Everything a wg-quick file says: the wg part plus wg-quick's own [Interface] keys. */
export interface WgQuickConfig {
  device: WgDevice;
  /** `addr` or `addr/prefix`, IPv4 or IPv6, in file order. */
  addresses: string[];
  /** DNS values that look like IP addresses (wg-quick's test) become nameservers... */
  dns: string[];
  /** ...and the other words search domains. */
  dnsSearch: string[];
  mtu?: number;
  table?: TableSetting;
  preUp: string[];
  postUp: string[];
  preDown: string[];
  postDown: string[];
  saveConfig: boolean;
}

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
  readonly file: string | undefined;
  readonly line: number | undefined;
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
