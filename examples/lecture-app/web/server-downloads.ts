/**
 * The lecturer's "Download subtitles from the server" buttons: the stored
 * transcript of the current (or last) lecture as WebVTT or SRT, exported by the
 * server (`GET /api/lectures/<id>/transcript.vtt|srt`, authorised by the
 * lecturer's access token) rather than rebuilt from what this page saw; and
 * the live captions' finals as WebVTT (`…/transcript.vtt?source=live`).
 */
import { download } from './dom.js';

/** The server's exports: the batch transcript as WebVTT or SRT, the live captions as WebVTT. */
export type ServerDownload = 'vtt' | 'srt' | 'liveVtt';

const DOWNLOADS: Readonly<Record<ServerDownload, { format: 'vtt' | 'srt'; query: string; suffix: string }>> = {
  vtt: { format: 'vtt', query: '', suffix: '' },
  srt: { format: 'srt', query: '', suffix: '' },
  liveVtt: { format: 'vtt', query: '?source=live', suffix: '.live' },
};

export class ServerDownloads {
  #lectureId: string | undefined;

  constructor(
    private readonly box: HTMLElement,
    private readonly buttons: Record<ServerDownload, HTMLButtonElement>,
    /** A currently valid access token (the join token expires after minutes; the page fetches a new one). */
    private readonly token: () => Promise<string>,
    private readonly showError: (error: unknown) => void,
  ) {
    for (const kind of ['vtt', 'srt', 'liveVtt'] as const) {
      buttons[kind].addEventListener('click', () => void this.fetch(kind).catch(showError));
    }
  }

  /** The lecture the buttons export (the notification of a started or stopped transcription names it). */
  lecture(lectureId: string | undefined): void {
    if (!lectureId) return;
    this.#lectureId = lectureId;
    this.box.hidden = false;
  }

  private async fetch(kind: ServerDownload): Promise<void> {
    const lectureId = this.#lectureId;
    if (!lectureId) return;
    const button = this.buttons[kind];
    const { format, query, suffix } = DOWNLOADS[kind];
    button.disabled = true;
    try {
      const response = await fetch(`/api/lectures/${encodeURIComponent(lectureId)}/transcript.${format}${query}`, {
        headers: { Authorization: `Bearer ${await this.token()}` },
        cache: 'no-store',
      });
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
        throw body.error ?? new Error(`download failed: HTTP ${response.status}`);
      }
      const type = response.headers.get('content-type') ?? 'text/plain;charset=utf-8';
      download(`${lectureId}${suffix}.${format}`, await response.text(), type);
    } finally {
      button.disabled = false;
    }
  }
}
