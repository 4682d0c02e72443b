import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { SttEngine, TranscribeOptions, Transcription } from '@lectern/stt-adapter';
import { ErrorCode, LecternError } from '../../errors.js';
import { TypedEmitter } from '../../util/typed-emitter.js';
import type { DeletionQueue } from '../batch/deletion-queue.js';
import type { BatchManifest } from '../batch/manifest.js';
import type { ReadyBatch } from '../batch/batcher.js';
import type { TranscriptEntry } from '@lectern/protocol';
import type { TranscriptStore } from '../store/transcript-store.js';
import { backoffDelay } from '../../util/backoff.js';
import { sleep, Wakeup } from '../util.js';
import { LectureLanguage } from './lecture-language.js';

export interface SttStageSettings {
  /**
   * Backoff between the stage's attempts at a batch that failed (STT or store),
   * with jitter. Defaults 1 s → 60 s. One attempt is one `engine.transcribe()`
   * call (which may retry its request a bounded number of times inside) plus
   * the store write.
   */
  retryMinDelayMs: number;
  retryMaxDelayMs: number;
  /** A batch the engine rejects as bad input this many times is moved to `failed/`. Default 3. */
  maxRejections: number;
  /** Engine options for every batch; the language comes from the lecture ({@link LectureLanguage}), not from here. */
  transcribe: Omit<TranscribeOptions, 'signal' | 'language'>;
}

export const DEFAULT_STT_STAGE_SETTINGS: SttStageSettings = {
  retryMinDelayMs: 1000,
  retryMaxDelayMs: 60_000,
  maxRejections: 3,
  transcribe: {},
};

export interface SttStageEvents {
  batchTranscribed: { batchId: string; streamKey: string; sttSeconds: number; audioSeconds: number; segments: number; attempt: number };
  transcriptUpdated: { batchId: string; entries: TranscriptEntry[] };
  /** The lecture's language was detected (`'auto'`): the first batch with speech decided it; emitted once, before that batch is stored. */
  languageDetected: { batchId: string; language: string; probability?: number };
  /** A batch failed; `willRetry` says whether it stays queued. */
  error: { batchId: string; stage: 'stt' | 'store'; error: LecternError; willRetry: boolean };
  listenerError: { event: string; error: unknown };
}

/**
 * Sends ready batches to the STT engine one at a time (the engine's client
 * limits concurrency across rooms), places the result on the lecture timeline,
 * stores it, and only then deletes the batch. A batch that cannot be
 * transcribed or stored now stays on disk and is retried with backoff; nothing
 * is dropped. A result already obtained is not re-transcribed when only the
 * store failed.
 *
 * Retry ownership (see util/backoff.ts): this stage owns the lecture-long
 * policy — keep the batch on disk and try again, for as long as the lecture
 * runs (then `recover()` picks it up). The engine owns the short,
 * transport-level retries of ONE request, bounded by its own settings
 * (`WhisperApiClient`: `retries`, default 4), and the store owns the retries of
 * one operation within its deadline. The layers nest exactly once: stage
 * attempt *n* makes one `transcribe()` call and one `putBatch()` call, each
 * settling after its own bounded retries; the stage then waits
 * {@link backoffDelay} before attempt *n + 1*. Neither layer retries on the
 * other's behalf, so attempts never multiply beyond (stage attempts) ×
 * (engine tries per call). Input the engine rejects as bad is not retried
 * forever: after `maxRejections` the batch is moved to `failed/`.
 */
export class SttStage extends TypedEmitter<SttStageEvents> {
  private readonly queue: ReadyBatch[] = [];
  private readonly wake = new Wakeup();
  private readonly idleWake = new Wakeup();
  private readonly stopController = new AbortController();
  private busy = false;
  private readonly loop: Promise<void>;
  private lastTranscribedEnd = 0;

  constructor(
    private readonly lectureId: string,
    private readonly engine: SttEngine,
    private readonly store: TranscriptStore,
    private readonly deletion: DeletionQueue,
    private readonly failedDir: string,
    private readonly settings: SttStageSettings = DEFAULT_STT_STAGE_SETTINGS,
    /** Sent with every batch once known; `'auto'` is pinned here by the first batch with speech. */
    private readonly language: LectureLanguage = new LectureLanguage('auto'),
  ) {
    super();
    this.loop = this.run();
  }

  /** Batches waiting or being processed. */
  get pending(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  /** Lecture time (s) up to which the transcript is stored. */
  get transcribedUntil(): number {
    return this.lastTranscribedEnd;
  }

  submit(batch: ReadyBatch): void {
    if (this.stopController.signal.aborted) return;
    this.queue.push(batch);
    this.queue.sort((a, b) => a.manifest.offset - b.manifest.offset);
    this.wake.notify();
  }

  /** Resolves when every submitted batch is stored (or moved to `failed/`). */
  async idle(): Promise<void> {
    while (this.pending > 0 && !this.stopController.signal.aborted) await this.idleWake.wait();
  }

  /** Stops after the current attempt; unfinished batches stay on disk for recovery. */
  async stop(): Promise<void> {
    this.stopController.abort();
    this.wake.notify();
    this.idleWake.notify();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.stopController.signal;
    while (!signal.aborted) {
      const batch = this.queue.shift();
      if (!batch) {
        this.idleWake.notify();
        await this.wake.wait();
        continue;
      }
      this.busy = true;
      try {
        await this.process(batch, signal);
      } finally {
        this.busy = false;
      }
    }
    this.idleWake.notify();
  }

  private async process(batch: ReadyBatch, signal: AbortSignal): Promise<void> {
    const { manifest, dir } = batch;
    let result: Transcription | undefined;
    let entries: TranscriptEntry[] | undefined;
    let rejections = 0;
    for (let attempt = 1; !signal.aborted; attempt++) {
      let stage: 'stt' | 'store' = 'stt';
      try {
        if (!result) {
          const t0 = performance.now();
          // Batches go one at a time, so a language the previous batch pinned applies to this one.
          const language = this.language.current;
          result = await this.engine.transcribe(path.join(dir, manifest.file), {
            ...withoutLanguage(this.settings.transcribe),
            ...(language !== undefined ? { language } : {}),
            signal,
          });
          entries = toTimeline(result, manifest);
          if (language === undefined && entries.length > 0 && this.language.pin(result.language)) {
            const probability = result.languageProbability;
            this.safeEmit('languageDetected', {
              batchId: manifest.batchId,
              language: result.language.trim().toLowerCase(),
              ...(probability !== undefined ? { probability } : {}),
            });
          }
          this.safeEmit('batchTranscribed', {
            batchId: manifest.batchId,
            streamKey: manifest.streamKey,
            sttSeconds: (performance.now() - t0) / 1000,
            audioSeconds: manifest.duration,
            segments: entries.length,
            attempt,
          });
        }
        stage = 'store';
        await this.store.putBatch(this.lectureId, manifest.batchId, entries ?? []);
        const end = manifest.offset + manifest.duration;
        this.lastTranscribedEnd = Math.max(this.lastTranscribedEnd, end);
        this.safeEmit('transcriptUpdated', { batchId: manifest.batchId, entries: entries ?? [] });
        this.deletion.enqueue(dir);
        return;
      } catch (error) {
        if (signal.aborted) return;
        const rejected = stage === 'stt' && isRejection(error);
        if (rejected) rejections += 1;
        const giveUp = rejections >= this.settings.maxRejections;
        this.safeEmit('error', { batchId: manifest.batchId, stage, error: asLecternError(error, stage, attempt), willRetry: !giveUp });
        if (giveUp) {
          // Kept, not deleted: an operator can inspect or resubmit it.
          await fs.mkdir(this.failedDir, { recursive: true });
          await fs.rename(dir, path.join(this.failedDir, manifest.batchId)).catch(() => undefined);
          return;
        }
        await sleep(backoffDelay(attempt, { minMs: this.settings.retryMinDelayMs, maxMs: this.settings.retryMaxDelayMs }), signal);
      }
    }
  }
}

/** The options without a `language` a host may still pass at run time (typed out, but plain objects carry anything). */
export function withoutLanguage(options: SttStageSettings['transcribe']): SttStageSettings['transcribe'] {
  const { language: _ignored, ...rest } = options as TranscribeOptions;
  return rest;
}

/**
 * The engine said the input itself is bad (retrying the same bytes will not
 * help). Refused credentials are not that: the batch is fine and is kept, retried
 * with backoff until an operator fixes the token (see SttEngine's contract).
 */
export function isRejection(error: unknown): boolean {
  const e = error as { retryable?: unknown; code?: unknown };
  return e.retryable === false && e.code !== 'ABORTED' && e.code !== 'UNAUTHORIZED';
}

/**
 * The stage's view of a failed attempt. For engine errors the details say how
 * the layers nested: the stage's attempt, and how many requests the engine
 * made within it (when the engine reports it, like `SttError.attempts`).
 */
export function asLecternError(error: unknown, stage: 'stt' | 'store', attempt: number): LecternError {
  if (error instanceof LecternError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const engineAttempts = (error as { attempts?: unknown } | null)?.attempts;
  const details = { attempt, ...(typeof engineAttempts === 'number' ? { engineAttempts } : {}) };
  return new LecternError(ErrorCode.UNAVAILABLE, `${stage === 'stt' ? 'speech-to-text' : 'transcript store'} failed: ${message}`, details, { cause: error });
}

/**
 * Places an engine result on the lecture timeline. Batch audio is the parts
 * back to back; a time inside part *k* maps to that part's lecture offset, so
 * gaps between parts (a pause, a restart) are restored.
 */
export function toTimeline(result: Transcription, manifest: BatchManifest): TranscriptEntry[] {
  const parts = manifest.parts;
  const map = (t: number): number => {
    let part = parts[0];
    for (const p of parts) {
      if (p.batchStart <= t + 1e-6) part = p;
      else break;
    }
    if (!part) return manifest.offset + t;
    const within = Math.min(Math.max(0, t - part.batchStart), part.duration);
    return round(part.offset + within);
  };
  const entries: TranscriptEntry[] = [];
  for (const segment of result.segments) {
    const text = segment.text.trim();
    if (!text) continue;
    const start = map(segment.start);
    const entry: TranscriptEntry = { batchId: manifest.batchId, index: entries.length, start, end: Math.max(start, map(segment.end)), text };
    if (segment.words?.length) {
      entry.words = segment.words.map((w) => {
        const ws = map(w.start);
        return { start: ws, end: Math.max(ws, map(w.end)), word: w.word, probability: w.probability };
      });
    }
    entries.push(entry);
  }
  return entries;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
