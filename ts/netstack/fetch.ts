// WHATWG fetch through a rootless tunnel, for http: and https: URLs. Node's global fetch is undici, whose
// connections cannot be given a custom socket without the undici package itself (its `dispatcher` option
// wants an undici Agent); so this one is built on http.request/https.request with a createConnection that
// opens the connection through the tunnel (TLS on top for https), and answers with a standard Response.
//
// As with the global fetch: redirects are followed (up to 20) unless `redirect` says otherwise, gzip, deflate
// and br bodies are decoded, network failures reject with a TypeError('fetch failed') whose `cause` is the
// WiretunError (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENOTFOUND...), and an aborted signal rejects with its
// reason. Request bodies are read whole before sending; each request has a connection of its own.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import * as tls from 'node:tls';
import * as zlib from 'node:zlib';

/** Opens a TCP connection through the tunnel (a net.Socket that is `connecting` until it is). */
export type Connect = (target: { host: string; port: number }) => net.Socket;

/** Extra options of {@link tunnelFetch}: TLS settings for https (a private CA, or a self-signed server). */
export interface FetchTlsOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized?: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const MAX_REDIRECTS = 20;

export async function tunnelFetch(
  connect: Connect,
  input: string | URL | Request,
  init?: RequestInit & { tls?: FetchTlsOptions },
): Promise<Response> {
  const { tls: tlsOptions, ...rest } = init ?? {};
  let request = new Request(input, rest);
  let body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
  for (let redirects = 0; ; redirects++) {
    const url = new URL(request.url);
    const res = await send(connect, request, url, body, tlsOptions ?? {});
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location || request.redirect === 'manual') {
      return toResponse(res, request, url, redirects > 0);
    }
    res.destroy();
    if (request.redirect === 'error') throw new TypeError('fetch failed', { cause: new Error(`redirected to ${location}`) });
    if (redirects === MAX_REDIRECTS) throw new TypeError('fetch failed', { cause: new Error('too many redirects') });
    const next = new URL(location, url);
    const toGet = res.statusCode === 303 ? request.method !== 'HEAD' : request.method === 'POST' && res.statusCode !== 307 && res.statusCode !== 308;
    const headers = new Headers(request.headers);
    if (next.origin !== url.origin) headers.delete('authorization');
    if (toGet) {
      for (const h of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) headers.delete(h);
      body = undefined;
    }
    request = new Request(next, {
      method: toGet ? 'GET' : request.method,
      headers,
      body: toGet ? undefined : body,
      redirect: request.redirect,
      signal: request.signal,
    });
  }
}

function send(
  connect: Connect,
  request: Request,
  url: URL,
  body: Buffer | undefined,
  tlsOptions: FetchTlsOptions,
): Promise<http.IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new TypeError('fetch failed', { cause: new Error(`${url.protocol} URLs are not supported (http: and https: only)`) }));
  }
  const secure = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port) || (secure ? 443 : 80);
  const headers: Record<string, string> = {};
  request.headers.forEach((value, key) => (headers[key] = value));
  if (!('accept-encoding' in headers)) headers['accept-encoding'] = 'gzip, deflate, br';
  if (body) headers['content-length'] = String(body.length);
  const createConnection = () => {
    const socket = connect({ host, port });
    if (!secure) return socket;
    // `host` is what the certificate is checked against (tls.connect assumes localhost with a given socket).
    return tls.connect({ socket, host, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'], ...tlsOptions });
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      { method: request.method, host, port, path: `${url.pathname}${url.search}`, headers, createConnection, signal: request.signal },
      resolve,
    );
    req.once('error', (err) => reject(request.signal.aborted ? request.signal.reason : new TypeError('fetch failed', { cause: err })));
    req.end(body);
  });
}

function decoded(res: http.IncomingMessage, method: string): Readable {
  if (method === 'HEAD') return res;
  const encoding = (res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH })
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : undefined;
  if (!decoder) return res;
  res.once('error', (err) => decoder.destroy(err));
  decoder.once('close', () => res.destroy());
  return res.pipe(decoder);
}

function toResponse(res: http.IncomingMessage, request: Request, url: URL, redirected: boolean): Response {
  const status = res.statusCode ?? 0;
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
  let body: ReadableStream | null = null;
  if (NULL_BODY.has(status) || request.method === 'HEAD') res.resume();
  else body = Readable.toWeb(decoded(res, request.method)) as ReadableStream;
  const response = new Response(body, { status, statusText: res.statusMessage ?? '', headers });
  // Response's constructor cannot set these; the page that fetched them would see them.
  Object.defineProperty(response, 'url', { value: url.href });
  Object.defineProperty(response, 'redirected', { value: redirected });
  return response;
}
