// The dialogs of a client: create, edit, its QR code, its one-time link, delete.
import { api, changedElsewhere, ifMatch, seg } from './api';
import { button, copyText, field, h, input } from './dom';
import { confirm, footer, form, modal, toast } from './dialogs';
import { dateInput, dateTime, endOfDay, list } from './format';
import type { Client, Iface } from './types';

const base = (iface: string) => `/api/interfaces/${seg(iface)}/clients`;
export const clientUrl = (iface: string, id: string) => `${base(iface)}/${seg(id)}`;
export const clientName = (c: Client) => c.name ?? `${c.publicKey.slice(0, 8)}…`;

function expiryField(value: string | null): HTMLLabelElement {
  const min = dateInput(new Date(Date.now() + 86400_000).toISOString());
  return field('Expires after', input('expiresAt', { type: 'date', min, value: dateInput(value) }), 'Leave empty to never expire; disabled at the end of that day.');
}

/** New client: name, and optionally its routes, addresses and expiry. Resolves to the client made. */
export async function createClient(iface: Iface): Promise<Client | undefined> {
  let made: Client | undefined;
  const defaults = iface.clientDefaults.allowedIps ?? iface.subnets;
  await modal(
    `New client on ${iface.name}`,
    (close) => [
      form(
        [
          field('Name', input('name', { required: true, maxlength: 64, placeholder: 'laptop', autofocus: true })),
          field('Allowed IPs', input('allowedIps', { placeholder: defaults.join(', ') }), 'What the client sends through the tunnel. Empty: the interface default.'),
          field('Addresses', input('addresses', { placeholder: 'next free' }), 'Its own address(es) inside the interface subnets. Empty: the next free one.'),
          expiryField(null),
          footer(close, 'Create'),
        ],
        async (data) => {
          const body: Record<string, unknown> = { name: String(data.get('name') ?? '') };
          const allowed = list(String(data.get('allowedIps') ?? ''));
          const addresses = list(String(data.get('addresses') ?? ''));
          const expires = endOfDay(String(data.get('expiresAt') ?? ''));
          if (allowed.length) body.allowedIps = allowed;
          if (addresses.length) body.addresses = addresses;
          if (expires) body.expiresAt = expires;
          made = await api<Client>('POST', base(iface.name), body);
          close();
        },
      ),
    ],
    { name: 'create-client' },
  );
  return made;
}

/** Edits the client as it was read (`etag`): when it changed elsewhere since, the dialog closes and the 409
 * is thrown for the caller to say so and show the client as it is now. */
export async function editClient(iface: Iface, c: Client, etag: string | undefined): Promise<boolean> {
  let saved = false;
  let conflict: unknown;
  await modal(
    `Edit ${clientName(c)}`,
    (close) => [
      form(
        [
          field('Name', input('name', { required: true, maxlength: 64, value: c.name ?? '' })),
          field('Addresses', input('addresses', { value: c.addresses.join(', ') }), 'Its own address(es), inside the interface subnets.'),
          field('Allowed IPs', input('allowedIps', { value: c.allowedIps.join(', ') }), 'What the client routes. Empty: the interface default.'),
          expiryField(c.expiresAt),
          footer(close, 'Save'),
        ],
        async (data) => {
          const body: Record<string, unknown> = {};
          const name = String(data.get('name') ?? '');
          const addresses = list(String(data.get('addresses') ?? ''));
          const allowed = list(String(data.get('allowedIps') ?? ''));
          const expires = endOfDay(String(data.get('expiresAt') ?? ''));
          if (name !== (c.name ?? '')) body.name = name;
          if (addresses.join(',') !== c.addresses.join(',')) body.addresses = addresses;
          if (allowed.join(',') !== c.allowedIps.join(',')) body.allowedIps = allowed.length ? allowed : null;
          if (String(data.get('expiresAt') ?? '') !== dateInput(c.expiresAt)) body.expiresAt = expires;
          try {
            if (Object.keys(body).length) await api('PATCH', clientUrl(iface.name, c.id), body, ifMatch(etag));
          } catch (err) {
            if (!changedElsewhere(err)) throw err;
            conflict = err;
          }
          saved = true;
          close();
        },
      ),
    ],
    { name: 'edit-client' },
  );
  if (conflict) throw conflict;
  return saved;
}

/** The .conf as a QR code (an SVG the server draws for admin sessions), with the download next to it. */
export function showQr(iface: string, c: Client): Promise<void> {
  const src = `${clientUrl(iface, c.id)}/qr.svg`;
  const problem = h('p', { class: 'form-error', role: 'alert' });
  const img = h('img', { class: 'qr', src, width: 320, height: 320, alt: `QR code of the config of ${clientName(c)}` });
  img.addEventListener('error', () => {
    img.hidden = true;
    // The image request failed: ask again as JSON for the reason (no endpoint set, key not held here, ...).
    api('GET', src).catch((err: Error) => (problem.textContent = err.message));
  });
  return modal(
    clientName(c),
    (close) => [
      h('p', { class: 'muted' }, 'Scan it with the WireGuard app (add a tunnel, "Scan from QR code").'),
      h('div', { class: 'qr-box' }, img),
      problem,
      h('footer', null, h('a', { class: 'button', href: `${clientUrl(iface, c.id)}/config`, download: '' }, 'Download .conf'), h('button', { type: 'button', class: 'primary', onclick: close }, 'Done')),
    ],
    { class: 'qr-dialog', name: 'qr' },
  );
}

/** A one-time link to the .conf, to send to the person who will use it. */
export async function showLink(iface: string, c: Client): Promise<void> {
  const link = await api<{ url: string; expiresAt: string }>('POST', `${clientUrl(iface, c.id)}/links`);
  const url = new URL(link.url, location.href).href;
  const box = h('input', { readonly: true, value: url, class: 'mono', 'aria-label': 'One-time link', name: 'link' });
  await modal(
    `One-time link for ${clientName(c)}`,
    (close) => [
      h('p', null, `It downloads the config once, until ${dateTime(link.expiresAt)}. Anyone with the link gets the client's private key: send it privately.`),
      box,
      h('footer', null, button('Copy', async () => toast((await copyText(url, box)) ? 'Link copied' : 'Select the link and copy it')), h('button', { type: 'button', class: 'primary', onclick: close }, 'Done')),
    ],
    { name: 'link' },
  );
}

export async function deleteClient(iface: Iface, c: Client, etag: string | undefined): Promise<boolean> {
  const leaves = iface.file === null ? 'the location and its gateways' : 'the interface and the config file';
  const ok = await confirm(`Delete ${clientName(c)}?`, `It leaves ${leaves}, and its history is deleted. Its config stops working.`, 'Delete', true);
  if (ok) await api('DELETE', clientUrl(iface.name, c.id), undefined, ifMatch(etag));
  return ok;
}
