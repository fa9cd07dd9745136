// Interfaces: what the file and the running device say, the defaults new clients get (kept as comments in the
// file, see ../../peers/defaults.ts), and up/down as `wiretun up`/`down` do them.
import { canonicalCidr } from '../../config/ip';
import { parseDns } from '../../config/values';
import { INTERFACE_NAME } from '../../config/wgquick';
import { publicKeyFromPrivate } from '../../keys';
import { serverSubnets } from '../../peers/allocate';
import { completeEndpoint } from '../../peers/client';
import { clientDefaults, DefaultKey, setInterfaceComment } from '../../peers/defaults';
import { LoadedConfig } from '../../peers/store';
import { DeviceState } from '../../uapi/codec';
import type { Clients } from '../clients';
import type { Interfaces } from '../interfaces';
import { ApiError, badRequest, notFound, Route } from '../http';
import { cidrList, object, Schema, str } from '../schema';
import { checkCidrs } from '../values';

export const ifaceParam = (name: string) => {
  if (!INTERFACE_NAME.test(name)) throw notFound(`no interface ${name}`);
  return name;
};

const defaultsSchema: Schema = object({
  dns: { type: ['array', 'null'], items: { type: 'string', maxLength: 253 }, maxItems: 16, description: "null = the server's DNS" },
  allowedIps: { ...cidrList, type: ['array', 'null'], description: "what clients route; null = the server's subnets" },
  persistentKeepalive: { type: ['integer', 'null'], minimum: 0, maximum: 65535, description: 'seconds; 0 or null = off' },
});

export const interfaceSchema: Schema = object({
  name: { type: 'string' },
  file: { type: 'string' },
  up: { type: 'boolean' },
  publicKey: { type: ['string', 'null'] },
  listenPort: { type: ['integer', 'null'] },
  addresses: { type: 'array', items: { type: 'string' } },
  subnets: { type: 'array', items: { type: 'string' } },
  endpoint: { type: ['string', 'null'], description: 'where clients reach the server (# PublicEndpoint)' },
  saveConfig: { type: 'boolean', description: 'SaveConfig = true: `down` rewrites the file from the running interface, dropping comments (names, defaults)' },
  clientDefaults: defaultsSchema,
  clients: object({ total: { type: 'integer' }, enabled: { type: 'integer' }, connected: { type: 'integer' } }),
});

async function interfaceView(file: FileMode, loaded: LoadedConfig, live: DeviceState | undefined) {
  const d = clientDefaults(loaded.text);
  const key = loaded.config.device.privateKey;
  const clients = await file.clients.views(loaded, live);
  return {
    name: loaded.interfaceName,
    file: loaded.path,
    up: live !== undefined,
    publicKey: key ? publicKeyFromPrivate(key.toString('base64')) : null,
    listenPort: live?.listenPort || loaded.config.device.listenPort || null,
    addresses: loaded.config.addresses,
    subnets: serverSubnets(loaded.config.addresses).map(canonicalCidr),
    endpoint: d.endpoint ?? null,
    saveConfig: loaded.config.saveConfig,
    clientDefaults: {
      dns: d.dns ? [...d.dns.servers, ...d.dns.search] : null,
      allowedIps: d.allowedIps ?? null,
      persistentKeepalive: d.persistentKeepalive ?? null,
    },
    clients: {
      total: clients.length,
      enabled: clients.filter((c) => c.enabled).length,
      connected: clients.filter((c) => c.status.state === 'connected').length,
    },
  };
}

export async function showInterface(file: FileMode, iface: string) {
  const loaded = await file.interfaces.load(iface);
  return interfaceView(file, loaded, await file.interfaces.live.device(iface));
}

interface Patch {
  endpoint?: string | null;
  clientDefaults?: { dns?: string[] | null; allowedIps?: string[] | null; persistentKeepalive?: number | null };
}

/** The comment lines a patch sets (undefined value = remove), checked first so a bad value changes nothing. */
function patchComments(p: Patch, listenPort: number | undefined): [DefaultKey, string | undefined][] {
  const out: [DefaultKey, string | undefined][] = [];
  if (p.endpoint !== undefined) {
    if (p.endpoint !== null) {
      try {
        completeEndpoint(p.endpoint, listenPort);
      } catch (err) {
        throw badRequest((err as Error).message, 'endpoint');
      }
    }
    out.push(['PublicEndpoint', p.endpoint ?? undefined]);
  }
  const d = p.clientDefaults ?? {};
  if (d.dns !== undefined) {
    const text = d.dns?.join(', ');
    if (text) {
      try {
        parseDns(text, { key: 'dns' });
      } catch (err) {
        const detail = /has ".*$/.exec((err as Error).message)?.[0];
        throw badRequest(detail ? `the list ${detail}` : (err as Error).message, 'clientDefaults.dns');
      }
    }
    out.push(['ClientDNS', text || undefined]);
  }
  if (d.allowedIps !== undefined) {
    const list = d.allowedIps === null ? undefined : checkCidrs(d.allowedIps, 'clientDefaults.allowedIps');
    if (list && list.length === 0) throw badRequest('give at least one CIDR, or null for the default', 'clientDefaults.allowedIps');
    out.push(['ClientAllowedIPs', list?.join(', ')]);
  }
  if (d.persistentKeepalive !== undefined) out.push(['ClientPersistentKeepalive', d.persistentKeepalive ? String(d.persistentKeepalive) : undefined]);
  return out;
}

/** One machine's interfaces: config files and the devices running them. */
export interface FileMode {
  interfaces: Interfaces;
  clients: Clients;
}

export function interfaceRoutes(app: FileMode): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/interfaces',
      access: 'read',
      summary: 'Every interface the console manages, up or not',
      response: { schema: { type: 'array', items: interfaceSchema } },
      handler: async () => {
        const out = [];
        for (const name of (await app.interfaces.known()).keys()) {
          try {
            out.push(await showInterface(app, name));
          } catch (err) {
            if (!(err instanceof ApiError)) throw err;
            out.push({ name, error: { code: err.code, message: err.message } });
          }
        }
        return { json: out };
      },
    },
    {
      method: 'GET',
      path: '/api/interfaces/{iface}',
      access: 'read',
      summary: 'One interface',
      response: { schema: interfaceSchema },
      handler: async (ctx) => ({ json: await showInterface(app, ifaceParam(ctx.params.iface)) }),
    },
    {
      method: 'PATCH',
      path: '/api/interfaces/{iface}',
      access: 'write',
      summary: 'Change where clients reach the server and what new clients get (written to the config file as comments)',
      body: object({ endpoint: { ...str(261), type: ['string', 'null'] }, clientDefaults: defaultsSchema }),
      response: { schema: interfaceSchema },
      handler: async (ctx) => {
        const iface = ifaceParam(ctx.params.iface);
        await app.interfaces.edit(iface, (loaded, live) => {
          let text = loaded.text;
          for (const [key, value] of patchComments(ctx.body as Patch, loaded.config.device.listenPort || live?.listenPort)) {
            text = setInterfaceComment(text, key, value);
          }
          return { text, result: undefined };
        });
        return { json: await showInterface(app, iface) };
      },
    },
    {
      method: 'POST',
      path: '/api/interfaces/{iface}/up',
      access: 'write',
      summary: 'Bring the interface up, as `wiretun up` does',
      response: { schema: interfaceSchema },
      handler: async (ctx) => {
        const iface = ifaceParam(ctx.params.iface);
        const loaded = await app.interfaces.load(iface);
        if (await app.interfaces.live.device(iface)) throw new ApiError(409, 'already_up', `${iface} is already up`);
        await app.interfaces.live.up(loaded).catch((err: Error) => {
          throw new ApiError(500, 'up_failed', err.message);
        });
        return { json: await showInterface(app, iface) };
      },
    },
    {
      method: 'POST',
      path: '/api/interfaces/{iface}/down',
      access: 'write',
      summary: 'Take the interface down, as `wiretun down` does',
      response: { schema: interfaceSchema },
      handler: async (ctx) => {
        const iface = ifaceParam(ctx.params.iface);
        const loaded = await app.interfaces.load(iface);
        if (!(await app.interfaces.live.device(iface))) throw new ApiError(409, 'not_up', `${iface} is not up`);
        await app.interfaces.live.down(loaded).catch((err: Error) => {
          throw new ApiError(500, 'down_failed', err.message);
        });
        return { json: await showInterface(app, iface) };
      },
    },
  ];
}
