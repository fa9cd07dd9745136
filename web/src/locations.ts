// Cluster mode's locations: made and deleted here (the console makes the key pair; the gateways of a location
// bring its interface up and follow every change). Shown as cards like interfaces, by ./interfaces.ts.
import { api, seg } from './api';
import { confirm, footer, form, modal } from './dialogs';
import { field, h, input } from './dom';
import { list } from './format';
import type { Iface } from './types';

/** New location: its name (the gateways' interface name), addresses, port and the endpoint clients get. */
export async function createLocation(): Promise<Iface | undefined> {
  let made: Iface | undefined;
  await modal(
    'New location',
    (close) => [
      form(
        [
          field('Name', input('name', { required: true, maxlength: 15, placeholder: 'eu1', autofocus: true }), 'Also the interface name on its gateways: up to 15 of A-Z a-z 0-9 _ = + . -'),
          field('Addresses', input('addresses', { required: true, placeholder: '10.8.0.1/24' }), 'The server side of the tunnel, with its subnet; clients get addresses in it.'),
          field('Listen port', input('listenPort', { type: 'number', min: 1, max: 65535, placeholder: '51820' }), 'The UDP port every gateway of it listens on.'),
          field('Public endpoint', input('endpoint', { placeholder: 'vpn.example.com' }), 'Where clients reach the gateways (a floating IP or DNS name), and port if not the listen port.'),
          footer(close, 'Create'),
        ],
        async (data) => {
          const body: Record<string, unknown> = { name: String(data.get('name') ?? '').trim(), addresses: list(String(data.get('addresses') ?? '')) };
          const port = String(data.get('listenPort') ?? '').trim();
          const endpoint = String(data.get('endpoint') ?? '').trim();
          if (port) body.listenPort = Number(port);
          if (endpoint) body.endpoint = endpoint;
          made = await api<Iface>('POST', '/api/interfaces', body);
          close();
        },
      ),
    ],
    { name: 'create-location' },
  );
  return made;
}

export async function deleteLocation(i: Iface): Promise<boolean> {
  const ok = await confirm(`Delete ${i.name}?`, 'Its clients and their history are deleted, and its gateways drop every peer. Client configs stop working.', 'Delete', true);
  if (ok) await api('DELETE', `/api/interfaces/${seg(i.name)}`);
  return ok;
}
