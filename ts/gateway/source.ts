// The gateway's side of the database: what it reads (its location and that location's clients, as its role's
// row-level security lets it) and what it writes (its health and per-peer counters). Reads run in one
// REPEATABLE READ snapshot, so the location's revision and the client rows it returns belong together: every
// change bumps that revision in the same transaction as its rows (see ts/serve/pg/schema.ts), so "rows with a
// revision above the one applied" is exactly what changed since.
import { PgDatabase } from '../serve/pg/connect';

/** The columns of `locations` a gateway role may read. */
export interface Location {
  name: string;
  privateKey: string;
  listenPort: number;
  /** The interface's Address list, comma-separated. */
  addresses: string;
  mtu: number | null;
  /** host[:port] given to clients; a gateway holding that address takes over (./takeover.ts). */
  endpoint: string | null;
  revision: number;
  /** The revision at which what the interface runs (key, port, addresses, MTU) last changed. */
  configRevision: number;
}

/** The columns of `clients` a gateway role may read. */
export interface Client {
  publicKey: string;
  presharedKey: string | null;
  /** Its AllowedIPs on the server, comma-separated. */
  addresses: string;
  enabled: boolean;
  revision: number;
}

/** Everything the interface should run: used for a full reconcile. */
export interface FullRead {
  kind: 'full';
  location: Location | undefined;
  /** Enabled clients only. */
  clients: Client[];
}

/** What changed after a revision: client rows (enabled or not) and tombstones of deleted clients. */
export interface ChangesRead {
  kind: 'changes';
  location: Location;
  clients: Client[];
  removed: { publicKey: string; revision: number }[];
}

export type Read = FullRead | ChangesRead;

/** One peer of the running device, as the health round writes it. */
export interface PeerStat {
  publicKey: string;
  rx: number;
  tx: number;
  /** Milliseconds since the epoch; null = never. */
  lastHandshake: number | null;
  endpoint: string | null;
}

export interface Health {
  version: string;
  startedAt: number;
  /** The location revision the interface is known to run; null before the first apply. */
  revision: number | null;
  peers: number;
  /** The last apply problem, null when fine. */
  error: string | null;
}

/** Where a client was last seen by any gateway of the location. */
export interface Sighting {
  gateway: string;
  endpoint: string;
  lastHandshake: number;
}

const LOCATION_SQL = `SELECT name, private_key AS "privateKey", listen_port AS "listenPort", addresses, mtu, endpoint, revision,
  config_revision AS "configRevision" FROM locations WHERE name = ?`;
const CLIENT_COLUMNS = `public_key AS "publicKey", preshared_key AS "presharedKey", addresses, enabled, revision`;

/** Rows per INSERT of gateway_peers: 8 parameters each keeps one statement far below PostgreSQL's 65,535. */
const PEER_BATCH = 1000;

export class GatewaySource {
  constructor(
    readonly db: PgDatabase,
    readonly location: string,
    readonly gateway: string,
  ) {}

  /** A small pool: the sync, the health round and a takeover may each hold one connection. PgDatabase bounds
   * every round in time and replaces the pool after a lost connection, so a database restart cannot wedge it. */
  static connect(url: string, location: string, gateway: string): GatewaySource {
    return new GatewaySource(PgDatabase.connect(url, `wiretun gateway ${gateway}`, 3), location, gateway);
  }

  /** Runs `fn` in one read-only REPEATABLE READ snapshot. */
  private snapshot<T>(fn: () => Promise<T>): Promise<T> {
    return this.db.transaction(async () => {
      await this.db.run('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return fn();
    });
  }

  /**
   * What to apply: everything when `applied` is undefined or the interface's own settings changed after it,
   * else the client rows and tombstones newer than `applied`. A location that is missing (deleted, or not
   * granted to this role) reads as a full read without location and clients.
   */
  read(applied: number | undefined): Promise<Read> {
    return this.snapshot(async () => {
      const location = await this.db.get<Location>(LOCATION_SQL, this.location);
      if (!location || applied === undefined || location.configRevision > applied) {
        const clients = location ? await this.db.all<Client>(`SELECT ${CLIENT_COLUMNS} FROM clients WHERE location = ? AND enabled`, this.location) : [];
        return { kind: 'full', location, clients };
      }
      const clients = await this.db.all<Client>(`SELECT ${CLIENT_COLUMNS} FROM clients WHERE location = ? AND revision > ?`, this.location, applied);
      const removed = await this.db.all<{ publicKey: string; revision: number }>(
        'SELECT public_key AS "publicKey", revision FROM removed_clients WHERE location = ? AND revision > ?',
        this.location,
        applied,
      );
      return { kind: 'changes', location, clients, removed };
    });
  }

  /** Upserts this gateway's row and one row per device peer, and deletes the rows of peers that left. */
  writeHealth(h: Health, peers: PeerStat[], now = Date.now()): Promise<void> {
    return this.db.transaction(() => this.writeRows(h, peers, now));
  }

  private async writeRows(h: Health, peers: PeerStat[], now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO gateways (name, location, version, started_at, last_seen, revision, peers, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET location = excluded.location, version = excluded.version, started_at = excluded.started_at,
         last_seen = excluded.last_seen, revision = excluded.revision, peers = excluded.peers, error = excluded.error`,
      this.gateway,
      this.location,
      h.version,
      h.startedAt,
      now,
      h.revision,
      h.peers,
      h.error,
    );
    for (let i = 0; i < peers.length; i += PEER_BATCH) await this.upsertPeers(peers.slice(i, i + PEER_BATCH), now);
    // Every current peer was just stamped `now`: older rows are peers the device no longer has.
    await this.db.run('DELETE FROM gateway_peers WHERE gateway = ? AND updated_at < ?', this.gateway, now);
  }

  private async upsertPeers(peers: PeerStat[], now: number): Promise<void> {
    const values = peers.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
    const params = peers.flatMap((p) => [this.gateway, this.location, p.publicKey, p.rx, p.tx, p.lastHandshake, p.endpoint, now]);
    await this.db.run(
      `INSERT INTO gateway_peers (gateway, location, public_key, rx, tx, last_handshake, endpoint, updated_at) VALUES ${values}
       ON CONFLICT (gateway, public_key) DO UPDATE SET location = excluded.location, rx = excluded.rx, tx = excluded.tx,
         last_handshake = excluded.last_handshake, endpoint = excluded.endpoint, updated_at = excluded.updated_at`,
      ...params,
    );
  }

  /** Per client, the latest handshake any gateway of the location reported after `since` (ms), with its endpoint. */
  async sightings(since: number): Promise<Map<string, Sighting>> {
    const rows = await this.db.all<Sighting & { publicKey: string }>(
      `SELECT DISTINCT ON (public_key) public_key AS "publicKey", gateway, endpoint, last_handshake AS "lastHandshake"
       FROM gateway_peers WHERE location = ? AND endpoint IS NOT NULL AND last_handshake > ?
       ORDER BY public_key, last_handshake DESC`,
      this.location,
      since,
    );
    return new Map(rows.map(({ publicKey, ...s }) => [publicKey, s]));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
