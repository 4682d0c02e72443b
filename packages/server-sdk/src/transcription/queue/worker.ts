import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Redis } from 'ioredis';
import type { Job, Worker } from 'bullmq';
import type { SttEngine } from '@lectern/stt-adapter';
import { ErrorCode, LecternError } from '../../errors.js';
import type { BackoffPolicy } from '../../util/backoff.js';
import { TypedEmitter } from '../../util/typed-emitter.js';
import { loadOptionalPeer } from '../../util/optional-peer.js';
import { asLecternError, isRejection, toTimeline } from '../pipeline/stt-stage.js';
import type { TranscriptStore } from '../store/transcript-store.js';
import { fileSlug } from '../util.js';
import {
  audioConnection,
  bullConnection,
  DEFAULT_STT_JOB_BACKOFF,
  DEFAULT_STT_QUEUE_NAME,
  failedReason,
  STT_BACKOFF_TYPE,
  sttJobBackoff,
  validateQueueName,
  type SttJobData,
  type SttJobResult,
  type SttQueueConnection,
} from './common.js';

export interface SttQueueWorkerOptions {
  /** The queue's Redis, as the producers' `sttQueue.connection`. */
  connection: SttQueueConnection;
  /** The queue's name, as the producers'. Default `lectern-stt`. */
  name?: string;
  /** The engines this process transcribes with (e.g. one `WhisperApiClient` per whisper-api server). */
  engines: SttEngine[];
  /** Where the entries go: the store the producers read (e.g. the same Redis store). */
  store: TranscriptStore;
  /** Jobs each engine takes at once. Default 1; the worker takes `engines × concurrency` jobs at once. */
  concurrency?: number;
  /** How long an engine that failed to answer (unavailable, timeout) is skipped while another is free. Default 30 000 ms. */
  engineCooldownMs?: number;
  /** At most `max` jobs per `duration` ms, across every worker of the queue (BullMQ's limiter). Default none. */
  limiter?: { max: number; duration: number };
  /** Backoff between a job's attempts (the producer sets how many). Default 1 s → 60 s. */
  retry?: Partial<BackoffPolicy>;
  /**
   * Stalled-job recovery (BullMQ): a worker that dies holds its job's lock for
   * at most `lockDurationMs` (default 30 000; renewed at half of it while it
   * works); every `stalledIntervalMs` (default 30 000) workers look for jobs
   * whose lock expired and take them again, at most `maxStalledCount` times
   * (default 1) before the job fails.
   */
  stalled?: { lockDurationMs?: number; stalledIntervalMs?: number; maxStalledCount?: number };
  /** Directory for the audio of jobs being transcribed. Default the OS temp directory. */
  tmpDir?: string;
}

export interface SttQueueWorkerEvents {
  /** A batch is transcribed and stored. */
  batchStored: { jobId: string; lectureId: string; batchId: string; engine: string; sttSeconds: number; segments: number; attempt: number };
  /** An attempt failed; `willRetry` says whether BullMQ tries the job again. */
  jobError: { jobId: string; lectureId: string; batchId: string; engine?: string; error: LecternError; willRetry: boolean };
  /** The worker's connection to the queue failed (BullMQ reconnects by itself). */
  error: { error: LecternError };
  listenerError: { event: string; error: unknown };
}

interface EngineSlot {
  readonly engine: SttEngine;
  busy: number;
  /** Until when (ms since epoch) the engine is skipped after it failed to answer. */
  coolUntil: number;
  /** Jobs given to it so far, to spread ties. */
  taken: number;
}

/**
 * The engines of one worker process: each takes at most `concurrency` jobs at
 * once; a job goes to the least busy engine that has not just failed (an
 * engine that failed to answer is skipped for `cooldownMs`, unless every
 * engine with room is cooling down).
 */
export class EnginePool {
  private readonly slots: EngineSlot[];

  constructor(
    engines: readonly SttEngine[],
    private readonly concurrency: number,
    private readonly cooldownMs: number,
  ) {
    this.slots = engines.map((engine) => ({ engine, busy: 0, coolUntil: 0, taken: 0 }));
  }

  /** Jobs the pool can take at once. */
  get capacity(): number {
    return this.slots.length * this.concurrency;
  }

  acquire(): EngineSlot {
    const now = Date.now();
    const free = this.slots.filter((s) => s.busy < this.concurrency);
    if (free.length === 0) throw new LecternError(ErrorCode.INTERNAL, 'no engine has room (the worker took more jobs than its engines can)');
    const healthy = free.filter((s) => s.coolUntil <= now);
    const candidates = healthy.length > 0 ? healthy : free;
    const slot = candidates.reduce((best, s) => (s.busy < best.busy || (s.busy === best.busy && s.taken < best.taken) ? s : best));
    slot.busy += 1;
    slot.taken += 1;
    return slot;
  }

  release(slot: EngineSlot, failedToAnswer: boolean): void {
    slot.busy -= 1;
    slot.coolUntil = failedToAnswer ? Date.now() + this.cooldownMs : 0;
  }
}

/**
 * Takes STT jobs of the queue that `TranscriptionService`s with `sttQueue`
 * fill, in any number of processes and machines: fetches the batch's audio
 * from Redis, transcribes it with the least busy engine of its pool, places
 * the result on the lecture timeline ({@link toTimeline}, as the in-process
 * stage), stores the entries in the shared {@link TranscriptStore}, and deletes
 * the audio. Storing replaces a batch, so a job that runs twice (a worker
 * killed after the store write) still stores the batch once.
 *
 * Retries: BullMQ owns them — the producer's `attempts`, with this worker's
 * backoff ({@link backoffDelay}); an engine error that says the input is bad
 * (`BAD_REQUEST`, ...) fails the job at once; `UNAUTHORIZED` retries at the
 * slowest delay. A killed worker's job is taken again by another after its
 * lock expires (see {@link SttQueueWorkerOptions.stalled}).
 *
 * ```ts
 * const worker = new SttQueueWorker({
 *   connection: 'redis://10.0.0.5:6379',
 *   engines: [new WhisperApiClient({ baseUrl: 'http://10.0.0.7:8765' }), new WhisperApiClient({ baseUrl: 'http://10.0.0.8:8765' })],
 *   store: new RedisTranscriptStore({ url: 'redis://10.0.0.5:6379' }),
 * });
 * process.on('SIGTERM', () => void worker.close());
 * ```
 */
export class SttQueueWorker extends TypedEmitter<SttQueueWorkerEvents> {
  readonly name: string;
  private readonly pool: EnginePool;
  private readonly worker: Worker<SttJobData, SttJobResult>;
  private readonly redis: Redis;
  private readonly store: TranscriptStore;
  private readonly tmpRoot: string;
  private tmpDir: Promise<string> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: SttQueueWorkerOptions) {
    super();
    this.name = options.name ?? DEFAULT_STT_QUEUE_NAME;
    validateQueueName(this.name);
    if (!Array.isArray(options.engines) || options.engines.length === 0) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, 'SttQueueWorker needs at least one engine');
    }
    const concurrency = options.concurrency ?? 1;
    const cooldownMs = options.engineCooldownMs ?? 30_000;
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new LecternError(ErrorCode.INVALID_CONFIG, `concurrency must be a positive integer (got ${String(concurrency)})`);
    if (!(Number.isFinite(cooldownMs) && cooldownMs >= 0)) throw new LecternError(ErrorCode.INVALID_CONFIG, `engineCooldownMs must be >= 0 (got ${String(cooldownMs)})`);
    const policy: BackoffPolicy = { ...DEFAULT_STT_JOB_BACKOFF, ...options.retry };
    this.pool = new EnginePool(options.engines, concurrency, cooldownMs);
    this.store = options.store;
    this.tmpRoot = options.tmpDir ?? os.tmpdir();
    const bullmq = loadOptionalPeer<typeof import('bullmq')>('bullmq');
    this.redis = audioConnection(options.connection);
    this.redis.on('error', () => undefined);
    const stalled = options.stalled ?? {};
    this.worker = new bullmq.Worker<SttJobData, SttJobResult>(this.name, (job) => this.process(job), {
      connection: bullConnection(options.connection),
      concurrency: this.pool.capacity,
      ...(options.limiter ? { limiter: options.limiter } : {}),
      ...(stalled.lockDurationMs !== undefined ? { lockDuration: stalled.lockDurationMs } : {}),
      ...(stalled.stalledIntervalMs !== undefined ? { stalledInterval: stalled.stalledIntervalMs } : {}),
      ...(stalled.maxStalledCount !== undefined ? { maxStalledCount: stalled.maxStalledCount } : {}),
      settings: {
        // Only our jobs' type reaches it (BullMQ's built-in types never call a custom strategy).
        backoffStrategy: (attemptsMade: number, type?: string, error?: Error) => (type === STT_BACKOFF_TYPE ? sttJobBackoff(attemptsMade, error, policy) : 0),
      },
    });
    this.worker.on('error', (error) => this.safeEmit('error', { error: new LecternError(ErrorCode.UNAVAILABLE, `STT queue worker: ${error.message}`, undefined, { cause: error }) }));
    this.worker.on('failed', (job, error) => {
      if (!job) return;
      const attempts = job.opts.attempts ?? 1;
      const willRetry = !(error instanceof bullmq.UnrecoverableError) && job.attemptsMade < attempts;
      this.safeEmit('jobError', {
        jobId: job.id ?? '',
        lectureId: job.data.lectureId,
        batchId: job.data.batchId,
        ...((error as { engine?: string }).engine !== undefined ? { engine: (error as { engine?: string }).engine } : {}),
        error: asLecternError((error as { cause?: unknown }).cause ?? error, 'stt', job.attemptsMade),
        willRetry,
      });
    });
  }

  /** Resolves once the worker is connected and taking jobs. */
  async ready(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  /**
   * Stops taking jobs, lets the ones in progress finish, and closes the
   * worker's connections and temp directory. Idempotent. `force` abandons
   * jobs in progress (another worker takes them again once their lock expires).
   */
  close(force = false): Promise<void> {
    this.closing ??= (async () => {
      await this.worker.close(force).catch(() => undefined);
      await this.redis.quit().catch(() => this.redis.disconnect());
      const dir = await this.tmpDir?.catch(() => undefined);
      if (dir) await fs.rm(dir, { recursive: true, force: true });
    })();
    return this.closing;
  }

  private async process(job: Job<SttJobData, SttJobResult>): Promise<SttJobResult> {
    const bullmq = loadOptionalPeer<typeof import('bullmq')>('bullmq');
    const { lectureId, batchId, manifest, audioKey, language, transcribe } = job.data;
    const audio = await this.redis.getBuffer(audioKey);
    if (!audio) {
      // The producer's copy expired or was dropped: no attempt can succeed; the producer keeps the batch on disk.
      throw new bullmq.UnrecoverableError(failedReason('AUDIO_MISSING', `the audio of batch ${batchId} is not in Redis (${audioKey}); it expired or the job is stale`));
    }
    this.tmpDir ??= fs.mkdtemp(path.join(this.tmpRoot, 'lectern-stt-worker-'));
    const file = path.join(await this.tmpDir, `${fileSlug(job.id ?? batchId)}-${job.attemptsStarted}.${manifest.format}`);
    const slot = this.pool.acquire();
    let failedToAnswer = false;
    try {
      await fs.writeFile(file, audio);
      const t0 = performance.now();
      let result;
      try {
        result = await slot.engine.transcribe(file, { ...transcribe, ...(language !== undefined ? { language } : {}) });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        failedToAnswer = code === 'UNAVAILABLE' || code === 'TIMEOUT';
        const message = failedReason(typeof code === 'string' ? code : undefined, error instanceof Error ? error.message : String(error));
        // Bad input: the same bytes will not do better on any engine — fail the job now, not after every attempt.
        const wrapped = isRejection(error) ? new bullmq.UnrecoverableError(message) : new Error(message, { cause: error });
        Object.assign(wrapped, { engine: slot.engine.name, sttCode: code });
        throw wrapped;
      }
      const sttSeconds = (performance.now() - t0) / 1000;
      // The one timeline mapping, shared with the in-process stage.
      const entries = toTimeline(result, manifest);
      await this.store.putBatch(lectureId, batchId, entries);
      await this.redis.del(audioKey).catch(() => undefined);
      const stored: SttJobResult = {
        segments: entries.length,
        sttSeconds,
        language: result.language,
        ...(result.languageProbability !== undefined ? { languageProbability: result.languageProbability } : {}),
        engine: slot.engine.name,
      };
      this.safeEmit('batchStored', { jobId: job.id ?? '', lectureId, batchId, engine: slot.engine.name, sttSeconds, segments: entries.length, attempt: job.attemptsMade + 1 });
      return stored;
    } finally {
      this.pool.release(slot, failedToAnswer);
      await fs.rm(file, { force: true });
    }
  }
}
