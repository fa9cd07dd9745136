// What the API answers (see /api/openapi.json); only the fields the page reads.
export interface Session {
  csrfToken: string;
  expiresAt: string;
  totpEnabled: boolean;
}

export interface ClientDefaults {
  dns: string[] | null;
  allowedIps: string[] | null;
  persistentKeepalive: number | null;
}

export interface Iface {
  name: string;
  file: string;
  up: boolean;
  publicKey: string | null;
  listenPort: number | null;
  addresses: string[];
  subnets: string[];
  endpoint: string | null;
  saveConfig: boolean;
  clientDefaults: ClientDefaults;
  clients: { total: number; enabled: number; connected: number };
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
