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
    const onClose = () => {
      // The `close` event is a queued task: the one of an earlier closing (Escape, then
      // opened again at once) can arrive after this showModal(). It is not ours while
      // the dialog is open — answering it would take "cancel" for this step and drop
      // the confirm that follows.
      if (dialog.open) return;
      dialog.removeEventListener('close', onClose);
      opener?.focus();
      resolve(dialog.returnValue === 'confirm');
    };
    dialog.addEventListener('close', onClose);
  });
}
