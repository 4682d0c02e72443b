/**
 * Every error a client can see carries one of these stable codes. The server
 * rejects requests with them (`LecternError` in `@lectern/server-sdk`); hosts
 * forward the error's JSON ({@link LecternErrorJSON}); the client SDK rebuilds a
 * typed error with the same code.
 */
export const ErrorCode = {
  /** The request does not match its schema (wrong types, missing fields, bad ids). */
  INVALID_REQUEST: 'INVALID_REQUEST',
  /** The method name is not part of the request API. */
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  /** The room, peer, transport, producer or consumer does not exist (for this peer). */
  NOT_FOUND: 'NOT_FOUND',
  /**
   * The caller's credentials are not accepted: the access token is missing,
   * malformed, badly signed, expired, not yet valid, for another issuer,
   * audience or room. `details.reason` says which. Get a new token; retrying
   * the same one fails the same way.
   */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /**
   * The caller is known but not allowed this: a grant is missing (`details.grant`:
   * e.g. publishing a source outside `canPublish`, or an admin method without
   * `roomAdmin`), the room's policy refuses it (a student producing video when
   * the room allows audio only), or the identity is banned from the room
   * (`details.reason: 'banned'`).
   */
  FORBIDDEN: 'FORBIDDEN',
  /** The peer must join first, or has already joined. */
  INVALID_STATE: 'INVALID_STATE',
  /** The room has reached its peer limit. */
  ROOM_FULL: 'ROOM_FULL',
  /**
   * The peer sent requests too fast: more than its per-peer request budget
   * (`RoomManagerOptions.requestRateLimit`), or more than 20 gesture and
   * raised-hand requests a second; `details.retryAfterMs` says when to try again.
   */
  RATE_LIMITED: 'RATE_LIMITED',
  /** No media worker has headroom for more media; try later or elsewhere. */
  OVERLOADED: 'OVERLOADED',
  /** The peer's RTP capabilities cannot receive this producer. */
  INCOMPATIBLE_CAPABILITIES: 'INCOMPATIBLE_CAPABILITIES',
  /** The media worker did not answer in time. */
  TIMEOUT: 'TIMEOUT',
  /** The room or server was closed while the request ran. */
  CLOSED: 'CLOSED',
  /** A service Lectern depends on (STT engine, transcript store, LLM) is unreachable or failing; retryable. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The host's configuration is refused (e.g. a transcription tap asked to listen beyond 127.0.0.1). */
  INVALID_CONFIG: 'INVALID_CONFIG',
  /** A server bug or an unexpected media failure; details are logged, not sent. */
  INTERNAL: 'INTERNAL',
} as const;
/** One of the server's error codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every server error code, in declaration order. */
export const errorCodes: readonly ErrorCode[] = Object.values(ErrorCode);

/** Whether `value` is one of the server's error codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (errorCodes as readonly string[]).includes(value);
}

/** The JSON form of a server error, safe to send to a client (what the host's signaling forwards). */
export interface LecternErrorJSON {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}
