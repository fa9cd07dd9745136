// The clients of one interface: a table updated in place on every poll (so an open chart or a selection
// survives), a row opening into the client's details, chart and actions. An open row also holds the client's
// ETag, sent with its edits, so an edit made elsewhere meanwhile is refused rather than overwritten.
import { api, changedElsewhere, getTagged, ifMatch, seg } from './api';
import { TrafficChart } from './chart';
import { clientName, clientUrl, createClient, deleteClient, editClient, showLink, showQr } from './client-dialogs';
import { attempt, toast } from './dialogs';
import { button, fill, h, setText } from './dom';
import { ago, bytes, date, rate } from './format';
import type { Client, ClientState, Iface } from './types';

const STATE_TEXT: Record<ClientState, string> = {
  connected: 'Connected',
  idle: 'Idle',
  never: 'Never connected',
  disabled: 'Disabled',
  down: 'Interface down',
};

interface Row {
  client: Client;
  /** The client's ETag, read with it while its details are open. */
  etag?: string;
  tr: HTMLTableRowElement;
  cells: { name: HTMLElement; addresses: HTMLElement; state: HTMLElement; seen: HTMLElement; gateway: HTMLElement; rates: HTMLElement; totals: HTMLElement };
  detail?: { tr: HTMLTableRowElement; facts: HTMLElement; actions: HTMLElement; chart: TrafficChart; shape?: string };
}

export class ClientsPanel {
  readonly el: HTMLElement;
  private readonly tbody = h('tbody');
  private readonly empty = h('p', { class: 'empty muted' }, 'No clients yet.');
  private readonly rows = new Map<string, Row>();
  private readonly table: HTMLTableElement;
  private iface: Iface;

  constructor(
    iface: Iface,
    private readonly changed: () => Promise<void>,
  ) {
    this.iface = iface;
    const table = (this.table = h(
      'table',
      { class: 'clients' },
      h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Addresses'), h('th', null, 'Status'), h('th', { class: 'gw' }, 'Gateway'), h('th', { class: 'num' }, 'Rate ↓ / ↑'), h('th', { class: 'num' }, 'Total ↓ / ↑'), h('th'))),
      this.tbody,
    ));
    this.el = h(
      'section',
      { class: 'panel', 'data-clients': iface.name },
      h('div', { class: 'panel-head' }, h('h2', null, `Clients of ${iface.name}`), button('New client', () => this.create(), { class: 'primary' })),
      h('div', { class: 'table-wrap' }, table),
      this.empty,
    );
  }

  get name(): string {
    return this.iface.name;
  }

  /** Fetches the clients and brings the table up to date; open charts refresh too. */
  async update(iface: Iface = this.iface): Promise<void> {
    this.iface = iface;
    const listed = await api<Client[]>('GET', `/api/interfaces/${seg(iface.name)}/clients`);
    const clients = await Promise.all(listed.map((c) => this.reread(this.rows.get(c.id), c)));
    // The gateway column only where some client is on a gateway (cluster mode).
    this.table.classList.toggle('with-gateway', clients.some((c) => c.gateway));
    const seen = new Set<string>();
    for (const c of clients) {
      seen.add(c.id);
      const row = this.rows.get(c.id) ?? this.addRow(c);
      row.client = c;
      this.render(row);
      this.tbody.append(row.tr);
      if (row.detail) {
        this.tbody.append(row.detail.tr);
        this.renderDetail(row);
        void row.detail.chart.refresh();
      }
    }
    for (const [id, row] of this.rows) if (!seen.has(id)) this.dropRow(row);
    this.empty.hidden = clients.length > 0;
  }

  private addRow(c: Client): Row {
    const cell = () => h('td');
    const cells = { name: h('strong'), addresses: cell(), state: h('span', { class: 'state' }), seen: h('span', { class: 'muted small' }), gateway: cell(), rates: cell(), totals: cell() };
    cells.gateway.className = 'gw';
    cells.rates.className = cells.totals.className = 'num';
    const toggle = h('button', { type: 'button', class: 'icon chevron', 'aria-expanded': 'false', 'aria-label': `Details of ${clientName(c)}` }, '›');
    const tr = h('tr', { class: 'client', 'data-client': c.id, tabindex: 0 }, h('td', null, cells.name), cells.addresses, h('td', null, cells.state, h('br'), cells.seen), cells.gateway, cells.rates, cells.totals, h('td', { class: 'actions' }, toggle));
    const row: Row = { client: c, tr, cells };
    const open = () => this.toggle(row);
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        open();
      }
    });
    this.rows.set(c.id, row);
    return row;
  }

  private dropRow(row: Row): void {
    row.detail?.chart.destroy();
    row.detail?.tr.remove();
    row.tr.remove();
    this.rows.delete(row.client.id);
  }

  private render(row: Row): void {
    const c = row.client;
    const s = c.status;
    setText(row.cells.name, clientName(c));
    setText(row.cells.addresses, c.addresses.join(', '));
    setText(row.cells.state, STATE_TEXT[s.state]);
    row.cells.state.dataset.state = s.state;
    row.tr.dataset.state = s.state;
    const seen = s.state === 'disabled' ? (c.expiresAt && Date.parse(c.expiresAt) <= Date.now() ? `expired ${date(c.expiresAt)}` : '') : s.latestHandshake ? `handshake ${ago(s.latestHandshake)}` : '';
    setText(row.cells.seen, seen + (s.endpoint ? ` from ${s.endpoint}` : ''));
    setText(row.cells.gateway, c.gateway ?? '–');
    setText(row.cells.rates, `${rate(s.txRate)} / ${rate(s.rxRate)}`);
    setText(row.cells.totals, `${bytes(s.txBytes)} / ${bytes(s.rxBytes)}`);
  }

  private toggle(row: Row): void {
    const chevron = row.tr.querySelector('.chevron')!;
    if (row.detail) {
      row.detail.chart.destroy();
      row.detail.tr.remove();
      row.detail = undefined;
      chevron.setAttribute('aria-expanded', 'false');
      row.tr.classList.remove('open');
      return;
    }
    const chart = new TrafficChart(this.iface.name, row.client.id);
    const facts = h('dl', { class: 'facts' });
    const actions = h('div', { class: 'buttons' });
    const tr = h('tr', { class: 'detail', 'data-detail': row.client.id }, h('td', { colspan: 7 }, h('div', { class: 'detail-grid' }, h('div', { class: 'detail-info' }, facts, actions), chart.el)));
    row.detail = { tr, facts, actions, chart };
    row.tr.after(tr);
    row.tr.classList.add('open');
    chevron.setAttribute('aria-expanded', 'true');
    this.renderDetail(row);
    void chart.show('hour');
    void this.reread(row, row.client).then((c) => {
      row.client = c;
      if (row.detail) this.renderDetail(row);
    });
  }

  /** An open client is read on its own too, for its ETag: its actions then change what the page shows, and
   * an edit made elsewhere meanwhile is refused. Closed (or unreadable now), it stays as listed. */
  private async reread(row: Row | undefined, listed: Client): Promise<Client> {
    if (!row?.detail) return listed;
    try {
      const { json, etag } = await getTagged<Client>(clientUrl(this.iface.name, listed.id));
      row.etag = etag;
      return json;
    } catch {
      return listed;
    }
  }

  /** The facts are text, redrawn on each poll; the buttons only when what they offer changes (so a click
   * never lands on a button being replaced), and they act on the client as it is when clicked. */
  private renderDetail(row: Row): void {
    const c = row.client;
    const d = row.detail!;
    const hs = c.status.latestHandshake;
    fill(
      d.facts,
      ...fact('Public key', h('code', { class: 'key' }, c.publicKey)),
      ...fact('Allowed IPs', c.allowedIps.join(', ')),
      ...fact('Latest handshake', hs ? `${ago(hs)} (${new Date(hs).toLocaleTimeString()})` : 'never'),
      ...fact('Endpoint', c.status.endpoint ?? '–'),
      ...fact('Expires', c.expiresAt ? date(c.expiresAt) : 'never'),
      ...fact('Created', c.createdAt ? date(c.createdAt) : 'outside the console'),
    );
    const shape = `${c.enabled} ${c.hasConfig}`;
    if (d.shape === shape) return;
    d.shape = shape;
    const iface = this.iface.name;
    const now = () => row.client;
    const act = (fn: () => Promise<unknown>, done?: () => string) => () => this.act(row, fn, done);
    const toggleLabel = c.enabled ? 'Disable' : 'Enable';
    fill(
      d.actions,
      c.hasConfig ? button('QR code', () => showQr(iface, now())) : null,
      c.hasConfig ? h('a', { class: 'button', href: `${clientUrl(iface, c.id)}/config`, download: '' }, 'Download .conf') : null,
      c.hasConfig ? button('One-time link', () => attempt(() => showLink(iface, now()))) : null,
      button('Edit', act(() => editClient(this.iface, now(), row.etag))),
      button(toggleLabel, act(() => api('PATCH', clientUrl(iface, c.id), { enabled: !c.enabled }, ifMatch(row.etag)), () => `${clientName(now())} ${c.enabled ? 'disabled' : 'enabled'}`)),
      button('Delete', act(() => deleteClient(this.iface, now(), row.etag)), { class: 'danger' }),
      c.hasConfig ? null : h('p', { class: 'muted small' }, 'Made outside the console: its private key is not here, so there is no config to show.'),
    );
  }

  /** Runs an action on a client (false: cancelled) and reads the clients again; when the client was changed
   * elsewhere since this page read it, the server refused the action: say so, and show it as it is now. */
  private async act(row: Row, fn: () => Promise<unknown>, done?: () => string): Promise<void> {
    // Opened a moment ago, its ETag may still be on the way: what the action changes is what it is read with.
    if (row.etag === undefined) row.client = await this.reread(row, row.client);
    const c = row.client;
    try {
      if ((await fn()) === false) return;
      if (done) toast(done());
    } catch (err) {
      toast(changedElsewhere(err) ? `${clientName(c)} was changed elsewhere; reloaded` : (err as Error).message, 'error');
      if (!changedElsewhere(err)) return;
    }
    await this.changed();
  }

  private async create(): Promise<void> {
    const made = await createClient(this.iface);
    if (!made) return;
    await this.changed();
    if (made.hasConfig) await showQr(this.iface.name, made);
  }
}

function fact(term: string, value: Node | string): HTMLElement[] {
  return [h('dt', null, term), h('dd', null, value)];
}
