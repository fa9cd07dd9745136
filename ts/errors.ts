// Native errors arrive as `CODE: message` (errno names such as EADDRINUSE, EPERM, EINVAL). This file is the one
// place that turns them into typed JS errors.

/** An error from the native data plane, with an errno-style `code`. */
export class WiretunError extends Error {
  /** An errno name such as `EINVAL`, `EADDRINUSE`, `EPERM`, `ENOENT`, `EBADF` (closed) or `EIO`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WiretunError';
    this.code = code;
  }
}

const CODED = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/;

/** Maps anything thrown by the addon to a WiretunError; other values pass through unchanged. */
export function fromNative(err: unknown): unknown {
  if (err instanceof WiretunError || !(err instanceof Error)) return err;
  const m = CODED.exec(err.message);
  if (!m) return new WiretunError('EIO', err.message, { cause: err });
  return new WiretunError(m[1], m[2], { cause: err });
}

/** A `CODE: message` string the addon handed over (rather than threw) as a WiretunError. */
export function fromNativeMessage(message: string): WiretunError {
  const m = CODED.exec(message);
  return m ? new WiretunError(m[1], m[2]) : new WiretunError('EIO', message);
}

/** Runs fn, rethrowing native errors as WiretunError. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err);
  }
}
