// The console's side of cluster mode: locations and clients as rows, and the one rule every change follows (see
// ./schema.ts): bump the location's revision first, which also locks the location row so changes to one location
// run one after another across consoles, write the rows with that revision, and ring the location's doorbell,
// which PostgreSQL delivers at commit. Gateways read what changed since the revision they applied.
import { decodeKey } from '../../keys';
import { parseCidr } from '../../config/ip';
import { BadRowError } from '../sql';
import { PgDatabase } from './connect';
import { channelOf } from './schema';

export interface LocationRow {
  name: string;
  private_key: string;
  listen_port: number;
  addresses: string;
  mtu: number | null;
  endpoint: string | null;
  dns: string | null;
  client_allowed_ips: string | null;
  persistent_keepalive: number | null;
  revision: number;
  config_revision: number;
  created_at: number;
}

export interface ClientRow {
  location: string;
  public_key: string;
  name: string;
  private_key: string | null;
  preshared_key: string | null;
  addresses: string;
  client_allowed_ips: string | null;
  enabled: boolean;
  expires_at: number | null;
  created_at: number;
  revision: number;
}

export interface GatewayRow {
  name: string;
  location: string;
  role: string;
  version: string | null;
  started_at: number | null;
  last_seen: number | null;
  revision: number | null;
  peers: number | null;
  error: string | null;
}

export interface GatewayPeerRow {
  gateway: string;
  location: string;
  public_key: string;
  rx: number;
  tx: number;
  last_handshake: number | null;
  endpoint: string | null;
  updated_at: number;
}

/** The columns whose change means gateways must rebuild their interface, not just its peers. */
export const CONFIG_COLUMNS = ['private_key', 'listen_port', 'addresses', 'mtu'] as const;

export const list = (text: string | null): string[] => (text ? text.split(',').map((s) => s.trim()).filter(Boolean) : []);

/** Checks what the schema cannot: keys are keys and address lists are CIDRs. */
export function checkLocation(r: LocationRow): LocationRow {
  checkKey('locations', r.name, 'private_key', r.private_key);
  checkCidrList('locations', r.name, 'addresses', r.addresses);
  if (r.client_allowed_ips !== null) checkCidrList('locations', r.name, 'client_allowed_ips', r.client_allowed_ips);
  return r;
}

export function checkClient(r: ClientRow): ClientRow {
  const row = `${r.location}/${r.name}`;
  checkKey('clients', row, 'public_key', r.public_key);
  if (r.private_key !== null) checkKey('clients', row, 'private_key', r.private_key);
  if (r.preshared_key !== null) checkKey('clients', row, 'preshared_key', r.preshared_key);
  checkCidrList('clients', row, 'addresses', r.addresses);
  if (r.client_allowed_ips !== null) checkCidrList('clients', row, 'client_allowed_ips', r.client_allowed_ips);
  return r;
}

function checkKey(table: string, row: string, column: string, value: string): void {
  try {
    decodeKey(value, column);
  } catch {
    // The value itself stays out of the message: it may be a private key.
    throw new BadRowError(table, row, column, 'not a base64 WireGuard key');
  }
}

function checkCidrList(table: string, row: string, column: string, value: string): void {
  for (const item of list(value)) {
    if (!parseCidr(item)) throw new BadRowError(table, row, column, `${JSON.stringify(item)} is not an address or CIDR`);
  }
}

export class ClusterStore {
  constructor(readonly db: PgDatabase) {}

  async locations(): Promise<LocationRow[]> {
    return (await this.db.all<LocationRow>('SELECT * FROM locations ORDER BY name')).map(checkLocation);
  }

  async location(name: string, lock = false): Promise<LocationRow | undefined> {
    const r = await this.db.get<LocationRow>(`SELECT * FROM locations WHERE name = ?${lock ? ' FOR UPDATE' : ''}`, name);
    return r && checkLocation(r);
  }

  /** Inside a transaction: the location's next revision (locking its row until commit) and its doorbell rung. */
  async bump(location: string, config = false): Promise<number> {
    // One statement, one round trip: the doorbell is rung from RETURNING with the new revision.
    const row = await this.db.get<{ revision: number }>(
      `UPDATE locations SET revision = revision + 1${config ? ', config_revision = revision + 1' : ''} WHERE name = ?
       RETURNING revision, pg_notify(?, revision::text)`,
      location,
      channelOf(location),
    );
    if (!row) throw new Error(`no location ${location}`);
    return row.revision;
  }

  async createLocation(r: Omit<LocationRow, 'revision' | 'config_revision'>): Promise<void> {
    await this.db.transaction(async () => {
      await this.db.run(
        `INSERT INTO locations (name, private_key, listen_port, addresses, mtu, endpoint, dns, client_allowed_ips,
           persistent_keepalive, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        r.name,
        r.private_key,
        r.listen_port,
        r.addresses,
        r.mtu,
        r.endpoint,
        r.dns,
        r.client_allowed_ips,
        r.persistent_keepalive,
        r.created_at,
      );
      await this.bump(r.name, true);
    });
  }

  /** Writes the changed columns of a location (inside the caller's transaction, after lock). */
  async updateLocation(name: string, changes: Partial<LocationRow>): Promise<void> {
    const keys = Object.keys(changes) as (keyof LocationRow)[];
    if (keys.length === 0) return;
    const config = keys.some((k) => (CONFIG_COLUMNS as readonly string[]).includes(k));
    await this.bump(name, config);
    const set = keys.map((k) => `${k} = ?`).join(', ');
    await this.db.run(`UPDATE locations SET ${set} WHERE name = ?`, ...keys.map((k) => changes[k] as string | number | null), name);
  }

  async deleteLocation(name: string): Promise<boolean> {
    return this.db.transaction(async () => {
      const rev = await this.db.get<{ revision: number }>('SELECT revision FROM locations WHERE name = ? FOR UPDATE', name);
      if (!rev) return false;
      // Ring first (delivered at commit): the gateways find the row gone and empty their interface.
      await this.db.run('SELECT pg_notify(?, ?)', channelOf(name), String(rev.revision + 1));
      for (const table of ['samples', 'counters', 'links']) await this.db.run(`DELETE FROM ${table} WHERE interface = ?`, name);
      await this.db.run('DELETE FROM locations WHERE name = ?', name);
      return true;
    });
  }

  async clients(location: string): Promise<ClientRow[]> {
    return (await this.db.all<ClientRow>('SELECT * FROM clients WHERE location = ? ORDER BY created_at, name', location)).map(checkClient);
  }

  async client(location: string, publicKey: string, lock = false): Promise<ClientRow | undefined> {
    const r = await this.db.get<ClientRow>(`SELECT * FROM clients WHERE location = ? AND public_key = ?${lock ? ' FOR UPDATE' : ''}`, location, publicKey);
    return r && checkClient(r);
  }

  /** Inserts or replaces a client at revision `rev` (from bump, in the same transaction). */
  async putClient(r: Omit<ClientRow, 'revision'>, rev: number): Promise<void> {
    // The tombstone of an earlier client with this key goes in the same statement (a CTE), one round trip.
    await this.db.run(
      `WITH revived AS (DELETE FROM removed_clients WHERE location = ? AND public_key = ?)
       INSERT INTO clients (location, public_key, name, private_key, preshared_key, addresses, client_allowed_ips, enabled,
         expires_at, created_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (location, public_key) DO UPDATE SET name = excluded.name, private_key = excluded.private_key,
         preshared_key = excluded.preshared_key, addresses = excluded.addresses,
         client_allowed_ips = excluded.client_allowed_ips, enabled = excluded.enabled, expires_at = excluded.expires_at,
         revision = excluded.revision`,
      r.location,
      r.public_key,
      r.location,
      r.public_key,
      r.name,
      r.private_key,
      r.preshared_key,
      r.addresses,
      r.client_allowed_ips,
      r.enabled,
      r.expires_at,
      r.created_at,
      rev,
    );
  }

  /** Deletes a client at revision `rev`, leaving a tombstone gateways read, and its history. */
  async removeClient(location: string, publicKey: string, rev: number): Promise<void> {
    await this.db.run('DELETE FROM clients WHERE location = ? AND public_key = ?', location, publicKey);
    await this.db.run(
      `INSERT INTO removed_clients (location, public_key, revision) VALUES (?, ?, ?)
       ON CONFLICT (location, public_key) DO UPDATE SET revision = excluded.revision`,
      location,
      publicKey,
      rev,
    );
    for (const table of ['links', 'samples', 'counters']) {
      await this.db.run(`DELETE FROM ${table} WHERE interface = ? AND public_key = ?`, location, publicKey);
    }
  }

  async expired(now: number): Promise<ClientRow[]> {
    return (await this.db.all<ClientRow>('SELECT * FROM clients WHERE enabled AND expires_at IS NOT NULL AND expires_at <= ?', now)).map(checkClient);
  }

  async gateways(location?: string): Promise<GatewayRow[]> {
    if (location === undefined) return this.db.all<GatewayRow>('SELECT * FROM gateways ORDER BY location, name');
    return this.db.all<GatewayRow>('SELECT * FROM gateways WHERE location = ? ORDER BY name', location);
  }

  async gatewayPeers(location: string): Promise<GatewayPeerRow[]> {
    return this.db.all<GatewayPeerRow>('SELECT * FROM gateway_peers WHERE location = ? ORDER BY gateway', location);
  }

  /** Forgets a gateway that is gone for good (its counters leave the totals). */
  async deleteGateway(name: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM gateways WHERE name = ?', name)).changes > 0;
  }
}
