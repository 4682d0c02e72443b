import type { CaptionInfo } from '@lectern/protocol';

/** What a {@link CaptionTrack} shows: the finals so far and, per stream, the partial after them. */
export interface CaptionLine {
  streamKey: string;
  peerId: string;
  text: string;
  /** Seconds from the start of the lecture. */
  start: number;
  end: number;
  final: boolean;
}

/** Options of a {@link CaptionTrack}. */
export interface CaptionTrackOptions {
  /** Finals kept (oldest dropped first). Default 1000. */
  maxFinals?: number;
}

/**
 * Holds a lecture's live captions for display: feed it every `caption` event
 * of {@link LectureClient}; it applies the streaming rules (a partial replaces
 * the stream's previous partial, a final is appended and clears the partial it
 * confirms) and ignores what arrives late or twice (by `seq`). A new
 * `lectureId` starts over.
 *
 * ```ts
 * const captions = new CaptionTrack();
 * client.on('caption', (c) => { if (captions.apply(c)) render(captions.lines().slice(-2)); });
 * ```
 */
export class CaptionTrack {
  readonly #maxFinals: number;
  #lectureId: string | undefined;
  #finals: CaptionLine[] = [];
  readonly #partials = new Map<string, CaptionLine>();
  /** Per stream: the highest seq applied, and the seq of its last final. */
  readonly #seen = new Map<string, { seq: number; finalSeq: number }>();

  constructor(options: CaptionTrackOptions = {}) {
    const max = options.maxFinals ?? 1000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxFinals must be a positive integer (got ${String(max)})`);
    this.#maxFinals = max;
  }

  /** The lecture the captions belong to (undefined before the first caption). */
  get lectureId(): string | undefined {
    return this.#lectureId;
  }

  /** Applies one caption; true when what {@link lines} returns changed. */
  apply(caption: CaptionInfo): boolean {
    if (caption.lectureId !== this.#lectureId) {
      this.clear();
      this.#lectureId = caption.lectureId;
    }
    const seen = this.#seen.get(caption.streamKey) ?? { seq: -Infinity, finalSeq: -Infinity };
    if (caption.seq <= seen.seq) return false; // late or repeated
    seen.seq = caption.seq;
    this.#seen.set(caption.streamKey, seen);
    const line: CaptionLine = {
      streamKey: caption.streamKey,
      peerId: caption.peerId,
      text: caption.text,
      start: caption.start,
      end: caption.end,
      final: caption.kind === 'final',
    };
    if (caption.kind === 'final') {
      seen.finalSeq = caption.seq;
      this.#partials.delete(caption.streamKey);
      if (caption.text.trim() === '') return true;
      this.#finals.push(line);
      if (this.#finals.length > this.#maxFinals) this.#finals.splice(0, this.#finals.length - this.#maxFinals);
      return true;
    }
    const had = this.#partials.get(caption.streamKey);
    if (caption.text.trim() === '') return this.#partials.delete(caption.streamKey);
    if (had && had.text === line.text) return false;
    this.#partials.set(caption.streamKey, line);
    return true;
  }

  /** Finals in order, then the partials (by start): what a caption view shows, oldest first. */
  lines(): CaptionLine[] {
    const partials = [...this.#partials.values()].sort((a, b) => a.start - b.start);
    return [...this.#finals, ...partials];
  }

  /** The finals only (the live transcript). */
  finals(): readonly CaptionLine[] {
    return this.#finals;
  }

  /** Forgets everything (a new lecture). */
  clear(): void {
    this.#lectureId = undefined;
    this.#finals = [];
    this.#partials.clear();
    this.#seen.clear();
  }
}
