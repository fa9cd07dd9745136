// Request values the console checks before anything is planned: client ids, CIDR lists, expiry dates.
import { canonicalCidr, parseCidr } from '../config/ip';
import { badRequest } from './http';

/** A client's id in URLs: its public key in base64url (no `/`, `+` or `=` to escape). */
export const idOf = (publicKey: string) => Buffer.from(publicKey, 'base64').toString('base64url');

/** A client id as keyOf accepts it: 43 base64url characters of which the last carries 4 bits of the key and 2
 * zero bits, so only 16 letters can end it (any other last letter decodes to a key that encodes differently). */
export const CLIENT_ID_PATTERN = '^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$';
const CLIENT_ID = new RegExp(CLIENT_ID_PATTERN);

/** The public key an id names; a 400 unless it is exactly a 32-byte key. */
export function keyOf(id: string): string {
  const raw = Buffer.from(id, 'base64url');
  if (!CLIENT_ID.test(id) || raw.length !== 32 || raw.toString('base64url') !== id) {
    throw badRequest('not a client id (a public key in base64url)', 'id');
  }
  return raw.toString('base64');
}

/** CIDRs in canonical form (`10.0.0.0/8`, a bare address as /32 or /128); a 400 naming the one at fault. */
export function checkCidrs(list: string[], field: string): string[] {
  return list.map((text, i) => {
    const c = parseCidr(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`);
    if (!c) throw badRequest(`${JSON.stringify(text)} is not an IP address or CIDR`, `${field}[${i}]`);
    return canonicalCidr(c);
  });
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** An ISO 8601 date (`2027-01-31`, midnight UTC) or date-time with a zone, in the future; null clears. */
export function parseExpiry(value: string | null | undefined, now: number): number | null {
  if (value === undefined || value === null) return null;
  const ms = ISO_DATE.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw badRequest(`${JSON.stringify(value)} is not an ISO 8601 date (2027-01-31 or 2027-01-31T18:00:00Z)`, 'expiresAt');
  if (ms <= now) throw badRequest('expiresAt is in the past', 'expiresAt');
  return ms;
}
