// What the API answers (see /api/openapi.json); only the fields the page reads.
export interface Session {
  csrfToken: string;
  expiresAt: string;
  totpEnabled: boolean;
  /** Cluster mode: the interfaces are locations in PostgreSQL, run by gateways. */
  cluster?: boolean;
}

export interface ClientDefaults {
  dns: string[] | null;
  allowedIps: string[] | null;
  persistentKeepalive: number | null;
}

export interface Iface {
  name: string;
  /** null in cluster mode: a location, run by gateways, has no config file here. */
  file: string | null;
  up: boolean;
  publicKey: string | null;
  listenPort: number | null;
  addresses: string[];
  subnets: string[];
  endpoint: string | null;
  saveConfig: boolean;
  clientDefaults: ClientDefaults;
  clients: { total: number; enabled: number; connected: number };
  /** Cluster mode: its gateways, and how many of them reported in the last 30 s. */
  gateways?: { total: number; healthy: number };
}

/** An interface whose config cannot be read: its name and why. */
export interface IfaceError {
  name: string;
  error: { code: string; message: string };
}

export type ClientState = 'connected' | 'idle' | 'never' | 'disabled' | 'down';

export interface Client {
  id: string;
  name: string | null;
  publicKey: string;
  addresses: string[];
  allowedIps: string[];
  enabled: boolean;
  expiresAt: string | null;
  createdAt: string | null;
  hasConfig: boolean;
  /** Cluster mode: the gateway it last handshook with. */
  gateway?: string | null;
  status: {
    state: ClientState;
    latestHandshake: string | null;
    endpoint: string | null;
    rxBytes: number;
    txBytes: number;
    rxRate: number;
    txRate: number;
  };
}

export type Range = 'hour' | 'day' | 'month';

export interface Series {
  range: Range;
  step: number;
  points: { t: number; rx: number; tx: number }[];
}

export interface Token {
  id: number;
  name: string;
  scope: 'read' | 'write';
  createdAt: string;
  lastUsedAt: string | null;
}

/** A gateway of a location (cluster mode), as it last reported. */
export interface Gateway {
  name: string;
  location: string;
  healthy: boolean;
  version: string | null;
  startedAt: string | null;
  lastSeen: string | null;
  revision: number | null;
  revisionLag: number | null;
  peers: number | null;
  error: string | null;
}
