// Cluster mode's gateways: the WireGuard servers that run the locations, as each last reported (every 10 s):
// healthy or stale, its version, when it was last seen, the peers on its interface and how many revisions of its
// location it has yet to apply. One gone for good can be forgotten here.
import { api, seg } from './api';
import { attempt, confirm } from './dialogs';
import { button, fill, h, setText } from './dom';
import { ago } from './format';
import { Poller } from './poll';
import type { Gateway } from './types';

interface Row {
  tr: HTMLTableRowElement;
  /** name, location, health, version, last seen, peers, revision lag, error */
  cells: HTMLElement[];
  actions: HTMLElement;
  healthy?: boolean;
}

export class GatewaysView {
  readonly el: HTMLElement;
  private readonly tbody = h('tbody');
  private readonly rows = new Map<string, Row>();
  private readonly empty = h('p', { class: 'empty muted' }, 'No gateway has reported yet: run wiretun gateway --store URL --location NAME on each WireGuard server.');
  private readonly poller = new Poller(() => this.refresh());

  constructor() {
    const head = h('tr', null, ...['Name', 'Location', 'Health', 'Version', 'Last seen'].map((t) => h('th', null, t)), h('th', { class: 'num' }, 'Peers'), h('th', { class: 'num' }, 'Revision lag'), h('th', null, 'Error'), h('th'));
    this.el = h(
      'main',
      { class: 'view' },
      h(
        'section',
        { class: 'panel' },
        h('div', { class: 'panel-head' }, h('h2', null, 'Gateways')),
        h('p', { class: 'muted' }, 'Each gateway reports every 10 s; one silent for 30 s is stale, and its clients are no longer counted on it.'),
        h('div', { class: 'table-wrap' }, h('table', { class: 'gateways' }, h('thead', null, head), this.tbody)),
        this.empty,
      ),
    );
  }

  start(): Promise<void> {
    return this.poller.start();
  }

  stop(): void {
    this.poller.stop();
  }

  /** Brings the table up to date in place, so a button being clicked is not swapped under the pointer. */
  async refresh(): Promise<void> {
    const gateways = await api<Gateway[]>('GET', '/api/gateways');
    const seen = new Set<string>();
    for (const g of gateways) {
      seen.add(g.name);
      const row = this.rows.get(g.name) ?? this.addRow(g.name);
      this.render(row, g);
      this.tbody.append(row.tr);
    }
    for (const [name, row] of this.rows) {
      if (seen.has(name)) continue;
      row.tr.remove();
      this.rows.delete(name);
    }
    this.empty.hidden = gateways.length > 0;
  }

  private addRow(name: string): Row {
    const cells = Array.from({ length: 8 }, () => h('td'));
    cells[0].append(h('strong', null, name));
    cells[2].append(h('span', { class: 'pill' }));
    for (const i of [5, 6]) cells[i].className = 'num';
    const actions = h('td', { class: 'actions' });
    const row: Row = { tr: h('tr', { 'data-gateway': name }, ...cells, actions), cells, actions };
    this.rows.set(name, row);
    return row;
  }

  private render(row: Row, g: Gateway): void {
    const health = g.healthy ? 'healthy' : 'stale';
    const [, location, pill, version, seen, peers, lag, error] = row.cells;
    row.tr.dataset.health = health;
    setText(location, g.location);
    setText(pill.firstElementChild!, health);
    pill.firstElementChild!.className = `pill ${g.healthy ? 'up' : 'stale'}`;
    setText(version, g.version ?? '–');
    setText(seen, ago(g.lastSeen));
    seen.title = g.lastSeen ?? '';
    setText(peers, String(g.peers ?? '–'));
    setText(lag, String(g.revisionLag ?? '–'));
    lag.dataset.lag = String(g.revisionLag ?? '');
    setText(error, g.error ?? '–');
    error.className = g.error ? 'error-text' : 'muted';
    if (row.healthy === g.healthy) return;
    row.healthy = g.healthy;
    // Only a gateway that stopped reporting can be forgotten: a running one would be back in 10 s.
    fill(row.actions, g.healthy ? null : button('Forget', () => this.forget(g), { class: 'danger small' }));
  }

  private async forget(g: Gateway): Promise<void> {
    if (!(await confirm(`Forget ${g.name}?`, `It leaves this list and its counters stop counting for ${g.location}. If it runs again, it reports back.`, 'Forget', true))) return;
    if (await attempt(() => api('DELETE', `/api/gateways/${seg(g.name)}`), `${g.name} forgotten`)) await this.refresh();
  }
}
