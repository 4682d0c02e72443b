import { STREAM_BYTES_PER_SECOND, type StreamingSttEngine, type SttError, type SttStream, type SttStreamFinal, type SttStreamPartial } from '@lectern/stt-adapter';
import type { CaptionInfo, TranscriptEntry } from '@lectern/protocol';
import { ErrorCode, LecternError } from '../../errors.js';
import { backoffDelay, type BackoffPolicy } from '../../util/backoff.js';
import { TypedEmitter } from '../../util/typed-emitter.js';
import type { TranscriptStore } from '../store/transcript-store.js';
import type { AudioTap, TapPcm } from '../tap/audio-tap.js';
import { fileSlug, sleep } from '../util.js';

/** How a lecture's live captions run. */
export interface CaptionSettings {
  /** The streaming engine, e.g. the same `WhisperApiClient` as the batches. */
  engine: StreamingSttEngine;
  /** Partials sent per second and stream, at most (finals are never held back). */
  maxPartialsPerSecond: number;
}

/** Default {@link CaptionSettings.maxPartialsPerSecond}. */
export const DEFAULT_MAX_PARTIALS_PER_SECOND = 4;

export interface LiveCaptionsEvents {
  caption: CaptionInfo;
  error: { stage: 'captions' | 'store'; error: LecternError; willRetry: boolean };
  listenerError: { event: string; error: unknown };
}

/** Writes of one final to the store: 3 tries, 250 ms → 2 s; then it lives on in memory only (the live summary still has it). */
const STORE_RETRY: BackoffPolicy = { minMs: 250, maxMs: 2000 };
const STORE_TRIES = 3;

/**
 * A lecture's live captions: one engine stream per tapped producer and tap
 * run (a pause or an FFmpeg restart starts a new run, on its own clock), each
 * fed the tap's live PCM. Captions go out as they come — to the room
 * (`broadcast`), as events — with partials throttled per stream; finals are
 * stored as the lecture's `live` transcript, one batch per final (id from the
 * stream and its start time, so a repeated write replaces itself).
 */
export class LiveCaptions extends TypedEmitter<LiveCaptionsEvents> {
  private seq = 0;
  private readonly streams = new Set<CaptionStream>();
  private readonly finals: TranscriptEntry[] = [];
  private writes: Promise<void> = Promise.resolve();
  /** The language a caption stream heard, kept for the streams that follow while the lecture's own is unknown. */
  private heardLanguage: string | undefined;
  private stopped = false;

  constructor(
    readonly lectureId: string,
    private readonly settings: CaptionSettings,
    private readonly store: TranscriptStore,
    private readonly lectureLanguage: () => string | undefined,
    private readonly broadcast: (caption: CaptionInfo) => void,
  ) {
    super();
  }

  /** Captions one tap (of `peerId`'s producer) until it ends or the captions stop. */
  follow(tap: AudioTap, peerId: string): void {
    const stream = new CaptionStream(this, tap.streamKey, peerId);
    this.streams.add(stream);
    const onPcm = (pcm: TapPcm) => stream.pcm(pcm);
    const onRunEnded = ({ run }: { run: number }) => stream.runEnded(run);
    tap.on('pcm', onPcm);
    tap.on('runEnded', onRunEnded);
    stream.onRetire = () => {
      tap.off('pcm', onPcm);
      tap.off('runEnded', onRunEnded);
    };
  }

  /**
   * The speaker is done: every stream flushes (what the engine holds becomes
   * final), then the store writes finish. Idempotent.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.streams].map((s) => s.retire()));
    this.streams.clear();
    await this.writes;
  }

  /** The live transcript: the store's, or (store unreachable) what this process heard. */
  async transcript(): Promise<TranscriptEntry[]> {
    await this.writes;
    try {
      const stored = await this.store.getTranscript(this.lectureId, { source: 'live' });
      if (stored.length >= this.finals.length) return stored;
    } catch {
      // fall through to memory
    }
    return this.finals.map((e) => structuredClone(e));
  }

  /** @internal */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** @internal */
  get engine(): StreamingSttEngine {
    return this.settings.engine;
  }

  /** @internal */
  get partialIntervalMs(): number {
    return 1000 / this.settings.maxPartialsPerSecond;
  }

  /** @internal The language a new engine stream is opened with (undefined = detect). */
  streamLanguage(): string | undefined {
    return this.lectureLanguage() ?? this.heardLanguage;
  }

  /** @internal The last words so far, as the prompt of a new engine stream. */
  promptTail(): string {
    return this.finals
      .slice(-8)
      .map((e) => e.text)
      .join(' ')
      .slice(-200);
  }

  /** @internal */
  heard(language: string): void {
    this.heardLanguage ??= language;
  }

  /** @internal */
  send(streamKey: string, peerId: string, kind: 'partial' | 'final', text: string, start: number, end: number, final?: SttStreamFinal): void {
    const caption: CaptionInfo = { lectureId: this.lectureId, peerId, streamKey, kind, seq: ++this.seq, text, start, end };
    if (final) caption.words = final.words.map((w) => ({ ...w }));
    this.broadcast(caption);
    this.safeEmit('caption', caption);
    if (final) this.keep(streamKey, caption);
  }

  /** @internal */
  fail(error: LecternError, willRetry: boolean): void {
    this.safeEmit('error', { stage: 'captions', error, willRetry });
  }

  private keep(streamKey: string, caption: CaptionInfo): void {
    const batchId = `live-${fileSlug(streamKey)}-${String(Math.round(caption.start * 1000)).padStart(10, '0')}`;
    const entry: TranscriptEntry = { batchId, index: 0, start: caption.start, end: caption.end, text: caption.text.trim(), ...(caption.words ? { words: caption.words } : {}) };
    this.finals.push(entry);
    this.writes = this.writes.then(() => this.write(entry));
  }

  private async write(entry: TranscriptEntry): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.putBatch(this.lectureId, entry.batchId, [entry], { source: 'live' });
        return;
      } catch (error) {
        const lectern = error instanceof LecternError ? error : new LecternError(ErrorCode.UNAVAILABLE, `could not store a caption: ${String(error)}`);
        const willRetry = attempt < STORE_TRIES && lectern.code !== ErrorCode.INVALID_REQUEST && lectern.code !== ErrorCode.CLOSED;
        this.safeEmit('error', { stage: 'store', error: lectern, willRetry });
        if (!willRetry) return;
        await sleep(backoffDelay(attempt, STORE_RETRY));
      }
    }
  }
}

/**
 * A new run that starts at most this long after the previous one ended (an
 * FFmpeg restart, a short pause) continues it: its stream begins with the last
 * second of the previous run and the gap as silence, because Whisper skips the
 * rest of an utterance whose audio starts mid-word.
 */
const BRIDGE_MAX_GAP_SECONDS = 5;
const BRIDGE_CONTEXT_SECONDS = 1;

/** One tapped producer's captions: the engine stream of its current tap run, and the partial throttle. */
class CaptionStream {
  /** The last second of audio given to a stream, and where it ends on the lecture clock. */
  private tail: { end: number; pcm: Buffer } | undefined;
  onRetire: (() => void) | undefined;
  private run: number | undefined;
  private stream: SttStream | undefined;
  private readonly ending = new Set<Promise<void>>();
  private lastPartialAt = 0;
  private heldPartial: SttStreamPartial | undefined;
  private partialTimer: NodeJS.Timeout | undefined;
  private retired = false;

  constructor(
    private readonly owner: LiveCaptions,
    private readonly streamKey: string,
    private readonly peerId: string,
  ) {}

  pcm({ run, start, data }: TapPcm): void {
    if (this.retired || this.owner.isStopped) return;
    if (run !== this.run) {
      this.endStream();
      this.run = run;
      this.stream = this.open(start);
    }
    this.stream?.write(data);
    const kept = this.tail && Math.abs(this.tail.end - start) < 0.05 ? Buffer.concat([this.tail.pcm, data]) : data;
    this.tail = { end: start + data.length / STREAM_BYTES_PER_SECOND, pcm: kept.subarray(Math.max(0, kept.length - BRIDGE_CONTEXT_SECONDS * STREAM_BYTES_PER_SECOND)) };
  }

  runEnded(run: number): void {
    if (run === this.run) this.endStream();
  }

  /** Ends the current stream (its finals still arrive) and stops following the tap. */
  async retire(): Promise<void> {
    this.retired = true;
    this.endStream();
    this.onRetire?.();
    await Promise.all([...this.ending]);
  }

  private open(start: number): SttStream | undefined {
    const language = this.owner.streamLanguage();
    const prompt = this.owner.promptTail();
    const gap = this.tail ? start - this.tail.end : Infinity;
    // The previous stream finalises the tail itself; here it is context only (committedUntil).
    const bridge = gap >= 0 && gap <= BRIDGE_MAX_GAP_SECONDS ? this.tail : undefined;
    const offset = bridge ? bridge.end - bridge.pcm.length / STREAM_BYTES_PER_SECOND : start;
    let stream: SttStream;
    try {
      stream = this.owner.engine.openStream({
        offset,
        ...(bridge ? { committedUntil: bridge.end } : {}),
        ...(language ? { language } : {}),
        ...(prompt ? { prompt } : {}),
      });
    } catch (error) {
      this.owner.fail(new LecternError(ErrorCode.INTERNAL, `could not open a caption stream for ${this.streamKey}: ${String(error)}`), false);
      return undefined;
    }
    if (bridge) {
      stream.write(bridge.pcm);
      stream.write(Buffer.alloc(Math.round((gap * STREAM_BYTES_PER_SECOND) / 2) * 2));
    }
    stream.on('partial', (p) => this.partial(stream, p));
    stream.on('final', (f) => this.final(f));
    stream.on('language', ({ language: heard }) => this.owner.heard(heard));
    stream.on('reconnecting', ({ error, delayMs }) =>
      this.owner.fail(new LecternError(ErrorCode.UNAVAILABLE, `caption stream of ${this.streamKey}: ${error.message}; reconnecting in ${delayMs} ms`), true),
    );
    stream.on('audioDropped', ({ start, end }) =>
      this.owner.fail(new LecternError(ErrorCode.UNAVAILABLE, `caption stream of ${this.streamKey}: ${(end - start).toFixed(1)} s of audio got no live captions (engine unreachable)`), true),
    );
    stream.on('error', (error: SttError) =>
      this.owner.fail(new LecternError(error.code === 'UNAUTHORIZED' ? ErrorCode.INVALID_CONFIG : ErrorCode.UNAVAILABLE, `caption stream of ${this.streamKey} failed: ${error.message}`), false),
    );
    return stream;
  }

  private endStream(): void {
    const stream = this.stream;
    this.stream = undefined;
    this.run = undefined;
    this.flushPartial(true);
    if (!stream) return;
    const ended = stream.end().finally(() => this.ending.delete(ended));
    this.ending.add(ended);
  }

  private partial(from: SttStream, partial: SttStreamPartial): void {
    if (from !== this.stream) return; // a run that ended may still finalise, but its guesses are stale
    this.heldPartial = partial;
    const wait = this.lastPartialAt + this.owner.partialIntervalMs - Date.now();
    if (wait <= 0) this.flushPartial(false);
    else this.partialTimer ??= setTimeout(() => this.flushPartial(false), wait);
  }

  private flushPartial(drop: boolean): void {
    clearTimeout(this.partialTimer);
    this.partialTimer = undefined;
    const partial = this.heldPartial;
    this.heldPartial = undefined;
    if (!partial || drop) return;
    this.lastPartialAt = Date.now();
    this.owner.send(this.streamKey, this.peerId, 'partial', partial.text, partial.start, partial.end);
  }

  private final(final: SttStreamFinal): void {
    // A final supersedes the guess it confirms; the engine sends the next guess.
    this.flushPartial(true);
    if (final.text.trim() === '') return;
    this.owner.send(this.streamKey, this.peerId, 'final', final.text.trim(), final.start, final.end, final);
  }
}
