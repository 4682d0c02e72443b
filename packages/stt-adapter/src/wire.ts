/**
 * The HTTP wire format of `python/whisper-api`: the success body of
 * `POST /v1/transcribe` (checked, then turned into a {@link Transcription}),
 * and error answers turned into {@link SttError}s.
 */
import type { Transcription, TranscriptSegment, TranscriptWord } from './engine.js';
import { SttError, type SttErrorCode } from './errors.js';

/** A word as whisper-api sends it. */
interface WireWord {
  start: number;
  end: number;
  word: string;
  probability: number;
}

/** A segment as whisper-api sends it (`words` only with word timestamps). */
interface WireSegment {
  id: number;
  start: number;
  end: number;
  text: string;
  words?: WireWord[] | null;
}

/** The JSON body of a successful `POST /v1/transcribe`. */
export interface WireTranscription {
  language: string;
  language_probability?: number;
  duration: number;
  processing_seconds?: number;
  segments: WireSegment[];
  text: string;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isWireWord(value: unknown): value is WireWord {
  return (
    isRecord(value) &&
    isFiniteNumber(value.start) &&
    isFiniteNumber(value.end) &&
    typeof value.word === 'string' &&
    isFiniteNumber(value.probability)
  );
}

function isWireSegment(value: unknown): value is WireSegment {
  return (
    isRecord(value) &&
    Number.isInteger(value.id) &&
    isFiniteNumber(value.start) &&
    isFiniteNumber(value.end) &&
    typeof value.text === 'string' &&
    (value.words === undefined || value.words === null || (Array.isArray(value.words) && value.words.every(isWireWord)))
  );
}

/** Type guard for the success body; optional numbers must be numbers when present. */
export function isWireTranscription(value: unknown): value is WireTranscription {
  return (
    isRecord(value) &&
    typeof value.language === 'string' &&
    isFiniteNumber(value.duration) &&
    typeof value.text === 'string' &&
    Array.isArray(value.segments) &&
    value.segments.every(isWireSegment) &&
    (value.language_probability === undefined || isFiniteNumber(value.language_probability)) &&
    (value.processing_seconds === undefined || isFiniteNumber(value.processing_seconds))
  );
}

export function toTranscription(wire: WireTranscription): Transcription {
  const segments = wire.segments.map((s): TranscriptSegment => {
    const segment: TranscriptSegment = { id: s.id, start: s.start, end: s.end, text: s.text };
    if (s.words) {
      segment.words = s.words.map((w): TranscriptWord => ({ start: w.start, end: w.end, word: w.word, probability: w.probability }));
    }
    return segment;
  });
  const transcription: Transcription = { language: wire.language, duration: wire.duration, segments, text: wire.text };
  if (wire.language_probability !== undefined) transcription.languageProbability = wire.language_probability;
  if (wire.processing_seconds !== undefined) transcription.processingSeconds = wire.processing_seconds;
  return transcription;
}

/** An {@link SttError} for a non-success answer, with the server's own code, message and `Retry-After`. */
export function httpError(response: Response, body: string): SttError {
  const { status } = response;
  let serverCode: string | undefined;
  let serverMessage: string | undefined;
  try {
    const json: unknown = JSON.parse(body);
    if (isRecord(json) && isRecord(json.error)) {
      if (typeof json.error.code === 'string') serverCode = json.error.code;
      if (typeof json.error.message === 'string') serverMessage = json.error.message;
    }
  } catch {
    // Not JSON (a proxy's HTML page, say): the status alone decides.
  }
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
  const details = {
    status,
    ...(serverCode !== undefined ? { serverCode } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
  const what = [status, serverCode].filter((x) => x !== undefined).join(' ');
  const message = `whisper-api answered ${what}${serverMessage ? `: ${serverMessage}` : ''}`;
  return new SttError(errorCodeForStatus(status), message, details);
}

/**
 * The one place an HTTP status of whisper-api becomes an {@link SttErrorCode}
 * (and with it, through the code, whether a retry may help):
 *
 * | status | code | retried |
 * | --- | --- | --- |
 * | 408 | `TIMEOUT` | yes |
 * | 429, 5xx (503 `busy`, `model_not_loaded`) | `UNAVAILABLE` | yes |
 * | 401, 403 (`unauthorized`) | `UNAUTHORIZED` | no |
 * | other 4xx (`invalid_audio`, `file_too_large`, `audio_too_long`, ...) | `BAD_REQUEST` | no |
 * | anything else that is not a success | `BAD_RESPONSE` | no |
 */
export function errorCodeForStatus(status: number): SttErrorCode {
  if (status === 408) return 'TIMEOUT';
  if (status === 429 || status >= 500) return 'UNAVAILABLE';
  if (status === 401 || status === 403) return 'UNAUTHORIZED';
  if (status >= 400) return 'BAD_REQUEST';
  return 'BAD_RESPONSE';
}

/** `Retry-After` as delay-seconds or an HTTP date, in milliseconds from now. */
function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
