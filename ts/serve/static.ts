// The console page: the few files `npm run build:web` puts in dist/web, read once at start and served from
// memory ahead of the router. Only names found in that directory are served (no path from the request ever
// reaches the file system), under a Content-Security-Policy that allows nothing but this origin.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** No inline script or style, no other origin, no framing, no form posts (the page sends JSON with fetch). */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  // Revalidate each time: the ETag makes that a 304, and a new build is seen at once.
  'cache-control': 'no-cache',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** Where the built page is: next to the compiled server (dist/serve → dist/web), or, when running from the
 * TypeScript sources (tests), in the repository's dist/web. */
export function defaultWebDir(): string {
  const candidates = [path.join(__dirname, '..', 'web'), path.join(__dirname, '..', '..', 'dist', 'web')];
  return candidates.find((d) => existsSync(path.join(d, 'index.html'))) ?? candidates[0];
}

export class StaticFiles {
  private readonly files = new Map<string, StaticFile>();

  /** Reads every file of `dir` (not recursive: the build writes a flat directory); a missing dir serves none. */
  constructor(readonly dir: string) {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const type = TYPES[path.extname(name)];
      const file = path.join(dir, name);
      if (!type || !statSync(file).isFile()) continue;
      const body = readFileSync(file);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      this.files.set(`/${name}`, { body, type, etag });
    }
    const index = this.files.get('/index.html');
    if (index) this.files.set('/', index);
  }

  get built(): boolean {
    return this.files.has('/');
  }

  /** Answers GET/HEAD of a page file and returns true; anything else is left to the router. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (pathname.startsWith('/api/') || pathname === '/metrics') return false;
    const file = this.files.get(pathname);
    if (!file) {
      if (pathname !== '/') return false;
      const text = `The console page is not built: run \`npm run build:web\` (looked in ${this.dir}). The API is at /api.\n`;
      res.writeHead(503, { ...PAGE_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
      return true;
    }
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, { ...PAGE_HEADERS, etag: file.etag });
      res.end();
      return true;
    }
    res.writeHead(200, { ...PAGE_HEADERS, 'content-type': file.type, 'content-length': file.body.length, etag: file.etag });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  }
}
