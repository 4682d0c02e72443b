/**
 * What the SDK's Redis clients (the transcript store, the cluster registry and
 * directory) share: how a failure is classified, deadlines, Lua scripts run by
 * SHA, and the backoffs of reconnects and retried operations. One place, so
 * both treat Redis alike. ioredis itself (an optional peer) is not imported.
 */
import { createHash } from 'node:crypto';
import { ErrorCode, LecternError } from '../errors.js';
import type { BackoffPolicy } from './backoff.js';

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
