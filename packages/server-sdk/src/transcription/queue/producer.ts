/**
 * The producer side of the STT queue: a `TranscriptionService` with `sttQueue`
 * enqueues each ready batch as a BullMQ job instead of calling the engine
 * itself, and still owns its lecture: it learns when each batch is stored (the
 * job's `completed`/`failed` event) so stopping a lecture waits for its
 * batches and then makes the summary as in the single-process mode.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Redis } from 'ioredis';
import type { Job, Queue, QueueEvents } from 'bullmq';
import { ErrorCode, LecternError } from '../../errors.js';
import { TypedEmitter } from '../../util/typed-emitter.js';
import type { DeletionQueue } from '../batch/deletion-queue.js';
import type { ReadyBatch } from '../batch/batcher.js';
import type { TranscriptStore } from '../store/transcript-store.js';
import { loadOptionalPeer } from '../../util/optional-peer.js';
import { Wakeup } from '../util.js';
import type { LectureLanguage } from '../pipeline/lecture-language.js';
import { withoutLanguage, type SttStageEvents, type SttStageSettings } from '../pipeline/stt-stage.js';
import {
  audioConnection,
  bullConnection,
  codeOfFailedReason,
  DEFAULT_STT_JOB_ATTEMPTS,
  DEFAULT_STT_QUEUE_NAME,
  STT_BACKOFF_TYPE,
  STT_JOB_NAME,
  sttAudioKey,
  sttJobId,
  validateQueueName,
  type SttJobData,
  type SttJobResult,
  type SttQueueConnection,
} from './common.js';

/** {@link TranscriptionServiceOptions.sttQueue}: batches go to a BullMQ queue that {@link SttQueueWorker}s serve. */
export interface SttQueueOptions {
  /** The queue's Redis (a `redis://` URL or host/port); the workers use the same. */
  connection: SttQueueConnection;
  /** BullMQ queue name; the workers must use the same. Default `lectern-stt`. */
  name?: string;
  /**
   * Attempts of one job (each one `transcribe()` call plus the store write, on
   * whichever worker takes it) before it fails for good. Default 12 (with the
   * workers' 1 s → 60 s backoff: about 8 minutes of retries).
   */
  attempts?: number;
  /**
   * Seconds the batch's audio is kept in Redis at most. A worker deletes it once
   * the batch is stored, and the producer once the job is finished either way;
   * the expiry only bounds what a producer that died leaves behind (it
   * re-enqueues from its disk at `recover()`). Default 3600.
   */
  audioTtlSeconds?: number;
  /** Seconds a completed job is kept (so a duplicate enqueue finds it, not a new job). Default 86 400. */
  keepCompletedSeconds?: number;
}

/** The queue side of one service: one BullMQ `Queue` and `QueueEvents`, one Redis client for audio. */
export class SttQueueProducer {
  readonly name: string;
  readonly queue: Queue<SttJobData, SttJobResult>;
  readonly events: QueueEvents;
  private readonly redis: Redis;
  private readonly attempts: number;
  private readonly audioTtlSeconds: number;
  private readonly keepCompletedSeconds: number;
  private closed = false;

  constructor(options: SttQueueOptions) {
    this.name = options.name ?? DEFAULT_STT_QUEUE_NAME;
    validateQueueName(this.name);
    this.attempts = options.attempts ?? DEFAULT_STT_JOB_ATTEMPTS;
    this.audioTtlSeconds = options.audioTtlSeconds ?? 3600;
    this.keepCompletedSeconds = options.keepCompletedSeconds ?? 86_400;
    for (const [field, value] of [['attempts', this.attempts], ['audioTtlSeconds', this.audioTtlSeconds], ['keepCompletedSeconds', this.keepCompletedSeconds]] as const) {
      if (!(Number.isInteger(value) && value >= 1)) throw new LecternError(ErrorCode.INVALID_CONFIG, `sttQueue.${field} must be a positive integer (got ${String(value)})`);
    }
    const bullmq = loadOptionalPeer<typeof import('bullmq')>('bullmq');
    const connection = bullConnection(options.connection);
    this.queue = new bullmq.Queue<SttJobData, SttJobResult>(this.name, { connection });
    this.events = new bullmq.QueueEvents(this.name, { connection });
    this.redis = audioConnection(options.connection);
    // Errors surface on the calls that fail; an unhandled 'error' event would crash the host.
    this.queue.on('error', () => undefined);
    this.events.on('error', () => undefined);
    this.redis.on('error', () => undefined);
    // Every job waited on (waitUntilFinished) holds a listener on both until it settles and
    // removes it then; many lectures have many batches in flight, which is no leak.
    this.queue.setMaxListeners(0);
    this.events.setMaxListeners(0);
  }

  /**
   * Puts the batch's audio next to its job and adds the job (id
   * {@link sttJobId}, `${lectureId}/${batchId}`); an existing job of that id is returned as it is.
   */
  async enqueue(data: Omit<SttJobData, 'audioKey' | 'version'>, audioFile: string): Promise<Job<SttJobData, SttJobResult>> {
    const jobId = sttJobId(data.lectureId, data.batchId);
    const audioKey = sttAudioKey(this.name, jobId);
    await this.redis.set(audioKey, await fs.readFile(audioFile), 'EX', this.audioTtlSeconds);
    return this.queue.add(STT_JOB_NAME, { version: 1, ...data, audioKey }, {
      jobId,
      attempts: this.attempts,
      backoff: { type: STT_BACKOFF_TYPE },
      removeOnComplete: { age: this.keepCompletedSeconds },
      removeOnFail: { age: this.keepCompletedSeconds },
    });
  }

  /** Resolves with the job's result once stored; rejects with its failed reason when it failed for good. */
  async finished(job: Job<SttJobData, SttJobResult>): Promise<SttJobResult> {
    await this.events.waitUntilReady();
    const value: unknown = await job.waitUntilFinished(this.events);
    return (typeof value === 'string' ? JSON.parse(value) : value) as SttJobResult;
  }

  /** Drops a batch's audio (idempotent: the worker usually did already). */
  async dropAudio(lectureId: string, batchId: string): Promise<void> {
    await this.redis.del(sttAudioKey(this.name, sttJobId(lectureId, batchId))).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.queue.close(), this.events.close()]);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * The STT stage of a lecture whose batches go to the queue: the same surface
 * and events as `SttStage`, but the work (transcribe, timeline, store) is done
 * by whichever {@link SttQueueWorker} takes the job, with BullMQ's attempts
 * and backoff (the queue owns the retries here; this stage does not retry).
 * The batch stays on disk until its job completed, so a producer that dies
 * re-enqueues it at `recover()` (same job id: one job).
 *
 * With `'auto'` language, only one job of the lecture is in flight until the
 * language is pinned, so one lecture is not transcribed in several languages;
 * then every batch is enqueued at once and workers share them.
 */
export class QueuedSttStage extends TypedEmitter<SttStageEvents> {
  private readonly waiting: ReadyBatch[] = [];
  private readonly inFlight = new Set<string>();
  private readonly idleWake = new Wakeup();
  private stopped = false;
  private lastTranscribedEnd = 0;

  constructor(
    private readonly lectureId: string,
    private readonly producer: SttQueueProducer,
    private readonly store: TranscriptStore,
    private readonly deletion: DeletionQueue,
    private readonly failedDir: string,
    private readonly settings: SttStageSettings,
    private readonly language: LectureLanguage,
  ) {
    super();
  }

  get pending(): number {
    return this.waiting.length + this.inFlight.size;
  }

  get transcribedUntil(): number {
    return this.lastTranscribedEnd;
  }

  submit(batch: ReadyBatch): void {
    if (this.stopped) return;
    this.waiting.push(batch);
    this.waiting.sort((a, b) => a.manifest.offset - b.manifest.offset);
    this.pump();
  }

  async idle(): Promise<void> {
    while (this.pending > 0 && !this.stopped) await this.idleWake.wait();
  }

  /** Stops waiting; jobs already queued are still done by the workers, and their batches stay on disk for recovery. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.idleWake.notify();
  }

  private pump(): void {
    while (!this.stopped && this.waiting.length > 0) {
      // Until 'auto' is pinned, one job at a time: the first batch with speech decides the language.
      if (this.language.current === undefined && this.inFlight.size > 0) return;
      const batch = this.waiting.shift()!;
      this.inFlight.add(batch.manifest.batchId);
      void this.process(batch).finally(() => {
        this.inFlight.delete(batch.manifest.batchId);
        this.pump();
        if (this.pending === 0) this.idleWake.notify();
      });
    }
  }

  private async process(batch: ReadyBatch): Promise<void> {
    const { manifest, dir } = batch;
    const language = this.language.current;
    let job: Job<SttJobData, SttJobResult> | undefined;
    try {
      job = await this.producer.enqueue(
        {
          lectureId: this.lectureId,
          batchId: manifest.batchId,
          manifest,
          ...(language !== undefined ? { language } : {}),
          transcribe: withoutLanguage(this.settings.transcribe),
        },
        path.join(dir, manifest.file),
      );
    } catch (error) {
      // Not enqueued (Redis unreachable): the batch stays on disk; recover() enqueues it again.
      this.safeEmit('error', { batchId: manifest.batchId, stage: 'stt', error: queueError('could not enqueue the batch', error, manifest.batchId), willRetry: false });
      return;
    }
    try {
      const result = await this.producer.finished(job);
      await this.producer.dropAudio(this.lectureId, manifest.batchId);
      if (this.stopped) return;
      if (language === undefined && result.segments > 0 && this.language.pin(result.language)) {
        this.safeEmit('languageDetected', {
          batchId: manifest.batchId,
          language: result.language.trim().toLowerCase(),
          ...(result.languageProbability !== undefined ? { probability: result.languageProbability } : {}),
        });
      }
      const attempt = Math.max(1, (await this.producer.queue.getJob(job.id ?? '').catch(() => undefined))?.attemptsMade ?? 1);
      this.safeEmit('batchTranscribed', {
        batchId: manifest.batchId,
        streamKey: manifest.streamKey,
        sttSeconds: result.sttSeconds,
        audioSeconds: manifest.duration,
        segments: result.segments,
        attempt,
      });
      // The entries are in the store (the worker wrote them); the event carries the stored ones.
      const entries = (await this.store.getTranscript(this.lectureId, { from: manifest.offset, to: manifest.offset + manifest.duration + 1 })).filter(
        (e) => e.batchId === manifest.batchId,
      );
      this.lastTranscribedEnd = Math.max(this.lastTranscribedEnd, manifest.offset + manifest.duration);
      this.safeEmit('transcriptUpdated', { batchId: manifest.batchId, entries });
      this.deletion.enqueue(dir);
    } catch (error) {
      if (this.stopped) return;
      await this.producer.dropAudio(this.lectureId, manifest.batchId);
      const reason = error instanceof Error ? error.message : String(error);
      const sttCode = codeOfFailedReason(reason);
      const lectern = new LecternError(
        sttCode === 'BAD_REQUEST' ? ErrorCode.INVALID_REQUEST : ErrorCode.UNAVAILABLE,
        `speech-to-text job ${job.id ?? ''} failed: ${reason}`,
        { batchId: manifest.batchId, jobId: job.id, ...(sttCode ? { sttCode } : {}) },
        { cause: error },
      );
      this.safeEmit('error', { batchId: manifest.batchId, stage: 'stt', error: lectern, willRetry: false });
      // Kept, not deleted, as in the single-process mode: an operator can inspect or resubmit it.
      await fs.mkdir(this.failedDir, { recursive: true });
      await fs.rename(dir, path.join(this.failedDir, manifest.batchId)).catch(() => undefined);
    }
  }
}

function queueError(what: string, error: unknown, batchId: string): LecternError {
  return new LecternError(ErrorCode.UNAVAILABLE, `${what}: ${error instanceof Error ? error.message : String(error)}`, { batchId }, { cause: error });
}
