// A location row as WireGuard configuration: the wg-quick config clients are made against, and the routes a
// client gets by default.
import { canonicalCidr } from '../../config/ip';
import { parseDns } from '../../config/values';
import { emptyConfig, WgQuickConfig } from '../../config/wgquick';
import { serverSubnets } from '../../peers/allocate';
import { list, LocationRow } from '../pg/cluster';

/** The location as a wg-quick config with no peers. */
export function locationConfig(loc: LocationRow): WgQuickConfig {
  const config = emptyConfig();
  config.device.privateKey = Buffer.from(loc.private_key, 'base64');
  config.device.listenPort = loc.listen_port;
  config.addresses = list(loc.addresses);
  if (loc.mtu !== null) config.mtu = loc.mtu;
  if (loc.dns) {
    const dns = parseDns(loc.dns, { key: 'dns' });
    config.dns = dns.servers;
    config.dnsSearch = dns.search;
  }
  return config;
}

/** What clients route when they were given nothing: the location's default, else its subnets. */
export function defaultRoutes(loc: LocationRow): string[] {
  return loc.client_allowed_ips !== null ? list(loc.client_allowed_ips) : serverSubnets(list(loc.addresses)).map(canonicalCidr);
}
