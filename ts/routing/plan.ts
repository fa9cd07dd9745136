// The `up` plan: the operations wg-quick's cmd_up performs for a config, in order, each with the line it
// prints. Pure: the system is described by UpFacts, nothing is run. Order (cmd_up): PreUp hooks, create the
// interface, wg setconf, addresses, MTU + link up, DNS, one route per allowed IP (most specific first, default
// routes through policy routing), PostUp hooks. The kernel state wg-quick reads back in between (`wg show`,
// `ip addr show`, `ip route show ... match`) is simulated here from the config.
import { Cidr, Family, canonicalCidr, cidrContains, formatIp, maskCidr, parseCidr, parseIp } from '../config/ip';
import { WgQuickConfig } from '../config/wgquick';
import { UpFacts } from './facts';
import { iptablesAddScript, nftAddScript } from './firewall';
import { Plan, PlanOp, hookOps, printed, runOp, runWithFd } from './ops';

export const FIRST_AUTO_TABLE = 51820;

export interface UpOptions {
  /**
   * The userspace implementation that creates the interface (wg-quick's WG_QUICK_USERSPACE_IMPLEMENTATION),
   * printed as `[#] PROG IF`. Unset: the kernel's `ip link add IF type wireguard`.
   */
  userspace?: string;
}

interface Ctx {
  config: WgQuickConfig;
  iface: string;
  facts: UpFacts;
  ops: PlanOp[];
  warnings: string[];
  /** The fwmark/table chosen for default routes, once chosen (wg-quick re-reads it via `wg show IF fwmark`). */
  table?: number;
  /** Routes on the interface in the main table, for wg-quick's `ip route show dev IF match R` check. */
  devRoutes: Cidr[];
}

export function familyOf(address: string): Family {
  return address.includes(':') ? 6 : 4;
}

export function planUp(config: WgQuickConfig, iface: string, facts: UpFacts, options: UpOptions = {}): Plan {
  const ctx: Ctx = { config, iface, facts, ops: [], warnings: [], devRoutes: [] };
  ctx.ops.push(...hookOps('PreUp', config.preUp, iface));
  ctx.ops.push({
    kind: 'add-interface',
    line: options.userspace ? printed([options.userspace, iface]) : printed(['ip', 'link', 'add', iface, 'type', 'wireguard']),
  });
  ctx.ops.push({ kind: 'set-config', line: printed(['wg', 'setconf', iface, '/dev/fd/63']) });
  addAddresses(ctx);
  ctx.ops.push(runOp(['ip', 'link', 'set', 'mtu', String(linkMtu(ctx)), 'up', 'dev', iface]));
  addDns(ctx);
  for (const route of sortedAllowedIps(config)) addRoute(ctx, route);
  ctx.ops.push(...hookOps('PostUp', config.postUp, iface));
  return { ops: ctx.ops, warnings: ctx.warnings };
}

function addAddresses(ctx: Ctx): void {
  const seen = new Set<string>();
  for (const a of ctx.config.addresses) {
    const fam = familyOf(a);
    ctx.ops.push(runOp(['ip', `-${fam}`, 'address', 'add', a, 'dev', ctx.iface]));
    const c = parseCidr(a) as Cidr;
    const ip = formatIp(c);
    if (seen.has(ip)) ctx.warnings.push(`Address ${ip} is given twice: the second \`ip address add\` will fail`);
    seen.add(ip);
    // The kernel adds a prefix route for each address once the link is up: IPv4 only below /32, IPv6 always.
    if (fam === 6 || c.prefix < 32) ctx.devRoutes.push(maskCidr(c));
  }
}

/**
 * The MTU wg-quick sets: MTU if given, else the LARGEST route MTU towards any endpoint (the script keeps the
 * maximum, whatever its usage text suggests), else the default route's, else 1500; minus 80 for the
 * WireGuard overhead over IPv6 (40 IP + 8 UDP + 32 WireGuard).
 */
function linkMtu(ctx: Ctx): number {
  if (ctx.config.mtu !== undefined) return ctx.config.mtu;
  let mtu = 0;
  for (const peer of ctx.config.device.peers) {
    if (!peer.endpoint) continue;
    const address = endpointAddress(ctx, peer.endpoint);
    const m = address === undefined ? undefined : ctx.facts.routeMtus[address];
    if (m !== undefined && m > mtu) mtu = m;
  }
  if (mtu === 0 && ctx.facts.defaultRouteMtu !== undefined) mtu = ctx.facts.defaultRouteMtu;
  return (mtu > 0 ? mtu : 1500) - 80;
}

/** The numeric address `wg show IF endpoints` would print for a configured endpoint. */
function endpointAddress(ctx: Ctx, endpoint: string): string | undefined {
  const host = endpoint.startsWith('[') ? endpoint.slice(1, endpoint.indexOf(']')) : endpoint.slice(0, endpoint.lastIndexOf(':'));
  const ip = parseIp(host);
  if (ip) return formatIp(ip);
  const resolved = ctx.facts.resolved?.[host];
  if (resolved === undefined) ctx.warnings.push(`endpoint host ${host} is not resolved: left out of the MTU calculation`);
  return resolved;
}

function addDns(ctx: Ctx): void {
  const { dns, dnsSearch } = ctx.config;
  // wg-quick sets DNS only when there is a nameserver; search domains alone are ignored.
  if (dns.length === 0) return;
  let input = dns.map((d) => `nameserver ${d}\n`).join('');
  if (dnsSearch.length) input += `search ${dnsSearch.join(' ')}\n`;
  if (!ctx.facts.hasResolvconf) ctx.warnings.push('DNS is set but resolvconf is not installed: `up` will fail there');
  ctx.ops.push(runOp(['resolvconf', '-a', `${ctx.facts.resolvconfPrefix}${ctx.iface}`, '-m', '0', '-x'], input));
}

/**
 * All peers' allowed IPs as `wg show IF allowed-ips` lists them (host bits cleared, each once), ordered like
 * wg-quick's `sort -nr -k 2 -t /` in the C locale: longest prefix first, ties by reversed byte order.
 */
export function sortedAllowedIps(config: WgQuickConfig): Cidr[] {
  const byText = new Map<string, Cidr>();
  for (const p of config.device.peers) {
    for (const a of p.allowedIps) {
      const c = maskCidr(parseCidr(a) as Cidr);
      byText.set(canonicalCidr(c), c);
    }
  }
  return [...byText.entries()]
    .sort(([ta, a], [tb, b]) => b.prefix - a.prefix || (ta < tb ? 1 : ta > tb ? -1 : 0))
    .map(([, c]) => c);
}

function addRoute(ctx: Ctx, route: Cidr): void {
  const table = ctx.config.table;
  const text = canonicalCidr(route);
  const fam = `-${route.family}`;
  if (table === 'off') return;
  if (table !== undefined && table !== 'auto') {
    ctx.ops.push(runOp(['ip', fam, 'route', 'add', text, 'dev', ctx.iface, 'table', table]));
  } else if (route.prefix === 0) {
    addDefault(ctx, route);
  } else if (!ctx.devRoutes.some((r) => cidrContains(r, route))) {
    ctx.ops.push(runOp(['ip', fam, 'route', 'add', text, 'dev', ctx.iface]));
    ctx.devRoutes.push(route);
  }
}

/** The table for default routes: the config's FwMark if set, else the first of 51820, 51821... with no routes. */
function defaultTable(ctx: Ctx): number {
  if (ctx.table !== undefined) return ctx.table;
  const mark = ctx.config.device.fwmark;
  if (mark !== undefined && mark !== 0) {
    ctx.table = mark;
    return mark;
  }
  let t = FIRST_AUTO_TABLE;
  while (ctx.facts.tablesInUse.includes(t)) t++;
  ctx.ops.push({ kind: 'set-fwmark', line: printed(['wg', 'set', ctx.iface, 'fwmark', t]), fwmark: t });
  ctx.table = t;
  return t;
}

function addDefault(ctx: Ctx, route: Cidr): void {
  const table = defaultTable(ctx);
  const fam = route.family;
  const f = `-${fam}`;
  const T = String(table);
  ctx.ops.push(runOp(['ip', f, 'route', 'add', canonicalCidr(route), 'dev', ctx.iface, 'table', T]));
  ctx.ops.push(runOp(['ip', f, 'rule', 'add', 'not', 'fwmark', T, 'table', T]));
  ctx.ops.push(runOp(['ip', f, 'rule', 'add', 'table', 'main', 'suppress_prefixlength', '0']));
  const addresses = interfaceAddresses(ctx.config.addresses, fam);
  // Link scope sorts after global in the kernel's IPv6 address list.
  if (fam === 6) addresses.push(...(ctx.facts.linkLocal6 ?? []));
  if (fam === 4 && ctx.facts.srcValidMark !== 1) {
    ctx.ops.push(runOp(['sysctl', '-q', 'net.ipv4.conf.all.src_valid_mark=1']));
  }
  if (ctx.facts.hasNft) {
    ctx.ops.push(runWithFd(['nft', '-f'], nftAddScript(fam, ctx.iface, table, addresses)));
  } else {
    if (!ctx.facts.hasIptables) ctx.warnings.push('neither nft nor iptables is installed: `up` will fail there');
    const tool = fam === 4 ? 'iptables-restore' : 'ip6tables-restore';
    ctx.ops.push(runOp([tool, '-n'], iptablesAddScript(ctx.iface, table, addresses)));
  }
}

/**
 * The interface's addresses of one family in the order `ip -o addr show` lists them: IPv4 primaries in the
 * order added, then secondaries (addresses in a subnet an earlier address already has); IPv6 newest first.
 */
export function interfaceAddresses(configured: string[], family: Family): string[] {
  const cidrs = configured.filter((a) => familyOf(a) === family).map((a) => parseCidr(a) as Cidr);
  const unique: Cidr[] = [];
  for (const c of cidrs) if (!unique.some((u) => formatIp(u) === formatIp(c))) unique.push(c);
  if (family === 6) return unique.reverse().map(formatIp);
  const primaries: Cidr[] = [];
  const secondaries: Cidr[] = [];
  for (const c of unique) {
    const sameSubnet = primaries.some((p) => p.prefix === c.prefix && cidrContains(p, c));
    (sameSubnet ? secondaries : primaries).push(c);
  }
  return [...primaries, ...secondaries].map(formatIp);
}
