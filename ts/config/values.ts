// Value parsers for each config key. They accept what wg(8) (wireguard-tools config.c) and wg-quick accept and
// throw a ConfigError that says what was expected. Key values never appear in a message.
import { isIP } from 'node:net';
import { ConfigError } from './wgquick';
import { parseCidr } from './ip';

export interface Where {
  file?: string;
  line?: number;
  key: string;
}

function fail(where: Where, message: string): never {
  throw new ConfigError(`${where.key} on line ${where.line ?? '?'} ${message}`, where);
}

const B64_CHAR = /^[A-Za-z0-9+/]$/;

/**
 * A 32-byte key in base64: 44 characters ending in `=`. Like wg's key_from_base64 it also rejects a last
 * character with stray low bits (a non-canonical encoding), since wg refuses those too.
 */
export function parseKey(value: string, where: Where): Buffer {
  const body = value.replace(/=+$/, '');
  if ([...body].some((c) => !B64_CHAR.test(c))) fail(where, 'is not valid base64');
  if (value.length !== 44 || !value.endsWith('=') || value.endsWith('==')) {
    const bytes = Math.floor((body.length * 6) / 8);
    fail(where, `has the wrong length: expected 44 base64 characters (32 bytes), got ${value.length} (${bytes} bytes)`);
  }
  if ('AEIMQUYcgkosw048'.indexOf(value[42]) < 0) fail(where, 'is not a canonical base64 encoding of 32 bytes');
  return Buffer.from(value, 'base64');
}

/** A UDP port, 0-65535 (0 = pick one). wg also takes service names; a config file never needs them. */
export function parsePort(value: string, where: Where): number {
  if (!/^[0-9]+$/.test(value) || Number(value) > 65535) fail(where, `must be a port number 0-65535, got "${value}"`);
  return Number(value);
}

/** `off`, a decimal number or `0x` hex, 32 bits (wg's parse_fwmark). 0 and off both mean no mark. */
export function parseFwmark(value: string, where: Where): number {
  if (value.toLowerCase() === 'off') return 0;
  const hex = /^0x[0-9a-fA-F]+$/.test(value);
  if (!hex && !/^[0-9]+$/.test(value)) fail(where, `must be off, a number or 0x-hex, got "${value}"`);
  const n = hex ? parseInt(value.slice(2), 16) : Number(value);
  if (n > 0xffffffff) fail(where, `must fit in 32 bits (at most 0xffffffff), got "${value}"`);
  return n;
}

/** Seconds between keepalives, 0-65535, or `off` (= 0). */
export function parseKeepalive(value: string, where: Where): number {
  if (value.toLowerCase() === 'off') return 0;
  if (!/^[0-9]+$/.test(value) || Number(value) > 65535) fail(where, `must be off or 0-65535 seconds, got "${value}"`);
  return Number(value);
}

/**
 * `host:port` or `[v6]:port`. As in wg, an unbracketed value splits at its last colon; an IPv6 host written
 * that way is stored bracketed so that later resolution and formatting see one form.
 */
export function parseEndpoint(value: string, where: Where): string {
  if (value === '') fail(where, 'is empty; expected host:port or [IPv6]:port');
  let host: string;
  let port: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) fail(where, `has no closing "]": expected [IPv6]:port, got "${value}"`);
    host = value.slice(1, close);
    if (value[close + 1] !== ':' || close + 2 >= value.length) fail(where, `has no port: expected [IPv6]:port, got "${value}"`);
    port = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0 || colon === value.length - 1) fail(where, `has no port: expected host:port, got "${value}"`);
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
  }
  if (!/^[0-9]+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    fail(where, `has a bad port: expected 1-65535, got "${port}"`);
  }
  if (host.includes(':')) {
    // A zone id (fe80::1%eth0) is allowed here: wg passes endpoints through getaddrinfo, which takes them.
    if (isIP(host) !== 6) fail(where, `has a bad IPv6 address "${host}"`);
    return `[${host}]:${port}`;
  }
  if (!/^[A-Za-z0-9._-]+$/.test(host)) fail(where, `has a bad host "${host}": expected an IP address or a DNS name`);
  return `${host}:${port}`;
}

/** A comma list of `addr[/prefix]` (AllowedIPs). Empty is fine: it clears the list. */
export function parseAllowedIps(value: string, where: Where): string[] {
  if (value === '') return [];
  return value.split(',').map((item) => {
    if (!parseCidr(item)) fail(where, `has a bad entry "${item}": expected an IPv4 or IPv6 address with an optional /prefix`);
    return item;
  });
}

/** wg-quick splits Address and DNS values on commas and whitespace (bash word splitting). */
export function splitWords(value: string): string[] {
  return value.split(/[\s,]+/).filter((w) => w !== '');
}

export function parseAddresses(value: string, where: Where): string[] {
  const words = splitWords(value);
  if (words.length === 0) fail(where, 'is empty; expected one or more addresses such as 10.0.0.1/24');
  for (const w of words) {
    if (!parseCidr(w)) fail(where, `has a bad address "${w}": expected an IPv4 or IPv6 address with an optional /prefix`);
  }
  return words;
}

/** wg-quick's own test: digits and dots, or anything with a colon, is a nameserver; the rest search domains. */
export function parseDns(value: string, where: Where): { servers: string[]; search: string[] } {
  const servers: string[] = [];
  const search: string[] = [];
  for (const w of splitWords(value)) {
    if (/^[0-9.]+$/.test(w) || w.includes(':')) {
      // A zone id (fe80::1%eth0) is fine for a nameserver: resolv.conf takes it.
      if (!isIP(w)) fail(where, `has "${w}", which is neither an IP address nor a domain`);
      servers.push(w);
    } else {
      if (!/^[A-Za-z0-9._-]+$/.test(w)) fail(where, `has "${w}", which is neither an IP address nor a domain`);
      search.push(w);
    }
  }
  return { servers, search };
}

/** The link MTU handed to `ip link set mtu`. 68 is IPv4's minimum; 65535 the largest a TUN takes. */
export function parseMtu(value: string, where: Where): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 68 || Number(value) > 65535) {
    fail(where, `must be a number 68-65535, got "${value}"`);
  }
  return Number(value);
}

/** off | auto | a table number | a table name (as in /etc/iproute2/rt_tables). */
export function parseTable(value: string, where: Where): string {
  const lower = value.toLowerCase();
  if (lower === 'off' || lower === 'auto') return lower;
  if (/^[0-9]+$/.test(value)) {
    if (Number(value) < 1 || Number(value) > 0xffffffff) fail(where, `must be a table number 1-4294967295, got "${value}"`);
    return String(Number(value));
  }
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(value)) fail(where, `must be off, auto, a table number or a table name, got "${value}"`);
  return value;
}

/** wg-quick's read_bool, which matches case-insensitively. */
export function parseBool(value: string, where: Where): boolean {
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  return fail(where, `must be true or false, got "${value}"`);
}
