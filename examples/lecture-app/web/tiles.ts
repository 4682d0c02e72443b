/**
 * The video grid: one tile per participant (you included) with the name, the
 * role and the microphone state (icon + text), and the media a peer sends.
 * Tiles are reconciled, not rebuilt, so playing media elements survive updates.
 */
import { element } from './dom.js';
import { micDescription, micText, type Participant } from './participants.js';

const MIC_OFF_ICON =
  '<svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true" focusable="false"><path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" d="M9 5a3 3 0 0 1 6 0v6M15 13.5A3 3 0 0 1 9 11V9M5 11a7 7 0 0 0 11.5 5.4M19 11a7 7 0 0 1-.6 2.8M12 18v3M3 3l18 18"/></svg>';

export class TileGrid {
  constructor(private readonly grid: HTMLElement) {}

  /** Brings the tiles in line with `people`: adds, updates and removes (in `people`'s order). */
  sync(people: readonly Participant[]): void {
    const wanted = new Set(people.map((p) => p.peerId));
    for (const tile of [...this.grid.querySelectorAll<HTMLElement>('.tile')]) {
      if (!wanted.has(tile.dataset.peer ?? '')) tile.remove();
    }
    for (const person of people) this.update(this.tile(person.peerId), person);
    // Order: appending an element already in the grid moves it; only do it when the order changed.
    const order = people.map((p) => p.peerId).join('\n');
    const current = [...this.grid.children].map((c) => (c as HTMLElement).dataset.peer).join('\n');
    if (order !== current) for (const person of people) this.grid.append(this.tile(person.peerId));
  }

  /** Plays a track in its peer's tile (the tile appears now if the peer list has not caught up yet). */
  attach(peerId: string, producerId: string, kind: 'audio' | 'video', track: MediaStreamTrack, localPreview = false): void {
    const tile = this.tile(peerId);
    const media = element(kind, { attrs: { 'data-producer': producerId, playsinline: '' } });
    media.autoplay = true;
    media.muted = localPreview; // your own preview must not echo
    media.srcObject = new MediaStream([track]);
    tile.querySelector('.media')!.append(media);
    tile.classList.toggle('has-video', tile.querySelector('video') !== null);
    void media.play().catch(() => undefined);
  }

  detach(producerId: string): void {
    const media = this.grid.querySelector(`[data-producer="${CSS.escape(producerId)}"]`);
    const tile = media?.closest<HTMLElement>('.tile');
    media?.remove();
    tile?.classList.toggle('has-video', tile.querySelector('video') !== null);
  }

  /** Highlights the active speaker (never a muted tile: a stale report must not point at someone who cannot be heard). */
  speaking(peerId: string): void {
    for (const tile of this.grid.querySelectorAll<HTMLElement>('.tile')) {
      tile.classList.toggle('speaking', tile.dataset.peer === peerId && tile.dataset.mic === 'live');
    }
  }

  private tile(peerId: string): HTMLElement {
    const existing = this.grid.querySelector<HTMLElement>(`.tile[data-peer="${CSS.escape(peerId)}"]`);
    if (existing) return existing;
    const tile = element(
      'figure',
      { className: 'tile', attrs: { id: `tile-${peerId}`, 'data-peer': peerId } },
      element('div', { className: 'media' }),
      element('div', { className: 'avatar', attrs: { 'aria-hidden': 'true' } }),
      element('span', { className: 'mic-state', attrs: { role: 'img' } }),
      element('figcaption', { className: 'name' }),
    );
    this.grid.append(tile);
    return tile;
  }

  private update(tile: HTMLElement, person: Participant): void {
    const name = `${person.name}${person.isLocal ? ' (you)' : ''}`;
    setText(tile.querySelector('.name')!, `${name}${person.role === 'lecturer' ? ' · lecturer' : ''}`);
    setText(tile.querySelector('.avatar')!, initials(person.name));
    tile.dataset.mic = person.mic;
    tile.classList.toggle('muted-peer', person.mic === 'muted');
    if (person.mic !== 'live') tile.classList.remove('speaking');
    const indicator = tile.querySelector<HTMLElement>('.mic-state')!;
    indicator.hidden = person.mic === 'live';
    indicator.setAttribute('aria-label', micDescription(person.mic));
    if (indicator.dataset.state !== person.mic) {
      indicator.dataset.state = person.mic;
      indicator.innerHTML = person.mic === 'muted' ? MIC_OFF_ICON : '';
      indicator.append(element('span', { text: micText(person.mic) }));
    }
  }
}

/** Avoids needless DOM writes (and screen-reader chatter) when nothing changed. */
function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return parts.slice(0, 2).map((p) => [...p][0]!.toUpperCase()).join('') || '?';
}
