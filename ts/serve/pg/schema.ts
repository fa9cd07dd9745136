// The console's tables in PostgreSQL (cluster mode: `wiretun serve --store postgres://...`). Here the database
// is the source of truth: locations (one WireGuard server identity each) and their clients are rows, and every
// change bumps the location's revision in the same transaction, so a gateway can ask for what changed since the
// revision it applied. Gateways log in with their own roles (members of wiretun_gateway) and row-level security
// lets them read their own location only, without the clients' private keys, and write only their own health
// and counters. Timestamps are milliseconds since the epoch, as in the SQLite store.

export const PG_SCHEMA_VERSION = 1;

/** The group role every gateway role is a member of. */
export const GATEWAY_GROUP = 'wiretun_gateway';

export const PG_SCHEMA = `
CREATE TABLE IF NOT EXISTS wiretun_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  id text PRIMARY KEY, csrf text NOT NULL, created_at bigint NOT NULL, expires_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
  id bigserial PRIMARY KEY, name text NOT NULL, hash text NOT NULL UNIQUE,
  scope text NOT NULL CHECK (scope IN ('read', 'write')), created_at bigint NOT NULL, last_used_at bigint
);
CREATE TABLE IF NOT EXISTS links (
  hash text PRIMARY KEY, interface text NOT NULL, public_key text NOT NULL, expires_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS locations (
  name text PRIMARY KEY CHECK (name ~ '^[a-zA-Z0-9_=+.-]{1,15}$'),
  private_key text NOT NULL,
  listen_port integer NOT NULL CHECK (listen_port BETWEEN 1 AND 65535),
  addresses text NOT NULL,                -- the server's Address list, comma-separated CIDRs
  mtu integer,
  endpoint text,                          -- host[:port] clients are given
  dns text,                               -- client defaults, comma-separated
  client_allowed_ips text,
  persistent_keepalive integer,
  revision bigint NOT NULL DEFAULT 1,     -- bumped with every change to the location or its clients
  config_revision bigint NOT NULL DEFAULT 1, -- the revision at which what a gateway runs (key, port...) changed
  created_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS clients (
  location text NOT NULL REFERENCES locations ON DELETE CASCADE,
  public_key text NOT NULL,
  name text NOT NULL,
  private_key text,                       -- only for clients the console created; gateways cannot read it
  preshared_key text,
  addresses text NOT NULL,                -- its AllowedIPs on the server, comma-separated
  client_allowed_ips text,                -- what the client routes; null = the location default
  enabled boolean NOT NULL DEFAULT true,
  expires_at bigint,
  created_at bigint NOT NULL,
  revision bigint NOT NULL,               -- the location's revision when this row last changed
  PRIMARY KEY (location, public_key),
  UNIQUE (location, name)
);
CREATE INDEX IF NOT EXISTS clients_revision ON clients (location, revision);
CREATE TABLE IF NOT EXISTS removed_clients (
  location text NOT NULL REFERENCES locations ON DELETE CASCADE,
  public_key text NOT NULL,
  revision bigint NOT NULL,
  PRIMARY KEY (location, public_key)
);
CREATE TABLE IF NOT EXISTS gateway_roles (
  role text PRIMARY KEY, location text NOT NULL REFERENCES locations ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS gateways (
  name text PRIMARY KEY CHECK (name ~ '^[a-zA-Z0-9_.-]{1,63}$'),
  location text NOT NULL REFERENCES locations ON DELETE CASCADE,
  role text NOT NULL DEFAULT current_user,
  version text,
  started_at bigint,
  last_seen bigint,
  revision bigint,                        -- the location revision it has applied
  peers integer,                          -- peers on its running interface
  error text                              -- the last apply error, null when fine
);
CREATE TABLE IF NOT EXISTS gateway_peers (
  gateway text NOT NULL REFERENCES gateways ON DELETE CASCADE,
  location text NOT NULL,
  public_key text NOT NULL,
  rx bigint NOT NULL, tx bigint NOT NULL, -- the gateway's device counters (they restart with it)
  last_handshake bigint, endpoint text, updated_at bigint NOT NULL,
  PRIMARY KEY (gateway, public_key)
);
CREATE TABLE IF NOT EXISTS samples (
  interface text NOT NULL, public_key text NOT NULL, step integer NOT NULL, t bigint NOT NULL,
  rx bigint NOT NULL, tx bigint NOT NULL, PRIMARY KEY (interface, public_key, step, t)
);
CREATE TABLE IF NOT EXISTS counters (
  interface text NOT NULL, public_key text NOT NULL, source text NOT NULL DEFAULT '',
  rx bigint NOT NULL, tx bigint NOT NULL, PRIMARY KEY (interface, public_key, source)
);
`;

/** What a gateway role may see and write; run by the console's (owner) role at start, idempotent. The policies'
 * subqueries run as the gateway, so they see its own gateway_roles row only. */
export const PG_GATEWAY_GRANTS = `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${GATEWAY_GROUP}') THEN CREATE ROLE ${GATEWAY_GROUP} NOLOGIN; END IF;
END $$;
ALTER TABLE gateway_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE locations ENABLE ROW LEVEL SECURITY;
ALTER TABLE clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE removed_clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE gateways ENABLE ROW LEVEL SECURITY;
ALTER TABLE gateway_peers ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS own ON gateway_roles;
CREATE POLICY own ON gateway_roles TO ${GATEWAY_GROUP} USING (role = current_user);
DROP POLICY IF EXISTS own ON locations;
CREATE POLICY own ON locations TO ${GATEWAY_GROUP} USING (name IN (SELECT location FROM gateway_roles));
DROP POLICY IF EXISTS own ON clients;
CREATE POLICY own ON clients TO ${GATEWAY_GROUP} USING (location IN (SELECT location FROM gateway_roles));
DROP POLICY IF EXISTS own ON removed_clients;
CREATE POLICY own ON removed_clients TO ${GATEWAY_GROUP} USING (location IN (SELECT location FROM gateway_roles));
DROP POLICY IF EXISTS own ON gateways;
CREATE POLICY own ON gateways TO ${GATEWAY_GROUP}
  USING (role = current_user) WITH CHECK (role = current_user AND location IN (SELECT location FROM gateway_roles));
DROP POLICY IF EXISTS own ON gateway_peers;
CREATE POLICY own ON gateway_peers TO ${GATEWAY_GROUP}
  USING (gateway IN (SELECT name FROM gateways))
  WITH CHECK (gateway IN (SELECT name FROM gateways) AND location IN (SELECT location FROM gateway_roles));
-- Reading (never writing) the other gateways' rows of its location: a gateway that takes over the location's
-- address initiates handshakes to the endpoints where its peers were last seen (ts/gateway/takeover.ts).
DROP POLICY IF EXISTS location_read ON gateway_peers;
CREATE POLICY location_read ON gateway_peers FOR SELECT TO ${GATEWAY_GROUP} USING (location IN (SELECT location FROM gateway_roles));
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${GATEWAY_GROUP};
GRANT SELECT ON gateway_roles, removed_clients TO ${GATEWAY_GROUP};
GRANT SELECT (name, private_key, listen_port, addresses, mtu, endpoint, revision, config_revision) ON locations TO ${GATEWAY_GROUP};
GRANT SELECT (location, public_key, preshared_key, addresses, enabled, revision) ON clients TO ${GATEWAY_GROUP};
GRANT SELECT, INSERT, UPDATE ON gateways TO ${GATEWAY_GROUP};
GRANT SELECT, INSERT, UPDATE, DELETE ON gateway_peers TO ${GATEWAY_GROUP};
`;

/** The NOTIFY channel of a location: a doorbell whose payload is the new revision. */
export const channelOf = (location: string) => `wiretun:${location}`;
