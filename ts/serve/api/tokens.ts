// API tokens for automation: made by the admin, shown once, stored as their sha256, read-only or read-write.
import type { App } from '../app';
import { badRequest, notFound, Route } from '../http';
import { NOT_BLANK, object, Schema, str } from '../schema';

const tokenSchema: Schema = object({
  id: { type: 'integer' },
  name: { type: 'string' },
  scope: { type: 'string', enum: ['read', 'write'] },
  createdAt: { type: 'string', format: 'date-time' },
  lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
});

interface TokenRow {
  id: number;
  name: string;
  scope: string;
  created_at: number;
  last_used_at: number | null;
}

const view = (r: TokenRow) => ({
  id: r.id,
  name: r.name,
  scope: r.scope,
  createdAt: new Date(r.created_at).toISOString(),
  lastUsedAt: r.last_used_at === null ? null : new Date(r.last_used_at).toISOString(),
});

export function tokenRoutes(app: App): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/tokens',
      access: 'admin',
      summary: 'The API tokens (never their secret)',
      response: { schema: { type: 'array', items: tokenSchema } },
      handler: async () => ({ json: (await app.store.db.all<TokenRow>('SELECT * FROM tokens ORDER BY id')).map(view) }),
    },
    {
      method: 'POST',
      path: '/api/tokens',
      access: 'admin',
      summary: 'Create an API token (send it as Authorization: Bearer TOKEN); the secret is shown only here',
      body: object({ name: str(64, { pattern: NOT_BLANK, description: 'a name with more than spaces' }), scope: { type: 'string', enum: ['read', 'write'] } }, ['name', 'scope']),
      response: { status: 201, schema: object({ ...tokenSchema.properties, token: { type: 'string' } }) },
      handler: async (ctx) => {
        const body = ctx.body as { name: string; scope: 'read' | 'write' };
        const { id, token } = await app.auth.createToken(body.name, body.scope);
        const row = (await app.store.db.get<TokenRow>('SELECT * FROM tokens WHERE id = ?', id))!;
        return { status: 201, json: { ...view(row), token } };
      },
    },
    {
      method: 'DELETE',
      path: '/api/tokens/{tokenId}',
      access: 'admin',
      summary: 'Revoke an API token',
      response: { status: 204 },
      handler: async (ctx) => {
        // Decimal digits only, as the document declares it (Number() would also take "0x1f", "1e3" or " 7").
        const id = /^[0-9]{1,16}$/.test(ctx.params.tokenId) ? Number(ctx.params.tokenId) : NaN;
        if (!Number.isSafeInteger(id)) throw badRequest('not a token id', 'tokenId');
        if ((await app.store.db.run('DELETE FROM tokens WHERE id = ?', id)).changes === 0) throw notFound(`no token ${id}`);
        return { status: 204 };
      },
    },
  ];
}
