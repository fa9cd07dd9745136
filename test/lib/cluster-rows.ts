// The console's writes, as the gateway tests need them, following the cluster write rule exactly (see
// ts/serve/pg/schema.ts): in one transaction, bump the location's revision (which also locks its row), write
// the rows with that revision, and ring the location's doorbell (delivered at commit). A stand-in for the
// console's own store until that is what the tests drive.
import { PgDatabase } from '../../ts/serve/pg/connect';
import { channelOf, PG_GATEWAY_GRANTS, PG_SCHEMA } from '../../ts/serve/pg/schema';

export interface NewLocation {
  name: string;
  privateKey: string;
  listenPort: number;
  addresses: string;
  endpoint?: string;
  mtu?: number;
}

export interface ClientRow {
  publicKey: string;
  name: string;
  addresses: string;
  presharedKey?: string;
  privateKey?: string;
  enabled?: boolean;
}

export class ClusterRows {
  constructor(readonly db: PgDatabase) {}

  /** Connects as the tables' owner and makes the schema and the gateway role's rights. */
  static async open(url: string): Promise<ClusterRows> {
    const db = PgDatabase.connect(url, 'wiretun test console', 4);
    await db.exec(PG_SCHEMA);
    await db.exec(PG_GATEWAY_GRANTS);
    return new ClusterRows(db);
  }

  /** One change to `location`: `fn` gets the new revision; `config` marks what gateways run as changed. */
  change<T>(location: string, fn: (rev: number) => Promise<T>, config = false): Promise<T> {
    return this.db.transaction(async () => {
      const row = await this.db.get<{ revision: number }>(
        `UPDATE locations SET revision = revision + 1${config ? ', config_revision = revision + 1' : ''} WHERE name = ? RETURNING revision`,
        location,
      );
      if (!row) throw new Error(`no location ${location}`);
      const out = await fn(row.revision);
      await this.db.run('SELECT pg_notify(?, ?)', channelOf(location), String(row.revision));
      return out;
    });
  }

  async createLocation(l: NewLocation): Promise<void> {
    await this.db.run(
      'INSERT INTO locations (name, private_key, listen_port, addresses, mtu, endpoint, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      l.name,
      l.privateKey,
      l.listenPort,
      l.addresses,
      l.mtu ?? null,
      l.endpoint ?? null,
      Date.now(),
    );
  }

  async putClient(location: string, c: ClientRow): Promise<number> {
    return this.change(location, async (rev) => {
      await this.db.run(
        `INSERT INTO clients (location, public_key, name, private_key, preshared_key, addresses, enabled, created_at, revision)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (location, public_key) DO UPDATE SET name = excluded.name, preshared_key = excluded.preshared_key,
           addresses = excluded.addresses, enabled = excluded.enabled, revision = excluded.revision`,
        location,
        c.publicKey,
        c.name,
        c.privateKey ?? null,
        c.presharedKey ?? null,
        c.addresses,
        c.enabled ?? true,
        Date.now(),
        rev,
      );
      await this.db.run('DELETE FROM removed_clients WHERE location = ? AND public_key = ?', location, c.publicKey);
      return rev;
    });
  }

  /**
   * putClient as one SQL statement (hence one transaction: bump, upsert, ring), for psql: a process per write
   * rides out a database restart without this process holding connections through it.
   */
  static putClientStatement(location: string, c: ClientRow): string {
    const q = (v: string) => `'${v.replace(/'/g, "''")}'`;
    return `WITH r AS (UPDATE locations SET revision = revision + 1 WHERE name = ${q(location)} RETURNING revision),
      c AS (INSERT INTO clients (location, public_key, name, addresses, enabled, created_at, revision)
        SELECT ${q(location)}, ${q(c.publicKey)}, ${q(c.name)}, ${q(c.addresses)}, ${c.enabled ?? true}, ${Date.now()}, revision FROM r
        ON CONFLICT (location, public_key) DO UPDATE SET name = excluded.name, addresses = excluded.addresses,
          enabled = excluded.enabled, revision = excluded.revision RETURNING revision)
      SELECT pg_notify(${q(channelOf(location))}, revision::text) FROM c`;
  }

  async setEnabled(location: string, publicKey: string, enabled: boolean): Promise<number> {
    return this.change(location, async (rev) => {
      await this.db.run('UPDATE clients SET enabled = ?, revision = ? WHERE location = ? AND public_key = ?', enabled, rev, location, publicKey);
      return rev;
    });
  }

  async removeClient(location: string, publicKey: string): Promise<number> {
    return this.change(location, async (rev) => {
      await this.db.run('DELETE FROM clients WHERE location = ? AND public_key = ?', location, publicKey);
      await this.db.run(
        `INSERT INTO removed_clients (location, public_key, revision) VALUES (?, ?, ?)
         ON CONFLICT (location, public_key) DO UPDATE SET revision = excluded.revision`,
        location,
        publicKey,
        rev,
      );
      return rev;
    });
  }

  /** Marks the location's interface settings as changed (without changing them): gateways reconcile fully. */
  async touchConfig(location: string): Promise<number> {
    return this.change(location, async (rev) => rev, true);
  }

  async enabledKeys(location: string): Promise<string[]> {
    const rows = await this.db.all<{ k: string }>('SELECT public_key AS k FROM clients WHERE location = ? AND enabled ORDER BY 1', location);
    return rows.map((r) => r.k);
  }

  async revision(location: string): Promise<number> {
    return (await this.db.get<{ revision: number }>('SELECT revision FROM locations WHERE name = ?', location))!.revision;
  }
}
