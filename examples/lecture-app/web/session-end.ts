/**
 * How the page ends: you left, the lecturer ended the lecture, another tab took
 * over, or the connection was lost. The live parts (stage, people, hands) go;
 * the transcript, its downloads and the summary stay; focus moves to the
 * message so keyboard and screen-reader users land on it.
 */
import { $ } from './dom.js';

export type SessionEnd = 'left' | 'ended' | 'replaced' | 'lost' | 'removed';

const MESSAGES: Record<SessionEnd, { title: string; detail: string; link: string | undefined }> = {
  left: { title: 'You left the lecture', detail: 'The lecture goes on without you.', link: 'Rejoin the lecture' },
  ended: {
    title: 'The lecture has ended',
    detail: 'The lecturer ended the lecture. The transcript and the summary (when there is one) stay on this page.',
    link: undefined,
  },
  replaced: { title: 'Opened somewhere else', detail: 'This lecture was opened in another tab or window with the same identity.', link: 'Use this tab instead' },
  lost: { title: 'Connection lost', detail: 'The connection to the lecture server closed.', link: 'Join again' },
  removed: { title: 'Removed from the lecture', detail: 'The lecturer removed you from this lecture.', link: undefined },
};

export function showSessionEnd(kind: SessionEnd): void {
  const message = MESSAGES[kind];
  document.body.dataset.session = kind;
  for (const live of document.querySelectorAll<HTMLElement>('[data-live-only]')) live.hidden = true;
  const panel = $('#session-end');
  panel.dataset.kind = kind;
  panel.hidden = false;
  $('#session-end-title').textContent = message.title;
  $('#session-end-detail').textContent = message.detail;
  const link = $<HTMLAnchorElement>('#rejoin');
  link.hidden = message.link === undefined;
  link.textContent = message.link ?? '';
  link.href = location.href;
  $('#session-end-title').focus();
}
