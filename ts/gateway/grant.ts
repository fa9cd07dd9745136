// `wiretun gateway grant`: gives a gateway its own database role, as a role with CREATEROLE (the console's
// owner, or an administrator). The role is a LOGIN member of wiretun_gateway with a row in gateway_roles, so
// row-level security lets it read its one location and write its own health, nothing else. A new role gets a
// random password, stored as a SCRAM verifier computed here: the password itself never reaches the server
// (nor its statement log) and is shown once, inside the URL the gateway is started with.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { PgDatabase } from '../serve/pg/connect';
import { GATEWAY_GROUP } from '../serve/pg/schema';

/** Role names kept to what needs no quoting thought: lower case, digits, underscores. */
export const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export class GrantError extends Error {
  override name = 'GrantError';
}

/** PostgreSQL's SCRAM-SHA-256 verifier of `password` (RFC 5802/7677 with PostgreSQL's 4096 iterations). */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const hmac = (text: string) => createHmac('sha256', salted).update(text).digest();
  const stored = createHash('sha256').update(hmac('Client Key')).digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${stored.toString('base64')}:${hmac('Server Key').toString('base64')}`;
}

/** The admin URL with the gateway's role and password in place of the admin's. */
export function gatewayUrl(adminUrl: string, role: string, password: string): string {
  const u = new URL(adminUrl);
  u.username = encodeURIComponent(role);
  u.password = encodeURIComponent(password);
  return u.toString();
}

export interface GrantResult {
  /** Set when the role was created: its password (the caller prints it once). */
  password?: string;
  /** The location the role served before, when it was moved. */
  movedFrom?: string;
}

async function check(db: PgDatabase, location: string, role: string): Promise<{ exists: boolean; previous?: string }> {
  const group = await db.get('SELECT 1 FROM pg_roles WHERE rolname = ?', GATEWAY_GROUP);
  if (!group) throw new GrantError(`there is no ${GATEWAY_GROUP} role yet: start \`wiretun serve --store ...\` on this database once first`);
  const loc = await db.get('SELECT 1 FROM locations WHERE name = ?', location).catch((err: { code?: string }) => {
    if (err.code === '42P01') throw new GrantError('the database has no wiretun tables: start `wiretun serve --store ...` on it once first');
    throw err;
  });
  if (!loc) throw new GrantError(`no location ${location} in the database (create it in the console first)`);
  const r = await db.get<{ rolsuper: boolean; rolbypassrls: boolean }>('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ?', role);
  if (r && (r.rolsuper || r.rolbypassrls)) {
    throw new GrantError(`role ${role} bypasses row-level security (superuser or BYPASSRLS): it would see every location; pick another role`);
  }
  const previous = await db.get<{ location: string }>('SELECT location FROM gateway_roles WHERE role = ?', role);
  return { exists: !!r, previous: previous?.location };
}

/** Creates (if missing) and grants the role; see the file comment. */
export async function grantGateway(adminUrl: string, location: string, role: string): Promise<GrantResult> {
  if (!ROLE_NAME.test(role)) throw new GrantError(`--role ${JSON.stringify(role)}: use lower-case letters, digits and _ (at most 63, not starting with a digit)`);
  const db = PgDatabase.connect(adminUrl, 'wiretun gateway grant', 1);
  try {
    return await db.transaction(async () => {
      const { exists, previous } = await check(db, location, role);
      const out: GrantResult = {};
      if (!exists) {
        // base64url has no quote, so the literal below cannot be broken out of.
        out.password = randomBytes(24).toString('base64url');
        await db.exec(`CREATE ROLE "${role}" LOGIN PASSWORD '${scramVerifier(out.password)}' IN ROLE ${GATEWAY_GROUP}`);
      } else {
        await db.exec(`GRANT ${GATEWAY_GROUP} TO "${role}"`);
      }
      await db.run(
        'INSERT INTO gateway_roles (role, location) VALUES (?, ?) ON CONFLICT (role) DO UPDATE SET location = excluded.location',
        role,
        location,
      );
      if (previous !== undefined && previous !== location) out.movedFrom = previous;
      return out;
    });
  } finally {
    await db.close().catch(() => undefined);
  }
}
