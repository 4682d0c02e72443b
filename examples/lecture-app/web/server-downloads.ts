/**
 * The lecturer's "Download subtitles from the server" buttons: the stored
 * transcript of the current (or last) lecture as WebVTT or SRT, exported by the
 * server (`GET /api/lectures/<id>/transcript.vtt|srt`, authorised by the
 * lecturer's access token) rather than rebuilt from what this page saw.
 */
import { download } from './dom.js';

export class ServerDownloads {
  #lectureId: string | undefined;

  constructor(
    private readonly box: HTMLElement,
    private readonly buttons: { vtt: HTMLButtonElement; srt: HTMLButtonElement },
    /** A currently valid access token (the join token expires after minutes; the page fetches a new one). */
    private readonly token: () => Promise<string>,
    private readonly showError: (error: unknown) => void,
  ) {
    for (const format of ['vtt', 'srt'] as const) {
      buttons[format].addEventListener('click', () => void this.fetch(format).catch(showError));
    }
  }

  /** The lecture the buttons export (the notification of a started or stopped transcription names it). */
  lecture(lectureId: string | undefined): void {
    if (!lectureId) return;
    this.#lectureId = lectureId;
    this.box.hidden = false;
  }

  private async fetch(format: 'vtt' | 'srt'): Promise<void> {
    const lectureId = this.#lectureId;
    if (!lectureId) return;
    const button = this.buttons[format];
    button.disabled = true;
    try {
      const response = await fetch(`/api/lectures/${encodeURIComponent(lectureId)}/transcript.${format}`, {
        headers: { Authorization: `Bearer ${await this.token()}` },
        cache: 'no-store',
      });
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
        throw body.error ?? new Error(`download failed: HTTP ${response.status}`);
      }
      const type = response.headers.get('content-type') ?? 'text/plain;charset=utf-8';
      download(`${lectureId}.${format}`, await response.text(), type);
    } finally {
      button.disabled = false;
    }
  }
}
