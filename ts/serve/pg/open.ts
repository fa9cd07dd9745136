// Opening the console's PostgreSQL store: the tables made or checked under an advisory lock, so two consoles
// starting at once do not race, and the gateway role's rights (re)applied.
import { PgDatabase } from './connect';
import { PG_GATEWAY_GRANTS, PG_SCHEMA, PG_SCHEMA_VERSION, GATEWAY_GROUP } from './schema';

/** An arbitrary constant: the advisory lock that serializes schema set-up between consoles. */
const SCHEMA_LOCK = 0x77747363;

export async function openPg(url: string, appName = 'wiretun serve'): Promise<PgDatabase> {
  const db = PgDatabase.connect(url, appName);
  try {
    await db.transaction(async () => {
      await db.run('SELECT pg_advisory_xact_lock(?)', SCHEMA_LOCK);
      await db.exec(PG_SCHEMA);
      const row = await db.get<{ value: string }>("SELECT value FROM wiretun_meta WHERE key = 'schema'");
      if (row && Number(row.value) > PG_SCHEMA_VERSION) {
        throw new Error(`the database was set up by a newer wiretun (schema ${row.value}, this one knows ${PG_SCHEMA_VERSION})`);
      }
      await db.run("INSERT INTO wiretun_meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", String(PG_SCHEMA_VERSION));
      await db.exec(PG_GATEWAY_GRANTS).catch((err: { code?: string; message: string }) => {
        if (err.code === '42501') {
          throw new Error(`${err.message}: the console's role needs CREATEROLE once to make the ${GATEWAY_GROUP} role, or a superuser runs CREATE ROLE ${GATEWAY_GROUP} NOLOGIN first`);
        }
        throw err;
      });
    });
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}
