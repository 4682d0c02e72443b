import { ErrorCode, type LecternErrorJSON } from '@lectern/protocol';

// The codes and the error JSON are the protocol's (one definition for server and client).
export { ErrorCode, type LecternErrorJSON };

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
