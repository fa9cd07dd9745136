// API tokens: made here, shown once, read-only or read-write, revoked here.
import { api } from './api';
import { attempt, confirm, form, modal, toast } from './dialogs';
import { button, copyText, field, fill, h, input } from './dom';
import { ago, date } from './format';
import type { Token } from './types';

export class TokensView {
  readonly el: HTMLElement;
  private readonly tbody = h('tbody');
  private readonly empty = h('p', { class: 'empty muted' }, 'No API tokens.');

  constructor() {
    const scope = h('select', { name: 'scope', id: 'f-scope' }, h('option', { value: 'read' }, 'Read-only'), h('option', { value: 'write' }, 'Read-write'));
    const create = form(
      [
        h(
          'div',
          { class: 'row' },
          field('Name', input('name', { required: true, maxlength: 64, placeholder: 'grafana' })),
          field('Access', scope),
          h('button', { type: 'submit', class: 'primary' }, 'Create token'),
        ),
      ],
      async (data, f) => {
        const made = await api<Token & { token: string }>('POST', '/api/tokens', { name: String(data.get('name') ?? ''), scope: String(data.get('scope')) });
        f.reset();
        await this.refresh();
        await showToken(made);
      },
      { class: 'token-form' },
    );
    this.el = h(
      'main',
      { class: 'view narrow' },
      h(
        'section',
        { class: 'panel' },
        h('div', { class: 'panel-head' }, h('h2', null, 'API tokens')),
        h('p', { class: 'muted' }, 'For scripts and dashboards: send one as "Authorization: Bearer TOKEN". Read-only tokens can list interfaces, clients and history; read-write ones can change them too. Neither can read private keys or manage tokens. ', h('a', { href: '/api/openapi.json', target: '_blank', rel: 'noopener' }, 'The API (OpenAPI)')),
        create,
        h('div', { class: 'table-wrap' }, h('table', { class: 'tokens' }, h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Access'), h('th', null, 'Created'), h('th', null, 'Last used'), h('th'))), this.tbody)),
        this.empty,
      ),
    );
  }

  async start(): Promise<void> {
    await this.refresh();
  }

  stop(): void {}

  async refresh(): Promise<void> {
    const tokens = await api<Token[]>('GET', '/api/tokens');
    fill(
      this.tbody,
      ...tokens.map((t) =>
        h(
          'tr',
          { 'data-token': t.id },
          h('td', null, h('strong', null, t.name)),
          h('td', null, h('span', { class: `pill ${t.scope}` }, t.scope === 'write' ? 'read-write' : 'read-only')),
          h('td', null, date(t.createdAt)),
          h('td', null, t.lastUsedAt ? ago(t.lastUsedAt) : 'never'),
          h('td', { class: 'actions' }, button('Revoke', () => this.revoke(t), { class: 'danger small' })),
        ),
      ),
    );
    this.empty.hidden = tokens.length > 0;
  }

  private async revoke(t: Token): Promise<void> {
    if (!(await confirm(`Revoke ${t.name}?`, 'Whatever uses it is refused from now on.', 'Revoke', true))) return;
    if (await attempt(() => api('DELETE', `/api/tokens/${t.id}`), `${t.name} revoked`)) await this.refresh();
  }
}

function showToken(t: Token & { token: string }): Promise<void> {
  const box = h('input', { readonly: true, value: t.token, class: 'mono', 'aria-label': 'The new token', name: 'token' });
  return modal(
    `Token ${t.name}`,
    (close) => [
      h('p', null, 'Copy it now: it is shown only this once (the console keeps only its hash).'),
      box,
      h('footer', null, button('Copy', async () => toast((await copyText(t.token, box)) ? 'Token copied' : 'Select the token and copy it')), h('button', { type: 'button', class: 'primary', onclick: close }, 'Done')),
    ],
    { name: 'token' },
  );
}
