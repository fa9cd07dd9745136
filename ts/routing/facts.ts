// What the routing plan needs to know about the system, as plain data. The apply half gathers it (with `ip`,
// `nft`, `wg`, the resolver...) just before planning; tests and fixtures write it by hand. Each field names the
// wg-quick probe it stands for.

export interface UpFacts {
  /** Tables that already hold IPv4 or IPv6 routes (`ip -4/-6 route show table N`): the auto table skips them. */
  tablesInUse: number[];
  /**
   * MTU towards each endpoint address (`ip route get ADDR`: its `mtu`, else the MTU of its `dev`); an address
   * without a route is left out. Keys are numeric addresses as `wg show endpoints` prints them.
   */
  routeMtus: Record<string, number>;
  /** Same for the first default route (`ip route show default`), if any. */
  defaultRouteMtu?: number;
  /** Endpoint host names resolved to numeric addresses (wg setconf resolves them before the MTU probe). */
  resolved?: Record<string, string>;
  /**
   * IPv6 link-local addresses the kernel gave the link itself (`ip -o -6 addr show dev IF scope link`). Known
   * only once the link is up: the apply half plans again with them before the default-route firewall step.
   */
  linkLocal6?: string[];
  /** `type -p nft`: nftables is used for the default-route firewall marks when present... */
  hasNft: boolean;
  /** ...else `iptables-restore` / `ip6tables-restore`. */
  hasIptables: boolean;
  /** `resolvconf` on PATH (wg-quick does not check; it fails and rolls back). */
  hasResolvconf: boolean;
  /** From /etc/resolvconf/interface-order: the first `NAME*` line gives `NAME.` (Debian: `tun.`), else ''. */
  resolvconfPrefix: string;
  /**
   * Current net.ipv4.conf.all.src_valid_mark. The installed wg-quick (v1.0.20210914) sets it unconditionally;
   * newer ones skip it when it is already 1. Leave undefined to plan as the installed one does.
   */
  srcValidMark?: number;
}

export interface DownFacts {
  /** `wg show IF fwmark` of the live interface; undefined when the interface or its daemon is gone. */
  fwmark?: number;
  /** `wg show IF allowed-ips` of the live interface (all peers); undefined when gone. */
  allowedIps?: string[];
  /**
   * The table `up` used, as recorded by the apply half when it brought the interface up. Lets `down` clean up
   * after a dead daemon, where wg-quick stops at "is not a WireGuard interface" and leaves rules behind.
   */
  recordedTable?: number;
  /** Whether the link still exists (`ip link show dev IF`); when not, there is nothing to delete. */
  interfaceExists: boolean;
  /** `ip -4 rule show` / `ip -6 rule show`, one rule per line. */
  rules4: string[];
  rules6: string[];
  /** `nft list tables`, one `table FAMILY NAME` per line; [] without nft. */
  nftTables: string[];
  hasNft: boolean;
  /** `iptables-save` / `ip6tables-save` output; undefined when the tool is missing. */
  iptablesSave4?: string;
  iptablesSave6?: string;
  resolvconfPrefix: string;
}
