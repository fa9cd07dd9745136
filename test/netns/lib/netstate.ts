// A namespace's whole network state as wg-quick and `wiretun up/down` change it, comparable between two
// identical set-ups: addresses, routes of every table, rules, the sysctls they touch, the nft ruleset.
import { must } from './proc';

const VOLATILE = new Set(['ifindex', 'link_index', 'valid_life_time', 'preferred_life_time', 'expires', 'handle', 'stats64', 'txqlen']);

/** JSON without what differs between identical set-ups: indexes, lifetimes, the random IPv6 link-locals. */
function normalise(json: string): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip).sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1));
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).filter(([k]) => !VOLATILE.has(k)).map(([k, x]) => [k, strip(x)]));
    }
    return v;
  };
  return strip(JSON.parse(json.replace(/fe80::[0-9a-f:]+/g, 'fe80::LL') || '[]'));
}

/** Addresses, routes of every table, rules, the sysctls up/down touch, and the nft ruleset of `ns`. */
export async function snapshot(ns: string): Promise<Record<string, unknown>> {
  const inNs = (cmd: string, args: string[]) => must(cmd, args, { ns });
  const sysctl = async (k: string) => (await inNs('sysctl', ['-n', k])).trim();
  return {
    links: normalise(await inNs('ip', ['-j', 'address', 'show'])),
    routes4: normalise(await inNs('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])),
    routes6: normalise(await inNs('ip', ['-j', '-6', 'route', 'show', 'table', 'all'])),
    rules4: await inNs('ip', ['-4', 'rule', 'show']),
    rules6: await inNs('ip', ['-6', 'rule', 'show']),
    srcValidMark: await sysctl('net.ipv4.conf.all.src_valid_mark'),
    forward4: await sysctl('net.ipv4.ip_forward'),
    forward6: await sysctl('net.ipv6.conf.all.forwarding'),
    nft: (await inNs('nft', ['list', 'ruleset'])).replace(/fe80::[0-9a-f:]+/g, 'fe80::LL'),
  };
}
