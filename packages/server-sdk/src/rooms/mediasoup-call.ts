import { errors as mediasoupErrors } from 'mediasoup';
import { ErrorCode, LecternError } from '../errors.js';
import { withTimeout } from '../util/timeout.js';

/**
 * The one boundary of every call into mediasoup a room makes: bounded by the
 * request timeout (what a late call creates is handed to `onLate` to close) and
 * failing only with a typed {@link LecternError}.
 */
export type MediasoupCall = <T>(promise: Promise<T>, what: string, onLate?: (value: T) => void) => Promise<T>;

export function mediasoupCaller(timeoutMs: number): MediasoupCall {
  return async (promise, what, onLate) => {
    try {
      return await withTimeout(promise, timeoutMs, what, onLate);
    } catch (error) {
      throw fromMediasoupError(error, what);
    }
  };
}

/**
 * mediasoup signals bad parameters with TypeError / UnsupportedError (its own
 * validation, messages safe to show), an object the worker no longer has with
 * NotFoundError, and a dead worker's channel with WorkerClosedError.
 */
export function fromMediasoupError(error: unknown, what: string): LecternError {
  if (error instanceof LecternError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TypeError || error instanceof mediasoupErrors.UnsupportedError) {
    return new LecternError(ErrorCode.INVALID_REQUEST, `${what}: ${message.slice(0, 300)}`, undefined, { cause: error });
  }
  // The worker's RTP listener refuses an SSRC, RID or MID another producer of the
  // transport already uses: the client's parameters are at fault.
  if (/already exists in RTP listener/i.test(message)) {
    return new LecternError(ErrorCode.INVALID_REQUEST, `${what}: ${message.slice(0, 300)}`, undefined, { cause: error });
  }
  // The room's maps answered for the id, so the worker lost it in between: it was closed.
  if (error instanceof mediasoupErrors.NotFoundError || error instanceof mediasoupErrors.WorkerClosedError) {
    return new LecternError(ErrorCode.CLOSED, `${what}: ${message.slice(0, 300)}`, undefined, { cause: error });
  }
  return new LecternError(ErrorCode.INTERNAL, `${what} failed`, undefined, { cause: error });
}
