// Clients in cluster mode: rows of PostgreSQL (../pg/cluster.ts) instead of [Peer] sections, with the same views,
// checks and answers as on one machine (../clients.ts). Every change runs in one transaction that first bumps
// the location's revision, which locks the location: two consoles creating clients at once cannot pick the same
// address, and an edit reads the row it changes under that lock, so If-Match catches a lost update.
import { generatePresharedKey, generatePrivateKey, publicKeyFromPrivate } from '../../keys';
import { AllocationError, allocateAddresses, checkAddresses } from '../../peers/allocate';
import { clientConfig, ClientConfigError } from '../../peers/client';
import { checkName } from '../../peers/sections';
import { checkIfMatch, pick, ClientBackend, ClientState, ClientView, CONNECTED_MS, CreateClient, UpdateClient } from '../clients';
import { ApiError, badRequest, notFound } from '../http';
import { ClientRow, ClusterStore, list, LocationRow } from '../pg/cluster';
import { checkCidrs, idOf, keyOf, parseExpiry } from '../values';
import { Rates } from './rates';
import { healthy, peerStatus } from './status';
import { defaultRoutes, locationConfig } from './config';

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

function fieldError(err: unknown, field: string): never {
  if (err instanceof AllocationError) {
    const m = /^(addresses\[\d+\]): /.exec(err.message);
    throw badRequest(m ? err.message.slice(m[0].length) : err.message, m ? m[1] : field);
  }
  throw err;
}

/** A unique-name clash that slipped past the check (another console, same instant) is a 409, not a 500. */
function uniqueClash(err: unknown): never {
  if ((err as { code?: string }).code === '23505') throw new ApiError(409, 'conflict', 'a client with this name or key was just created elsewhere; try again', 'name');
  throw err;
}

export class ClusterClients implements ClientBackend {
  constructor(
    private readonly store: ClusterStore,
    private readonly rates: Rates,
    private readonly now: () => number,
  ) {}

  private async loc(name: string, lock = false): Promise<LocationRow> {
    const l = await this.store.location(name, lock);
    if (!l) throw notFound(`no location ${name}`);
    return l;
  }

  /** Every client of a location as the API shows it. */
  async views(loc: LocationRow): Promise<ClientView[]> {
    const now = this.now();
    const gateways = await this.store.gateways(loc.name);
    const up = gateways.some((g) => healthy(g, now));
    const status = peerStatus(await this.store.gatewayPeers(loc.name), now);
    return (await this.store.clients(loc.name)).map((c) => {
      const s = status.get(c.public_key);
      const hs = s?.lastHandshake ?? null;
      const state: ClientState = !c.enabled ? 'disabled' : !up ? 'down' : !hs ? 'never' : now - hs < CONNECTED_MS ? 'connected' : 'idle';
      const rate = this.rates.rate(loc.name, c.public_key, now);
      return {
        id: idOf(c.public_key),
        name: c.name,
        publicKey: c.public_key,
        addresses: list(c.addresses),
        allowedIps: c.client_allowed_ips !== null ? list(c.client_allowed_ips) : defaultRoutes(loc),
        enabled: c.enabled,
        expiresAt: iso(c.expires_at),
        createdAt: iso(c.created_at),
        hasConfig: c.private_key !== null,
        gateway: c.enabled ? (s?.gateway ?? null) : null,
        status: {
          state,
          latestHandshake: c.enabled ? iso(hs) : null,
          endpoint: c.enabled ? (s?.endpoint ?? null) : null,
          rxBytes: s?.rxBytes ?? 0,
          txBytes: s?.txBytes ?? 0,
          rxRate: rate.rx,
          txRate: rate.tx,
        },
      };
    });
  }

  async list(location: string): Promise<ClientView[]> {
    return this.views(await this.loc(location));
  }

  async get(location: string, id: string): Promise<ClientView> {
    return pick(await this.list(location), id, location);
  }

  async create(location: string, body: CreateClient): Promise<ClientView> {
    const problem = checkName(body.name);
    if (problem) throw badRequest(problem, 'name');
    const allowedIps = body.allowedIps === undefined ? null : checkCidrs(body.allowedIps, 'allowedIps');
    const expiresAt = parseExpiry(body.expiresAt, this.now());
    const privateKey = generatePrivateKey();
    const publicKey = publicKeyFromPrivate(privateKey);
    await this.store.db
      .transaction(async () => {
        const loc = await this.loc(location);
        if (!loc.endpoint) throw new ApiError(409, 'no_endpoint', `${location} has no public endpoint: set it on the location first`, 'endpoint');
        const rev = await this.store.bump(location);
        const others = await this.store.clients(location);
        if (others.some((o) => o.name === body.name)) throw badRequest(`a client named ${JSON.stringify(body.name)} already exists`, 'name');
        const taken = others.flatMap((o) => list(o.addresses));
        let addresses: string[] = [];
        try {
          if (body.addresses !== undefined && body.addresses.length === 0) throw badRequest('give at least one address, or leave addresses out', 'addresses');
          addresses = body.addresses ? checkAddresses(list(loc.addresses), taken, body.addresses) : allocateAddresses(list(loc.addresses), taken);
        } catch (err) {
          fieldError(err, 'addresses');
        }
        const row = { location, public_key: publicKey, name: body.name, private_key: privateKey, preshared_key: generatePresharedKey() };
        const rest = { addresses: addresses.join(','), client_allowed_ips: allowedIps?.join(',') ?? null, enabled: true, expires_at: expiresAt };
        await this.store.putClient({ ...row, ...rest, created_at: this.now() }, rev);
      })
      .catch(uniqueClash);
    return this.get(location, idOf(publicKey));
  }

  async update(location: string, id: string, body: UpdateClient, ifMatch?: string): Promise<ClientView> {
    const key = keyOf(id);
    if (body.name !== undefined) {
      const problem = checkName(body.name);
      if (problem) throw badRequest(problem, 'name');
    }
    const allowedIps = body.allowedIps == null ? body.allowedIps : checkCidrs(body.allowedIps, 'allowedIps');
    const expiresAt = body.expiresAt === undefined ? undefined : parseExpiry(body.expiresAt, this.now());
    await this.store.db
      .transaction(async () => {
        const loc = await this.loc(location);
        const rev = await this.store.bump(location);
        const row = await this.store.client(location, key, true);
        if (!row) throw notFound(`no client ${id} on ${location}`);
        if (ifMatch !== undefined) checkIfMatch(ifMatch, (await this.views(loc)).find((c) => c.publicKey === key)!);
        const next = { ...row };
        if (body.name !== undefined && body.name !== row.name) {
          if ((await this.store.clients(location)).some((o) => o.name === body.name)) throw badRequest(`a client named ${JSON.stringify(body.name)} already exists`, 'name');
          next.name = body.name;
        }
        if (body.addresses !== undefined) next.addresses = (await this.readdress(loc, key, body.addresses)).join(',');
        if (allowedIps !== undefined) next.client_allowed_ips = allowedIps === null ? null : allowedIps.join(',');
        if (expiresAt !== undefined) next.expires_at = expiresAt;
        if (body.enabled !== undefined) {
          if (body.enabled && !row.enabled && next.expires_at !== null && next.expires_at <= this.now()) {
            throw badRequest('the client has expired: give a later expiresAt to enable it', 'expiresAt');
          }
          next.enabled = body.enabled;
        }
        await this.store.putClient(next, rev);
      })
      .catch(uniqueClash);
    return this.get(location, id);
  }

  private async readdress(loc: LocationRow, key: string, addresses: string[]): Promise<string[]> {
    if (addresses.length === 0) throw badRequest('a client needs at least one address', 'addresses');
    const taken = (await this.store.clients(loc.name)).filter((o) => o.public_key !== key).flatMap((o) => list(o.addresses));
    try {
      return checkAddresses(list(loc.addresses), taken, addresses);
    } catch (err) {
      fieldError(err, 'addresses');
    }
  }

  async remove(location: string, id: string, ifMatch?: string): Promise<void> {
    const key = keyOf(id);
    await this.store.db.transaction(async () => {
      const loc = await this.loc(location);
      const rev = await this.store.bump(location);
      if (!(await this.store.client(location, key, true))) throw notFound(`no client ${id} on ${location}`);
      if (ifMatch !== undefined) checkIfMatch(ifMatch, (await this.views(loc)).find((c) => c.publicKey === key)!);
      await this.store.removeClient(location, key, rev);
    });
  }

  async config(location: string, id: string): Promise<{ name: string; text: string }> {
    const key = keyOf(id);
    const loc = await this.loc(location);
    const c: ClientRow | undefined = await this.store.client(location, key);
    if (!c) throw notFound(`no client ${id} on ${location}`);
    if (!c.private_key) throw notFound(`the console does not have the private key of ${id} (it was not created here)`);
    if (!loc.endpoint) throw new ApiError(409, 'no_endpoint', `${location} has no public endpoint: set it on the location first`, 'endpoint');
    try {
      const text = clientConfig({
        privateKey: c.private_key,
        presharedKey: c.preshared_key ?? '',
        addresses: list(c.addresses),
        server: locationConfig(loc),
        serverPublicKey: publicKeyFromPrivate(loc.private_key),
        endpoint: loc.endpoint,
        listenPort: loc.listen_port,
        allowedIps: c.client_allowed_ips !== null ? list(c.client_allowed_ips) : defaultRoutes(loc),
        persistentKeepalive: loc.persistent_keepalive ?? undefined,
      });
      return { name: c.name, text };
    } catch (err) {
      if (err instanceof ClientConfigError) throw new ApiError(409, 'bad_config', err.message);
      throw err;
    }
  }

  async expire(): Promise<number> {
    let count = 0;
    for (const c of await this.store.expired(this.now())) {
      await this.update(c.location, idOf(c.public_key), { enabled: false });
      count++;
    }
    return count;
  }
}
