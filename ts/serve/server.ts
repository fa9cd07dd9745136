// The HTTP(S) server in front of an App: route, identify, authorize, read and validate the body, answer. Errors
// become JSON with the field at fault; unexpected ones a 500 whose details go to the log only.
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { App } from './app';
import { ApiError, Context, errorReply, readJson, Reply, send } from './http';
import { isUnreachable, NulTextError } from './pg/connect';
import { validate } from './schema';
import { defaultWebDir, StaticFiles } from './static';

export interface ListenOptions {
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer };
  /** The built console page (default: dist/web, see ./static.ts). */
  webDir?: string;
}

export interface RunningServer {
  server: http.Server;
  /** `http://127.0.0.1:PORT` (the port actually bound). */
  url: string;
  close(): Promise<void>;
}

/** The path as logged: one-time link tokens are credentials, so they are cut. */
const logPath = (pathname: string) => pathname.replace(/^\/api\/links\/[^/]+/, '/api/links/…');

async function answer(app: App, req: http.IncomingMessage, res: http.ServerResponse, secure: boolean): Promise<Reply> {
  const url = new URL(req.url ?? '/', 'http://console.invalid');
  const { route, params } = app.router.match(req.method ?? 'GET', url.pathname);
  const principal = await app.auth.identify(req);
  await app.auth.authorize(route.access, principal, req);
  if (route.access === 'metrics' && !app.auth.metricsAllowed(req)) {
    throw new ApiError(401, 'unauthorized', 'send the metrics token as "Authorization: Bearer TOKEN"', undefined, { 'www-authenticate': 'Bearer' });
  }
  let body: unknown = undefined;
  if (route.body) {
    // No body at all counts as {}; a JSON null is a body, and not an object.
    body = await readJson(req);
    validate(route.body, body === undefined ? {} : body);
    body ??= {};
  } else if (!['GET', 'HEAD'].includes(req.method ?? '')) {
    // Drain (bounded) so the connection can be reused; a body where none is expected is refused, but for the
    // empty object many HTTP clients send by default.
    const extra = await readJson(req);
    const empty = typeof extra === 'object' && extra !== null && !Array.isArray(extra) && Object.keys(extra).length === 0;
    if (extra !== undefined && !empty) throw new ApiError(400, 'invalid', 'this route takes no body');
  }
  const ctx: Context = { req, res, params, query: url.searchParams, principal, body, remote: req.socket.remoteAddress ?? '?', secure };
  return route.handler(ctx);
}

export function handler(app: App, secure: boolean, page = new StaticFiles(defaultWebDir())): http.RequestListener {
  return (req, res) => {
    const started = Date.now();
    try {
      if (page.serve(req, res, new URL(req.url ?? '/', 'http://console.invalid').pathname)) return;
    } catch {
      // A URL node:http accepted but URL cannot parse: the router's answer below says so.
    }
    answer(app, req, res, secure)
      .catch((err: unknown): Reply => {
        if (err instanceof ApiError) return errorReply(err);
        if (err instanceof NulTextError) return errorReply(new ApiError(400, 'invalid', err.message));
        if (isUnreachable(err)) {
          app.log(`${req.method} ${logPath(req.url ?? '')}: the database is unreachable (${(err as Error).message})`);
          return errorReply(new ApiError(503, 'unavailable', 'the database is unreachable: try again', undefined, { 'retry-after': '2' }));
        }
        app.log(`${req.method} ${logPath(req.url ?? '')}: ${err instanceof Error ? err.message : String(err)}`);
        return errorReply(new ApiError(500, 'internal', 'internal error (see the server log)'));
      })
      .then((reply) => {
        // A 413 leaves the rest of the body unread: close the connection rather than read it.
        if (reply.status === 413) res.setHeader('connection', 'close');
        send(res, reply, req.method === 'HEAD');
        const ms = Date.now() - started;
        if ((reply.status ?? 200) >= 500 || process.env.WIRETUN_SERVE_LOG_REQUESTS) {
          app.log(`${req.method} ${logPath(new URL(req.url ?? '/', 'http://x').pathname)} ${reply.status ?? 200} ${ms} ms`);
        }
      })
      .catch((err: unknown) => {
        app.log(`cannot answer ${req.method} ${logPath(req.url ?? '')}: ${(err as Error).message}`);
        res.destroy();
      });
  };
}

export function listen(app: App, opts: ListenOptions): Promise<RunningServer> {
  const secure = opts.tls !== undefined;
  const page = new StaticFiles(opts.webDir ?? defaultWebDir());
  if (!page.built) app.log(`the console page is not built (no index.html in ${page.dir}); the API still answers`);
  const server = secure ? https.createServer({ cert: opts.tls!.cert, key: opts.tls!.key }, handler(app, true, page)) : http.createServer(handler(app, false, page));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
      resolve({
        server,
        url: `${secure ? 'https' : 'http'}://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
