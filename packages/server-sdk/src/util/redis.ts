/**
 * What the SDK's Redis clients (the transcript store, the cluster registry and
 * directory) share: how a failure is classified, deadlines, Lua scripts run by
 * SHA, and the backoffs of reconnects and retried operations. One place, so
 * both treat Redis alike. ioredis itself (an optional peer) is not imported.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, LecternError, truncate } from '../errors.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';

/** Reconnects of an owned connection (the loop is ioredis'; the delays are ours): 100 ms → 1 s with jitter, forever until closed. */
export const REDIS_RECONNECT_BACKOFF: BackoffPolicy = { minMs: 100, maxMs: 1000 };
/** Retries of one operation after a dropped connection: 25 → 250 ms with jitter, always within the operation's deadline. */
export const REDIS_OPERATION_RETRY_BACKOFF: BackoffPolicy = { minMs: 25, maxMs: 250 };

/** Reply errors that mean "the server cannot serve right now" (UNAVAILABLE), not "the request is wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN|READONLY|OOM|MISCONF|NOREPLICAS)\b/;

/** An error Redis itself answered (ioredis' `ReplyError`), as opposed to a connection failure. */
export function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/** A reply error that says the server cannot serve right now (loading, busy, read-only, out of memory…). */
export function isTransientReply(error: unknown): boolean {
  return isReplyError(error) && TRANSIENT_REPLY.test((error as Error).message);
}

/** Connection-level failures (and a server still loading its data) are worth another try within the deadline. */
export function isRetryableRedisError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (isReplyError(error)) return /^(LOADING|TRYAGAIN)\b/.test(error.message);
  return true;
}

/** Settles like `promise`, or rejects with UNAVAILABLE at the deadline (the late result is ignored). */
export function withDeadline<T>(promise: Promise<T>, deadline: number, op: string, details: Record<string, unknown> = { op }): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new LecternError(ErrorCode.UNAVAILABLE, `redis did not answer in time (${op})`, details));
    }, Math.max(0, deadline - Date.now()));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** A Lua script and its SHA-1, for EVALSHA. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

export function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** The two calls of an ioredis client a script needs. */
export interface ScriptRunner {
  evalsha(sha: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/** EVALSHA, falling back to EVAL when the server does not know the script (e.g. after a restart). */
export async function evalScript(client: ScriptRunner, script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
    return client.eval(script.source, keys.length, ...keys, ...args);
  }
}

/**
 * A failure of one operation as a {@link LecternError}: what Redis refused as
 * wrong is INTERNAL, anything else (connection, timeout, a server that cannot
 * serve right now) UNAVAILABLE; `details` name the client and the operation.
 */
export function redisError(error: unknown, op: string, details: Record<string, unknown>): LecternError {
  if (error instanceof LecternError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = isReplyError(error) && !isTransientReply(error) ? ErrorCode.INTERNAL : ErrorCode.UNAVAILABLE;
  const text = code === ErrorCode.INTERNAL ? `redis rejected ${op}: ${truncate(message, 200)}` : `redis unavailable (${op}): ${truncate(message, 200)}`;
  return new LecternError(code, text, details, { cause: error });
}

/** What {@link runRedisOperation} needs of the client that owns the connection. */
export interface RedisOperationOwner {
  /** True once the owner was closed (checked before every try). */
  isClosed(): boolean;
  /** The error an operation of a closed owner rejects with. */
  closedError(): LecternError;
  /** Resolves once the connection is ready; rejects (UNAVAILABLE, or the closed error) at the deadline. */
  waitReady(deadline: number, op: string, previousError: unknown): Promise<void>;
  /** The details of the operation's errors, e.g. `{ store: 'redis', op }`. */
  details(op: string): Record<string, unknown>;
}

/**
 * Runs one idempotent operation within `timeoutMs`: waits for a ready
 * connection, runs it, and retries after connection failures
 * ({@link REDIS_OPERATION_RETRY_BACKOFF}) until the deadline; what is left is
 * a {@link LecternError} ({@link redisError}). The one retry loop of the SDK's
 * Redis clients (util/backoff.ts's table).
 */
export async function runRedisOperation<T>(owner: RedisOperationOwner, op: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    if (owner.isClosed()) throw owner.closedError();
    try {
      await owner.waitReady(deadline, op, lastError);
      return await withDeadline(fn(), deadline, op, owner.details(op));
    } catch (error) {
      if (owner.isClosed()) throw owner.closedError();
      if (error instanceof LecternError) throw error;
      const pause = backoffDelay(attempt, REDIS_OPERATION_RETRY_BACKOFF);
      if (!isRetryableRedisError(error) || Date.now() + pause >= deadline) throw redisError(error, op, owner.details(op));
      lastError = error;
      await sleep(pause);
    }
  }
}
