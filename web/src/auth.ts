// Before the console: the first-run set-up (the code comes in the link the server prints: /#setup=CODE) and
// the login, which asks for the TOTP code when the server says the account needs one.
import { api, ApiError } from './api';
import { form } from './dialogs';
import { field, h, input } from './dom';
import type { Session } from './types';

function screen(title: string, intro: string, body: Node): HTMLElement {
  return h('main', { class: 'auth' }, h('div', { class: 'auth-card' }, h('div', { class: 'brand big' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'wiretun'), h('h1', null, title), h('p', { class: 'muted' }, intro), body));
}

/** The set-up code from the URL, or undefined. */
export function setupCodeFromUrl(): string | undefined {
  const m = /^#setup=([A-Za-z0-9]{1,64})$/.exec(location.hash);
  return m?.[1];
}

export function setupView(code: string | undefined, done: (s: Session) => void): HTMLElement {
  const codeInput = input('setupCode', { required: true, value: code ?? '', placeholder: 'from the server log' });
  return screen(
    'Set up the console',
    'Choose the admin password. Nobody can use the console before this is done.',
    form(
      [
        code ? h('input', { type: 'hidden', name: 'setupCode', value: code }) : field('Set-up code', codeInput, 'wiretun serve prints it (journalctl -u wiretun-serve), in a link ending #setup=CODE.'),
        field('Password', input('password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 10, autofocus: true }), 'At least 10 characters.'),
        field('Repeat it', input('again', { type: 'password', autocomplete: 'new-password', required: true })),
        h('button', { type: 'submit', class: 'primary wide' }, 'Set password and log in'),
      ],
      async (data) => {
        if (data.get('password') !== data.get('again')) throw new ApiError(400, 'invalid', 'the two passwords differ', 'again');
        const s = await api<Session>('POST', '/api/setup', { setupCode: String(data.get('setupCode') ?? ''), password: String(data.get('password')) });
        history.replaceState(null, '', location.pathname);
        done(s);
      },
      { 'data-form': 'setup' },
    ),
  );
}

export function loginView(done: (s: Session) => void, notice?: string): HTMLElement {
  const totp = field('Code from your authenticator app', input('totp', { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, pattern: '[0-9]{6}' }));
  totp.hidden = true;
  return screen(
    'Log in',
    notice ?? 'The WireGuard console of this server.',
    form(
      [
        field('Password', input('password', { type: 'password', autocomplete: 'current-password', required: true, autofocus: true })),
        totp,
        h('button', { type: 'submit', class: 'primary wide' }, 'Log in'),
      ],
      async (data, f) => {
        const body: Record<string, string> = { password: String(data.get('password') ?? '') };
        const code = String(data.get('totp') ?? '').trim();
        if (!totp.hidden && code) body.totp = code;
        try {
          done(await api<Session>('POST', '/api/login', body));
        } catch (err) {
          if (err instanceof ApiError && err.code === 'totp_required') {
            totp.hidden = false;
            f.querySelector<HTMLInputElement>('[name=totp]')!.focus();
            throw new ApiError(401, err.code, 'Enter the 6-digit code.', 'totp');
          }
          throw err;
        }
      },
      { 'data-form': 'login' },
    ),
  );
}
