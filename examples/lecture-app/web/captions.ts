/**
 * The caption bar at the bottom of the stage: the latest live-caption finals
 * and, after them, the partial being spoken (dim, italic: its words may still
 * change). Only the finals are in the `aria-live` region: a screen reader
 * reads each settled line once instead of every revision of a partial. Each
 * viewer turns captions on or off (default on); the choice is remembered in
 * localStorage. Hidden (the bar and, until captions run, its toggle) while
 * there is nothing to caption.
 */
import { CaptionTrack, type CaptionLine } from '@lectern/client-sdk';
import type { CaptionInfo } from '@lectern/protocol';
import { element } from './dom.js';

/** localStorage key of the viewer's choice ('on' | 'off'). */
export const CAPTIONS_STORAGE_KEY = 'lectern.captions';
/** Finals kept in the bar (the CSS shows the last lines of what is there). */
const FINALS_SHOWN = 2;

export class CaptionBar {
  readonly #track = new CaptionTrack({ maxFinals: FINALS_SHOWN });
  #on: boolean;
  /** Captions have arrived (or the transcription runs): the toggle is worth showing. */
  #available = false;
  #seenCaption = false;

  constructor(
    private readonly bar: HTMLElement,
    private readonly parts: { finals: HTMLElement; partial: HTMLElement },
    private readonly toggle: HTMLButtonElement,
    /** Called when the bar is shown or hidden (the page quiets the transcript panel's announcements while it shows). */
    private readonly onShown: (shown: boolean) => void = () => undefined,
  ) {
    this.#on = readChoice();
    toggle.addEventListener('click', () => {
      this.#on = !this.#on;
      saveChoice(this.#on);
      this.render();
    });
    this.render();
  }

  /** Whether the bar is on screen. */
  get shown(): boolean {
    return this.#on && this.#seenCaption;
  }

  /** The transcription runs: offer the toggle before the first caption arrives. */
  available(): void {
    this.#available = true;
    this.render();
  }

  /**
   * Applies one caption; returns the final line it added (for the transcript
   * panel), if it added one. Late and repeated captions change nothing.
   */
  apply(caption: CaptionInfo): CaptionLine | undefined {
    const lecture = this.#track.lectureId;
    if (!this.#track.apply(caption)) return undefined;
    if (this.#track.lectureId !== lecture) this.parts.finals.replaceChildren(); // a new lecture starts over
    this.#seenCaption = true;
    this.#available = true;
    let added: CaptionLine | undefined;
    // An empty final only clears its stream's partial (the track keeps no line for it).
    if (caption.kind === 'final' && caption.text.trim() !== '') {
      added = this.#track.finals().at(-1);
      if (added) {
        this.parts.finals.append(element('p', { className: 'final', text: added.text }));
        // Appended, never rewritten: the live region announces each final once (aria-relevant additions).
        while (this.parts.finals.childElementCount > FINALS_SHOWN) this.parts.finals.firstElementChild!.remove();
      }
    }
    const partial = this.#track.lines().filter((line) => !line.final).map((line) => line.text).join(' ');
    if (this.parts.partial.textContent !== partial) this.parts.partial.textContent = partial;
    this.render();
    return added;
  }

  private render(): void {
    this.toggle.hidden = !this.#available;
    // The app's media toggles name what a click does, with aria-pressed for "turned off".
    this.toggle.textContent = this.#on ? 'Captions off' : 'Captions on';
    this.toggle.setAttribute('aria-pressed', String(!this.#on));
    const shown = this.shown;
    if (this.bar.hidden === shown) {
      this.bar.hidden = !shown;
      this.onShown(shown);
    }
  }
}

function readChoice(): boolean {
  try {
    return localStorage.getItem(CAPTIONS_STORAGE_KEY) !== 'off';
  } catch {
    return true; // storage blocked (privacy settings): captions on, not remembered
  }
}

function saveChoice(on: boolean): void {
  try {
    localStorage.setItem(CAPTIONS_STORAGE_KEY, on ? 'on' : 'off');
  } catch {
    // Not remembered; the choice holds for this page.
  }
}
