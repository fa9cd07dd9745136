// Cluster mode's locations (served where one machine has its interfaces, in the same shape) and the gateways
// that run them, with their health: last seen, version, peers applied and how far behind the location's
// revision they are.
import type { Locations } from '../cluster/locations';
import { healthy } from '../cluster/status';
import { notFound, Route } from '../http';
import type { ClusterStore } from '../pg/cluster';
import { cidrList, object, Schema, str } from '../schema';
import { ifaceParam, interfaceSchema } from './interfaces';

const defaults = interfaceSchema.properties!.clientDefaults;

export const locationSchema: Schema = object({
  ...interfaceSchema.properties!,
  file: { type: 'null', description: 'cluster mode: a location has no config file' },
  mtu: { type: ['integer', 'null'] },
  gateways: object({ total: { type: 'integer' }, healthy: { type: 'integer', description: 'seen in the last 30 s' } }),
});

const editable = {
  listenPort: { type: 'integer', minimum: 1, maximum: 65535 } as Schema,
  addresses: { ...cidrList, description: "the server's addresses with their subnets (10.8.0.1/24)" },
  mtu: { type: ['integer', 'null'], minimum: 576, maximum: 9000 } as Schema,
  endpoint: { ...str(261), type: ['string', 'null'], description: 'where clients reach the gateways: HOST[:PORT], a floating IP or DNS name' } as Schema,
  clientDefaults: defaults,
};

const gatewaySchema: Schema = object({
  name: { type: 'string' },
  location: { type: 'string' },
  healthy: { type: 'boolean', description: 'seen in the last 30 s' },
  version: { type: ['string', 'null'] },
  startedAt: { type: ['string', 'null'], format: 'date-time' },
  lastSeen: { type: ['string', 'null'], format: 'date-time' },
  revision: { type: ['integer', 'null'], description: 'the location revision it has applied' },
  revisionLag: { type: ['integer', 'null'], description: 'revisions it is behind' },
  peers: { type: ['integer', 'null'] },
  error: { type: ['string', 'null'] },
});

const iso = (ms: number | null) => (ms ? new Date(ms).toISOString() : null);

export function locationRoutes(locations: Locations, store: ClusterStore, now: () => number): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/interfaces',
      access: 'read',
      summary: 'Every location (cluster mode: a WireGuard server identity its gateways run)',
      response: { schema: { type: 'array', items: locationSchema } },
      handler: async () => ({ json: await locations.list() }),
    },
    {
      method: 'POST',
      path: '/api/interfaces',
      access: 'write',
      summary: 'Create a location; the console makes its key pair',
      body: object({ name: str(15, { minLength: 1 }), ...editable }, ['name', 'addresses']),
      response: { status: 201, schema: locationSchema },
      handler: async (ctx) => ({ status: 201, json: await locations.create(ctx.body as never) }),
    },
    {
      method: 'GET',
      path: '/api/interfaces/{iface}',
      access: 'read',
      summary: 'One location',
      response: { schema: locationSchema },
      handler: async (ctx) => ({ json: await locations.get(ifaceParam(ctx.params.iface)) }),
    },
    {
      method: 'PATCH',
      path: '/api/interfaces/{iface}',
      access: 'write',
      summary: 'Change a location; its gateways follow within a second',
      body: object(editable),
      response: { schema: locationSchema },
      handler: async (ctx) => ({ json: await locations.update(ifaceParam(ctx.params.iface), ctx.body as never) }),
    },
    {
      method: 'DELETE',
      path: '/api/interfaces/{iface}',
      access: 'write',
      summary: 'Delete a location with its clients and history; its gateways drop every peer',
      response: { status: 204 },
      handler: async (ctx) => {
        await locations.remove(ifaceParam(ctx.params.iface));
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/api/gateways',
      access: 'read',
      summary: 'The gateways and their health',
      response: { schema: { type: 'array', items: gatewaySchema } },
      handler: async () => {
        const revisions = new Map((await store.locations()).map((l) => [l.name, l.revision]));
        const t = now();
        const json = (await store.gateways()).map((g) => ({
          name: g.name,
          location: g.location,
          healthy: healthy(g, t),
          version: g.version,
          startedAt: iso(g.started_at),
          lastSeen: iso(g.last_seen),
          revision: g.revision,
          revisionLag: g.revision === null ? null : Math.max(0, (revisions.get(g.location) ?? g.revision) - g.revision),
          peers: g.peers,
          error: g.error,
        }));
        return { json };
      },
    },
    {
      method: 'DELETE',
      path: '/api/gateways/{gateway}',
      access: 'write',
      summary: 'Forget a gateway that is gone for good (it re-registers if it runs again)',
      response: { status: 204 },
      handler: async (ctx) => {
        if (!(await store.deleteGateway(ctx.params.gateway))) throw notFound(`no gateway ${ctx.params.gateway}`);
        return { status: 204 };
      },
    },
  ];
}
