/**
 * The lecturer's transcription button. Stopping waits for the last batch and
 * the summary (many seconds), so between the click and the server's word the
 * button says "Finishing…" (aria-disabled, aria-busy) instead of looking idle.
 */
import { setBusy } from './dom.js';

export type TranscriptionPhase = 'idle' | 'starting' | 'running' | 'finishing';

const BUTTON_TEXT: Record<TranscriptionPhase, string> = {
  idle: 'Start transcription',
  starting: 'Starting…',
  running: 'Stop transcription',
  finishing: 'Finishing…',
};

const STATUS_TEXT: Record<TranscriptionPhase, string> = {
  idle: '',
  starting: 'starting…',
  running: '● recording',
  finishing: 'finishing the last part and the summary…',
};

export class TranscriptionControl {
  #phase: TranscriptionPhase = 'idle';

  constructor(
    private readonly button: HTMLButtonElement,
    private readonly status: HTMLElement,
    private readonly request: (method: 'startTranscription' | 'stopTranscription') => Promise<unknown>,
    private readonly onError: (error: unknown) => void,
    /** Asks the server where the transcription is (after a failed request the page's idea may be wrong). */
    private readonly refresh: () => Promise<boolean>,
  ) {
    button.addEventListener('click', () => void this.toggle());
    this.render();
  }

  get phase(): TranscriptionPhase {
    return this.#phase;
  }

  /** What the server reported (the `transcription` notification or `getTranscriptionState`). */
  serverSays(running: boolean): void {
    // A late "running" (the start notification) must not undo a stop the lecturer already asked for.
    if (running && this.#phase === 'finishing') return;
    this.set(running ? 'running' : 'idle');
  }

  /** The summary comes once the last batch is in: the stop is as good as done. */
  summaryArrived(): void {
    if (this.#phase === 'finishing') this.set('idle');
  }

  private async toggle(): Promise<void> {
    if (this.#phase === 'starting' || this.#phase === 'finishing') return; // busy: the button is aria-disabled
    const stopping = this.#phase === 'running';
    this.set(stopping ? 'finishing' : 'starting');
    try {
      await this.request(stopping ? 'stopTranscription' : 'startTranscription');
      // The reply comes after the work is done: a stop's reply carries the summary.
      this.set(stopping ? 'idle' : 'running');
    } catch (error) {
      this.onError(error);
      this.set((await this.refresh().catch(() => !stopping)) ? 'running' : 'idle');
    }
  }

  private set(phase: TranscriptionPhase): void {
    this.#phase = phase;
    this.render();
  }

  private render(): void {
    const busy = this.#phase === 'starting' || this.#phase === 'finishing';
    setBusy(this.button, busy, BUTTON_TEXT[this.#phase]);
    this.button.dataset.running = String(this.#phase === 'running');
    this.button.dataset.phase = this.#phase;
    this.status.textContent = STATUS_TEXT[this.#phase];
  }
}
