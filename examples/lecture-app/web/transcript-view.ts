/**
 * The live transcript panel and its downloads. Two kinds of lines: the live
 * captions' finals (marked "live"), which come within seconds, and the batch
 * transcript, which comes later, better, and replaces them: batches arrive in
 * lecture order, so once a batch reaches time T every live line before T is
 * superseded and goes (a live line that arrives after its range was
 * transcribed is not shown at all). Keeps what is shown (a retried batch
 * replaces its own entries, keyed by batch and index) so the downloads hold
 * exactly what the reader saw.
 */
import type { TranscriptEntry } from '@lectern/protocol';
import { download, element } from './dom.js';
import { clockTimestamp, toPlainText, toWebVtt, transcriptFileName, type TimedText } from './transcript-format.js';

export class TranscriptView {
  readonly #entries = new Map<string, TranscriptEntry>();
  readonly #live = new Map<string, TimedText>();
  readonly #lines = new Map<string, HTMLElement>();
  /** How far (seconds on the lecture clock) the batch transcript reaches. */
  #batchEnd = 0;

  constructor(
    private readonly panel: HTMLElement,
    private readonly downloads: { txt: HTMLButtonElement; vtt: HTMLButtonElement; hint: HTMLElement },
    room: string,
  ) {
    downloads.txt.addEventListener('click', () => download(transcriptFileName(room, 'txt'), toPlainText(this.entries()), 'text/plain;charset=utf-8'));
    downloads.vtt.addEventListener('click', () => download(transcriptFileName(room, 'vtt'), toWebVtt(this.entries()), 'text/vtt;charset=utf-8'));
    this.updateDownloads();
  }

  /** What is shown (batch entries and the live lines not yet superseded), in lecture order. */
  entries(): TimedText[] {
    return [...this.#entries.values(), ...this.#live.values()].sort((a, b) => a.start - b.start);
  }

  /** Batch entries: shown, and the live lines they supersede removed. */
  add(entries: readonly TranscriptEntry[]): void {
    for (const entry of entries) {
      const key = `${entry.batchId}:${entry.index}`;
      this.#entries.set(key, entry);
      this.#batchEnd = Math.max(this.#batchEnd, entry.end);
      this.show(key, entry, false);
    }
    for (const [key, line] of this.#live) {
      if (this.superseded(line)) {
        this.#live.delete(key);
        this.#lines.get(key)?.remove();
        this.#lines.delete(key);
      }
    }
    this.changed();
  }

  /** Live caption finals (from the `caption` notifications, or the stored ones on a late join). */
  addLive(lines: readonly TimedText[]): void {
    for (const line of lines) {
      if (line.text.trim() === '' || this.superseded(line)) continue;
      // By start time: a final the page saw live and again in the stored list is one line.
      const key = `live:${Math.round(line.start * 1000)}`;
      this.#live.set(key, line);
      this.show(key, line, true);
    }
    this.changed();
  }

  /** Whether the batch transcript covers most of a live line already (its middle is before the batch's end). */
  private superseded(line: TimedText): boolean {
    return (line.start + line.end) / 2 <= this.#batchEnd;
  }

  private show(key: string, text: TimedText, live: boolean): void {
    const line = this.#lines.get(key) ?? element('p');
    line.dataset.start = String(text.start);
    line.dataset.end = String(text.end);
    line.classList.toggle('live', live);
    const marker = live ? [element('span', { className: 'live-marker', text: 'live' })] : [];
    line.replaceChildren(element('time', { text: clockTimestamp(text.start) }), ...marker, document.createTextNode(` ${text.text}`));
    if (!this.#lines.has(key)) {
      this.#lines.set(key, line);
      const after = [...this.panel.children].find((c) => Number((c as HTMLElement).dataset.start) > text.start);
      this.panel.insertBefore(line, after ?? null);
    }
  }

  private changed(): void {
    this.panel.scrollTop = this.panel.scrollHeight;
    this.updateDownloads();
  }

  /** Downloads need something to download; the hint says why they are not available yet. */
  private updateDownloads(): void {
    const empty = this.#entries.size === 0 && this.#live.size === 0;
    this.downloads.txt.disabled = empty;
    this.downloads.vtt.disabled = empty;
    this.downloads.hint.hidden = !empty;
    this.panel.closest<HTMLElement>('section')?.setAttribute('data-empty', String(empty));
  }
}
