import { ErrorCode, LecternError } from '../errors.js';

/**
 * Bounds a call into mediasoup: a stuck worker (saturated, or its control channel
 * wedged) must never hang a request. mediasoup calls cannot be cancelled, so when
 * the call resolves after the deadline `onLate` receives what it created (a
 * transport, a consumer ...) to close it: nothing is left behind.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onLate?: (value: T) => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new LecternError(ErrorCode.TIMEOUT, `${what} timed out after ${ms} ms`));
    }, ms);
  });
  promise.then(
    (value) => {
      if (timedOut) onLate?.(value);
    },
    () => undefined,
  );
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
