/**
 * Stable, machine-readable reasons a speech-to-text request failed:
 *
 * - `UNAVAILABLE`: the engine could not be reached or could not take the work
 *   (connection refused/reset, 5xx, 503 busy, 429). Retryable.
 * - `TIMEOUT`: one attempt took longer than its time limit (or the server
 *   answered 408). Retryable.
 * - `BAD_REQUEST`: the engine refused the request itself (4xx: undecodable
 *   audio, empty or missing file, unsupported language, invalid option, file
 *   too large, audio too long — whisper-api's `audio_too_long`), or the local
 *   file could not be read. Sending it again cannot help.
 * - `UNAUTHORIZED`: the engine refused the client's credentials (401/403: a
 *   missing or wrong bearer token). Not retried: the configuration must change.
 * - `BAD_RESPONSE`: the engine answered success with a body that is not the
 *   expected JSON. Not retried.
 * - `ABORTED`: the caller's `AbortSignal` fired. Not retried.
 */
export type SttErrorCode = 'UNAVAILABLE' | 'TIMEOUT' | 'BAD_REQUEST' | 'UNAUTHORIZED' | 'BAD_RESPONSE' | 'ABORTED';

/** Everything an {@link SttError} carries besides its code and message. */
export interface SttErrorDetails {
  /** Whether the same request may succeed if sent again; default: derived from the code. */
  retryable?: boolean;
  /** HTTP status of the engine's answer, when there was one. */
  status?: number;
  /** The engine's own error code, e.g. whisper-api's `invalid_audio` or `busy`. */
  serverCode?: string;
  /** How long the engine asked the client to wait (`Retry-After`), in milliseconds. */
  retryAfterMs?: number;
  /** How many attempts were made before giving up (set by the client on the final error). */
  attempts?: number;
  /** The underlying error (network error, abort reason, JSON syntax error, ...). */
  cause?: unknown;
}

const RETRYABLE_CODES: ReadonlySet<SttErrorCode> = new Set(['UNAVAILABLE', 'TIMEOUT']);

/** The one error type this package's speech-to-text engines reject with. */
export class SttError extends Error {
  override readonly name = 'SttError';
  /** Stable reason; branch on this, not on `message`. */
  readonly code: SttErrorCode;
  /** Whether sending the same request again may succeed. */
  readonly retryable: boolean;
  /** HTTP status of the engine's answer, when there was one. */
  readonly status: number | undefined;
  /** The engine's own error code (e.g. `invalid_audio`, `busy`), when it sent one. */
  readonly serverCode: string | undefined;
  /** The engine's `Retry-After`, in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;
  /**
   * Attempts made for the request that failed with this error (1 = no retry).
   * Set on the error a transcription finally rejects with; `undefined` on the
   * per-attempt errors passed to retry callbacks.
   */
  attempts: number | undefined;

  constructor(code: SttErrorCode, message: string, details: SttErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.retryable = details.retryable ?? RETRYABLE_CODES.has(code);
    this.status = details.status;
    this.serverCode = details.serverCode;
    this.retryAfterMs = details.retryAfterMs;
    this.attempts = details.attempts;
  }
}

/** Type guard: `error` is an {@link SttError} (optionally with the given code). */
export function isSttError(error: unknown, code?: SttErrorCode): error is SttError {
  return error instanceof SttError && (code === undefined || error.code === code);
}
