// Value syntax of the UAPI for what we send (validated and canonical, so a bad value can never smuggle a
// newline into a request; the native server parses with the same rules, crates/wiretun-core/src/uapi/values.rs).
// Errors carry the errno wireguard-go answers with.
import { canonicalCidr, formatIp, parseCidr, parseIp } from '../config/ip';
import { KEY_LEN } from '../config/model';

/**
 * Request text fit for an error message (which wiretund logs): quoted, cut to `max` characters, and with any
 * run of 16 or more base64/hex characters withheld, since a malformed line may well be key material.
 */
export function shown(text: string, max: number): string {
  return JSON.stringify(text.slice(0, max).replace(/[A-Za-z0-9+/=]{16,}/g, (run) => `<${run.length} characters withheld>`));
}

/** The errnos wireguard-go writes in `errno=N`: negative, as its ipcError* constants are. wg's set path reads
 * the number with fscanf("%d") and returns it as is, so negative values are what it expects. */
export const ERRNO = {
  EIO: -5,
  EINVAL: -22,
  EPROTO: -71,
  EADDRINUSE: -98,
  /** wireguard-go's ipcErrorUnknown (-ENOANO): an error with no better code. */
  UNKNOWN: -55,
} as const;

/** An error that maps to one `errno=N` reply (or came from one, on the client side). */
export class UapiError extends Error {
  constructor(
    readonly errno: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UapiError';
  }
}

export const invalid = (msg: string): UapiError => new UapiError(ERRNO.EINVAL, msg);

export function formatHexKey(key: string, value: Buffer): string {
  if (!Buffer.isBuffer(value) || value.length !== KEY_LEN) throw invalid(`${key}: expected a ${KEY_LEN}-byte key`);
  return value.toString('hex');
}

export function checkUint(key: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) throw invalid(`${key}: expected an integer from 0 to ${max}`);
  return value;
}

/** `a.b.c.d:port` or `[v6]:port`, numeric only (wg resolves names first), returned in canonical form
 * (inet_ntop spelling, port without leading zeros) so the data plane and `wg show` see one spelling. IPv6 zone
 * ids are refused: the data plane cannot honour them. */
export function parseEndpoint(value: string): string {
  const m = /^\[([^\]]*)\]:([0-9]+)$/.exec(value) ?? /^([^:[\]]*):([0-9]+)$/.exec(value);
  const ip = m ? parseIp(m[1]) : undefined;
  const v6InBrackets = m !== null && value.startsWith('[');
  if (!m || !ip || (ip.family === 6) !== v6InBrackets) {
    throw invalid(`endpoint: ${shown(value, 80)} is not a.b.c.d:port or [v6]:port`);
  }
  const port = Number(m[2]);
  if (!(port <= 65535)) throw invalid('endpoint port: expected an integer from 0 to 65535');
  return ip.family === 6 ? `[${formatIp(ip)}]:${port}` : `${formatIp(ip)}:${port}`;
}

/** `addr/prefix` (the prefix is required, as Go's netip.ParsePrefix requires it). Host bits are allowed and
 * masked off, as wg and wireguard-go do; the result is the canonical `network/prefix`. */
export function parseAllowedIp(value: string): string {
  const c = value.includes('/') ? parseCidr(value) : undefined;
  if (!c) throw invalid(`allowed_ip: ${shown(value, 80)} is not an IP prefix`);
  return canonicalCidr(c);
}
