// The HTTP plumbing under the console's routes, on node:http alone: errors as JSON, bounded JSON bodies,
// cookies, and a router whose table also produces the OpenAPI document (./openapi.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Schema } from './schema';

/** The largest request body read; anything longer is a 413. */
export const MAX_BODY_BYTES = 64 * 1024;

/** A failure the client caused (or may retry): status, a stable code, a message and the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string, field?: string) => new ApiError(400, 'invalid', message, field);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);

/** Who made a request: an admin session, an API token, or nobody. */
export type Principal =
  | { kind: 'session'; sessionId: string; csrf: string; expiresAt: number }
  | { kind: 'token'; tokenId: number; scope: 'read' | 'write' }
  | { kind: 'anonymous' };

/**
 * What a route needs: `public` nothing; `read` a session or any token; `write` a session or a read-write
 * token; `admin` a session (private keys, tokens, the account); `metrics` the metrics token when one is set.
 */
export type Access = 'public' | 'read' | 'write' | 'admin' | 'metrics';

export interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  principal: Principal;
  /** The parsed JSON body, already validated against the route's schema. */
  body: unknown;
  remote: string;
  secure: boolean;
}

export interface Reply {
  status?: number;
  /** Serialized as JSON unless `text` is given. */
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string | string[]>;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `/api/interfaces/{iface}/clients/{id}` */
  path: string;
  access: Access;
  summary: string;
  body?: Schema;
  /** Query parameters, for the OpenAPI document (the handler checks them). */
  query?: Record<string, Schema>;
  /** Takes If-Match (a 409 when it does not match the resource's ETag), for the OpenAPI document. */
  ifMatch?: boolean;
  /** Described in the OpenAPI document: the main success status and its JSON schema or media type. */
  response?: { status?: number; schema?: Schema; mediaType?: string; description?: string };
  handler(ctx: Context): Promise<Reply> | Reply;
}

interface Compiled {
  route: Route;
  pattern: RegExp;
  names: string[];
}

export class Router {
  private readonly compiled: Compiled[] = [];

  constructor(readonly routes: Route[]) {
    for (const route of routes) {
      const names: string[] = [];
      const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      this.compiled.push({ route, pattern: new RegExp(`^${source}$`), names });
    }
  }

  /** The route for a request, its path parameters, or a 404/405. */
  match(method: string, pathname: string): { route: Route; params: Record<string, string> } {
    const allowed = new Set<string>();
    for (const c of this.compiled) {
      const m = c.pattern.exec(pathname);
      if (!m) continue;
      if (c.route.method !== method && !(method === 'HEAD' && c.route.method === 'GET')) {
        allowed.add(c.route.method);
        if (c.route.method === 'GET') allowed.add('HEAD');
        continue;
      }
      const params: Record<string, string> = {};
      c.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1]);
        } catch {
          throw badRequest(`path parameter ${n} is not valid percent-encoding`, n);
        }
      });
      return { route: c.route, params };
    }
    // RFC 9110 §15.5.6: a 405 names the methods the resource does allow.
    if (allowed.size) {
      const allow = [...allowed].sort().join(', ');
      throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${pathname}`, undefined, { Allow: allow });
    }
    throw notFound(`no route ${pathname}`);
  }
}

/** Reads a JSON body of at most MAX_BODY_BYTES: 413 when longer, 415 when not JSON, 400 when malformed. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > MAX_BODY_BYTES) throw new ApiError(413, 'too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new ApiError(415, 'unsupported_media_type', 'the body must be application/json');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badRequest('the body is not valid JSON');
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !Object.hasOwn(out, name)) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Headers on every API answer: never cached, never framed, never sniffed, never a referrer. */
export const SECURITY_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};

export function send(res: ServerResponse, reply: Reply, head = false): void {
  const status = reply.status ?? 200;
  const body = reply.text ?? (reply.json === undefined ? '' : JSON.stringify(reply.json));
  const type = reply.contentType ?? (reply.text !== undefined ? 'text/plain; charset=utf-8' : 'application/json');
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...(body !== '' || status !== 204 ? { 'content-type': type, 'content-length': Buffer.byteLength(body) } : {}),
    ...reply.headers,
  });
  res.end(head ? undefined : body);
}

export function errorReply(err: ApiError): Reply {
  const error: Record<string, string> = { code: err.code, message: err.message };
  if (err.field !== undefined) error.field = err.field;
  return { status: err.status, json: { error }, headers: err.headers };
}
