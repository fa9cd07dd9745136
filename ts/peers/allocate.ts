// Picks the next free address for a new peer in each of the interface's subnets (its Address lines): the
// lowest host address that is neither the server's own nor inside any peer's AllowedIPs.
import { Cidr, Family, canonicalCidr, cidrContains, formatIp, maskCidr, parseCidr } from '../config/ip';

/** How many candidates one subnet is searched for; a /64 is never walked to its end. */
const MAX_CANDIDATES = 1 << 16;

export class AllocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AllocationError';
  }
}

const width = (f: Family) => (f === 4 ? 32 : 128);

function toBigInt(bytes: number[]): bigint {
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

function fromBigInt(n: bigint, family: Family): number[] {
  const out = new Array<number>(family === 4 ? 4 : 16);
  for (let i = out.length - 1; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

function parseAll(list: string[], what: string): Cidr[] {
  return list.map((text) => {
    const c = parseCidr(text);
    if (!c) throw new AllocationError(`${what} ${JSON.stringify(text)} is not an address or CIDR`);
    return c;
  });
}

/** The interface's subnets, one per distinct network, in Address order. */
export function serverSubnets(addresses: string[]): Cidr[] {
  const seen = new Set<string>();
  return parseAll(addresses, 'Address')
    .map(maskCidr)
    .filter((c) => {
      const key = canonicalCidr(c);
      return seen.has(key) ? false : (seen.add(key), true);
    });
}

/**
 * The lowest free host address of `subnet` as a /32 or /128, or undefined when it is full (or searched
 * MAX_CANDIDATES deep in vain). IPv4's network and broadcast addresses and IPv6's subnet-router anycast
 * address (host part all zeros) are never handed out.
 */
export function firstFree(subnet: Cidr, used: Cidr[]): string | undefined {
  const bits = width(subnet.family);
  const hostBits = BigInt(bits - subnet.prefix);
  const base = toBigInt(maskCidr(subnet).bytes);
  const size = 1n << hostBits;
  const last = subnet.family === 4 && subnet.prefix <= 30 ? size - 2n : size - 1n;
  const relevant = used.filter((u) => u.family === subnet.family);
  const limit = BigInt(MAX_CANDIDATES);
  for (let offset = 1n; offset <= last && offset < limit; offset++) {
    const candidate: Cidr = { family: subnet.family, bytes: fromBigInt(base + offset, subnet.family), prefix: bits };
    if (!relevant.some((u) => cidrContains(u, candidate))) return `${formatIp(candidate)}/${bits}`;
  }
  return undefined;
}

/**
 * One free address per address family the interface has a subnet of (the first subnet of that family with
 * room). `taken` holds the server's Address lines and every peer's AllowedIPs. Throws when none is free.
 */
export function allocateAddresses(serverAddresses: string[], taken: string[]): string[] {
  const subnets = serverSubnets(serverAddresses);
  if (subnets.length === 0) throw new AllocationError('the interface has no Address line to pick a peer address from');
  // The server's own addresses as host routes, so that its /24 does not mark the whole subnet taken.
  const own = parseAll(serverAddresses, 'Address').map((c) => ({ ...c, prefix: width(c.family) }));
  const used = [...own, ...parseAll(taken, 'AllowedIPs')];
  const picked: string[] = [];
  for (const family of [4, 6] as Family[]) {
    for (const subnet of subnets.filter((s) => s.family === family)) {
      const address = firstFree(subnet, used);
      if (address) {
        picked.push(address);
        break;
      }
    }
  }
  if (picked.length === 0) {
    throw new AllocationError(`no free address left in ${subnets.map(canonicalCidr).join(', ')}`);
  }
  return picked;
}

/**
 * Checks addresses chosen by hand for a peer: each a host address (/32, /128) or a CIDR inside one of the
 * interface's subnets, and none overlapping `taken` (the server's own addresses and the other peers'
 * AllowedIPs). Returns them in canonical form; throws naming the first one at fault (by index).
 */
export function checkAddresses(serverAddresses: string[], taken: string[], addresses: string[]): string[] {
  const subnets = serverSubnets(serverAddresses);
  const own = parseAll(serverAddresses, 'Address').map((c) => ({ ...c, prefix: width(c.family) }));
  const used = [...own, ...parseAll(taken, 'AllowedIPs')];
  const overlaps = (a: Cidr, b: Cidr) => a.family === b.family && (cidrContains(a, b) || cidrContains(b, a));
  const out: Cidr[] = [];
  addresses.forEach((text, i) => {
    const c = parseCidr(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`);
    if (!c) throw new AllocationError(`addresses[${i}]: ${JSON.stringify(text)} is not an address or CIDR`);
    if (!subnets.some((s) => cidrContains(s, c))) {
      throw new AllocationError(`addresses[${i}]: ${canonicalCidr(c)} is outside the interface's subnets (${subnets.map(canonicalCidr).join(', ')})`);
    }
    if (used.some((u) => overlaps(u, c)) || out.some((o) => overlaps(o, c))) {
      throw new AllocationError(`addresses[${i}]: ${canonicalCidr(c)} is already in use`);
    }
    out.push(c);
  });
  return out.map(canonicalCidr);
}
