/** Small DOM helpers for the lecture page (plain DOM, no framework). */

/** The element for `selector`; the page's markup is fixed, so a miss is a bug worth failing loudly. */
export function $<T extends HTMLElement = HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector);
  if (!found) throw new Error(`lecture page: no element ${selector}`);
  return found;
}

export interface ElementOptions {
  className?: string;
  text?: string;
  attrs?: Record<string, string>;
}

/** A new element with a class, text and attributes, and the given children. */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: ElementOptions = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (options.className) el.className = options.className;
  if (options.text !== undefined) el.textContent = options.text;
  for (const [name, value] of Object.entries(options.attrs ?? {})) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

/**
 * Shows a button working on something (e.g. "Finishing…") or ready again;
 * `label` is the text for the state it is put in. Busy means aria-disabled and
 * aria-busy rather than `disabled`: a disabled button drops keyboard focus,
 * leaving a keyboard user nowhere once it is ready again. Click handlers check
 * {@link isBusy}.
 */
export function setBusy(button: HTMLButtonElement, busy: boolean, label: string): void {
  for (const attribute of ['aria-disabled', 'aria-busy']) {
    if (busy) button.setAttribute(attribute, 'true');
    else button.removeAttribute(attribute);
  }
  button.textContent = label;
}

export function isBusy(button: HTMLButtonElement): boolean {
  return button.getAttribute('aria-busy') === 'true';
}

/** Saves `text` as a file through a temporary object URL. */
export function download(fileName: string, text: string, mimeType: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: mimeType }));
  const link = element('a', { attrs: { href: url, download: fileName } });
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked later rather than at once: some browsers read the blob after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
