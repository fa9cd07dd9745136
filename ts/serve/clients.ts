// The console's clients: the peers of an interface's config file (enabled or `#~`-disabled) merged with the
// running device and what the store keeps about them. Every change goes through Interfaces.edit and the same
// functions `wiretun peer` uses (planAdd, planRemove, the live UAPI calls).
import { createHash } from 'node:crypto';
import { canonicalCidr } from '../config/ip';
import { AllocationError, checkAddresses, serverSubnets } from '../peers/allocate';
import { clientConfig, ClientConfigError } from '../peers/client';
import { clientDefaults } from '../peers/defaults';
import { disableSections, enableSection, deleteDisabled, scanDisabled } from '../peers/disabled';
import { listPeers, PeerError, planAdd, planRemove } from '../peers/manage';
import { LoadedConfig } from '../peers/store';
import { checkName } from '../peers/sections';
import { publicKeyFromPrivate } from '../keys';
import { DeviceState } from '../uapi/codec';
import { ApiError, badRequest, notFound } from './http';
import { History } from './history';
import { EditPlan, Interfaces } from './interfaces';
import { findPeer, PeerPlace, renamePeer, sectionPresharedKey, setPeerAllowedIps } from './peer-text';
import { ClientMeta, Store } from './store';
import { checkCidrs, idOf, keyOf, parseExpiry } from './values';

/** A handshake younger than this counts as connected (WireGuard rekeys every 2 minutes while traffic flows). */
export const CONNECTED_MS = 180_000;

export type ClientState = 'connected' | 'idle' | 'never' | 'disabled' | 'down';

export interface ClientView {
  id: string;
  name: string | null;
  publicKey: string;
  /** The client's own addresses: its AllowedIPs on the server. */
  addresses: string[];
  /** What the client routes through the tunnel (its config's AllowedIPs). */
  allowedIps: string[];
  enabled: boolean;
  expiresAt: string | null;
  createdAt: string | null;
  /** Whether the console has the client's private key, so its .conf can be downloaded. */
  hasConfig: boolean;
  /** Cluster mode: the gateway it last handshook with; null on one machine. */
  gateway: string | null;
  status: {
    state: ClientState;
    latestHandshake: string | null;
    endpoint: string | null;
    rxBytes: number;
    txBytes: number;
    rxRate: number;
    txRate: number;
  };
}

export interface CreateClient {
  name: string;
  allowedIps?: string[];
  addresses?: string[];
  expiresAt?: string | null;
}

export interface UpdateClient {
  name?: string;
  addresses?: string[];
  allowedIps?: string[] | null;
  expiresAt?: string | null;
  enabled?: boolean;
}

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

/** A client's ETag: a digest of what an edit can change, the same in both store modes. */
export function viewTag(v: ClientView): string {
  const editable = [v.name, v.addresses, v.allowedIps, v.enabled, v.expiresAt];
  return `"${createHash('sha256').update(JSON.stringify(editable)).digest('base64url').slice(0, 22)}"`;
}

/** The client `id` names among `views`, or a 404 naming where it was looked for. */
export function pick(views: ClientView[], id: string, where: string): ClientView {
  const key = keyOf(id);
  const found = views.find((c) => c.publicKey === key);
  if (!found) throw notFound(`no client ${id} on ${where}`);
  return found;
}

/** Throws the 409 of a lost race: the client changed since the sender read it. */
export function checkIfMatch(ifMatch: string | undefined, current: ClientView): void {
  if (ifMatch === undefined || ifMatch === '*') return;
  const tags = ifMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (!tags.includes(viewTag(current))) {
    throw new ApiError(409, 'conflict', 'the client was changed since you read it (If-Match does not match its ETag): read it again', undefined, { etag: viewTag(current) });
  }
}

/** Maps the peers layer's refusals to 400s naming the field. */
function fieldError(err: unknown, field: string): never {
  if (err instanceof PeerError || err instanceof AllocationError || err instanceof ClientConfigError) {
    const m = /^(addresses\[\d+\]): /.exec(err.message);
    throw badRequest(m ? err.message.slice(m[0].length) : err.message, m ? m[1] : field);
  }
  throw err;
}

/** What the clients API needs, on one machine (Clients, below: config files) or in cluster mode
 * (./cluster/clients.ts: PostgreSQL rows). `ifMatch` is the ETag a client sent: a mismatch is a 409. */
export interface ClientBackend {
  list(iface: string): Promise<ClientView[]>;
  get(iface: string, id: string): Promise<ClientView>;
  create(iface: string, body: CreateClient): Promise<ClientView>;
  update(iface: string, id: string, body: UpdateClient, ifMatch?: string): Promise<ClientView>;
  remove(iface: string, id: string, ifMatch?: string): Promise<void>;
  config(iface: string, id: string): Promise<{ name: string; text: string }>;
  /** Disables every enabled client whose expiry has passed; returns how many. */
  expire(): Promise<number>;
}

export class Clients implements ClientBackend {
  constructor(
    private readonly interfaces: Interfaces,
    private readonly store: Store,
    private readonly history: History,
    private readonly now: () => number,
  ) {}

  /** Every client of the file, enabled ones first (file order), then disabled ones. */
  async views(loaded: LoadedConfig, live: DeviceState | undefined): Promise<ClientView[]> {
    const iface = loaded.interfaceName;
    const meta = await this.store.clients(iface);
    const defaults = this.defaultRoutes(loaded);
    const now = this.now();
    const rows = listPeers(loaded, live).filter((r) => r.inFile);
    const out: ClientView[] = rows.map((r) => {
      const m = meta.get(r.publicKey);
      const hs = r.live?.lastHandshake?.getTime() ?? null;
      const state: ClientState = !live ? 'down' : !hs ? 'never' : now - hs < CONNECTED_MS ? 'connected' : 'idle';
      const rate = this.history.rate(iface, r.publicKey);
      return {
        ...this.base(r.publicKey, r.name, loaded.config.device.peers.find((p) => p.publicKey.toString('base64') === r.publicKey)?.allowedIps ?? r.allowedIps, m, defaults),
        enabled: true,
        status: {
          state,
          latestHandshake: iso(hs),
          endpoint: r.live?.endpoint ?? null,
          rxBytes: r.live?.rxBytes ?? 0,
          txBytes: r.live?.txBytes ?? 0,
          rxRate: rate.rx,
          txRate: rate.tx,
        },
      };
    });
    for (const d of scanDisabled(loaded.text)) {
      if (!d.publicKey) continue;
      const status = { state: 'disabled' as const, latestHandshake: null, endpoint: null, rxBytes: 0, txBytes: 0, rxRate: 0, txRate: 0 };
      out.push({ ...this.base(d.publicKey, d.name, d.allowedIps, meta.get(d.publicKey), defaults), enabled: false, status });
    }
    return out;
  }

  private base(publicKey: string, name: string | undefined, addresses: string[], m: ClientMeta | undefined, defaults: string[]) {
    return {
      id: idOf(publicKey),
      name: name ?? null,
      publicKey,
      addresses,
      allowedIps: m?.clientAllowedIps ?? defaults,
      expiresAt: iso(m?.expiresAt),
      createdAt: iso(m?.createdAt),
      hasConfig: !!m?.privateKey,
      gateway: null,
    };
  }

  private defaultRoutes(loaded: LoadedConfig): string[] {
    return clientDefaults(loaded.text).allowedIps ?? serverSubnets(loaded.config.addresses).map(canonicalCidr);
  }

  async list(iface: string): Promise<ClientView[]> {
    const loaded = await this.interfaces.load(iface);
    return await this.views(loaded, await this.interfaces.live.device(iface));
  }

  async get(iface: string, id: string): Promise<ClientView> {
    return pick(await this.list(iface), id, iface);
  }

  async create(iface: string, body: CreateClient): Promise<ClientView> {
    const problem = checkName(body.name);
    if (problem) throw badRequest(problem, 'name');
    const allowedIps = body.allowedIps === undefined ? undefined : checkCidrs(body.allowedIps, 'allowedIps');
    const expiresAt = parseExpiry(body.expiresAt, this.now());
    const key = await this.interfaces.edit(iface, (loaded, live) => {
      const taken = [
        ...loaded.config.device.peers.flatMap((p) => p.allowedIps),
        ...scanDisabled(loaded.text).flatMap((p) => p.allowedIps),
        ...(live?.peers ?? []).flatMap((p) => p.allowedIps),
      ];
      let addresses: string[] | undefined;
      try {
        if (body.addresses !== undefined) {
          if (body.addresses.length === 0) throw badRequest('give at least one address, or leave addresses out', 'addresses');
          addresses = checkAddresses(loaded.config.addresses, taken, body.addresses);
        }
      } catch (err) {
        fieldError(err, 'addresses');
      }
      let plan: ReturnType<typeof planAdd>;
      try {
        plan = planAdd(loaded, live, { name: body.name, allowedIps, addresses });
      } catch (err) {
        if (err instanceof ClientConfigError || /public address is not known/.test((err as Error).message)) {
          throw new ApiError(409, 'no_endpoint', `${iface} has no public endpoint: set it on the interface first`, 'endpoint');
        }
        fieldError(err, /named/.test((err as Error).message) ? 'name' : 'addresses');
      }
      const publicKey = plan.peer.publicKey;
      const apply = async () => {
        // The metadata first, so the private key is never lost; undone if the running interface refuses.
        await this.store.putClient({ interface: iface, publicKey, privateKey: plan.privateKey, clientAllowedIps: allowedIps ?? null, expiresAt, createdAt: this.now() });
        try {
          if (live) await this.interfaces.live.addPeer(iface, plan.peer);
        } catch (err) {
          await this.store.deleteClient(iface, publicKey);
          throw err;
        }
      };
      return { text: plan.text, apply, result: publicKey };
    });
    return this.get(iface, idOf(key));
  }

  async update(iface: string, id: string, body: UpdateClient, ifMatch?: string): Promise<ClientView> {
    const key = keyOf(id);
    if (body.name !== undefined) {
      const problem = checkName(body.name);
      if (problem) throw badRequest(problem, 'name');
    }
    const allowedIps = body.allowedIps == null ? body.allowedIps : checkCidrs(body.allowedIps, 'allowedIps');
    const expiresAt = body.expiresAt === undefined ? undefined : parseExpiry(body.expiresAt, this.now());
    await this.interfaces.edit(iface, async (loaded, live) => {
      await this.checkTag(loaded, live, key, ifMatch);
      return this.planUpdate(loaded, live, key, id, body, allowedIps, expiresAt);
    });
    return this.get(iface, id);
  }

  private async planUpdate(
    loaded: LoadedConfig,
    live: DeviceState | undefined,
    key: string,
    id: string,
    body: UpdateClient,
    allowedIps: string[] | null | undefined,
    expiresAt: number | null | undefined,
  ): Promise<EditPlan<void>> {
    const iface = loaded.interfaceName;
    const found = findPeer(loaded.text, key);
    const disabled = found.enabled.length === 0;
    const place: PeerPlace | undefined = disabled
      ? found.disabled[0] && { ...found.disabled[0], disabled: true }
      : { ...found.enabled[0], disabled: false };
    if (!place) throw notFound(`no client ${id} on ${iface}`);
    if (found.enabled.length + found.disabled.length > 1) {
      throw new ApiError(409, 'conflict', `${loaded.path} has several sections for this client; fix the file first`);
    }
    const meta = await this.store.client(iface, key);
    let text = loaded.text;
    if (body.name !== undefined && body.name !== place.name) {
      const clash = [...scanDisabledNames(text), ...listPeers(loaded, undefined).map((r) => r.name)].filter((n) => n === body.name);
      if (clash.length) throw badRequest(`a client named ${JSON.stringify(body.name)} already exists`, 'name');
      text = renamePeer(text, place, body.name);
    }
    let addresses = disabled ? found.disabled[0].allowedIps : (loaded.config.device.peers.find((p) => p.publicKey.toString('base64') === key)?.allowedIps ?? []);
    if (body.addresses !== undefined) {
      if (body.addresses.length === 0) throw badRequest('a client needs at least one address', 'addresses');
      const others = [
        ...loaded.config.device.peers.filter((p) => p.publicKey.toString('base64') !== key).flatMap((p) => p.allowedIps),
        ...scanDisabled(loaded.text).filter((d) => d.publicKey !== key).flatMap((d) => d.allowedIps),
        ...(live?.peers ?? []).filter((p) => p.publicKey.toString('base64') !== key).flatMap((p) => p.allowedIps),
      ];
      try {
        addresses = checkAddresses(loaded.config.addresses, others, body.addresses);
      } catch (err) {
        fieldError(err, 'addresses');
      }
      text = setPeerAllowedIps(text, place, addresses);
    }
    const nextExpiry = expiresAt === undefined ? (meta?.expiresAt ?? null) : expiresAt;
    const enable = body.enabled === true && disabled;
    const disable = body.enabled === false && !disabled;
    if (enable && nextExpiry !== null && nextExpiry <= this.now()) {
      throw badRequest('the client has expired: give a later expiresAt to enable it', 'expiresAt');
    }
    if (enable) {
      const taken = loaded.config.device.peers.flatMap((p) => p.allowedIps);
      try {
        checkAddresses(loaded.config.addresses, taken, addresses);
      } catch (err) {
        throw new ApiError(409, 'conflict', `cannot enable: ${(err as Error).message.replace(/^addresses\[\d+\]: /, '')}`, 'enabled');
      }
      text = enableSection(text, scanDisabled(text).find((d) => d.publicKey === key)!);
    }
    if (disable && loaded.config.saveConfig) {
      // `down` would write the running peers back over the file, and a commented-out client with them.
      throw new ApiError(409, 'save_config', `${loaded.path} has SaveConfig = true, which would drop a disabled client on down; turn it off first`, 'enabled');
    }
    if (disable) text = disableSections(text, findPeer(text, key).enabled);
    const nowEnabled = (!disabled && !disable) || enable;
    const psk = sectionPresharedKey(loaded.text, place);
    const apply = async () => {
      if (allowedIps !== undefined || expiresAt !== undefined) {
        await this.store.putClient({
          interface: iface,
          publicKey: key,
          privateKey: meta?.privateKey ?? null,
          clientAllowedIps: allowedIps === undefined ? (meta?.clientAllowedIps ?? null) : allowedIps,
          expiresAt: nextExpiry,
          createdAt: meta?.createdAt ?? this.now(),
        });
      }
      if (!live) return;
      if (disable) await this.interfaces.live.removePeer(iface, key);
      else if (nowEnabled && (enable || body.addresses !== undefined)) {
        await this.interfaces.live.addPeer(iface, { publicKey: key, presharedKey: psk, allowedIps: addresses });
      }
    };
    return { text, apply, result: undefined };
  }

  /** Inside an edit (the file locked): the If-Match check against the client as it is now. */
  private async checkTag(loaded: LoadedConfig, live: DeviceState | undefined, key: string, ifMatch: string | undefined): Promise<void> {
    if (ifMatch === undefined) return;
    const current = (await this.views(loaded, live)).find((c) => c.publicKey === key);
    if (current) checkIfMatch(ifMatch, current);
  }

  async remove(iface: string, id: string, ifMatch?: string): Promise<void> {
    const key = keyOf(id);
    await this.interfaces.edit(iface, async (loaded, live) => {
      await this.checkTag(loaded, live, key, ifMatch);
      const found = findPeer(loaded.text, key);
      if (found.enabled.length === 0 && found.disabled.length === 0) throw notFound(`no client ${id} on ${iface}`);
      let text = loaded.text;
      let running = false;
      if (found.enabled.length) {
        text = planRemove(loaded, live, key).text;
        running = !!live?.peers.some((p) => p.publicKey.toString('base64') === key);
      }
      for (const d of scanDisabled(text).filter((b) => b.publicKey === key).reverse()) text = deleteDisabled(text, d);
      const apply = async () => {
        if (running) await this.interfaces.live.removePeer(iface, key);
        await this.store.deleteClient(iface, key);
      };
      return { text, apply, result: undefined };
    });
  }

  /** The client's wg-quick config, rebuilt from the current file (so endpoint and DNS changes show up). */
  async config(iface: string, id: string): Promise<{ name: string; text: string }> {
    const key = keyOf(id);
    const loaded = await this.interfaces.load(iface);
    const meta = await this.store.client(iface, key);
    if (!meta?.privateKey) throw notFound(`the console does not have the private key of ${id} (it was not created here)`);
    const view = (await this.views(loaded, undefined)).find((c) => c.publicKey === key);
    if (!view) throw notFound(`no client ${id} on ${iface}`);
    const found = findPeer(loaded.text, key);
    const place = found.enabled[0] ? { ...found.enabled[0], disabled: false } : { ...found.disabled[0], disabled: true };
    const serverKey = loaded.config.device.privateKey;
    if (!serverKey) throw new ApiError(409, 'bad_config', `${loaded.path} has no PrivateKey`);
    const defaults = clientDefaults(loaded.text);
    if (!defaults.endpoint) throw new ApiError(409, 'no_endpoint', `${iface} has no public endpoint: set it on the interface first`, 'endpoint');
    const live = await this.interfaces.live.device(iface);
    try {
      const text = clientConfig({
        privateKey: meta.privateKey,
        presharedKey: sectionPresharedKey(loaded.text, place) ?? '',
        addresses: view.addresses,
        server: loaded.config,
        serverPublicKey: publicKeyFromPrivate(serverKey.toString('base64')),
        endpoint: defaults.endpoint,
        listenPort: loaded.config.device.listenPort || live?.listenPort,
        allowedIps: meta.clientAllowedIps ?? defaults.allowedIps,
        dns: defaults.dns,
        persistentKeepalive: defaults.persistentKeepalive,
      });
      return { name: view.name ?? iface, text };
    } catch (err) {
      throw new ApiError(409, 'bad_config', (err as Error).message);
    }
  }

  /** Disables every enabled client whose expiry has passed; returns how many. */
  async expire(): Promise<number> {
    let count = 0;
    for (const m of await this.store.expiredClients(this.now())) {
      const known = await this.interfaces.known();
      if (!known.has(m.interface)) continue;
      const loaded = await this.interfaces.load(m.interface);
      if (findPeer(loaded.text, m.publicKey).enabled.length === 0) continue;
      await this.update(m.interface, idOf(m.publicKey), { enabled: false });
      count++;
    }
    return count;
  }
}

function scanDisabledNames(text: string): (string | undefined)[] {
  return scanDisabled(text).map((d) => d.name);
}
