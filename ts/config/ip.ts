// IP address and CIDR handling with the exact acceptance rules of inet_pton(3) (what wg(8) uses) and the exact
// output of inet_ntop(3) (what `wg show` and `ip` print), because wg-quick's plan is built from that output.
// node:net's isIP is not enough: it accepts IPv6 zone ids, which inet_pton rejects.

export type Family = 4 | 6;

/** An address as bytes (4 or 16) plus its family. */
export interface IpBytes {
  family: Family;
  bytes: number[];
}

export interface Cidr extends IpBytes {
  prefix: number;
}

/** inet_pton(AF_INET): exactly four decimal octets, no leading zeros. */
export function parseIPv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function hexGroups(part: string): number[] | undefined {
  if (part === '') return [];
  const out: number[] = [];
  for (const g of part.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

/** inet_pton(AF_INET6): hex groups, at most one `::`, an optional dotted-quad tail; no zone id. */
export function parseIPv6(text: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return undefined;
  let head = text;
  let tail: number[] = [];
  if (text.includes('.')) {
    const cut = text.lastIndexOf(':');
    const v4 = parseIPv4(text.slice(cut + 1));
    if (!v4) return undefined;
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    head = text.slice(0, cut + 1);
    // `a:b:1.2.3.4` leaves a dangling single colon that belongs to the dotted quad, `::1.2.3.4` does not.
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const left = hexGroups(halves[0]);
  const right = halves.length === 2 ? hexGroups(halves[1]) : [];
  if (!left || !right) return undefined;
  const given = left.length + right.length + tail.length;
  let words: number[];
  if (halves.length === 1) {
    if (given !== 8) return undefined;
    words = [...left, ...tail];
  } else {
    if (given > 7) return undefined;
    words = [...left, ...new Array<number>(8 - given).fill(0), ...right, ...tail];
  }
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

/** Parses an address the way wg(8)'s parse_ip does: a colon means IPv6. */
export function parseIp(text: string): IpBytes | undefined {
  if (text.includes(':')) {
    const bytes = parseIPv6(text);
    return bytes && { family: 6, bytes };
  }
  const bytes = parseIPv4(text);
  return bytes && { family: 4, bytes };
}

/** `addr` or `addr/prefix` (prefix digits only, within the family's width), as wg(8) accepts AllowedIPs. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  if (slash < 0) return { ...ip, prefix: max };
  const mask = text.slice(slash + 1);
  if (!/^[0-9]+$/.test(mask) || Number(mask) > max) return undefined;
  return { ...ip, prefix: Number(mask) };
}

function formatIPv4(bytes: number[]): string {
  return bytes.join('.');
}

/** inet_ntop(AF_INET6) as glibc writes it, including its embedded-IPv4 forms. */
function formatIPv6(bytes: number[]): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      cur = cur.base < 0 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 };
      if (cur.len > best.len) best = cur;
    } else {
      cur = { base: -1, len: 0 };
    }
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best.base >= 0 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      return out + formatIPv4(bytes.slice(12));
    }
    out += words[i].toString(16);
  }
  if (best.base >= 0 && best.base + best.len === 8) out += ':';
  return out;
}

export function formatIp(ip: IpBytes): string {
  return ip.family === 4 ? formatIPv4(ip.bytes) : formatIPv6(ip.bytes);
}

/** Clears the host bits, as the kernel does when it stores an allowed IP or a route. */
export function maskCidr(c: Cidr): Cidr {
  const bytes = c.bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, c.prefix - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  return { ...c, bytes };
}

/** `network/prefix` exactly as `wg show allowed-ips` prints the entry. */
export function canonicalCidr(c: Cidr): string {
  return `${formatIp(maskCidr(c))}/${c.prefix}`;
}

/** Whether `outer` contains `inner` (same family, shorter or equal prefix, same network bits). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
  const a = maskCidr(outer).bytes;
  const b = maskCidr({ ...inner, prefix: outer.prefix }).bytes;
  return a.every((x, i) => x === b[i]);
}
