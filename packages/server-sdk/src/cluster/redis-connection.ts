import { ErrorCode, LecternError } from '../errors.js';
import { loadOptionalPeer } from '../util/optional-peer.js';
import { backoffDelay } from '../util/backoff.js';
import {
  REDIS_RECONNECT_BACKOFF,
  evalScript,
  redisError,
  runRedisOperation,
  withDeadline,
  type LuaScript,
  type RedisOperationOwner,
} from '../util/redis.js';

/**
 * The part of an ioredis 5 client (`Redis`, standalone) the cluster modules use.
 * Declared here rather than imported: the import rules keep `ioredis` (even its
 * types) out of everything but the transcription pipeline, and a structural type
 * lets a host pass its own ioredis client without the SDK loading the package.
 */
export interface ClusterRedisClient {
  readonly status: string;
  evalsha(sha: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  connect(): Promise<void>;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: 'ready' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  off(event: 'ready' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  /** A new connection with the same options (a MediaNode's subscriber). */
  duplicate(): ClusterSubscriberClient;
}

/** The subscriber side of an ioredis client (a {@link ClusterRedisClient.duplicate}), for the MediaNode's bus. */
export interface ClusterSubscriberClient {
  readonly status: string;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  connect(): Promise<void>;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  off(event: 'message', listener: (channel: string, message: string) => void): unknown;
  off(event: 'ready' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
}


/** Loads ioredis when a cluster connection is created from a URL (never at import). */
function loadIoredis(): { Redis: new (url: string, options: Record<string, unknown>) => ClusterRedisClient } {
  return loadOptionalPeer('ioredis', 'the cluster registry (with a `url`)');
}

/**
 * One Redis connection of the cluster modules: owned (created from a URL, closed
 * by {@link close}) or the host's (never closed here). An owned connection is
 * configured like the transcript store's: fail fast (no offline queue, no resend
 * of commands in flight), reconnect forever with jittered backoff.
 *
 * It tracks reachability for the registry: `onReady` listeners run on every
 * (re)connect, `onDown` when the connection drops. For a host client these two
 * listeners stay attached until {@link close}.
 */
export class ClusterConnection {
  readonly client: ClusterRedisClient;
  readonly owned: boolean;
  readonly timeoutMs: number;
  #closed = false;
  #lastError: unknown;
  readonly #readyListeners = new Set<() => void>();
  readonly #downListeners = new Set<() => void>();
  readonly #waiters = new Set<() => void>();
  /** This connection as the shared retry loop sees it. */
  readonly #operations: RedisOperationOwner = {
    isClosed: () => this.#closed,
    closedError: closed,
    waitReady: (deadline, op, previousError) => this.#waitReady(deadline, op, previousError),
    details: (op) => ({ op }),
  };
  readonly #onReady = () => {
    this.#lastError = undefined;
    for (const listener of this.#readyListeners) listener();
  };
  readonly #onClose = () => {
    for (const listener of this.#downListeners) listener();
  };
  readonly #onError = (error: unknown) => {
    this.#lastError = error;
  };

  constructor(source: { url?: string | undefined; redis?: ClusterRedisClient | undefined }, timeoutMs: number, name: string) {
    this.timeoutMs = timeoutMs;
    if (source.redis !== undefined && source.url !== undefined) throw config('give either url or redis, not both');
    if (source.redis !== undefined) {
      if (typeof source.redis !== 'object' || source.redis === null || typeof source.redis.evalsha !== 'function') {
        throw config('redis must be an ioredis client');
      }
      this.client = source.redis;
      this.owned = false;
    } else if (typeof source.url === 'string' && source.url.length > 0) {
      const { Redis } = loadIoredis();
      this.client = new Redis(source.url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        commandTimeout: timeoutMs,
        connectTimeout: timeoutMs,
        retryStrategy: (times: number) => backoffDelay(times, REDIS_RECONNECT_BACKOFF),
        connectionName: name,
        disconnectTimeout: 200,
      });
      this.owned = true;
      this.client.on('error', this.#onError);
    } else {
      throw config('the cluster registry needs a url or a redis client');
    }
    this.client.on('ready', this.#onReady);
    this.client.on('close', this.#onClose);
  }

  get ready(): boolean {
    return !this.#closed && this.client.status === 'ready';
  }

  /** Starts connecting an owned, not yet connected client. */
  start(): void {
    if (this.client.status === 'wait') this.client.connect().catch(() => undefined);
  }

  onReady(listener: () => void): void {
    this.#readyListeners.add(listener);
  }

  onDown(listener: () => void): void {
    this.#downListeners.add(listener);
  }

  /** EVALSHA, falling back to EVAL when the server does not know the script (e.g. after a restart). */
  eval(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    return evalScript(this.client, script, keys, args);
  }

  /** One script, now, no retry: for the periodic heartbeat and sweep (the next tick is the retry). */
  async evalOnce(op: string, script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    if (this.#closed) throw closed();
    if (!this.ready) throw unavailable(`redis is not connected (${op})`, op, this.#lastError);
    try {
      return await withDeadline(this.eval(script, keys, args), Date.now() + this.timeoutMs, op);
    } catch (error) {
      throw redisError(error, op, { op });
    }
  }

  /**
   * One idempotent script within `timeoutMs`: waits for a ready connection and
   * retries after connection failures until the deadline (util/redis.ts's
   * `runRedisOperation`); rejects with UNAVAILABLE then, CLOSED after {@link close}.
   */
  run(op: string, script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    return runRedisOperation(this.#operations, op, this.timeoutMs, () => this.eval(script, keys, args));
  }

  /** Detaches; quits and disconnects an owned client. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const release of this.#waiters) release();
    this.client.off('ready', this.#onReady);
    this.client.off('close', this.#onClose);
    if (!this.owned) return;
    if (this.client.status === 'ready') {
      await withDeadline(this.client.quit(), Date.now() + this.timeoutMs, 'close').catch(() => undefined);
    }
    if (this.client.status !== 'end') this.client.disconnect();
    this.client.off('error', this.#onError);
  }

  #waitReady(deadline: number, op: string, previousError: unknown): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    if (this.client.status === 'end') return Promise.reject(unavailable(`redis connection is closed (${op})`, op, previousError ?? this.#lastError));
    this.start();
    return new Promise<void>((resolve, reject) => {
      const done = (error?: LecternError) => {
        clearTimeout(timer);
        this.#readyListeners.delete(onReady);
        this.#waiters.delete(onClose);
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => done();
      const onClose = () => done(closed());
      const timer = setTimeout(
        () => done(unavailable(`redis is not reachable (${op}: no connection within ${this.timeoutMs} ms)`, op, previousError ?? this.#lastError)),
        Math.max(0, deadline - Date.now()),
      );
      this.#readyListeners.add(onReady);
      this.#waiters.add(onClose);
    });
  }
}





function unavailable(message: string, op: string, cause: unknown): LecternError {
  return new LecternError(ErrorCode.UNAVAILABLE, message, { op }, cause === undefined ? undefined : { cause });
}

function closed(): LecternError {
  return new LecternError(ErrorCode.CLOSED, 'the cluster registry is closed');
}

export function config(message: string): LecternError {
  return new LecternError(ErrorCode.INVALID_CONFIG, message);
}

