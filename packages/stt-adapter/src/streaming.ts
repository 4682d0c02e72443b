/**
 * The streaming side of the speech-to-text boundary: live captions. A
 * {@link StreamingSttEngine} takes raw PCM as it is spoken and answers with
 * partial hypotheses (each replaces the previous one) and final text
 * (append-only), on the caller's audio clock. The batch side
 * ({@link SttEngine}) stays the source of the stored, better transcript.
 */
import type { TranscriptWord } from './engine.js';
import type { SttError } from './errors.js';

/** Sample rate of the PCM a stream takes: 16 kHz, mono, signed 16-bit little-endian. */
export const STREAM_SAMPLE_RATE = 16_000;
/** Bytes of s16le mono PCM per second at {@link STREAM_SAMPLE_RATE}. */
export const STREAM_BYTES_PER_SECOND = STREAM_SAMPLE_RATE * 2;

/** The engine's current guess at what follows the last final; each one replaces the previous one. */
export interface SttStreamPartial {
  /** Empty when the guess was withdrawn (silence followed, or everything became final). */
  text: string;
  /** Seconds on the caller's audio clock ({@link SttStreamOptions.offset} + position in the stream). */
  start: number;
  end: number;
}

/** Text the engine will not change any more. Finals never overlap and arrive in order. */
export interface SttStreamFinal {
  text: string;
  /** Seconds on the caller's audio clock. */
  start: number;
  end: number;
  /** Word timings on the same clock. */
  words: TranscriptWord[];
}

/** How the engine keeps up with a stream. */
export interface SttStreamStatus {
  /** Seconds of audio the engine received on the current connection. */
  audioSeconds: number;
  /** Seconds received but not yet looked at: the engine is behind by this much. */
  backlogSeconds: number;
  /** Recent processing time divided by audio time (below 1 keeps up). */
  rtf: number;
  /** Seconds of not-yet-final audio the engine holds. */
  bufferSeconds: number;
}

/** Events of an {@link SttStream}. */
export interface SttStreamEvents {
  partial: SttStreamPartial;
  final: SttStreamFinal;
  /** The language, once the engine detected it (streams opened without one). */
  language: { language: string; probability?: number };
  status: SttStreamStatus;
  /**
   * The connection to the engine failed; the stream tries again after
   * `delayMs` and then replays the audio after its last final, so no final is
   * lost, repeated or shifted.
   */
  reconnecting: { attempt: number; delayMs: number; error: SttError };
  /**
   * Audio that will never be transcribed live: it waited longer than the
   * stream's replay limit while the engine was unreachable. Seconds on the
   * caller's clock.
   */
  audioDropped: { start: number; end: number };
  /** The stream failed for good (the engine refused it: bad credentials, an unsupported language…). Only `closed` follows. */
  error: SttError;
  /** The stream is over: `ended` after {@link SttStream.end}, `closed` after {@link SttStream.close}, `failed` after `error`. */
  closed: { reason: 'ended' | 'closed' | 'failed' };
}

/** What a stream is opened with. */
export interface SttStreamOptions {
  /** The audio clock, in seconds, of the first sample written; every time the stream reports is on it. Default 0. */
  offset?: number;
  /** ISO 639-1 code; unset or `'auto'` = the engine detects it once and keeps it. */
  language?: string;
  /** Text that came before (e.g. the lecture's last words), to keep spelling and context. At most 500 characters are used. */
  prompt?: string;
  /** Whether the engine sends partials. Default true. */
  partials?: boolean;
  /**
   * The audio up to this time (on the same clock, at least `offset`) is
   * context only: its words are final elsewhere (e.g. the previous stream of
   * the same speaker) and are never sent again. Whisper skips the rest of an
   * utterance whose audio starts mid-word, so a stream that continues another
   * starts with its last second. Default: `offset`.
   */
  committedUntil?: number;
}

/**
 * One live stream of speech. Write PCM as it arrives ({@link STREAM_SAMPLE_RATE}
 * mono s16le, any chunking); read `partial` and `final` events. Exceptions
 * thrown by listeners are ignored.
 */
export interface SttStream {
  /** Queues audio (never blocks, never throws once the stream is over: the audio is ignored then). */
  write(pcm: Uint8Array): void;
  /**
   * The speaker is done: whatever the engine still holds becomes final, then
   * the stream closes. Resolves once the last final was emitted (or the
   * engine could not be reached in time). Idempotent.
   */
  end(): Promise<void>;
  /** Stops at once; pending audio is dropped. Idempotent. */
  close(): void;
  /** The end of the last final, on the caller's clock (the offset before any). */
  readonly committedUntil: number;
  on<K extends keyof SttStreamEvents>(event: K, listener: (event: SttStreamEvents[K]) => void): this;
  once<K extends keyof SttStreamEvents>(event: K, listener: (event: SttStreamEvents[K]) => void): this;
  off<K extends keyof SttStreamEvents>(event: K, listener?: (event: SttStreamEvents[K]) => void): this;
}

/**
 * A speech-to-text engine that transcribes live audio. `python/whisper-api`'s
 * `/v1/stream` is the default one ({@link WhisperApiClient.openStream});
 * another engine (a cloud streaming API) can implement this interface.
 */
export interface StreamingSttEngine {
  /** A short name for logs and metrics, e.g. `whisper-api`. */
  readonly name: string;
  /** Opens a stream; it connects in the background and reports failures as events. */
  openStream(options?: SttStreamOptions): SttStream;
}
