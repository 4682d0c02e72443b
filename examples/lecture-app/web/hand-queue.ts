import type { HandQueueEntry } from '@lectern/protocol';
import { element } from './dom.js';

/**
 * The raised-hand queue. The lecturer gets a "Mark answered" button per hand,
 * named with the student (several such buttons would otherwise sound alike).
 */
export function renderHandQueue(
  list: HTMLElement,
  /** Shown while no hand is up. */
  emptyNote: HTMLElement,
  queue: readonly HandQueueEntry[],
  onAnswered: ((entry: HandQueueEntry) => void) | undefined,
): void {
  list.replaceChildren(
    ...queue.map((entry) => {
      const name = entry.displayName ?? entry.peerId;
      const item = element('li', { attrs: { 'data-peer': entry.peerId } }, element('span', { text: `${name}${entry.source === 'gesture' ? ' (gesture)' : ''}` }));
      if (onAnswered) {
        const button = element('button', { text: 'Mark answered', attrs: { type: 'button', 'aria-label': `Mark answered: ${name}` } });
        button.addEventListener('click', () => onAnswered(entry));
        item.append(button);
      }
      return item;
    }),
  );
  emptyNote.hidden = queue.length > 0;
}
