/**
 * Every error a client can see carries one of these stable codes. Hosts forward
 * `error.toJSON()` to the client; the client SDK rebuilds the same typed error.
 */
export const ErrorCode = {
  /** The request does not match its schema (wrong types, missing fields, bad ids). */
  INVALID_REQUEST: 'INVALID_REQUEST',
  /** The method name is not part of the request API. */
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  /** The room, peer, transport, producer or consumer does not exist (for this peer). */
  NOT_FOUND: 'NOT_FOUND',
  /** The peer's role does not allow this (e.g. a student producing when the room forbids it). */
  FORBIDDEN: 'FORBIDDEN',
  /** The peer must join first, or has already joined. */
  INVALID_STATE: 'INVALID_STATE',
  /** The room has reached its peer limit. */
  ROOM_FULL: 'ROOM_FULL',
  /**
   * The peer sent requests of this kind too fast (e.g. more than 20 gesture and
   * raised-hand requests a second); `details.retryAfterMs` says when to try again.
   */
  RATE_LIMITED: 'RATE_LIMITED',
  /** No worker has headroom for more media; try later or elsewhere. */
  OVERLOADED: 'OVERLOADED',
  /** The peer's RTP capabilities cannot receive this producer. */
  INCOMPATIBLE_CAPABILITIES: 'INCOMPATIBLE_CAPABILITIES',
  /** mediasoup did not answer in time. */
  TIMEOUT: 'TIMEOUT',
  /** The room or manager was closed while the request ran. */
  CLOSED: 'CLOSED',
  /** A service Lectern depends on (STT engine, transcript store, LLM) is unreachable or failing; retryable. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The host's configuration is refused (e.g. a transcription tap asked to listen beyond 127.0.0.1). */
  INVALID_CONFIG: 'INVALID_CONFIG',
  /** A bug or an unexpected mediasoup failure; details are logged, not sent. */
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The JSON form of a {@link LecternError}, safe to send to a client. */
export interface LecternErrorJSON {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** The one error type the request API rejects with. */
export class LecternError extends Error {
  override readonly name = 'LecternError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): LecternErrorJSON {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }

  /** Rebuilds an error from its JSON form (e.g. on the client). */
  static fromJSON(json: LecternErrorJSON): LecternError {
    return new LecternError(json.code, json.message, json.details);
  }
}

export const notFound = (what: string, id: string) =>
  new LecternError(ErrorCode.NOT_FOUND, `${what} not found: ${truncate(id)}`, { what, id: truncate(id) });

export const forbidden = (message: string) => new LecternError(ErrorCode.FORBIDDEN, message);

export const invalidState = (message: string) => new LecternError(ErrorCode.INVALID_STATE, message);

/** Ids echoed back in messages are cut so a hostile 1 MB id cannot bloat a reply. */
export function truncate(value: string, max = 64): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/** Anything thrown below the API becomes a LecternError; unknown errors become INTERNAL. */
export function toLecternError(error: unknown): LecternError {
  if (error instanceof LecternError) return error;
  return new LecternError(ErrorCode.INTERNAL, 'internal error', undefined, { cause: error });
}
