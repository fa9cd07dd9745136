// Building the page's DOM. Every piece of text goes in as a text node (or textContent): nothing the server or
// a user typed is ever parsed as HTML, so a client named `<img onerror=...>` shows as just that.
export type Child = Node | string | number | null | undefined | false;
type Handler = (ev: Event) => void;
export type Attrs = Record<string, string | number | boolean | Handler | undefined | null>;

/** `h('button', { class: 'primary', onclick: fn }, 'Save')`: attributes by name, `on*` as listeners, boolean
 * attributes set when true, children appended as nodes or text. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** Sets text only when it changed, so polling does not disturb a selection or a screen reader. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** A labelled form field; `hint` below the input, the error slot filled by showFieldError. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement, hint?: string): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', { class: 'label' }, label), input, hint ? h('span', { class: 'hint' }, hint) : null);
}

export function input(name: string, attrs: Attrs = {}): HTMLInputElement {
  return h('input', { name, id: `f-${name}`, autocomplete: 'off', spellcheck: 'false', ...attrs });
}

/** A button that runs an async action, disabled while it runs (no double submit). */
export function button(label: string, action: () => Promise<unknown> | unknown, attrs: Attrs = {}): HTMLButtonElement {
  const b = h('button', { type: 'button', ...attrs }, label);
  b.addEventListener('click', async (ev) => {
    ev.stopPropagation();
    b.disabled = true;
    try {
      await action();
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/** Copies text, falling back to selecting it where the clipboard API is not available (plain HTTP). */
export async function copyText(text: string, from?: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    from?.select();
    return document.execCommand?.('copy') ?? false;
  }
}
