// The admin account: first-password set-up, login and logout, the session (with its CSRF token), password
// change and the optional TOTP second factor.
import { timingSafeEqual } from 'node:crypto';
import type { App } from '../app';
import { MIN_PASSWORD_LENGTH, SessionInfo } from '../auth';
import { ApiError, Context, Reply, Route } from '../http';
import { object, Schema, str } from '../schema';
import { checkTotp, newTotpSecret, totpStep, totpUri } from '../totp';

const password = str(1024, { minLength: 1, description: `at least ${MIN_PASSWORD_LENGTH} characters to set one` });

export const sessionSchema: Schema = object({
  csrfToken: { type: 'string', description: 'send it as X-CSRF-Token with every state-changing request' },
  expiresAt: { type: 'string', format: 'date-time' },
  totpEnabled: { type: 'boolean' },
  cluster: { type: 'boolean', description: 'cluster mode (--store postgres://): the interfaces are locations, run by gateways' },
});

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** What the page needs to know of its session; `cluster` tells it to offer locations and gateways. */
async function sessionJson(app: App, s: Pick<SessionInfo, 'csrf' | 'expiresAt'>) {
  return { csrfToken: s.csrf, expiresAt: new Date(s.expiresAt).toISOString(), totpEnabled: (await app.store.setting('totp')) !== undefined, cluster: app.mode.kind === 'cluster' };
}

async function sessionReply(app: App, ctx: Context, s: SessionInfo): Promise<Reply> {
  return {
    json: await sessionJson(app, s),
    headers: { 'set-cookie': app.auth.sessionCookie(s, ctx.secure) },
  };
}

const sessionOf = (ctx: Context) => {
  if (ctx.principal.kind !== 'session') throw new ApiError(403, 'forbidden', 'this needs an admin session');
  return ctx.principal;
};

async function login(app: App, ctx: Context): Promise<Reply> {
  const body = ctx.body as { password: string; totp?: string };
  app.auth.limiter.check(ctx.remote);
  if (!(await app.auth.hasPassword())) throw new ApiError(409, 'setup_required', 'no admin password is set yet: POST /api/setup');
  if (!(await app.auth.checkPassword(body.password))) {
    app.auth.limiter.fail(ctx.remote);
    throw new ApiError(401, 'bad_credentials', 'wrong password', 'password');
  }
  const secret = await app.store.setting('totp');
  if (secret !== undefined) {
    if (body.totp === undefined) throw new ApiError(401, 'totp_required', 'this account needs a TOTP code', 'totp');
    const used = Number((await app.store.setting('totp_used_step')) ?? -1);
    const step = checkTotp(secret, body.totp, app.now(), used);
    if (step === undefined) {
      app.auth.limiter.fail(ctx.remote);
      throw new ApiError(401, 'bad_credentials', 'wrong or already used TOTP code', 'totp');
    }
    await app.store.setSetting('totp_used_step', String(step));
  }
  app.auth.limiter.succeed(ctx.remote);
  return sessionReply(app, ctx, await app.auth.createSession());
}

async function setup(app: App, ctx: Context): Promise<Reply> {
  const body = ctx.body as { password: string; setupCode: string };
  if (await app.auth.hasPassword()) throw new ApiError(409, 'already_set', 'the admin password is already set; log in');
  app.auth.limiter.check(ctx.remote);
  if (!app.setupCode || !sameText(body.setupCode, app.setupCode)) {
    app.auth.limiter.fail(ctx.remote);
    throw new ApiError(403, 'bad_setup_code', 'wrong set-up code (it is printed in the server log)', 'setupCode');
  }
  await app.auth.setPassword(body.password);
  app.setupCode = undefined;
  app.log('admin password set');
  return sessionReply(app, ctx, await app.auth.createSession());
}

async function changePassword(app: App, ctx: Context): Promise<Reply> {
  const session = sessionOf(ctx);
  const body = ctx.body as { current: string; password: string };
  app.auth.limiter.check(ctx.remote);
  if (!(await app.auth.checkPassword(body.current))) {
    app.auth.limiter.fail(ctx.remote);
    throw new ApiError(401, 'bad_credentials', 'wrong current password', 'current');
  }
  await app.auth.setPassword(body.password);
  await app.auth.deleteOtherSessions(session.sessionId);
  return { status: 204 };
}

export function accountRoutes(app: App): Route[] {
  return [
    {
      method: 'POST',
      path: '/api/setup',
      access: 'public',
      summary: 'Set the first admin password (only while none is set); logs in. The set-up code is in the server log.',
      body: object({ password, setupCode: str(64) }, ['password', 'setupCode']),
      response: { schema: sessionSchema },
      handler: (ctx) => setup(app, ctx),
    },
    {
      method: 'POST',
      path: '/api/login',
      access: 'public',
      summary: 'Log in; sets the session cookie. Rate-limited per address (429 with Retry-After).',
      body: object({ password, totp: str(6, { description: 'the current TOTP code, when TOTP is on' }) }, ['password']),
      response: { schema: sessionSchema },
      handler: (ctx) => login(app, ctx),
    },
    {
      method: 'POST',
      path: '/api/logout',
      access: 'admin',
      summary: 'End this session',
      response: { status: 204 },
      handler: async (ctx) => {
        await app.auth.deleteSession(sessionOf(ctx).sessionId);
        return { status: 204, headers: { 'set-cookie': app.auth.sessionCookie(undefined, ctx.secure) } };
      },
    },
    {
      method: 'GET',
      path: '/api/session',
      access: 'admin',
      summary: 'This session: its CSRF token and expiry',
      response: { schema: sessionSchema },
      handler: async (ctx) => {
        return { json: await sessionJson(app, sessionOf(ctx)) };
      },
    },
    {
      method: 'PUT',
      path: '/api/password',
      access: 'admin',
      summary: 'Change the admin password; every other session ends',
      body: object({ current: password, password }, ['current', 'password']),
      response: { status: 204 },
      handler: (ctx) => changePassword(app, ctx),
    },
    {
      method: 'POST',
      path: '/api/totp/setup',
      access: 'admin',
      summary: 'Start turning TOTP on: a new secret and its otpauth:// URI (for a QR code); confirm with /api/totp/enable',
      response: { schema: object({ secret: { type: 'string' }, uri: { type: 'string' } }) },
      handler: async () => {
        const secret = newTotpSecret();
        await app.store.setSetting('totp_pending', secret);
        return { json: { secret, uri: totpUri(secret, 'admin') } };
      },
    },
    {
      method: 'POST',
      path: '/api/totp/enable',
      access: 'admin',
      summary: 'Turn TOTP on with a code from the pending secret',
      body: object({ code: str(6) }, ['code']),
      response: { status: 204 },
      handler: async (ctx) => {
        const pending = await app.store.setting('totp_pending');
        if (!pending) throw new ApiError(409, 'no_pending_totp', 'start with POST /api/totp/setup');
        const step = checkTotp(pending, (ctx.body as { code: string }).code, app.now());
        if (step === undefined) throw new ApiError(400, 'invalid', 'wrong TOTP code', 'code');
        await app.store.db.transaction(async () => {
          await app.store.setSetting('totp', pending);
          await app.store.setSetting('totp_pending', undefined);
          await app.store.setSetting('totp_used_step', String(Math.max(step, totpStep(app.now()))));
        });
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/api/totp/disable',
      access: 'admin',
      summary: 'Turn TOTP off (needs the password)',
      body: object({ password }, ['password']),
      response: { status: 204 },
      handler: async (ctx) => {
        app.auth.limiter.check(ctx.remote);
        if (!(await app.auth.checkPassword((ctx.body as { password: string }).password))) {
          app.auth.limiter.fail(ctx.remote);
          throw new ApiError(401, 'bad_credentials', 'wrong password', 'password');
        }
        await app.store.setSetting('totp', undefined);
        return { status: 204 };
      },
    },
  ];
}
