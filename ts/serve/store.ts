// What the console keeps beside the config files, in one SQLite file (STATE/serve.db, 0600): the admin account,
// sessions, API tokens, one-time links, per-client metadata the config format has no place for (expiry, the
// private key of clients it created, what they route), and traffic history. Everything about the interface
// itself stays in its config file.
import { Database } from './db';
import { Sql } from './sql';

const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,            -- sha256 of the cookie value: the database alone cannot log anyone in
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL     -- ms since the epoch
);
CREATE TABLE IF NOT EXISTS tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,      -- sha256 of the token
  scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE TABLE IF NOT EXISTS links (
  hash TEXT PRIMARY KEY,          -- sha256 of the link token
  interface TEXT NOT NULL,
  public_key TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS clients (
  interface TEXT NOT NULL,
  public_key TEXT NOT NULL,
  private_key TEXT,               -- only for clients the console created; never sent but in their .conf
  client_allowed_ips TEXT,        -- what the client routes (comma-separated); null = the interface default
  expires_at INTEGER,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (interface, public_key)
);
CREATE TABLE IF NOT EXISTS samples (
  interface TEXT NOT NULL,
  public_key TEXT NOT NULL,
  step INTEGER NOT NULL,          -- seconds one row covers: 10, 300 or 3600
  t INTEGER NOT NULL,             -- start of that span, Unix seconds, a multiple of step
  rx INTEGER NOT NULL,            -- bytes received from the client in the span
  tx INTEGER NOT NULL,
  PRIMARY KEY (interface, public_key, step, t)
);
CREATE TABLE IF NOT EXISTS counters (
  interface TEXT NOT NULL,
  public_key TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '', -- whose device: '' here, a gateway's name in cluster mode
  rx INTEGER NOT NULL,            -- the device's counters at the last sample, to take deltas across restarts
  tx INTEGER NOT NULL,
  PRIMARY KEY (interface, public_key, source)
);
`;

/** Version 1 keyed counters by interface and key only. They are a cache of the last sample: dropping them
 * costs the one sample after the upgrade. */
const MIGRATE_1_TO_2 = 'DROP TABLE counters;';

export interface ClientMeta {
  interface: string;
  publicKey: string;
  privateKey: string | null;
  clientAllowedIps: string[] | null;
  expiresAt: number | null;
  createdAt: number;
}

interface ClientRow {
  interface: string;
  public_key: string;
  private_key: string | null;
  client_allowed_ips: string | null;
  expires_at: number | null;
  created_at: number;
}

function toMeta(r: ClientRow): ClientMeta {
  return {
    interface: r.interface,
    publicKey: r.public_key,
    privateKey: r.private_key,
    clientAllowedIps: r.client_allowed_ips === null ? null : r.client_allowed_ips.split(',').filter(Boolean),
    expiresAt: r.expires_at,
    createdAt: r.created_at,
  };
}

export class Store {
  constructor(readonly db: Sql) {}

  static async open(file: string): Promise<Store> {
    const db = Database.open(file);
    try {
      await db.transaction(async () => {
        const version = (await db.get<{ user_version: number }>('PRAGMA user_version'))!.user_version;
        if (version > SCHEMA_VERSION) {
          throw new Error(`${file} was written by a newer wiretun (schema ${version}, this one knows ${SCHEMA_VERSION})`);
        }
        if (version === 1) await db.exec(MIGRATE_1_TO_2);
        await db.exec(SCHEMA);
        await db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      });
    } catch (err) {
      await db.close();
      throw err;
    }
    return new Store(db);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async setting(key: string): Promise<string | undefined> {
    return (await this.db.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', key))?.value;
  }

  async setSetting(key: string, value: string | undefined): Promise<void> {
    if (value === undefined) await this.db.run('DELETE FROM settings WHERE key = ?', key);
    else await this.db.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, value);
  }

  async client(iface: string, publicKey: string): Promise<ClientMeta | undefined> {
    const row = await this.db.get<ClientRow>('SELECT * FROM clients WHERE interface = ? AND public_key = ?', iface, publicKey);
    return row && toMeta(row);
  }

  async clients(iface: string): Promise<Map<string, ClientMeta>> {
    const rows = await this.db.all<ClientRow>('SELECT * FROM clients WHERE interface = ?', iface);
    return new Map(rows.map((r) => [r.public_key, toMeta(r)]));
  }

  async putClient(m: ClientMeta): Promise<void> {
    await this.db.run(
      `INSERT INTO clients (interface, public_key, private_key, client_allowed_ips, expires_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (interface, public_key) DO UPDATE SET private_key = excluded.private_key,
         client_allowed_ips = excluded.client_allowed_ips, expires_at = excluded.expires_at`,
      m.interface,
      m.publicKey,
      m.privateKey,
      m.clientAllowedIps === null ? null : m.clientAllowedIps.join(','),
      m.expiresAt,
      m.createdAt,
    );
  }

  /** Forgets a client: its metadata, links and history. */
  async deleteClient(iface: string, publicKey: string): Promise<void> {
    await this.db.transaction(async () => {
      for (const table of ['clients', 'links', 'samples', 'counters']) {
        await this.db.run(`DELETE FROM ${table} WHERE interface = ? AND public_key = ?`, iface, publicKey);
      }
    });
  }

  /** Clients whose expiry has passed, for the expiry task. */
  async expiredClients(now: number): Promise<ClientMeta[]> {
    return (await this.db.all<ClientRow>('SELECT * FROM clients WHERE expires_at IS NOT NULL AND expires_at <= ?', now)).map(toMeta);
  }
}
