/** One recognised word with its time in seconds from the start of the audio. */
export interface TranscriptWord {
  start: number;
  end: number;
  word: string;
  probability: number;
}

/** One recognised segment; times are seconds from the start of the submitted audio. */
export interface TranscriptSegment {
  id: number;
  start: number;
  end: number;
  text: string;
  /** Present when word timestamps were requested. */
  words?: TranscriptWord[];
}

/** What an engine returns for one audio file. */
export interface Transcription {
  language: string;
  /** Seconds of audio the engine decoded. */
  duration: number;
  segments: TranscriptSegment[];
  /** All segment texts joined. */
  text: string;
  /** The engine's confidence in `language` (0..1), when it reports one. */
  languageProbability?: number;
  /** Wall time the engine spent decoding and transcribing, in seconds, when it reports it. */
  processingSeconds?: number;
}

export interface TranscribeOptions {
  /** ISO 639-1 code; omitted = the engine detects it (multilingual models). */
  language?: string;
  beamSize?: number;
  vadFilter?: boolean;
  wordTimestamps?: boolean;
  /**
   * Fixed decoding temperature (0..1) instead of the engine's fallback
   * schedule. 0 is deterministic and much faster on audio the model finds
   * hard (synthetic or noisy speech), at the cost of the fallback's retries.
   */
  temperature?: number;
  /** Cancels the request (the engine must release what it holds). */
  signal?: AbortSignal;
}

/** What an engine can say about itself ({@link SttEngine.capabilities}); a field it cannot tell is left out. */
export interface SttEngineCapabilities {
  /** False for an English-only model, which refuses any language but `en`. */
  multilingual?: boolean;
  /** The model's name, e.g. `base` or `tiny.en`. */
  model?: string;
}

/**
 * A speech-to-text engine. Lectern's transcription pipeline depends only on this
 * interface; `python/whisper-api` is the default engine, and any other (a cloud
 * API, another local server) can implement it.
 *
 * Retry contract: an engine may retry transport failures of one request
 * itself, but only a bounded number of times, and then settle: it never
 * retries indefinitely. A caller that needs a longer policy (Lectern's
 * pipeline keeps the batch on disk and tries again later) owns it and simply
 * calls `transcribe()` again. An error with `retryable: false` means the input
 * itself was refused: retrying the same file will not help — except an error
 * with `code: 'UNAUTHORIZED'`, which says the engine refused the caller's
 * credentials: the input may be fine, the configuration must change (a caller
 * keeps the input and tries again later, as Lectern's pipeline does).
 */
export interface SttEngine {
  /** A short name for logs and metrics, e.g. `whisper-api`. */
  readonly name: string;
  /** Transcribes one audio file (any container/codec the engine accepts). */
  transcribe(filePath: string, options?: TranscribeOptions): Promise<Transcription>;
  /** Resolves true when the engine is ready to take work. */
  healthy(): Promise<boolean>;
  /**
   * Optional: what the engine can do, so a caller can refuse work up front
   * (Lectern refuses a non-English lecture on an English-only engine before
   * starting it). Resolves `undefined` when the engine cannot tell right now;
   * never rejects.
   */
  capabilities?(): Promise<SttEngineCapabilities | undefined>;
}
