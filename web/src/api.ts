// The page's one way to the server: JSON over fetch, the session cookie sent by the browser, and the CSRF token
// (from the session) on every request that changes something.
import type { Session } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** The ETag a 409 carries when an If-Match failed: the thing changed since it was read. */
    readonly etag?: string,
  ) {
    super(message);
  }
}

/** The server refused an edit made with If-Match: someone else changed the thing since this page read it. */
export const changedElsewhere = (err: unknown): boolean => err instanceof ApiError && err.status === 409 && err.etag !== undefined;

let csrf = '';
let onSessionLost: (() => void) | undefined;

export function useSession(s: Session | undefined): void {
  csrf = s?.csrfToken ?? '';
}

/** Called when the server stops knowing the session (expired, logged out elsewhere, password changed). */
export function whenSessionLost(fn: () => void): void {
  onSessionLost = fn;
}

/** A path segment, escaped (interface names and ids are safe already; this keeps it so). */
export const seg = (s: string) => encodeURIComponent(s);

export async function api<T = unknown>(method: string, path: string, body?: unknown, extra?: Record<string, string>): Promise<T> {
  return (await call<T>(method, path, body, extra)).json;
}

/** GET with the ETag, to send back as If-Match with an edit (so an edit made elsewhere meanwhile is a 409). */
export async function getTagged<T>(path: string): Promise<{ json: T; etag: string | undefined }> {
  return call<T>('GET', path);
}

/** `If-Match` for an ETag, nothing without one. */
export const ifMatch = (etag: string | undefined): Record<string, string> | undefined => (etag ? { 'if-match': etag } : undefined);

async function call<T>(method: string, path: string, body?: unknown, extra?: Record<string, string>): Promise<{ json: T; etag: string | undefined }> {
  const headers: Record<string, string> = { accept: 'application/json', ...extra };
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'the console does not answer (is wiretun serve running?)');
  }
  const etag = res.headers.get('etag') ?? undefined;
  if (res.status === 204) return { json: undefined as T, etag };
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
    const err = new ApiError(res.status, e?.code ?? 'http', e?.message ?? `${res.status} ${res.statusText}`, e?.field, etag);
    if (res.status === 401 && err.code === 'unauthorized' && csrf) {
      csrf = '';
      onSessionLost?.();
    }
    throw err;
  }
  return { json: json as T, etag };
}
