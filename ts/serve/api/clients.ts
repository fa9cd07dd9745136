// Clients of an interface, their .conf (admin only: it holds the private key), one-time download links and
// traffic history.
import type { App } from '../app';
import { randomToken, sha256 } from '../auth';
import { RANGES, Range } from '../history';
import { ClientView, viewTag } from '../clients';
import { badRequest, Context, notFound, Reply, Route } from '../http';
import { cidrList, object, Schema, str } from '../schema';
import { keyOf } from '../values';
import { ifaceParam } from './interfaces';

/** How long a one-time link stays usable. */
export const LINK_TTL_MS = 15 * 60_000;

const base = '/api/interfaces/{iface}/clients';
const dateTime = { type: ['string', 'null'] as ('string' | 'null')[], format: 'date-time' };

export const clientSchema: Schema = object({
  id: { type: 'string', description: 'the public key in base64url' },
  name: { type: ['string', 'null'] },
  publicKey: { type: 'string' },
  addresses: { type: 'array', items: { type: 'string' }, description: "the client's own addresses (its AllowedIPs on the server)" },
  allowedIps: { type: 'array', items: { type: 'string' }, description: 'what the client routes through the tunnel' },
  enabled: { type: 'boolean' },
  expiresAt: dateTime,
  createdAt: dateTime,
  hasConfig: { type: 'boolean', description: 'whether the console holds its private key (created here)' },
  gateway: { type: ['string', 'null'], description: 'cluster mode: the gateway it last handshook with' },
  status: object({
    state: { type: 'string', enum: ['connected', 'idle', 'never', 'disabled', 'down'] },
    latestHandshake: dateTime,
    endpoint: { type: ['string', 'null'] },
    rxBytes: { type: 'integer' },
    txBytes: { type: 'integer' },
    rxRate: { type: 'number', description: 'bytes per second over the last sample' },
    txRate: { type: 'number' },
  }),
});

const expiresAt = { type: ['string', 'null'] as ('string' | 'null')[], maxLength: 40, description: 'ISO 8601 date or date-time; null = never' };

/** `NAME.conf` with anything a file name or a header should not hold replaced. */
function fileName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 32);
  return `${safe || 'client'}.conf`;
}

function confReply(conf: { name: string; text: string }): Reply {
  return {
    text: conf.text,
    contentType: 'text/plain; charset=utf-8',
    headers: { 'content-disposition': `attachment; filename="${fileName(conf.name)}"` },
  };
}

/** A client with its ETag, for a later If-Match (two consoles, or two tabs, editing one client). */
const tagged = (view: ClientView): Reply => ({ json: view, headers: { etag: viewTag(view) } });

function ifMatch(ctx: Context): string | undefined {
  const v = ctx.req.headers['if-match'];
  return typeof v === 'string' ? v : undefined;
}

export function clientRoutes(app: App): Route[] {
  return [
    {
      method: 'GET',
      path: base,
      access: 'read',
      summary: 'The clients of an interface with their status, transfer totals and rates',
      response: { schema: { type: 'array', items: clientSchema } },
      handler: async (ctx) => ({ json: await app.clients.list(ifaceParam(ctx.params.iface)) }),
    },
    {
      method: 'POST',
      path: base,
      access: 'write',
      summary: 'Create a client: keys, preshared key and the next free address, as `wiretun peer add` picks them',
      body: object(
        {
          name: str(64, { minLength: 1 }),
          allowedIps: { ...cidrList, description: "what the client routes; default: the interface's client default" },
          addresses: { ...cidrList, description: 'its own addresses, inside the interface subnets; default: the next free ones' },
          expiresAt,
        },
        ['name'],
      ),
      response: { status: 201, schema: clientSchema },
      handler: async (ctx) => ({ status: 201, json: await app.clients.create(ifaceParam(ctx.params.iface), ctx.body as never) }),
    },
    {
      method: 'GET',
      path: `${base}/{id}`,
      access: 'read',
      summary: 'One client',
      response: { schema: clientSchema },
      handler: async (ctx) => tagged(await app.clients.get(ifaceParam(ctx.params.iface), ctx.params.id)),
    },
    {
      method: 'PATCH',
      path: `${base}/{id}`,
      access: 'write',
      summary: 'Rename, re-address, enable or disable a client, or change its expiry or routes',
      ifMatch: true,
      body: object({
        name: str(64, { minLength: 1 }),
        addresses: cidrList,
        allowedIps: { ...cidrList, type: ['array', 'null'] },
        expiresAt,
        enabled: { type: 'boolean', description: 'a disabled client stays in the file commented out (#~) and leaves the running interface' },
      }),
      response: { schema: clientSchema },
      handler: async (ctx) => tagged(await app.clients.update(ifaceParam(ctx.params.iface), ctx.params.id, ctx.body as never, ifMatch(ctx))),
    },
    {
      method: 'DELETE',
      path: `${base}/{id}`,
      access: 'write',
      summary: 'Delete a client from the file, the running interface and the console',
      ifMatch: true,
      response: { status: 204 },
      handler: async (ctx) => {
        await app.clients.remove(ifaceParam(ctx.params.iface), ctx.params.id, ifMatch(ctx));
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: `${base}/{id}/config`,
      access: 'admin',
      summary: "The client's wg-quick config (with its private key), as an attachment",
      response: { mediaType: 'text/plain' },
      handler: async (ctx) => confReply(await app.clients.config(ifaceParam(ctx.params.iface), ctx.params.id)),
    },
    {
      method: 'POST',
      path: `${base}/{id}/links`,
      access: 'admin',
      summary: 'A one-time download link for the .conf: a random 128-bit token, single use, valid 15 minutes',
      response: { status: 201, schema: object({ url: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } }) },
      handler: async (ctx) => {
        const iface = ifaceParam(ctx.params.iface);
        await app.clients.config(iface, ctx.params.id); // refuses now what the link could not give later
        const token = randomToken(16);
        const expires = app.now() + LINK_TTL_MS;
        await app.store.db.run('INSERT INTO links (hash, interface, public_key, expires_at) VALUES (?, ?, ?, ?)', sha256(token), iface, keyOf(ctx.params.id), expires);
        await app.store.db.run('DELETE FROM links WHERE expires_at <= ?', app.now());
        return { status: 201, json: { url: `/api/links/${token}`, expiresAt: new Date(expires).toISOString() } };
      },
    },
    {
      method: 'GET',
      path: '/api/links/{token}',
      access: 'public',
      summary: 'Download a .conf through a one-time link; the link is gone after the first use',
      response: { mediaType: 'text/plain' },
      handler: async (ctx) => {
        const hash = sha256(ctx.params.token);
        const row = await app.store.db.transaction(async () => {
          const r = await app.store.db.get<{ interface: string; public_key: string; expires_at: number }>('SELECT * FROM links WHERE hash = ?', hash);
          if (r) await app.store.db.run('DELETE FROM links WHERE hash = ?', hash);
          return r;
        });
        if (!row || row.expires_at <= app.now()) throw notFound('this link is unknown, used or expired');
        app.log(`one-time link used for a client of ${row.interface}`);
        return confReply(await app.clients.config(row.interface, Buffer.from(row.public_key, 'base64').toString('base64url')));
      },
    },
    {
      method: 'GET',
      path: `${base}/{id}/history`,
      access: 'read',
      summary: 'Bytes received and sent per step over the last hour (10 s steps), day (5 min) or month (1 h)',
      query: { range: { type: 'string', enum: Object.keys(RANGES), description: 'default: hour' } },
      response: {
        schema: object({
          range: { type: 'string', enum: Object.keys(RANGES) },
          step: { type: 'integer' },
          points: { type: 'array', items: object({ t: { type: 'integer' }, rx: { type: 'integer' }, tx: { type: 'integer' } }) },
        }),
      },
      handler: async (ctx) => {
        const iface = ifaceParam(ctx.params.iface);
        const range = ctx.query.get('range') ?? 'hour';
        if (!Object.hasOwn(RANGES, range)) throw badRequest(`range must be one of ${Object.keys(RANGES).join(', ')}`, 'range');
        const client = await app.clients.get(iface, ctx.params.id);
        return { json: await app.history.series(iface, client.publicKey, range as Range) };
      },
    },
  ];
}
