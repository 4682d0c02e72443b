/**
 * The live transcript panel and its downloads. Keeps the entries shown so far
 * (a retried batch replaces its own entries, keyed by batch and index) so the
 * downloads hold exactly what the reader saw.
 */
import type { TranscriptEntry } from '@lectern/protocol';
import { download, element } from './dom.js';
import { clockTimestamp, toPlainText, toWebVtt, transcriptFileName } from './transcript-format.js';

export class TranscriptView {
  readonly #entries = new Map<string, TranscriptEntry>();
  readonly #lines = new Map<string, HTMLElement>();

  constructor(
    private readonly panel: HTMLElement,
    private readonly downloads: { txt: HTMLButtonElement; vtt: HTMLButtonElement; hint: HTMLElement },
    room: string,
  ) {
    downloads.txt.addEventListener('click', () => download(transcriptFileName(room, 'txt'), toPlainText(this.entries()), 'text/plain;charset=utf-8'));
    downloads.vtt.addEventListener('click', () => download(transcriptFileName(room, 'vtt'), toWebVtt(this.entries()), 'text/vtt;charset=utf-8'));
    this.updateDownloads();
  }

  /** What has been shown, in lecture order. */
  entries(): TranscriptEntry[] {
    return [...this.#entries.values()].sort((a, b) => a.start - b.start);
  }

  add(entries: readonly TranscriptEntry[]): void {
    for (const entry of entries) {
      const key = `${entry.batchId}:${entry.index}`;
      this.#entries.set(key, entry);
      const line = this.#lines.get(key) ?? element('p');
      line.dataset.start = String(entry.start);
      line.replaceChildren(element('time', { text: clockTimestamp(entry.start) }), document.createTextNode(` ${entry.text}`));
      if (!this.#lines.has(key)) {
        this.#lines.set(key, line);
        const after = [...this.panel.children].find((c) => Number((c as HTMLElement).dataset.start) > entry.start);
        this.panel.insertBefore(line, after ?? null);
      }
    }
    this.panel.scrollTop = this.panel.scrollHeight;
    this.updateDownloads();
  }

  /** Downloads need something to download; the hint says why they are not available yet. */
  private updateDownloads(): void {
    const empty = this.#entries.size === 0;
    this.downloads.txt.disabled = empty;
    this.downloads.vtt.disabled = empty;
    this.downloads.hint.hidden = !empty;
    this.panel.closest<HTMLElement>('section')?.setAttribute('data-empty', String(empty));
  }
}
