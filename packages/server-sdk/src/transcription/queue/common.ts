/**
 * What the producer (a `TranscriptionService` with `sttQueue`) and the
 * {@link SttQueueWorker}s agree on: the queue's name, the job's id and data,
 * where a batch's audio waits in Redis, and the one retry policy of a job.
 */
import type { Redis } from 'ioredis';
import type { TranscribeOptions } from '@lectern/stt-adapter';
import { ErrorCode, LecternError } from '../../errors.js';
import { backoffDelay, type BackoffPolicy } from '../../util/backoff.js';
import type { BatchManifest } from '../batch/manifest.js';
import { loadOptionalPeer } from '../../util/optional-peer.js';

/** Default BullMQ queue name of STT jobs. */
export const DEFAULT_STT_QUEUE_NAME = 'lectern-stt';

/** The one job name of the queue (BullMQ wants one; the data says the rest). */
export const STT_JOB_NAME = 'transcribe-batch';

/** The custom BullMQ backoff type whose delays come from {@link backoffDelay}. */
export const STT_BACKOFF_TYPE = 'lectern';

/**
 * Redis of the queue: a `redis://` URL, or host/port options. BullMQ opens its
 * own connections from it (a worker needs a blocking one), and the audio of
 * batches is kept there too.
 */
export type SttQueueConnection = string | { host?: string; port?: number; username?: string; password?: string; db?: number };

/**
 * The job of one batch. Its id is {@link sttJobId}: enqueuing the same batch
 * again (a retry of the producer, a recovered lecture) finds the existing job
 * instead of adding a second one.
 */
export interface SttJobData {
  version: 1;
  lectureId: string;
  batchId: string;
  manifest: BatchManifest;
  /** Redis key of the batch's audio bytes (see {@link sttAudioKey}). */
  audioKey: string;
  /** The lecture's language once known; absent = the engine detects it. */
  language?: string;
  /** The service's engine options (beam size, VAD, word timestamps, temperature). */
  transcribe: Omit<TranscribeOptions, 'signal' | 'language'>;
}

/** What a completed job returns (small on purpose: the entries are in the store). */
export interface SttJobResult {
  segments: number;
  sttSeconds: number;
  language: string;
  languageProbability?: number;
  /** The engine of the pool that transcribed it. */
  engine: string;
}

/**
 * `${lectureId}/${batchId}`: one job per batch, whoever enqueues it and how
 * often. Not `:` — BullMQ refuses custom ids with a `:` (unless they have
 * exactly three parts, its legacy repeatable-job form), so a `:` inside a
 * lecture id is written `%3A` (`encodeURIComponent`; the other characters a
 * lecture id may hold, and every character of a batch id, stay as they are).
 */
export const sttJobId = (lectureId: string, batchId: string): string => `${encodeURIComponent(lectureId)}/${batchId}`;

/** Prefix of every audio key; a test or an operator lists `${STT_AUDIO_KEY_PREFIX}*`. */
export const STT_AUDIO_KEY_PREFIX = 'lectern:stt-audio:';

/** Where a batch's audio waits for a worker: next to the job, under the queue's name. */
export const sttAudioKey = (queueName: string, jobId: string): string => `${STT_AUDIO_KEY_PREFIX}${queueName}:${jobId}`;

/** Default job attempts (each one `transcribe()` call plus the store write). */
export const DEFAULT_STT_JOB_ATTEMPTS = 12;

/** Default backoff between attempts of a job: 1 s → 60 s with jitter, as the in-process stage. */
export const DEFAULT_STT_JOB_BACKOFF: BackoffPolicy = { minMs: 1000, maxMs: 60_000 };

/**
 * The delay before a job's next attempt. Refused credentials (`UNAUTHORIZED`)
 * retry slowly, at the ceiling: the batch is fine, an operator must fix the
 * token, and hammering the engine meanwhile helps nobody.
 */
export function sttJobBackoff(attemptsMade: number, error: unknown, policy: BackoffPolicy): number {
  const e = error as { code?: unknown; sttCode?: unknown } | null | undefined;
  if ((e?.sttCode ?? e?.code) === 'UNAUTHORIZED') return policy.maxMs;
  return backoffDelay(attemptsMade, policy);
}

/** BullMQ's connection options from {@link SttQueueConnection}. */
export function bullConnection(connection: SttQueueConnection): Record<string, unknown> {
  // BullMQ's workers need `maxRetriesPerRequest: null` (blocking commands must wait out a reconnect).
  return typeof connection === 'string' ? { url: connection, maxRetriesPerRequest: null } : { ...connection, maxRetriesPerRequest: null };
}

/** A plain ioredis connection for the audio bytes (BullMQ's clients are its own). */
export function audioConnection(connection: SttQueueConnection): Redis {
  const { Redis: RedisClient } = loadOptionalPeer<typeof import('ioredis')>('ioredis');
  const options = { maxRetriesPerRequest: 3, enableOfflineQueue: true } as const;
  return typeof connection === 'string' ? new RedisClient(connection, options) : new RedisClient({ ...connection, ...options });
}

/** Validates what both sides take; `INVALID_CONFIG` at construction. */
export function validateQueueName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new LecternError(ErrorCode.INVALID_CONFIG, `sttQueue name must be 1-64 chars of A-Z a-z 0-9 _ . - (got ${JSON.stringify(name.slice(0, 64))})`);
  }
}

/** The failed reason a worker writes for a job, carrying the engine's code: `[BAD_REQUEST] ...`. */
export const failedReason = (code: string | undefined, message: string): string => (code ? `[${code}] ${message}` : message);

/** The engine's code back from a failed reason written by {@link failedReason}. */
export const codeOfFailedReason = (reason: string): string | undefined => /^\[([A-Z_]+)\]/.exec(reason)?.[1];
