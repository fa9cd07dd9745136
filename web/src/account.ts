// The admin account: change the password, turn the TOTP second factor on (with its QR code) or off.
import { api, ApiError } from './api';
import { footer, form, modal, toast } from './dialogs';
import { button, field, fill, h, input } from './dom';
import { dateTime } from './format';
import type { Session } from './types';

export class AccountView {
  readonly el: HTMLElement;
  private readonly totpBox = h('div');

  constructor(private readonly session: Session) {
    const password = form(
      [
        field('Current password', input('current', { type: 'password', autocomplete: 'current-password', required: true })),
        field('New password', input('password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 10 }), 'At least 10 characters. Other sessions are logged out.'),
        field('Repeat it', input('again', { type: 'password', autocomplete: 'new-password', required: true })),
        h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')),
      ],
      async (data, f) => {
        if (data.get('password') !== data.get('again')) throw new ApiError(400, 'invalid', 'the two passwords differ', 'again');
        await api('PUT', '/api/password', { current: String(data.get('current')), password: String(data.get('password')) });
        f.reset();
        toast('Password changed');
      },
    );
    this.el = h(
      'main',
      { class: 'view narrow' },
      h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', null, 'Password')), password),
      h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', null, 'Two-factor login (TOTP)')), this.totpBox),
      h('p', { class: 'muted small' }, `This session ends ${dateTime(session.expiresAt)}.`),
    );
    this.renderTotp();
  }

  async start(): Promise<void> {}

  stop(): void {}

  private renderTotp(): void {
    if (!this.session.totpEnabled) {
      fill(
        this.totpBox,
        h('p', null, 'Off. With it on, logging in also asks for a 6-digit code from an authenticator app.'),
        h('div', { class: 'buttons' }, button('Turn on', () => this.enrol(), { class: 'primary' })),
      );
      return;
    }
    fill(
      this.totpBox,
      h('p', null, h('span', { class: 'pill up' }, 'on'), ' Logging in asks for a code from your authenticator app.'),
      form(
        [field('Password', input('password', { type: 'password', autocomplete: 'current-password', required: true })), h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'danger' }, 'Turn off'))],
        async (data) => {
          await api('POST', '/api/totp/disable', { password: String(data.get('password')) });
          this.session.totpEnabled = false;
          this.renderTotp();
          toast('Two-factor login is off');
        },
      ),
    );
  }

  private async enrol(): Promise<void> {
    const pending = await api<{ secret: string; uri: string }>('POST', '/api/totp/setup');
    await modal(
      'Turn on two-factor login',
      (close) => [
        h('p', null, 'Scan this with an authenticator app, or type the key into it, then enter the code it shows.'),
        h('div', { class: 'qr-box' }, h('img', { class: 'qr', src: `/api/totp/qr.svg?${Date.now()}`, width: 240, height: 240, alt: 'QR code of the TOTP secret' })),
        h('p', { class: 'center' }, h('code', { class: 'mono secret' }, pending.secret.replace(/(.{4})/g, '$1 ').trim())),
        form(
          [field('Code', input('code', { inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: true, autofocus: true })), footer(close, 'Turn on')],
          async (data) => {
            await api('POST', '/api/totp/enable', { code: String(data.get('code') ?? '').trim() });
            this.session.totpEnabled = true;
            this.renderTotp();
            toast('Two-factor login is on');
            close();
          },
        ),
      ],
      { name: 'totp' },
    );
  }
}
