// Who may do what: the admin password (argon2id), sessions (random cookie values, stored as their sha256 with an
// absolute expiry, so a restart keeps them and a stolen database opens none), a CSRF token per session, API
// tokens (stored hashed, read-only or read-write), the login rate limit and the optional TOTP second factor.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { serveBinding } from './db';
import { Access, ApiError, parseCookies, Principal } from './http';
import { Store } from './store';

export const SESSION_COOKIE = 'wiretun_session';
export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_TTL_MS = 12 * 3600_000;
export const MIN_PASSWORD_LENGTH = 10;

/** Failed logins allowed per address in LOGIN_WINDOW_MS before a 429. */
export const LOGIN_FAILURES = 5;
export const LOGIN_WINDOW_MS = 15 * 60_000;

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url');

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface SessionInfo {
  cookie: string;
  csrf: string;
  expiresAt: number;
}

/** Sliding window of failures per remote address, in memory: a restart forgets it, which costs an attacker a
 * restart per five guesses. */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number) {}

  private recent(remote: string): number[] {
    const cutoff = this.now() - LOGIN_WINDOW_MS;
    const list = (this.failures.get(remote) ?? []).filter((t) => t > cutoff);
    if (list.length) this.failures.set(remote, list);
    else this.failures.delete(remote);
    return list;
  }

  /** Throws a 429 with Retry-After while the address has used up its attempts. */
  check(remote: string): void {
    const list = this.recent(remote);
    if (list.length < LOGIN_FAILURES) return;
    const retry = Math.max(1, Math.ceil((list[0] + LOGIN_WINDOW_MS - this.now()) / 1000));
    throw new ApiError(429, 'rate_limited', `too many failed logins; try again in ${retry} s`, undefined, { 'retry-after': String(retry) });
  }

  fail(remote: string): void {
    this.failures.set(remote, [...this.recent(remote), this.now()]);
  }

  succeed(remote: string): void {
    this.failures.delete(remote);
  }
}

export class Auth {
  readonly limiter: LoginLimiter;

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly metricsToken?: string,
  ) {
    this.limiter = new LoginLimiter(now);
  }

  async hasPassword(): Promise<boolean> {
    return (await this.store.setting('password')) !== undefined;
  }

  async setPassword(password: string): Promise<void> {
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw new ApiError(400, 'invalid', `the password needs at least ${MIN_PASSWORD_LENGTH} characters`, 'password');
    }
    await this.store.setSetting('password', await serveBinding().argon2idHash(password));
  }

  async checkPassword(password: string): Promise<boolean> {
    const hash = await this.store.setting('password');
    return hash !== undefined && (await serveBinding().argon2idVerify(hash, password));
  }

  async createSession(): Promise<SessionInfo> {
    const cookie = randomToken();
    const csrf = randomToken();
    const now = this.now();
    const expiresAt = now + SESSION_TTL_MS;
    await this.store.db.run('INSERT INTO sessions (id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?)', sha256(cookie), csrf, now, expiresAt);
    await this.store.db.run('DELETE FROM sessions WHERE expires_at <= ?', now);
    return { cookie, csrf, expiresAt };
  }

  async deleteSession(id: string): Promise<void> {
    await this.store.db.run('DELETE FROM sessions WHERE id = ?', id);
  }

  /** Every session but `keep` ends (after a password change). */
  async deleteOtherSessions(keep: string): Promise<void> {
    await this.store.db.run('DELETE FROM sessions WHERE id != ?', keep);
  }

  async createToken(name: string, scope: 'read' | 'write'): Promise<{ id: number; token: string }> {
    const token = `wt_${randomToken()}`;
    const row = await this.store.db.get<{ id: number }>(
      'INSERT INTO tokens (name, hash, scope, created_at) VALUES (?, ?, ?, ?) RETURNING id',
      name,
      sha256(token),
      scope,
      this.now(),
    );
    return { id: row!.id, token };
  }

  /** Who sent the request: a bearer token, else a session cookie, else nobody. A bad credential is a 401, not
   * anonymous, so that a client learns its token was refused. */
  async identify(req: IncomingMessage): Promise<Principal> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) throw new ApiError(401, 'unauthorized', 'the Authorization header must be "Bearer TOKEN"');
      const row = await this.store.db.get<{ id: number; scope: 'read' | 'write' }>('SELECT id, scope FROM tokens WHERE hash = ?', sha256(m[1]));
      if (!row) {
        if (this.metricsToken !== undefined && sameText(m[1], this.metricsToken)) return { kind: 'anonymous' };
        throw new ApiError(401, 'unauthorized', 'unknown API token');
      }
      await this.store.db.run('UPDATE tokens SET last_used_at = ? WHERE id = ?', this.now(), row.id);
      return { kind: 'token', tokenId: row.id, scope: row.scope };
    }
    const cookie = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (!cookie) return { kind: 'anonymous' };
    const id = sha256(cookie);
    const row = await this.store.db.get<{ csrf: string; expires_at: number }>('SELECT csrf, expires_at FROM sessions WHERE id = ?', id);
    if (!row || row.expires_at <= this.now()) return { kind: 'anonymous' };
    return { kind: 'session', sessionId: id, csrf: row.csrf, expiresAt: row.expires_at };
  }

  /** Whether the metrics token (if any) was presented. */
  metricsAllowed(req: IncomingMessage): boolean {
    if (this.metricsToken === undefined) return true;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return m !== null && sameText(m[1], this.metricsToken);
  }

  /** Throws 401/403 unless `who` may use a route of `access`; state-changing session requests need the CSRF
   * header (tokens are not sent by browsers on their own, so they need none). */
  async authorize(access: Access, who: Principal, req: IncomingMessage): Promise<void> {
    if (access === 'public' || access === 'metrics') return;
    if (who.kind === 'anonymous') {
      const has = await this.hasPassword();
      const code = has ? 'unauthorized' : 'setup_required';
      throw new ApiError(401, code, has ? 'log in or send an API token' : 'no admin password is set yet: POST /api/setup');
    }
    if (who.kind === 'token') {
      if (access === 'admin') throw new ApiError(403, 'forbidden', 'this needs an admin session, not an API token');
      if (access === 'write' && who.scope !== 'write') throw new ApiError(403, 'forbidden', 'this API token is read-only');
      return;
    }
    if (!['GET', 'HEAD'].includes(req.method ?? '')) {
      const sent = req.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !sameText(sent, who.csrf)) {
        throw new ApiError(403, 'csrf', `state-changing requests need the session's ${CSRF_HEADER} header`);
      }
    }
  }

  sessionCookie(s: SessionInfo | undefined, secure: boolean): string {
    const attrs = ['Path=/', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
    if (!s) return [`${SESSION_COOKIE}=`, 'Max-Age=0', ...attrs].join('; ');
    const maxAge = Math.max(0, Math.floor((s.expiresAt - this.now()) / 1000));
    return [`${SESSION_COOKIE}=${s.cookie}`, `Max-Age=${maxAge}`, ...attrs].join('; ');
  }
}
