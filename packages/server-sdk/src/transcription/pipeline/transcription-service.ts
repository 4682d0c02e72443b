import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StreamingSttEngine, SttEngine, TranscribeOptions } from '@lectern/stt-adapter';
import type { LectureSummary, TranscriptSource } from '@lectern/protocol';
import { ErrorCode, LecternError, notFound } from '../../errors.js';
import type { RoomManager } from '../../rooms/room-manager.js';
import { withTimeout } from '../../util/timeout.js';
import { TypedEmitter } from '../../util/typed-emitter.js';
import { DEFAULT_BATCHER_SETTINGS, type BatcherSettings } from '../batch/batcher.js';
import type { TransferFormat } from '../batch/manifest.js';
import { FORWARDED_PIPELINE_EVENTS, type LecturePipelineEvents, type TranscriptionServiceEvents } from '../events.js';
import { TranscriptionMetrics } from '../metrics.js';
import { MemoryTranscriptStore } from '../store/memory-store.js';
import type { LectureListing, ListLecturesOptions, TranscriptStore } from '../store/transcript-store.js';
import { toSrt, toWebVtt, type SubtitleOptions } from '../export/subtitles.js';
import { OfflineSummarizer } from '../summary/offline-summarizer.js';
import type { Summarizer } from '../summary/summarizer.js';
import { DEFAULT_TAP_SETTINGS, validateTapSettings, type AudioTapSettings } from '../tap/audio-tap.js';
import { lecturerAudio, LecturePipeline, type PipelineSettings, type ProducerSelector } from './lecture-pipeline.js';
import { DEFAULT_STT_STAGE_SETTINGS, type SttStageSettings } from './stt-stage.js';
import { DEFAULT_MAX_PARTIALS_PER_SECOND } from '../captions/live-captions.js';
import { AUTO_LANGUAGE, parseRequestedLanguage, type RequestedLanguage } from './lecture-language.js';
import { SttQueueProducer, type SttQueueOptions } from '../queue/producer.js';

export interface TranscriptionServiceOptions {
  /** The speech-to-text engine, e.g. `new WhisperApiClient({ baseUrl })`. */
  engine: SttEngine;
  /** Where transcripts and summaries go. Default: in memory (lost on exit; use `RedisTranscriptStore` in production). */
  store?: TranscriptStore;
  /** Default: {@link OfflineSummarizer} (extractive, no network). */
  summarizer?: Summarizer;
  /** Working directory for segments and batches. Default `<tmp>/lectern-transcription`. */
  workDir?: string;
  /** Seconds per WAV segment (bounds what a crash can lose). Default 30. */
  segmentSeconds?: number;
  /** Segments per STT batch. Default 10 (5 minutes with 30 s segments). */
  segmentsPerBatch?: number;
  /** Audio format sent to the engine. Default `mp3`. */
  transferFormat?: TransferFormat;
  /** MP3 bitrate. Default `48k`. */
  mp3Bitrate?: string;
  /** FFmpeg binary. Default `ffmpeg`. */
  ffmpegPath?: string;
  /** The tap's PlainTransport listen IP: only `127.0.0.1` is accepted (anything else is refused). */
  tapListenIp?: string;
  /** FFmpeg restart backoff after a crash. */
  tapRestart?: Partial<AudioTapSettings['restart']>;
  /**
   * The pipeline's own retry of a batch the engine or the store failed (the batch
   * stays on disk meanwhile; 1 s → 60 s with jitter, as long as the lecture runs).
   * Each retry is one `engine.transcribe()` call: the engine's own short
   * retries of one request (e.g. `WhisperApiClient`'s `retries`) happen inside
   * it and are configured on the engine, not here.
   */
  sttRetry?: Partial<Pick<SttStageSettings, 'retryMinDelayMs' | 'retryMaxDelayMs' | 'maxRejections'>>;
  /**
   * Engine options for every batch (beam size, VAD, word timestamps,
   * temperature). `language` here is the default of lectures whose
   * {@link StartTranscriptionOptions.language} is not set (default `'auto'`).
   */
  transcribe?: Omit<TranscribeOptions, 'signal' | 'language'> & { language?: RequestedLanguage };
  /** How long stopping a lecture waits for outstanding batches. Default 10 minutes. */
  finalizeTimeoutMs?: number;
  /**
   * The engine check at {@link TranscriptionService.startTranscription}: the
   * engine's `healthy()` must answer true within `timeoutMs` (default 3000),
   * and an engine that says it is English-only (`capabilities()`) refuses a
   * lecture in another language; otherwise nothing is started. `false` skips
   * the check (the pipeline then keeps batches on disk until the engine works).
   */
  engineCheck?: { timeoutMs?: number } | false;
  /**
   * Live captions beside the batches: the lecturer's audio also streams to
   * `engine` (e.g. the same `WhisperApiClient`, whose `/v1/stream` serves
   * them) and every peer of the room gets `caption` notifications within
   * seconds: partials (at most `maxPartialsPerSecond` per stream, default 4)
   * and finals. Finals are stored as the lecture's `live` transcript; at the
   * end a `live` summary is made from them at once, replaced by the `batch`
   * summary when every batch is stored. Off when absent; a lecture can opt
   * out ({@link StartTranscriptionOptions.captions}).
   */
  captions?: { engine: StreamingSttEngine; maxPartialsPerSecond?: number };
  /**
   * STT on a queue: each ready batch becomes a BullMQ job (id
   * `sttJobId`: `${lectureId}/${batchId}`, its audio next to it in Redis) that
   * {@link SttQueueWorker}s in any number of processes transcribe with their
   * engines and store in `store` (which must then be shared, e.g. a
   * `RedisTranscriptStore`). The service still owns its lectures: stopping
   * one waits for its jobs, then summarises. `engine` is then only asked at
   * start (`engineCheck`). Needs the optional peers `bullmq` and `ioredis`.
   */
  sttQueue?: SttQueueOptions;
}

/** Default {@link TranscriptionServiceOptions.engineCheck} time limit, in milliseconds. */
export const DEFAULT_ENGINE_CHECK_TIMEOUT_MS = 3000;

export interface StartTranscriptionOptions {
  /** Id the transcript is stored under. Default `<roomId>-<start time>`. Reusing an id continues that lecture. */
  lectureId?: string;
  /** Which producers to transcribe. Default: every lecturer audio producer. */
  select?: ProducerSelector;
  /**
   * The lecture's language: an ISO 639-1 code (`'en'`, `'ko'`, ...) sent with
   * every batch, or `'auto'`: the engine detects it once, on the first batch
   * with speech, and that language is pinned for the rest of the lecture
   * (`languageDetected` event, lecture record's `language`). Default: the
   * service's `transcribe.language`, else `'auto'`. Anything else is refused
   * with `INVALID_REQUEST`. A code the engine cannot transcribe (an
   * English-only model) makes every batch fail as bad input.
   */
  language?: RequestedLanguage;
  /** Live captions for this lecture; default true when the service has {@link TranscriptionServiceOptions.captions}. */
  captions?: boolean;
}

/** A subtitle format {@link TranscriptionService.exportTranscript} writes: WebVTT or SubRip. */
export type SubtitleFormat = 'vtt' | 'srt';

/** What {@link TranscriptionService.exportTranscript} returns: the file and how to serve it. */
export interface TranscriptExport {
  lectureId: string;
  format: SubtitleFormat;
  /** `text/vtt; charset=utf-8` or `application/x-subrip; charset=utf-8`. */
  contentType: string;
  /** `<lectureId>.vtt` or `<lectureId>.srt` (lecture ids are file-name safe). */
  fileName: string;
  /** The file's text (UTF-8 when served with `contentType`). */
  text: string;
  /** Cues in the file (0 for a lecture with no transcript yet). */
  cues: number;
}

const SUBTITLE_CONTENT_TYPES: Readonly<Record<SubtitleFormat, string>> = {
  vtt: 'text/vtt; charset=utf-8',
  srt: 'application/x-subrip; charset=utf-8',
};

/** A running lecture transcription. */
export interface LectureTranscription {
  lectureId: string;
  roomId: string;
  startedAt: Date;
  /** What the lecture was started with: `'auto'` or a language code (see {@link TranscriptionService.pipeline}'s `language` for the detected one). */
  requestedLanguage: RequestedLanguage;
}

/**
 * Live transcription of lectures over a {@link RoomManager}: taps the lecturer's
 * audio, cuts it into segments, batches them, transcribes the batches with the
 * STT engine, stores the transcript, and summarises the lecture at its end.
 *
 * ```ts
 * const transcription = new TranscriptionService(manager, {
 *   engine: new WhisperApiClient({ baseUrl: 'http://127.0.0.1:8765' }),
 *   store: new RedisTranscriptStore({ url: 'redis://127.0.0.1:6379' }),
 * });
 * await transcription.recover();                      // finish lectures a crash interrupted
 * await transcription.startTranscription(roomId, { language: 'ko' });   // or 'auto' (the default): detected once
 * transcription.on('transcriptUpdated', ({ roomId, entries }) => ...);
 * const summary = await transcription.stopTranscription(roomId);   // or when the room closes
 * ```
 */
export class TranscriptionService extends TypedEmitter<TranscriptionServiceEvents> {
  private readonly lectures = new Map<string, LecturePipeline>();
  private readonly starting = new Map<string, Promise<LectureTranscription>>();
  private readonly finishing = new Set<Promise<unknown>>();
  readonly store: TranscriptStore;
  readonly workDir: string;
  private readonly ownsStore: boolean;
  private readonly settings: PipelineSettings;
  private readonly defaultLanguage: RequestedLanguage;
  private readonly summarizer: Summarizer;
  private readonly metrics: TranscriptionMetrics;
  /** Time limit of the engine check at start; undefined when it is off. */
  private readonly engineCheckMs: number | undefined;
  private readonly sttQueue: SttQueueProducer | undefined;
  private closed = false;

  constructor(
    private readonly manager: RoomManager,
    private readonly options: TranscriptionServiceOptions,
  ) {
    super();
    this.ownsStore = !options.store;
    this.store = options.store ?? new MemoryTranscriptStore();
    this.summarizer = options.summarizer ?? new OfflineSummarizer();
    this.workDir = path.resolve(options.workDir ?? path.join(os.tmpdir(), 'lectern-transcription'));
    const ffmpegPath = options.ffmpegPath ?? 'ffmpeg';
    const tap: AudioTapSettings = {
      ...DEFAULT_TAP_SETTINGS,
      ffmpegPath,
      segmentSeconds: options.segmentSeconds ?? DEFAULT_TAP_SETTINGS.segmentSeconds,
      listenIp: options.tapListenIp ?? DEFAULT_TAP_SETTINGS.listenIp,
      restart: { ...DEFAULT_TAP_SETTINGS.restart, ...options.tapRestart },
    };
    validateTapSettings(tap); // a config that would expose the tap fails here, at construction
    const batch: BatcherSettings = {
      ...DEFAULT_BATCHER_SETTINGS,
      ffmpegPath,
      segmentsPerBatch: options.segmentsPerBatch ?? DEFAULT_BATCHER_SETTINGS.segmentsPerBatch,
      transferFormat: options.transferFormat ?? DEFAULT_BATCHER_SETTINGS.transferFormat,
      mp3Bitrate: options.mp3Bitrate ?? DEFAULT_BATCHER_SETTINGS.mp3Bitrate,
    };
    if (!['mp3', 'wav', 'flac'].includes(batch.transferFormat)) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, `transferFormat must be mp3, wav or flac (got ${String(batch.transferFormat)})`);
    }
    const check = options.engineCheck ?? {};
    this.engineCheckMs = check === false ? undefined : (check.timeoutMs ?? DEFAULT_ENGINE_CHECK_TIMEOUT_MS);
    if (this.engineCheckMs !== undefined && !(Number.isFinite(this.engineCheckMs) && this.engineCheckMs > 0)) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, `engineCheck.timeoutMs must be a positive number (got ${String(this.engineCheckMs)})`);
    }
    const { language: defaultLanguage, ...transcribe } = options.transcribe ?? {};
    this.defaultLanguage = parseRequestedLanguage(defaultLanguage ?? AUTO_LANGUAGE);
    this.settings = {
      tap,
      batch,
      stt: { ...DEFAULT_STT_STAGE_SETTINGS, ...options.sttRetry, transcribe },
      finalizeTimeoutMs: options.finalizeTimeoutMs ?? 10 * 60_000,
    };
    if (options.captions !== undefined) {
      const { engine, maxPartialsPerSecond = DEFAULT_MAX_PARTIALS_PER_SECOND } = options.captions;
      if (typeof engine?.openStream !== 'function') {
        throw new LecternError(ErrorCode.INVALID_CONFIG, 'captions.engine must be a StreamingSttEngine (an object with openStream(), e.g. a WhisperApiClient)');
      }
      if (!(Number.isFinite(maxPartialsPerSecond) && maxPartialsPerSecond > 0 && maxPartialsPerSecond <= 50)) {
        throw new LecternError(ErrorCode.INVALID_CONFIG, `captions.maxPartialsPerSecond must be within (0, 50] (got ${String(maxPartialsPerSecond)})`);
      }
      this.settings.captions = { engine, maxPartialsPerSecond };
    }
    // Last: nothing below can throw, so a refused config leaves no queue connection open.
    this.sttQueue = options.sttQueue ? new SttQueueProducer(options.sttQueue) : undefined;
    manager.on('roomClosed', this.onRoomClosed);
    // Registered next to the manager's metrics: the host's /metrics shows both.
    this.metrics = new TranscriptionMetrics(this, manager.metrics.registry, manager.metrics.prefix);
  }

  /** Room ids with a running transcription. */
  get activeRooms(): string[] {
    return [...this.lectures.keys()];
  }

  /** The running pipeline of a room (backlog, lag, tapped producers), if any. */
  pipeline(roomId: string): LecturePipeline | undefined {
    return this.lectures.get(roomId);
  }

  /**
   * Starts transcribing a room's lecture: its selected audio producers are
   * tapped now and whenever they appear (a lecturer re-joining is followed).
   * Rejects with NOT_FOUND for an unknown room, INVALID_STATE if one is running.
   *
   * The engine is asked first (see {@link TranscriptionServiceOptions.engineCheck}):
   * `UNAVAILABLE` with `details.engine` (and `details.reason`: `unhealthy`,
   * `timeout`, `error`) when it is not ready, `INVALID_REQUEST` with
   * `details.reason: 'unsupported-language'` for a non-English lecture on an
   * engine that says it is English-only. Either way nothing was started: no
   * tap, no FFmpeg, no store record.
   */
  async startTranscription(roomId: string, options: StartTranscriptionOptions = {}): Promise<LectureTranscription> {
    this.assertOpen();
    if (this.lectures.has(roomId) || this.starting.has(roomId)) {
      throw new LecternError(ErrorCode.INVALID_STATE, `room ${roomId} is already being transcribed`);
    }
    const room = this.manager.getRoom(roomId);
    if (!room) throw notFound('room', roomId);
    const lectureId = options.lectureId ?? `${roomId}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    validateLectureId(lectureId);
    const language = parseRequestedLanguage(options.language ?? this.defaultLanguage);
    const start = (async () => {
      await this.checkEngine(language);
      if (room.isClosed || this.closed) throw new LecternError(ErrorCode.CLOSED, `room ${roomId} closed while transcription started`);
      const pipeline = await LecturePipeline.create({ lectureId, roomId, workDir: this.workDir, language }, this.deps(options.captions !== false));
      this.forward(pipeline, roomId);
      if (room.isClosed || this.closed) {
        await pipeline.stop();
        throw new LecternError(ErrorCode.CLOSED, `room ${roomId} closed while transcription started`);
      }
      this.lectures.set(roomId, pipeline);
      pipeline.attach(room, options.select ?? lecturerAudio);
      this.safeEmit('transcriptionStarted', { lectureId, roomId });
      return { lectureId, roomId, startedAt: new Date(pipeline.startedAtMs), requestedLanguage: language };
    })();
    this.starting.set(roomId, start);
    try {
      return await start;
    } finally {
      this.starting.delete(roomId);
    }
  }

  /**
   * Ends a room's transcription: the last segments are flushed, every batch is
   * transcribed, and the summary is made and stored. Resolves with the summary.
   */
  async stopTranscription(roomId: string): Promise<LectureSummary> {
    await this.starting.get(roomId)?.catch(() => undefined);
    const pipeline = this.lectures.get(roomId);
    if (!pipeline) throw new LecternError(ErrorCode.NOT_FOUND, `room ${roomId} has no running transcription`);
    return this.finish(roomId, pipeline);
  }

  /**
   * The lectures of a room as the store keeps them (oldest first), with their
   * status (`running`, `stopped`, `summarised`); optionally only those that
   * started in `[from, to)` or in given states. See {@link TranscriptStore.listLectures}.
   */
  listLectures(roomId: string, options?: ListLecturesOptions): Promise<LectureListing[]> {
    return this.store.listLectures(roomId, options);
  }

  /**
   * A stored lecture's transcript as a subtitle file (WebVTT or SRT, through
   * {@link toWebVtt} / {@link toSrt} with the lecture's language): valid for
   * players, cues in time order and never overlapping, no empty cues. Works
   * while the lecture runs (what is transcribed so far) and after it ended.
   * `options.source: 'live'` exports the live captions' finals instead of the
   * batch transcript (the default).
   * @throws {LecternError} `NOT_FOUND` for a lecture the store does not know,
   *   `INVALID_REQUEST` for another format, the store's errors (`UNAVAILABLE`).
   */
  async exportTranscript(
    lectureId: string,
    format: SubtitleFormat,
    options: Omit<SubtitleOptions, 'language'> & { source?: TranscriptSource } = {},
  ): Promise<TranscriptExport> {
    if (format !== 'vtt' && format !== 'srt') {
      throw new LecternError(ErrorCode.INVALID_REQUEST, `format must be vtt or srt (got ${String(format).slice(0, 16)})`);
    }
    validateLectureId(lectureId);
    const { source = 'batch', ...subtitle } = options;
    const record = await this.store.getLecture(lectureId);
    if (!record) throw notFound('lecture', lectureId);
    const entries = await this.store.getTranscript(lectureId, { source });
    const subtitleOptions: SubtitleOptions = { ...subtitle, ...(record.language !== undefined ? { language: record.language } : {}) };
    const text = format === 'vtt' ? toWebVtt(entries, subtitleOptions) : toSrt(entries, subtitleOptions);
    const cues = (text.match(/ --> /g) ?? []).length;
    return { lectureId, format, contentType: SUBTITLE_CONTENT_TYPES[format], fileName: `${lectureId}.${format}`, text, cues };
  }

  /**
   * Finishes lectures a previous process left in the working directory: their
   * batches are transcribed and stored, their segments batched, and a summary
   * made. Resolves with the lecture ids recovered, once all are done.
   */
  async recover(): Promise<string[]> {
    this.assertOpen();
    const names = await fs.readdir(this.workDir).catch(() => [] as string[]);
    const active = new Set([...this.lectures.values()].map((p) => p.lectureId));
    const recovered: string[] = [];
    for (const name of names) {
      // A recovered lecture has no live audio: no captions.
      const pipeline = await LecturePipeline.recover(path.join(this.workDir, name), this.deps(false));
      if (!pipeline || active.has(pipeline.lectureId)) continue;
      this.forward(pipeline, pipeline.roomId);
      const done = pipeline.stop().then((summary) => this.safeEmit('transcriptionStopped', { lectureId: pipeline.lectureId, roomId: pipeline.roomId, summary }));
      this.track(done);
      await done;
      recovered.push(pipeline.lectureId);
    }
    return recovered;
  }

  /** Stops every running transcription (each finishes and is summarised), then closes the store if this service created it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.manager.off('roomClosed', this.onRoomClosed);
    await Promise.allSettled([...this.starting.values()]);
    await Promise.allSettled([...this.lectures.entries()].map(([roomId, p]) => this.finish(roomId, p)));
    await Promise.allSettled([...this.finishing]);
    this.metrics.unregister();
    await this.sttQueue?.close();
    if (this.ownsStore) await this.store.close();
  }

  /** The engine check before a lecture starts (see {@link TranscriptionServiceOptions.engineCheck}). */
  private async checkEngine(language: RequestedLanguage): Promise<void> {
    const timeoutMs = this.engineCheckMs;
    if (timeoutMs === undefined) return;
    const engine = this.options.engine;
    const outcome = await bounded(() => engine.healthy(), timeoutMs);
    if (outcome.kind !== 'value' || outcome.value !== true) {
      const reason = outcome.kind === 'value' ? 'unhealthy' : outcome.kind;
      const why = reason === 'timeout' ? `did not answer within ${timeoutMs} ms` : reason === 'error' ? 'failed its health check' : 'is not ready';
      throw new LecternError(
        ErrorCode.UNAVAILABLE,
        `the speech-to-text engine (${engine.name}) ${why}; transcription was not started`,
        { engine: engine.name, reason },
        outcome.kind === 'error' ? { cause: outcome.error } : undefined,
      );
    }
    if (language === AUTO_LANGUAGE || language === 'en' || typeof engine.capabilities !== 'function') return;
    const capabilities = await bounded(() => engine.capabilities!(), timeoutMs);
    if (capabilities.kind === 'value' && capabilities.value?.multilingual === false) {
      const model = capabilities.value.model;
      throw new LecternError(
        ErrorCode.INVALID_REQUEST,
        `the speech-to-text engine (${engine.name}${model ? `, model ${model}` : ''}) is English-only and cannot transcribe '${language}'; use a multilingual model, or 'en'`,
        { engine: engine.name, reason: 'unsupported-language', language, ...(model ? { model } : {}) },
      );
    }
  }

  private readonly onRoomClosed = ({ roomId }: { roomId: string }) => {
    const pipeline = this.lectures.get(roomId);
    if (pipeline) void this.finish(roomId, pipeline).catch(() => undefined);
  };

  private finish(roomId: string, pipeline: LecturePipeline): Promise<LectureSummary> {
    const done = pipeline.stop().then((summary) => {
      if (this.lectures.get(roomId) === pipeline) {
        this.lectures.delete(roomId);
        this.safeEmit('transcriptionStopped', { lectureId: pipeline.lectureId, roomId, summary });
      }
      return summary;
    });
    this.track(done);
    return done;
  }

  private track(promise: Promise<unknown>): void {
    const settled = promise.catch(() => undefined);
    this.finishing.add(settled);
    void settled.finally(() => this.finishing.delete(settled));
  }

  private deps(captions: boolean) {
    const settings: PipelineSettings = { ...this.settings };
    if (!captions) delete settings.captions;
    return { engine: this.options.engine, store: this.store, summarizer: this.summarizer, settings, sttQueue: this.sttQueue };
  }

  private forward(pipeline: LecturePipeline, roomId: string): void {
    for (const name of FORWARDED_PIPELINE_EVENTS) {
      pipeline.on(name, (event: LecturePipelineEvents[typeof name]) => {
        (this.safeEmit as (n: string, e: unknown) => void)(name, { ...event, roomId });
      });
    }
    pipeline.on('listenerError', (e) => this.safeEmit('listenerError', e));
  }

  private assertOpen(): void {
    if (this.closed) throw new LecternError(ErrorCode.CLOSED, 'the transcription service is closed');
  }
}

/** Lecture ids name a directory and store keys: bounded, printable, no path tricks. */
function validateLectureId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(id) || id.includes('..')) {
    throw new LecternError(ErrorCode.INVALID_REQUEST, `invalid lectureId (1-128 chars of A-Z a-z 0-9 _ . : -, starting with a letter or digit): ${id.slice(0, 64)}`);
  }
}

type Bounded<T> = { kind: 'value'; value: T } | { kind: 'timeout' } | { kind: 'error'; error: unknown };

/**
 * Runs `fn` with a time limit (util/timeout.ts's race, the one every bounded
 * call uses); a throw, a rejection or the limit come back as outcomes (the late
 * result is ignored).
 */
async function bounded<T>(fn: () => Promise<T>, timeoutMs: number): Promise<Bounded<T>> {
  // Settles with an outcome and never rejects: a rejection of withTimeout is its deadline.
  const outcome = Promise.resolve()
    .then(fn)
    .then(
      (value): Bounded<T> => ({ kind: 'value', value }),
      (error: unknown): Bounded<T> => ({ kind: 'error', error }),
    );
  return withTimeout(outcome, timeoutMs, 'engine check').catch((): Bounded<T> => ({ kind: 'timeout' }));
}
