/**
 * A confirm step on a native modal <dialog> (not window.confirm, which tests
 * cannot drive and which blocks the page): showModal() makes the rest of the
 * page inert, so focus stays inside; Escape cancels; focus returns to the
 * button that opened it.
 */
export function confirmWith(dialog: HTMLDialogElement): Promise<boolean> {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        opener?.focus();
        resolve(dialog.returnValue === 'confirm');
      },
      { once: true },
    );
  });
}
