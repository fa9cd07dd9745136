// The console page: finds out whether a password is set and a session open, then shows set-up, login or the
// console (interfaces and clients, API tokens, account; in cluster mode locations and gateways), switched by the
// URL's #/... part. Everything it knows comes from the JSON API, the same one scripts use.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { api, ApiError, useSession, whenSessionLost } from './api';
import { AccountView } from './account';
import { loginView, setupCodeFromUrl, setupView } from './auth';
import { attempt } from './dialogs';
import { button, fill, h } from './dom';
import { GatewaysView } from './gateways';
import { InterfacesView } from './interfaces';
import { TokensView } from './tokens';
import type { Session } from './types';

interface View {
  el: HTMLElement;
  start(): Promise<void>;
  stop(): void;
}

const root = document.getElementById('app')!;
let session: Session | undefined;
let current: View | undefined;

interface Page {
  hash: string;
  label: string;
  make: (s: Session) => View;
}

const PAGES: Page[] = [
  { hash: '#/', label: 'Interfaces', make: () => new InterfacesView() },
  { hash: '#/tokens', label: 'API tokens', make: () => new TokensView() },
  { hash: '#/account', label: 'Account', make: (s) => new AccountView(s) },
];

/** Cluster mode: the interfaces are locations, and their gateways get a page. */
const CLUSTER_PAGES: Page[] = [
  { hash: '#/', label: 'Locations', make: () => new InterfacesView(true) },
  { hash: '#/gateways', label: 'Gateways', make: () => new GatewaysView() },
  ...PAGES.slice(1),
];

const pages = () => (session?.cluster ? CLUSTER_PAGES : PAGES);

function leave(): void {
  current?.stop();
  current = undefined;
}

function showLogin(notice?: string): void {
  leave();
  session = undefined;
  useSession(undefined);
  document.title = 'Log in · wiretun';
  fill(root, loginView(enter, notice));
  focusFirst();
}

/** `autofocus` works only on the page's first load: a screen put in later is focused here. */
function focusFirst(): void {
  root.querySelector<HTMLElement>('[autofocus]')?.focus();
}

function enter(s: Session): void {
  session = s;
  useSession(s);
  if (!pages().some((p) => p.hash === location.hash)) history.replaceState(null, '', '#/');
  route();
}

async function logout(): Promise<void> {
  leave();
  // The request takes the CSRF token now; forgetting the session right after means a poll that was in flight
  // and now meets a 401 is not taken for a lost session, which would show a second login form while the
  // first one is being filled in.
  const request = api('POST', '/api/logout');
  session = undefined;
  useSession(undefined);
  await attempt(() => request);
  showLogin('You are logged out.');
}

function route(): void {
  if (!session) return;
  const page = pages().find((p) => p.hash === location.hash) ?? pages()[0];
  leave();
  const view = page.make(session);
  current = view;
  const nav = h(
    'nav',
    { 'aria-label': 'Console' },
    ...pages().map((p) => h('a', { href: p.hash, 'aria-current': p === page ? 'page' : undefined }, p.label)),
  );
  const top = h('header', { class: 'top' }, h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'wiretun'), nav, h('span', { class: 'spacer' }), button('Log out', logout, { class: 'ghost' }));
  document.title = `${page.label} · wiretun`;
  fill(root, top, view.el);
  view.start().catch((err: Error) => attempt(() => Promise.reject(err)));
}

async function boot(): Promise<void> {
  whenSessionLost(() => showLogin('Your session ended: log in again.'));
  window.addEventListener('hashchange', () => {
    if (session) route();
  });
  try {
    enter(await api<Session>('GET', '/api/session'));
  } catch (err) {
    if (err instanceof ApiError && err.code === 'setup_required') {
      leave();
      document.title = 'Set up · wiretun';
      fill(root, setupView(setupCodeFromUrl(), enter));
      focusFirst();
    } else if (err instanceof ApiError && err.status === 401) {
      showLogin();
    } else {
      fill(root, h('main', { class: 'auth' }, h('p', { class: 'form-error' }, (err as Error).message)));
    }
  }
}

void boot();
