// The main view: the interfaces side by side (keys, port, addresses, endpoint, client defaults, up/down), and
// under them the clients of the one selected. Polls every few seconds while the page is visible. In cluster
// mode the cards are locations: no up/down (their gateways run them), their gateways' health instead, and
// locations are made and deleted here.
import { api, seg } from './api';
import { ClientsPanel } from './clients';
import { attempt, confirm, footer, form, modal } from './dialogs';
import { button, copyText, field, fill, h, input } from './dom';
import { list } from './format';
import { createLocation, deleteLocation } from './locations';
import { Poller } from './poll';
import type { Iface, IfaceError } from './types';

const isError = (i: Iface | IfaceError): i is IfaceError => 'error' in i;

export class InterfacesView {
  readonly el: HTMLElement;
  private readonly cards = h('div', { class: 'cards' });
  private readonly clientsBox = h('div');
  private panel: ClientsPanel | undefined;
  private selected = localStorage.getItem('wiretun.iface') ?? '';
  private readonly poller = new Poller(() => this.refresh());

  constructor(private readonly cluster = false) {
    const head = cluster ? h('div', { class: 'view-head' }, h('h1', null, 'Locations'), button('New location', () => this.create(), { class: 'primary' })) : null;
    this.el = h('main', { class: 'view' }, head, this.cards, this.clientsBox);
  }

  start(): Promise<void> {
    return this.poller.start();
  }

  stop(): void {
    this.poller.stop();
  }

  private queue: Promise<void> = Promise.resolve();

  /** Re-reads the interfaces and the selected one's clients; one refresh at a time, so an older answer never
   * lands after a newer one. */
  readonly refresh = (): Promise<void> => (this.queue = this.queue.then(this.load, this.load));

  private readonly load = async (): Promise<void> => {
    let all: (Iface | IfaceError)[];
    try {
      all = await api<(Iface | IfaceError)[]>('GET', '/api/interfaces');
    } catch (err) {
      fill(this.cards, h('p', { class: 'form-error' }, (err as Error).message));
      return;
    }
    const usable = all.filter((i): i is Iface => !isError(i));
    if (!usable.some((i) => i.name === this.selected)) this.selected = usable[0]?.name ?? '';
    fill(this.cards, ...all.map((i) => (isError(i) ? this.errorCard(i) : this.card(i))));
    if (!all.length) this.cards.append(h('p', { class: 'empty muted' }, this.cluster ? 'No locations yet: make one with New location.' : 'No interfaces: put a config in /etc/wireguard, or name one: wiretun serve wg0.'));
    const current = usable.find((i) => i.name === this.selected);
    if (!current) {
      this.panel = undefined;
      fill(this.clientsBox);
      return;
    }
    if (this.panel?.name !== current.name) {
      this.panel = new ClientsPanel(current, this.refresh);
      fill(this.clientsBox, this.panel.el);
    }
    await this.panel.update(current).catch((err: Error) => attempt(() => Promise.reject(err)));
  };

  private select(name: string): void {
    if (name === this.selected) return;
    this.selected = name;
    localStorage.setItem('wiretun.iface', name);
    void this.refresh();
  }

  private card(i: Iface): HTMLElement {
    const key = i.publicKey ?? '';
    const d = i.clientDefaults;
    const gw = i.gateways;
    const rows: [string, Node | string][] = [
      ...(gw ? [['Gateways', h('span', { 'data-gateways': `${gw.healthy}/${gw.total}` }, gw.total ? `${gw.healthy}/${gw.total} healthy` : 'none yet: run wiretun gateway')] as [string, Node]] : []),
      ['Public key', h('span', { class: 'key-line' }, h('code', { class: 'key' }, key || '–'), key ? button('Copy', () => copyText(key), { class: 'small' }) : '')],
      ['Listen port', i.listenPort ? String(i.listenPort) : 'random'],
      ['Addresses', i.addresses.join(', ') || '–'],
      ['Endpoint', i.endpoint ?? 'not set (needed for client configs)'],
      ['Client DNS', d.dns?.join(', ') ?? 'none'],
      ['Client allowed IPs', (d.allowedIps ?? i.subnets).join(', ') + (d.allowedIps ? '' : ' (its subnets)')],
      ['Keepalive', d.persistentKeepalive ? `${d.persistentKeepalive} s` : 'off'],
    ];
    const selected = i.name === this.selected;
    const card = h(
      'article',
      { class: `card iface${selected ? ' selected' : ''}`, 'data-iface': i.name, 'aria-current': selected ? 'true' : undefined },
      h(
        'header',
        null,
        h('h2', null, i.name),
        h('span', { class: `pill ${i.up ? 'up' : 'down'}` }, i.up ? 'up' : 'down'),
        h('span', { class: 'spacer' }),
        i.file === null ? null : button(i.up ? 'Down' : 'Up', () => this.upDown(i), { class: i.up ? '' : 'primary' }),
      ),
      h('dl', { class: 'facts' }, ...rows.flatMap(([t, v]) => [h('dt', null, t), h('dd', null, v)])),
      i.saveConfig ? h('p', { class: 'warn small' }, 'SaveConfig = true: taking it down rewrites the file; clients cannot be disabled.') : null,
      h(
        'footer',
        null,
        h('span', { class: 'muted' }, `${i.clients.total} client${i.clients.total === 1 ? '' : 's'} · ${i.clients.connected} connected`),
        h('span', { class: 'spacer' }),
        i.file === null ? button('Delete', () => this.remove(i), { class: 'danger' }) : null,
        button('Settings', () => this.edit(i)),
        selected ? null : button('Clients', () => this.select(i.name), { class: 'primary' }),
      ),
    );
    card.addEventListener('click', (ev) => {
      if (!(ev.target as Element).closest('button, a')) this.select(i.name);
    });
    return card;
  }

  private errorCard(i: IfaceError): HTMLElement {
    return h('article', { class: 'card iface broken', 'data-iface': i.name }, h('header', null, h('h2', null, i.name), h('span', { class: 'pill down' }, 'error')), h('p', { class: 'form-error' }, i.error.message));
  }

  private async upDown(i: Iface): Promise<void> {
    if (i.up && !(await confirm(`Take ${i.name} down?`, 'Every client of it loses its connection until it is up again.', 'Take down', true))) return;
    await attempt(() => api('POST', `/api/interfaces/${seg(i.name)}/${i.up ? 'down' : 'up'}`), `${i.name} is ${i.up ? 'down' : 'up'}`);
    await this.refresh();
  }

  private async create(): Promise<void> {
    const made = await createLocation();
    if (!made) return;
    this.select(made.name);
    await this.refresh();
  }

  private async remove(i: Iface): Promise<void> {
    if (await attempt(() => deleteLocation(i))) await this.refresh();
  }

  private async edit(i: Iface): Promise<void> {
    const d = i.clientDefaults;
    await modal(
      `${i.name} settings`,
      (close) => [
        form(
          [
            field('Public endpoint', input('endpoint', { value: i.endpoint ?? '', placeholder: 'vpn.example.com:51820' }), 'Where clients reach this server: host or address, and port if not the listen port.'),
            h('h3', null, 'What new client configs get'),
            field('DNS', input('clientDefaults.dns', { value: d.dns?.join(', ') ?? '', placeholder: '1.1.1.1' }), 'Empty: none.'),
            field('Allowed IPs', input('clientDefaults.allowedIps', { value: d.allowedIps?.join(', ') ?? '', placeholder: i.subnets.join(', ') }), 'What clients route through the tunnel (0.0.0.0/0, ::/0 for everything). Empty: the subnets of the interface.'),
            field('Persistent keepalive', input('clientDefaults.persistentKeepalive', { type: 'number', min: 0, max: 65535, value: d.persistentKeepalive ?? '', placeholder: 'off' }), 'Seconds; 25 keeps clients behind NAT reachable.'),
            footer(close, 'Save'),
          ],
          async (data) => {
            const endpoint = String(data.get('endpoint') ?? '').trim();
            const dns = list(String(data.get('clientDefaults.dns') ?? ''));
            const allowed = list(String(data.get('clientDefaults.allowedIps') ?? ''));
            const keepalive = String(data.get('clientDefaults.persistentKeepalive') ?? '').trim();
            await api('PATCH', `/api/interfaces/${seg(i.name)}`, {
              endpoint: endpoint || null,
              clientDefaults: { dns: dns.length ? dns : null, allowedIps: allowed.length ? allowed : null, persistentKeepalive: keepalive ? Number(keepalive) : null },
            });
            close();
          },
        ),
      ],
      { name: 'iface-settings' },
    );
    await this.refresh();
  }
}
