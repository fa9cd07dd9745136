// Modal dialogs (the native <dialog>), forms whose errors point at the field the server named, and toasts.
import { ApiError } from './api';
import { Child, h } from './dom';

/** Opens a modal; resolves when it closes. `build` gets a close function for its own buttons. */
export function modal(title: string, build: (close: () => void) => Child[], attrs: { class?: string; name?: string } = {}): Promise<void> {
  const dialog = h('dialog', { class: attrs.class ?? '', 'data-dialog': attrs.name ?? '', 'aria-label': title });
  const close = () => dialog.close();
  const head = h('header', null, h('h2', null, title), h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', onclick: close }, '×'));
  dialog.append(head, ...build(close).filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve();
    });
  });
}

/** Asks a yes/no question; `danger` colours the confirming button. */
export function confirm(title: string, text: string, ok: string, danger = false): Promise<boolean> {
  let answer = false;
  return modal(
    title,
    (close) => [
      h('p', null, text),
      h(
        'footer',
        null,
        h('button', { type: 'button', onclick: close }, 'Cancel'),
        h(
          'button',
          {
            type: 'button',
            class: danger ? 'danger' : 'primary',
            onclick: () => {
              answer = true;
              close();
            },
          },
          ok,
        ),
      ),
    ],
    { name: 'confirm' },
  ).then(() => answer);
}

/** Shows an API error on the form: on the named field when there is one, else in the form's error line. */
export function showError(form: HTMLFormElement, err: unknown): void {
  clearErrors(form);
  const message = err instanceof Error ? err.message : String(err);
  const name = err instanceof ApiError && err.field ? err.field.replace(/\[\d+\]$/, '') : undefined;
  const input = name ? form.querySelector<HTMLInputElement>(`[name="${CSS.escape(name)}"]`) : null;
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.closest('.field')?.append(h('span', { class: 'error' }, message));
    input.focus();
    return;
  }
  const line = form.querySelector('.form-error') ?? form.appendChild(h('p', { class: 'form-error', role: 'alert' }));
  line.textContent = message;
}

export function clearErrors(form: HTMLFormElement): void {
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  form.querySelectorAll('.field .error').forEach((el) => el.remove());
  const line = form.querySelector('.form-error');
  if (line) line.textContent = '';
}

/** A form that runs `submit` (async) on Enter or its submit button, with errors shown in place. */
export function form(children: Child[], submit: (data: FormData, form: HTMLFormElement) => Promise<void>, attrs: Record<string, string> = {}): HTMLFormElement {
  const f = h('form', { novalidate: true, ...attrs }, ...children, h('p', { class: 'form-error', role: 'alert' }));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const buttons = [...f.querySelectorAll('button')];
    buttons.forEach((b) => (b.disabled = true));
    clearErrors(f);
    try {
      await submit(new FormData(f), f);
    } catch (err) {
      showError(f, err);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return f;
}

export function footer(close: () => void, submitLabel: string): HTMLElement {
  return h('footer', null, h('button', { type: 'button', onclick: close }, 'Cancel'), h('button', { type: 'submit', class: 'primary' }, submitLabel));
}

let toasts: HTMLElement | undefined;

/** A short message at the bottom of the page; errors stay longer. */
export function toast(message: string, kind: 'ok' | 'error' = 'ok'): void {
  toasts ??= document.body.appendChild(h('div', { class: 'toasts', 'aria-live': 'polite' }));
  const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  toasts.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 3500);
}

/** Runs an action, reporting a failure as a toast. */
export async function attempt(action: () => Promise<unknown>, done?: string): Promise<boolean> {
  try {
    await action();
    if (done) toast(done);
    return true;
  } catch (err) {
    toast(err instanceof Error ? err.message : String(err), 'error');
    return false;
  }
}
