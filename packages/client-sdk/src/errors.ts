import { ErrorCode, isErrorCode, type LecternErrorJSON } from '@lectern/protocol';

/**
 * Error codes that only the client produces (the server never sends them):
 * - `SIGNALING_FAILED`: the host's `request` function rejected without a server
 *   error code (socket closed, timeout in the host's transport, ...).
 * - `MEDIA_UNAVAILABLE`: the browser refused or could not open a camera,
 *   microphone or screen (`getUserMedia` / `getDisplayMedia` failed).
 * - `TRANSPORT_FAILED`: WebRTC could not send or receive (ICE restarts and
 *   rejoins exhausted, or mediasoup-client refused an operation).
 * - `NOT_JOINED`: the call needs a joined client.
 * - `DEVICE_UNSUPPORTED`: mediasoup-client has no WebRTC handler for this
 *   browser or runtime (e.g. Node, or a browser without WebRTC), so the client
 *   cannot join; pass `handlerFactory` for a runtime it does not detect.
 */
export const ClientErrorCode = {
  SIGNALING_FAILED: 'SIGNALING_FAILED',
  MEDIA_UNAVAILABLE: 'MEDIA_UNAVAILABLE',
  TRANSPORT_FAILED: 'TRANSPORT_FAILED',
  NOT_JOINED: 'NOT_JOINED',
  DEVICE_UNSUPPORTED: 'DEVICE_UNSUPPORTED',
} as const;
/** A client-only error code. */
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Every code a {@link LecternClientError} can carry. */
export type LecternClientErrorCode = ErrorCode | ClientErrorCode;

/** Whether `value` is one of the server's error codes (the protocol's `isErrorCode`, under the name this package has always exported). */
export const isServerErrorCode: (value: unknown) => value is ErrorCode = isErrorCode;

/**
 * The one error type the client SDK rejects with and emits. `code` is the
 * server's stable code when the server refused a request (e.g. `FORBIDDEN`),
 * or a {@link ClientErrorCode}.
 */
export class LecternClientError extends Error {
  override readonly name = 'LecternClientError';

  constructor(
    /** Stable code to branch on. */
    readonly code: LecternClientErrorCode,
    message: string,
    /** Extra data from the server's error (e.g. validation issues). */
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown; method?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.method !== undefined) this.method = options.method;
  }

  /** The request method that failed, when the error came from a request. */
  readonly method?: string;

  /** Whether this is the server's code `code`. */
  is(code: LecternClientErrorCode): boolean {
    return this.code === code;
  }

  /** The JSON form (same shape as the server's error JSON). */
  toJSON(): { code: LecternClientErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }

  /**
   * Rebuilds a typed error from whatever the host's signaling rejected with.
   *
   * Accepted shapes (the server's error JSON is `{ code, message, details? }`):
   * - a `LecternClientError` (returned as is);
   * - an `Error` (or any object) carrying a string `code` and `message`,
   *   e.g. `Object.assign(new Error(json.message), json)`;
   * - a plain `{ code, message, details? }` object;
   * - either of the above wrapped as `{ error: { code, message } }`.
   *
   * A code the client does not know (a newer server) becomes `INTERNAL` with
   * `details.serverCode`; a rejection with no code at all becomes
   * `SIGNALING_FAILED` (the signaling itself failed).
   */
  static from(error: unknown, method?: string): LecternClientError {
    if (error instanceof LecternClientError) return error;
    const opts = method === undefined ? { cause: error } : { cause: error, method };
    const source = unwrap(error);
    if (source) {
      const message = typeof source.message === 'string' && source.message !== '' ? source.message : String(source.code);
      const details = isRecord(source.details) ? source.details : undefined;
      if (isServerErrorCode(source.code) || isClientCode(source.code)) {
        return new LecternClientError(source.code, message, details, opts);
      }
      return new LecternClientError(ErrorCode.INTERNAL, message, { ...details, serverCode: source.code }, opts);
    }
    const message = error instanceof Error ? error.message : typeof error === 'string' ? error : 'signaling request failed';
    const prefix = method ? `${method}: ` : '';
    return new LecternClientError(ClientErrorCode.SIGNALING_FAILED, `${prefix}${message}`, undefined, opts);
  }

  /** Builds the error from the server's JSON. */
  static fromJSON(json: LecternErrorJSON): LecternClientError {
    return LecternClientError.from(json);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isClientCode(value: unknown): value is ClientErrorCode {
  return typeof value === 'string' && Object.hasOwn(ClientErrorCode, value);
}

/** The object holding `code`, if the rejection carries one (directly or under `error`). */
function unwrap(error: unknown): { code: string; message?: unknown; details?: unknown } | undefined {
  if (!isRecord(error) && !(error instanceof Error)) return undefined;
  const candidate = error as { code?: unknown; message?: unknown; details?: unknown; error?: unknown };
  if (typeof candidate.code === 'string' && candidate.code !== '') {
    return { code: candidate.code, message: candidate.message, details: candidate.details };
  }
  if (isRecord(candidate.error)) return unwrap(candidate.error);
  return undefined;
}

/** The message of a thrown value, for wrapping it in a {@link LecternClientError}. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
