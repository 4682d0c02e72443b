import type { Redis, RedisOptions } from 'ioredis';
import type { LectureSummary, TranscriptEntry, TranscriptSource } from '@lectern/protocol';
import { ErrorCode, LecternError, truncate } from '../../errors.js';
import { backoffDelay } from '../../util/backoff.js';
import {
  REDIS_RECONNECT_BACKOFF,
  evalScript,
  runRedisOperation,
  withDeadline,
  type LuaScript,
  type RedisOperationOwner,
} from '../../util/redis.js';
import { loadOptionalPeer } from '../../util/optional-peer.js';
import type { MemoryTranscriptStore } from './memory-store.js';
import { lectureKeys, memberKey, roomLecturesKey, SCRIPTS, writeKeys, type LectureKeys } from './redis-scripts.js';
import type { LectureListing, LectureRecord, ListLecturesOptions, TranscriptReadOptions, TranscriptSourceOption, TranscriptStore } from './transcript-store.js';
import {
  MAX_STORE_ID_LENGTH,
  compareEntries,
  compareListings,
  lectureStatus,
  startedAtMs,
  validateListOptions,
  compareStrings,
  isCompleteRecord,
  storeClosed,
  validateBatch,
  validateId,
  validateRange,
  validateRecord,
  validateSource,
  validateSummary,
} from './validation.js';

/** Options shared by both ways of giving the store its connection. */
interface RedisTranscriptStoreCommonOptions {
  /**
   * Prepended to every key the store writes, so several deployments (or a test
   * and a real one) can share one server. Must not contain `{`, `}` or control
   * characters (the lecture id is the Redis Cluster hash tag). Default `lectern:`.
   */
  keyPrefix?: string;
  /**
   * Expiry, in seconds, set on every key of a lecture each time the lecture is
   * written (so all of a lecture's keys expire together, counted from its last
   * write). `0` = never expire (no `EXPIRE` is issued). Default 30 days (2 592 000).
   */
  ttlSeconds?: number;
  /**
   * Upper bound, in milliseconds, on each store operation, including waiting for
   * the connection to be (re-)established. An operation issued while Redis is
   * unreachable waits for the connection up to this long, then rejects with
   * `LecternError(UNAVAILABLE)`; if Redis comes back in time it simply succeeds.
   * For a connection the store owns, this is also the connect timeout and the
   * ioredis `commandTimeout`. Default 5000.
   */
  commandTimeoutMs?: number;
}

/**
 * Options of {@link RedisTranscriptStore}: give exactly one of `url` (the store
 * owns the connection) or `redis` (the host owns it).
 */
export type RedisTranscriptStoreOptions = RedisTranscriptStoreCommonOptions &
  (
    | {
        /**
         * A `redis://` or `rediss://` URL. The store creates the connection lazily
         * (on first use) and closes it in {@link RedisTranscriptStore.close}. The
         * connection is configured to fail fast rather than queue: no offline
         * queue, commands in flight when the connection drops fail at once
         * (`maxRetriesPerRequest: 0`, no automatic resend) and are retried by the
         * store itself within `commandTimeoutMs` (every store operation is
         * idempotent); reconnects forever with exponential backoff (jittered)
         * capped at 1 s. Needs the optional peer dependency `ioredis`, loaded
         * here: `INVALID_CONFIG` when it is not installed.
         */
        url: string;
        redis?: undefined;
      }
    | {
        /**
         * An existing ioredis client (standalone); the store loads nothing of
         * ioredis itself then. The host owns it: the store never
         * closes it, never adds listeners that outlive a call, and keeps the
         * client's own settings (a client `keyPrefix` is applied before the
         * store's). The store still never sends a command while the client is
         * not `ready`, so the client's offline queue never holds store writes.
         */
        redis: Redis;
        url?: undefined;
      }
  );

/** Default {@link RedisTranscriptStoreCommonOptions.ttlSeconds}: 30 days. */
export const DEFAULT_TRANSCRIPT_TTL_SECONDS = 30 * 24 * 60 * 60;
const DEFAULT_KEY_PREFIX = 'lectern:';
const DEFAULT_COMMAND_TIMEOUT_MS = 5000;
const RECORD_FIELDS = ['lectureId', 'roomId', 'startedAt', 'endedAt', 'language', 'requestedLanguage'] as const;
const SUMMARY_FIELD = 'summary';

/**
 * A {@link TranscriptStore} in Redis (ioredis 5). Per lecture `id`, with the
 * default prefix:
 *
 * - `lectern:lecture:{id}` — hash: `lectureId`, `roomId`, `startedAt`, `endedAt`,
 *   `language`, `requestedLanguage` (the record, merged field by field) and `summary` (JSON);
 * - `lectern:lecture:{id}:entries` — sorted set, score = `start`, member =
 *   `batchId:index` with the index zero-padded to 10 digits;
 * - `lectern:lecture:{id}:entry` — hash, member → entry JSON;
 * - `lectern:lecture:{id}:batches` — hash, batchId → JSON array of its members;
 * - `lectern:lecture:{id}:live:entries`, `…:live:entry`, `…:live:batches` —
 *   the same three for the `live` transcript (caption finals);
 *
 * and per room `r`, `lectern:room:{r}:lectures` — sorted set of the room's
 * lecture ids, score = start time (epoch ms), written by `putLecture` (its
 * expiry refreshed then), its member removed by `deleteLecture`; members whose
 * lecture expired are dropped when `listLectures` meets them.
 *
 * `{id}` is a Redis Cluster hash tag, so a lecture's keys share one slot and the
 * Lua scripts (which name every key they touch) stay cluster-safe. `putBatch`
 * is one Lua script: it removes the batch's earlier members and writes the new
 * ones atomically, so a crash or retry can neither duplicate nor half-write a
 * batch. Every write refreshes the expiry of all of the lecture's keys.
 * (An id containing `}` still yields one slot per lecture: the tag ends at the
 * first `}`, which is the same in all of its keys.) Equal starts come back ordered
 * by batchId then index, sorted in JS exactly as {@link MemoryTranscriptStore}
 * does, not by Redis' byte order of the members.
 *
 * Failure model: an operation never waits longer than `commandTimeoutMs`. While
 * Redis is unreachable it waits for the connection (and retries after a
 * dropped connection: every operation is idempotent), then rejects with
 * `LecternError(UNAVAILABLE)` whose `cause` is the last connection error. A
 * timed-out write may still have been applied (the usual ambiguity); retrying
 * it is safe. After {@link close}, operations reject with `CLOSED`.
 */
export class RedisTranscriptStore implements TranscriptStore {
  readonly name = 'redis';
  readonly #client: Redis;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #ttlSeconds: number;
  readonly #timeoutMs: number;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Operations waiting for the connection; `close()` releases them at once. */
  readonly #waiters = new Set<() => void>();
  /** Last connection error of an owned client (host clients' errors are the host's). */
  #lastError: unknown;

  constructor(options: RedisTranscriptStoreOptions) {
    const prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    if (typeof prefix !== 'string' || prefix.length > MAX_STORE_ID_LENGTH || /[{}\p{Cc}\p{Cs}]/u.test(prefix)) {
      throw config('keyPrefix must be a string of at most 256 characters without braces or control characters');
    }
    const ttl = options.ttlSeconds ?? DEFAULT_TRANSCRIPT_TTL_SECONDS;
    if (!Number.isSafeInteger(ttl) || ttl < 0) throw config('ttlSeconds must be a non-negative integer');
    const timeout = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout <= 0) throw config('commandTimeoutMs must be a positive number');
    this.#prefix = prefix;
    this.#ttlSeconds = ttl;
    this.#timeoutMs = timeout;

    if (options.redis !== undefined && options.url !== undefined) throw config('give either url or redis, not both');
    if (options.redis !== undefined) {
      if (typeof options.redis !== 'object' || options.redis === null || typeof options.redis.evalsha !== 'function') {
        throw config('redis must be an ioredis client');
      }
      this.#client = options.redis;
      this.#owned = false;
    } else if (typeof options.url === 'string' && options.url.length > 0) {
      const clientOptions: RedisOptions = {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        commandTimeout: timeout,
        connectTimeout: timeout,
        retryStrategy: (times) => backoffDelay(times, REDIS_RECONNECT_BACKOFF),
        connectionName: 'lectern-transcripts',
        // ioredis waits this long for a socket it ends to close; it also waits on an
        // already-dead socket when closed while reconnecting, delaying process exit.
        disconnectTimeout: 200,
      };
      // ioredis is an optional peer dependency, loaded only here (INVALID_CONFIG when missing).
      const { Redis: RedisClient } = loadOptionalPeer<typeof import('ioredis')>('ioredis');
      this.#client = new RedisClient(options.url, clientOptions);
      this.#owned = true;
      this.#client.on('error', (error: unknown) => {
        this.#lastError = error;
      });
      this.#client.on('ready', () => {
        this.#lastError = undefined;
      });
    } else {
      throw config('RedisTranscriptStore needs a url or a redis client');
    }
  }

  async putLecture(record: LectureRecord): Promise<void> {
    const clean = validateRecord(record);
    const fields: string[] = [];
    for (const field of RECORD_FIELDS) {
      const value = clean[field];
      if (value !== undefined) fields.push(field, value);
    }
    const roomKey = this.#roomKey(clean.roomId);
    const keys = this.#keys(clean.lectureId);
    const previousRoom = await this.#run('putLecture', (c) => c.hget(keys.lecture, 'roomId'));
    await this.#write('putLecture', clean.lectureId, SCRIPTS.hset, fields);
    // A lecture that moved room leaves its old room's list.
    if (previousRoom !== null && previousRoom !== clean.roomId && previousRoom !== '') {
      const oldKey = roomLecturesKey(this.#prefix, previousRoom);
      await this.#run('putLecture', (c) => c.zrem(oldKey, clean.lectureId));
    }
    // The room's list is in the room's slot, so a separate (idempotent) step.
    await this.#run('putLecture', (c) =>
      this.#eval(c, SCRIPTS.roomAdd, [roomKey], [String(this.#ttlSeconds), String(startedAtMs(clean)), clean.lectureId]),
    );
  }

  async listLectures(roomId: string, options?: ListLecturesOptions): Promise<LectureListing[]> {
    const { fromMs, toMs, statuses } = validateListOptions(roomId, options);
    if (!(fromMs < toMs)) return [];
    const roomKey = this.#roomKey(roomId);
    const min = fromMs === -Infinity ? '-inf' : String(fromMs);
    const max = toMs === Infinity ? '+inf' : `(${String(toMs)}`;
    const ids = await this.#run('listLectures', (c) => c.zrangebyscore(roomKey, min, max));
    const rows = await this.#run('listLectures', (c) =>
      Promise.all(
        ids.map(async (id) => {
          const key = lectureKeys(this.#prefix, id).lecture;
          const [values, summary] = await Promise.all([c.hmget(key, ...RECORD_FIELDS), c.hexists(key, SUMMARY_FIELD)]);
          return { id, record: recordFrom(values), hasSummary: summary === 1 };
        }),
      ),
    );
    const out: LectureListing[] = [];
    const stale: string[] = [];
    for (const { id, record, hasSummary } of rows) {
      // Expired, deleted half-way, or moved to another room: not this room's any more.
      if (!record || record.roomId !== roomId || record.lectureId !== id) {
        stale.push(id);
        continue;
      }
      const status = lectureStatus(record, hasSummary);
      if (statuses.has(status)) out.push({ ...record, status });
    }
    if (stale.length > 0) await this.#run('listLectures', (c) => c.zrem(roomKey, ...stale)).catch(() => undefined);
    return out.sort(compareListings);
  }

  async getLecture(lectureId: string): Promise<LectureRecord | undefined> {
    const keys = this.#keys(lectureId);
    const values = await this.#run('getLecture', (c) => c.hmget(keys.lecture, ...RECORD_FIELDS));
    return recordFrom(values);
  }

  async putBatch(lectureId: string, batchId: string, entries: TranscriptEntry[], options?: TranscriptSourceOption): Promise<void> {
    validateId('lectureId', lectureId);
    const source = validateSource(options);
    const clean = validateBatch(batchId, entries);
    const members = clean.map((entry) => memberKey(batchId, entry.index));
    const args: string[] = [batchId, JSON.stringify(members)];
    clean.forEach((entry, i) => args.push(members[i]!, String(entry.start), JSON.stringify(entry)));
    await this.#write('putBatch', lectureId, SCRIPTS.putBatch, args, source);
  }

  async getTranscript(lectureId: string, options?: TranscriptReadOptions): Promise<TranscriptEntry[]> {
    const keys = this.#keys(lectureId);
    const { from, to } = validateRange(options);
    const track = keys.transcripts[validateSource(options)];
    if (!(from < to)) return [];
    const min = from === -Infinity ? '-inf' : String(from);
    const max = to === Infinity ? '+inf' : `(${String(to)}`;
    const reply = await this.#run('getTranscript', (c) => this.#eval(c, SCRIPTS.getTranscript, [track.entries, track.entry], [min, max]));
    if (!Array.isArray(reply)) throw corrupt('getTranscript', lectureId);
    // Redis orders equal scores by member bytes; sort again so ties follow the
    // exact same rule (batchId, then index) as every other store.
    return reply.map((json) => parseEntry(json, lectureId)).sort(compareEntries);
  }

  async getBatchIds(lectureId: string, options?: TranscriptSourceOption): Promise<string[]> {
    const keys = this.#keys(lectureId);
    const track = keys.transcripts[validateSource(options)];
    const ids = await this.#run('getBatchIds', (c) => c.hkeys(track.batches));
    return ids.sort(compareStrings);
  }

  async putSummary(lectureId: string, summary: LectureSummary): Promise<void> {
    validateId('lectureId', lectureId);
    const clean = validateSummary(summary);
    await this.#write('putSummary', lectureId, SCRIPTS.hset, [SUMMARY_FIELD, JSON.stringify(clean)]);
  }

  async getSummary(lectureId: string): Promise<LectureSummary | undefined> {
    const keys = this.#keys(lectureId);
    const json = await this.#run('getSummary', (c) => c.hget(keys.lecture, SUMMARY_FIELD));
    if (json === null) return undefined;
    try {
      return validateSummary(JSON.parse(json) as LectureSummary);
    } catch (error) {
      throw corrupt('getSummary', lectureId, error);
    }
  }

  async deleteLecture(lectureId: string): Promise<void> {
    const keys = this.#keys(lectureId);
    // Unlisted first: a failure in between leaves an unlisted lecture, which a retry deletes.
    const roomId = await this.#run('deleteLecture', (c) => c.hget(keys.lecture, 'roomId'));
    if (roomId !== null && roomId !== '') {
      const roomKey = this.#roomKey(roomId);
      await this.#run('deleteLecture', (c) => c.zrem(roomKey, lectureId));
    }
    await this.#run('deleteLecture', (c) => c.del(...writeKeys(keys)));
  }

  /**
   * Closes the connection when the store created it (`url`): `QUIT` when
   * connected, then disconnects and stops reconnecting. A host-owned client is
   * left untouched. Idempotent; later operations reject with `CLOSED`.
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const release of this.#waiters) release();
    this.#closing ??= (async () => {
      if (!this.#owned) return;
      const client = this.#client;
      if (client.status === 'ready') {
        try {
          await withDeadline(client.quit(), Date.now() + this.#timeoutMs, 'close', { store: 'redis', op: 'close' });
        } catch {
          // fall through to disconnect()
        }
      }
      // Also stops reconnecting (and clears the reconnect timer) when Redis is down.
      if (client.status !== 'end') client.disconnect();
    })();
    return this.#closing;
  }

  /** The keys of one lecture (validates the id). */
  #keys(lectureId: string): LectureKeys {
    validateId('lectureId', lectureId);
    return lectureKeys(this.#prefix, lectureId);
  }

  /** The key of a room's lecture list (validates the id). */
  #roomKey(roomId: string): string {
    validateId('roomId', roomId);
    return roomLecturesKey(this.#prefix, roomId);
  }

  /** Runs one write script over all of the lecture's keys, `source`'s first (ARGV[1] = ttl). */
  async #write(op: string, lectureId: string, lua: LuaScript, args: string[], source?: TranscriptSource): Promise<void> {
    const allKeys = writeKeys(this.#keys(lectureId), source);
    await this.#run(op, (c) => this.#eval(c, lua, allKeys, [String(this.#ttlSeconds), ...args]));
  }

  /** EVALSHA, falling back to EVAL when the server does not know the script (e.g. after a restart). */
  #eval(client: Redis, lua: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    return evalScript(client, lua, keys, args);
  }

  /**
   * Runs an (idempotent) operation within the `commandTimeoutMs` deadline: waits
   * for a ready connection, runs it, and retries after connection failures
   * until the deadline (util/redis.ts's `runRedisOperation`); maps whatever is
   * left to a {@link LecternError}. Its caller (the STT stage) sees one bounded
   * operation and decides itself whether to try the batch again later.
   */
  #run<T>(op: string, fn: (client: Redis) => Promise<T>): Promise<T> {
    return runRedisOperation(this.#operations, op, this.#timeoutMs, () => fn(this.#client));
  }

  /** This store as the shared retry loop sees it. */
  readonly #operations: RedisOperationOwner = {
    isClosed: () => this.#closed,
    closedError: () => storeClosed(this.name),
    waitReady: (deadline, op, previousError) => this.#ready(deadline, op, previousError),
    details: (op) => ({ store: 'redis', op }),
  };

  /** Resolves once the client is ready; rejects with UNAVAILABLE at the deadline. */
  #ready(deadline: number, op: string, previousError: unknown): Promise<void> {
    const client = this.#client;
    if (client.status === 'ready') return Promise.resolve();
    if (client.status === 'end') {
      return Promise.reject(unavailable(`redis connection is closed (${op})`, op, previousError ?? this.#lastError));
    }
    if (client.status === 'wait') client.connect().catch(() => undefined);
    return new Promise<void>((resolve, reject) => {
      const done = (error?: LecternError) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('end', onEnd);
        this.#waiters.delete(onClose);
        if (error) reject(error);
        else resolve();
      };
      const onClose = () => done(storeClosed(this.name));
      const onReady = () => done();
      const onEnd = () => done(this.#closed ? storeClosed(this.name) : unavailable(`redis connection is closed (${op})`, op, this.#lastError));
      const timer = setTimeout(
        () => done(unavailable(`redis is not reachable (${op}: no connection within ${this.#timeoutMs} ms)`, op, previousError ?? this.#lastError)),
        Math.max(0, deadline - Date.now()),
      );
      client.once('ready', onReady);
      client.once('end', onEnd);
      this.#waiters.add(onClose);
    });
  }

}

/** A record from the HMGET of {@link RECORD_FIELDS}; undefined when incomplete (absent or expired). */
function recordFrom(values: (string | null)[]): LectureRecord | undefined {
  const record: Partial<LectureRecord> = {};
  RECORD_FIELDS.forEach((field, i) => {
    const value = values[i];
    if (typeof value === 'string') record[field] = value;
  });
  return isCompleteRecord(record) ? record : undefined;
}

function parseEntry(json: unknown, lectureId: string): TranscriptEntry {
  try {
    if (typeof json !== 'string') throw new TypeError('entry is not a string');
    const entry = JSON.parse(json) as TranscriptEntry;
    const [clean] = validateBatch(entry.batchId, [entry]);
    if (!clean) throw new TypeError('entry is empty');
    return clean;
  } catch (error) {
    throw corrupt('getTranscript', lectureId, error);
  }
}



function unavailable(message: string, op: string, cause: unknown): LecternError {
  return new LecternError(ErrorCode.UNAVAILABLE, message, { store: 'redis', op }, cause === undefined ? undefined : { cause });
}

function config(message: string): LecternError {
  return new LecternError(ErrorCode.INVALID_CONFIG, message, { store: 'redis' });
}

function corrupt(op: string, lectureId: string, cause?: unknown): LecternError {
  return new LecternError(
    ErrorCode.INTERNAL,
    `redis holds malformed transcript data for lecture ${truncate(lectureId)}`,
    { store: 'redis', op },
    cause === undefined ? undefined : { cause },
  );
}

