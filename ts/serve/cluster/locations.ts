// Locations in cluster mode: one WireGuard server identity each (key pair, listen port, addresses, MTU) and the
// defaults its clients get. The console makes the key; gateways run it. A location answers in the shape of an
// interface on one machine (so the page and scripts work with both), with `file` null and its gateways' health.
import { canonicalCidr } from '../../config/ip';
import { parseDns } from '../../config/values';
import { INTERFACE_NAME } from '../../config/wgquick';
import { generatePrivateKey, publicKeyFromPrivate } from '../../keys';
import { serverSubnets } from '../../peers/allocate';
import { completeEndpoint } from '../../peers/client';
import { ApiError, badRequest, notFound } from '../http';
import { ClusterStore, list, LocationRow } from '../pg/cluster';
import { checkCidrs } from '../values';
import { ClusterClients } from './clients';
import { defaultRoutes } from './config';
import { healthy } from './status';

export interface LocationBody {
  name?: string;
  listenPort?: number;
  addresses?: string[];
  mtu?: number | null;
  endpoint?: string | null;
  clientDefaults?: { dns?: string[] | null; allowedIps?: string[] | null; persistentKeepalive?: number | null };
}

export class Locations {
  constructor(
    private readonly store: ClusterStore,
    private readonly clients: ClusterClients,
    private readonly now: () => number,
  ) {}

  async view(loc: LocationRow) {
    const clients = await this.clients.views(loc);
    const gateways = await this.store.gateways(loc.name);
    const now = this.now();
    return {
      name: loc.name,
      file: null,
      up: gateways.some((g) => healthy(g, now)),
      publicKey: publicKeyFromPrivate(loc.private_key),
      listenPort: loc.listen_port,
      addresses: list(loc.addresses),
      subnets: serverSubnets(list(loc.addresses)).map(canonicalCidr),
      endpoint: loc.endpoint,
      saveConfig: false,
      mtu: loc.mtu,
      clientDefaults: {
        dns: loc.dns ? list(loc.dns) : null,
        allowedIps: loc.client_allowed_ips !== null ? defaultRoutes(loc) : null,
        persistentKeepalive: loc.persistent_keepalive,
      },
      clients: {
        total: clients.length,
        enabled: clients.filter((c) => c.enabled).length,
        connected: clients.filter((c) => c.status.state === 'connected').length,
      },
      gateways: { total: gateways.length, healthy: gateways.filter((g) => healthy(g, now)).length },
    };
  }

  async list() {
    return Promise.all((await this.store.locations()).map((l) => this.view(l)));
  }

  async get(name: string) {
    const loc = await this.store.location(name);
    if (!loc) throw notFound(`no location ${name}`);
    return this.view(loc);
  }

  async create(body: LocationBody) {
    const name = body.name!;
    if (!INTERFACE_NAME.test(name)) throw badRequest('a location name is an interface name: 1-15 of A-Z a-z 0-9 _ = + . -', 'name');
    if (await this.store.location(name)) throw new ApiError(409, 'exists', `a location named ${name} already exists`, 'name');
    // WireGuard's usual port unless told: a location must have a fixed one, every gateway listens on it.
    const row = { name, private_key: generatePrivateKey(), created_at: this.now(), listen_port: 51820, ...columns(body, body.listenPort ?? 51820) };
    if (!row.addresses) throw badRequest('addresses is required', 'addresses');
    await this.store.createLocation(row as Parameters<ClusterStore['createLocation']>[0]).catch((err: { code?: string }) => {
      if (err.code === '23505') throw new ApiError(409, 'exists', `a location named ${name} already exists`, 'name');
      throw err;
    });
    return this.get(name);
  }

  async update(name: string, body: LocationBody) {
    await this.store.db.transaction(async () => {
      const loc = await this.store.location(name, true);
      if (!loc) throw notFound(`no location ${name}`);
      const changes = columns(body, body.listenPort ?? loc.listen_port);
      const changed = Object.fromEntries(Object.entries(changes).filter(([k, v]) => loc[k as keyof LocationRow] !== v));
      await this.store.updateLocation(name, changed);
    });
    return this.get(name);
  }

  async remove(name: string): Promise<void> {
    if (!(await this.store.deleteLocation(name))) throw notFound(`no location ${name}`);
  }
}

/** The columns a body sets, each checked first so a bad value changes nothing. */
function columns(b: LocationBody, listenPort: number): Partial<LocationRow> {
  const out: Partial<LocationRow> = {};
  if (b.listenPort !== undefined) out.listen_port = b.listenPort;
  if (b.addresses !== undefined) {
    if (b.addresses.length === 0) throw badRequest('give at least one address', 'addresses');
    const cidrs = b.addresses.map((a, i) => {
      if (!a.includes('/')) throw badRequest(`${JSON.stringify(a)} needs a prefix length: the server's address and its subnet (10.8.0.1/24)`, `addresses[${i}]`);
      return a;
    });
    checkCidrs(cidrs, 'addresses');
    out.addresses = cidrs.join(',');
  }
  if (b.mtu !== undefined) out.mtu = b.mtu;
  if (b.endpoint !== undefined) {
    if (b.endpoint !== null) {
      try {
        completeEndpoint(b.endpoint, listenPort);
      } catch (err) {
        throw badRequest((err as Error).message, 'endpoint');
      }
    }
    out.endpoint = b.endpoint;
  }
  const d = b.clientDefaults ?? {};
  if (d.dns !== undefined) {
    const text = d.dns?.join(', ') || null;
    if (text) {
      try {
        parseDns(text, { key: 'dns' });
      } catch (err) {
        throw badRequest((err as Error).message, 'clientDefaults.dns');
      }
    }
    out.dns = text;
  }
  if (d.allowedIps !== undefined) {
    if (d.allowedIps !== null && d.allowedIps.length === 0) throw badRequest('give at least one CIDR, or null for the default', 'clientDefaults.allowedIps');
    out.client_allowed_ips = d.allowedIps === null ? null : checkCidrs(d.allowedIps, 'clientDefaults.allowedIps').join(',');
  }
  if (d.persistentKeepalive !== undefined) out.persistent_keepalive = d.persistentKeepalive || null;
  return out;
}
