import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { SttEngine } from '@lectern/stt-adapter';
import type { LectureSummary, PeerRole, ProducerInfo, TranscriptEntry } from '@lectern/protocol';
import { ErrorCode, LecternError } from '../../errors.js';
import type { RoomView } from '../../rooms/room.js';
import { TypedEmitter } from '../../util/typed-emitter.js';
import { Batcher, type BatcherSettings, type ReadyBatch } from '../batch/batcher.js';
import { DeletionQueue } from '../batch/deletion-queue.js';
import { readManifest, readSegmentSidecar } from '../batch/manifest.js';
import type { LecturePipelineEvents, PipelineStage } from '../events.js';
import type { TranscriptStore } from '../store/transcript-store.js';
import { OfflineSummarizer } from '../summary/offline-summarizer.js';
import type { Summarizer } from '../summary/summarizer.js';
import { AudioTap, type AudioSegment, type AudioTapSettings, type TapSource } from '../tap/audio-tap.js';
import { LiveCaptions, type CaptionSettings } from '../captions/live-captions.js';
import { readWav } from '../tap/wav.js';
import { writeFileAtomic } from '../util.js';
import { SttStage, type SttStageSettings } from './stt-stage.js';
import { QueuedSttStage, type SttQueueProducer } from '../queue/producer.js';
import { AUTO_LANGUAGE, LectureLanguage, parseRequestedLanguage, type RequestedLanguage } from './lecture-language.js';

/** Picks the producers a lecture transcribes. Default: every audio producer of a lecturer. */
export type ProducerSelector = (producer: ProducerInfo, role: PeerRole | undefined) => boolean;

export const lecturerAudio: ProducerSelector = (producer, role) => producer.kind === 'audio' && role === 'lecturer';

export interface PipelineSettings {
  tap: AudioTapSettings;
  batch: BatcherSettings;
  stt: SttStageSettings;
  /** How long `stop()` waits for outstanding batches before summarising what is stored. */
  finalizeTimeoutMs: number;
  /** Live captions beside the batches; off when absent. */
  captions?: CaptionSettings;
}

interface LectureFile {
  version: 1;
  lectureId: string;
  roomId: string;
  startedAtMs: number;
  /** `'auto'` or a code; absent in files from before language detection (then `language` was the request). */
  requestedLanguage?: string;
  /** The lecture's language once known (requested, or detected and pinned). */
  language?: string;
}

const LECTURE_FILE = 'lecture.json';

export interface PipelineDeps {
  engine: SttEngine;
  store: TranscriptStore;
  summarizer: Summarizer;
  settings: PipelineSettings;
  /** Batches go to this STT queue (workers transcribe them) instead of `engine`. */
  sttQueue?: SttQueueProducer | undefined;
}

/**
 * One lecture's transcription: taps → batcher → STT stage → store, then a
 * summary at the end. Owns its working directory `<workDir>/<lectureId>`:
 * `segments/` (WAV + metadata until batched), `batches/` (until stored),
 * `failed/` (batches the engine rejected). A directory left by a crash is
 * resumed by {@link LecturePipeline.recover}.
 */
export class LecturePipeline extends TypedEmitter<LecturePipelineEvents> {
  private readonly taps = new Map<string, AudioTap>();
  private readonly deletion: DeletionQueue;
  private readonly batcher: Batcher;
  private readonly stt: SttStage | QueuedSttStage;
  private readonly captions: LiveCaptions | undefined;
  private room: RoomView | undefined;
  private readonly adds = new Set<Promise<void>>();
  private readonly detachRoom: (() => void)[] = [];
  private stopping: Promise<LectureSummary> | undefined;
  /** Set once the lecture record's `endedAt` is stored (by the live summary or the batch one). */
  private endRecorded = false;
  /** Writes that record a detected language (lecture.json + store), awaited before the summary. */
  private recordingLanguage: Promise<void> = Promise.resolve();

  private constructor(
    readonly lectureId: string,
    readonly roomId: string,
    readonly startedAtMs: number,
    readonly dir: string,
    private readonly lectureLanguage: LectureLanguage,
    private readonly deps: PipelineDeps,
  ) {
    super();
    this.deletion = new DeletionQueue((p, error) =>
      this.error('cleanup', new LecternError(ErrorCode.INTERNAL, `could not delete ${p}: ${String(error)}`), false),
    );
    this.batcher = new Batcher(lectureId, path.join(dir, 'batches'), this.deletion, deps.settings.batch);
    const failedDir = path.join(dir, 'failed');
    this.stt = deps.sttQueue
      ? new QueuedSttStage(lectureId, deps.sttQueue, deps.store, this.deletion, failedDir, deps.settings.stt, lectureLanguage)
      : new SttStage(lectureId, deps.engine, deps.store, this.deletion, failedDir, deps.settings.stt, lectureLanguage);
    this.batcher.on('batchReady', (batch) => this.onBatch(batch));
    this.batcher.on('error', ({ error }) => this.error('batch', error, false));
    this.stt.on('batchTranscribed', (e) => this.safeEmit('batchTranscribed', { lectureId, ...e }));
    this.stt.on('transcriptUpdated', (e) => this.safeEmit('transcriptUpdated', { lectureId, ...e }));
    this.stt.on('error', (e) => this.error(e.stage, e.error, e.willRetry));
    this.stt.on('languageDetected', (e) => this.onLanguageDetected(e.batchId, e.language, e.probability));
    if (deps.settings.captions) {
      this.captions = new LiveCaptions(lectureId, deps.settings.captions, deps.store, () => lectureLanguage.current, (caption) =>
        this.room?.broadcast('caption', caption),
      );
      this.captions.on('caption', (caption) => this.safeEmit('caption', caption));
      this.captions.on('error', ({ stage, error, willRetry }) => this.error(stage, error, willRetry));
    }
  }

  /**
   * The lecture's language: the requested code, or with `'auto'` the one
   * detected in the first batch with speech (undefined until then). Whatever
   * needs the lecture's language (the summary, live captions) reads it here.
   */
  get language(): string | undefined {
    return this.lectureLanguage.current;
  }

  /** What the host asked for: `'auto'` or a language code. */
  get requestedLanguage(): RequestedLanguage {
    return this.lectureLanguage.requested;
  }

  /** Creates the working directory and the lecture's record. */
  static async create(
    options: { lectureId: string; roomId: string; workDir: string; language?: RequestedLanguage | undefined },
    deps: PipelineDeps,
  ): Promise<LecturePipeline> {
    const dir = path.join(options.workDir, options.lectureId);
    const existing = await readLectureFile(dir);
    const startedAtMs = existing?.startedAtMs ?? Date.now();
    const requested = parseRequestedLanguage(options.language ?? AUTO_LANGUAGE);
    // A continued lecture keeps the language it already detected (auto stays pinned).
    const previouslyDetected = existing && (existing.requestedLanguage ?? existing.language) === AUTO_LANGUAGE ? existing.language : undefined;
    const language = new LectureLanguage(requested, previouslyDetected);
    await fs.mkdir(path.join(dir, 'segments'), { recursive: true });
    await fs.mkdir(path.join(dir, 'batches'), { recursive: true });
    const file = lectureFile(options.lectureId, options.roomId, startedAtMs, language);
    await writeFileAtomic(path.join(dir, LECTURE_FILE), JSON.stringify(file));
    await deps.store.putLecture({
      lectureId: options.lectureId,
      roomId: options.roomId,
      startedAt: new Date(startedAtMs).toISOString(),
      requestedLanguage: requested,
      ...(language.current !== undefined ? { language: language.current } : {}),
    });
    const pipeline = new LecturePipeline(options.lectureId, options.roomId, startedAtMs, dir, language, deps);
    if (existing) await pipeline.resumeLeftovers();
    return pipeline;
  }

  /**
   * Picks up a lecture directory left by a previous process: its batches are
   * transcribed and stored, its segments batched. Returns undefined for a
   * directory that is not a lecture.
   */
  static async recover(dir: string, deps: PipelineDeps): Promise<LecturePipeline | undefined> {
    const file = await readLectureFile(dir);
    if (!file) return undefined;
    // Files written before detection existed carry only `language` (what was requested then).
    const requested = file.requestedLanguage ?? file.language ?? AUTO_LANGUAGE;
    return LecturePipeline.create({ lectureId: file.lectureId, roomId: file.roomId, workDir: path.dirname(dir), language: requested }, deps);
  }

  /** Batches waiting for (or in) STT, plus segments not yet batched. */
  get backlog(): { segments: number; batches: number } {
    return { segments: this.batcher.pendingSegments, batches: this.stt.pending + this.batcher.building };
  }

  /** Seconds between the live edge of the lecture and the end of the stored transcript. */
  get lagSeconds(): number {
    return Math.max(0, (Date.now() - this.startedAtMs) / 1000 - this.stt.transcribedUntil);
  }

  /** Taps the selected producers of a room, now and as they appear; taps end with their producers. */
  attach(room: RoomView, select: ProducerSelector): void {
    this.room = room;
    const consider = (info: ProducerInfo) => {
      if (this.stopping || this.taps.has(info.producerId)) return;
      if (!select(info, room.peerInfo(info.peerId)?.role)) return;
      const producer = room.watchProducer(info.producerId);
      if (!producer) return;
      const source: TapSource = { producer, openConsumer: (options) => room.createServerConsumer(info.producerId, options) };
      this.startTap(source, `${info.peerId}:${info.source}`, info.peerId);
    };
    const onClose = () => void this.stop();
    room.on('newProducer', consider);
    room.on('close', onClose);
    this.detachRoom.push(() => room.off('newProducer', consider), () => room.off('close', onClose));
    for (const info of room.producerInfos()) consider(info);
  }

  /** Producers being tapped right now. */
  get tappedProducers(): { producerId: string; streamKey: string; ffmpegPid: number | undefined; restarts: number }[] {
    return [...this.taps.values()].map((t) => ({ producerId: t.producerId, streamKey: t.streamKey, ffmpegPid: t.ffmpegPid, restarts: t.restartCount }));
  }

  /**
   * Ends the lecture: taps stop (their last WAVs are finalised), the partial
   * batch is flushed, every batch is transcribed and stored, then the summary
   * is made and stored. Idempotent; resolves with the summary.
   */
  stop(): Promise<LectureSummary> {
    this.stopping ??= this.finish();
    return this.stopping;
  }

  private startTap(source: TapSource, streamKey: string, peerId: string): void {
    const producerId = source.producer.producerId;
    const tap = new AudioTap(source, streamKey, path.join(this.dir, 'segments'), this.startedAtMs, { ...this.deps.settings.tap, livePcm: this.captions !== undefined });
    this.taps.set(producerId, tap);
    this.captions?.follow(tap, peerId);
    tap.on('segment', (segment) => this.onSegment(segment));
    tap.on('runEnded', (e) => {
      if (e.reason === 'crashed' || e.reason === 'input-idle') {
        this.safeEmit('tapRestarted', { lectureId: this.lectureId, streamKey, producerId });
        if (e.reason === 'crashed') {
          this.error('tap', new LecternError(ErrorCode.INTERNAL, `FFmpeg for ${streamKey} exited unexpectedly (${e.exit?.signal ?? e.exit?.code ?? e.error ?? 'unknown'}); restarting`), true);
        }
      }
    });
    tap.on('failed', ({ error }) => this.error('tap', error, false));
    const unwatch = source.producer.watch((change) => {
      if (change !== 'close') return;
      unwatch();
      // The tap finishes its last segment by itself; forget it once it has.
      void tap.stop().then(() => {
        if (this.taps.get(producerId) === tap) this.taps.delete(producerId);
      });
    });
    tap.start();
  }

  private onSegment(segment: AudioSegment): void {
    this.safeEmit('segmentWritten', {
      lectureId: this.lectureId,
      streamKey: segment.streamKey,
      producerId: segment.producerId,
      offset: segment.offset,
      duration: segment.duration,
      partial: segment.partial,
    });
    const add = this.batcher.add(segment).catch((error: unknown) =>
      this.error('batch', new LecternError(ErrorCode.INTERNAL, `could not keep segment ${segment.path}: ${String(error)}`), false),
    );
    this.adds.add(add);
    void add.finally(() => this.adds.delete(add));
  }

  private onBatch(batch: ReadyBatch): void {
    const m = batch.manifest;
    this.safeEmit('batchReady', { lectureId: this.lectureId, batchId: m.batchId, streamKey: m.streamKey, offset: m.offset, duration: m.duration, segments: m.parts.length });
    this.stt.submit(batch);
  }

  /** `'auto'` heard its language: recorded in lecture.json (for recovery) and the store, then announced. */
  private onLanguageDetected(batchId: string, language: string, probability: number | undefined): void {
    const file = lectureFile(this.lectureId, this.roomId, this.startedAtMs, this.lectureLanguage);
    const record = { lectureId: this.lectureId, roomId: this.roomId, startedAt: new Date(this.startedAtMs).toISOString(), language };
    this.recordingLanguage = this.recordingLanguage
      .then(() => writeFileAtomic(path.join(this.dir, LECTURE_FILE), JSON.stringify(file)))
      .then(() => this.deps.store.putLecture(record))
      .catch((error: unknown) =>
        this.error('store', error instanceof LecternError ? error : new LecternError(ErrorCode.UNAVAILABLE, `could not record the detected language: ${String(error)}`), false),
      );
    this.safeEmit('languageDetected', { lectureId: this.lectureId, batchId, language, ...(probability !== undefined ? { probability } : {}) });
  }

  private error(stage: PipelineStage, error: LecternError, willRetry: boolean): void {
    this.safeEmit('pipelineError', { lectureId: this.lectureId, stage, error, willRetry });
  }

  private async finish(): Promise<LectureSummary> {
    for (const detach of this.detachRoom.splice(0)) detach();
    await Promise.all([...this.taps.values()].map((t) => t.stop()));
    this.taps.clear();
    // The live summary is made while the batch path still works through its last batches.
    const live = this.liveSummary();
    while (this.adds.size > 0) await Promise.all([...this.adds]);
    await this.batcher.flush();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.stt.idle().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.deps.settings.finalizeTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.error(
        'stt',
        new LecternError(ErrorCode.TIMEOUT, `${this.stt.pending} batch(es) still untranscribed after ${this.deps.settings.finalizeTimeoutMs} ms; they stay on disk for recovery`),
        true,
      );
    }
    await this.stt.stop();
    await this.recordingLanguage;
    const liveSummary = await live;
    const summary = await this.summarize(liveSummary);
    await this.deletion.drain();
    if (!timedOut) await this.removeWorkDirIfDone();
    return summary;
  }

  /**
   * The summary of the live captions' finals, stored and announced as soon as
   * the caption streams are flushed (source `live`); undefined without
   * captions or when they heard nothing.
   */
  private async liveSummary(): Promise<LectureSummary | undefined> {
    if (!this.captions) return undefined;
    try {
      await this.captions.stop();
      const entries = await this.captions.transcript();
      if (entries.length === 0) return undefined;
      await this.markEnded();
      const summary: LectureSummary = { ...(await this.makeSummary(entries)), source: 'live' };
      await this.deps.store.putSummary(this.lectureId, summary);
      this.safeEmit('summaryReady', { lectureId: this.lectureId, summary });
      return summary;
    } catch (error) {
      this.error('summary', error instanceof LecternError ? error : new LecternError(ErrorCode.UNAVAILABLE, `live summary: ${String(error)}`), false);
      return undefined;
    }
  }

  /**
   * The batch summary (source `batch`), which replaces the live one — unless
   * the batch transcript is empty while the live one is not (the engine failed
   * every batch): then the live summary stands and is returned.
   */
  private async summarize(live: LectureSummary | undefined): Promise<LectureSummary> {
    await this.markEnded();
    const entries = await this.deps.store.getTranscript(this.lectureId);
    if (entries.length === 0 && live) return live;
    const summary: LectureSummary = { ...(await this.makeSummary(entries)), source: 'batch' };
    await this.deps.store.putSummary(this.lectureId, summary);
    this.safeEmit('summaryReady', { lectureId: this.lectureId, summary });
    return summary;
  }

  /** Stores the lecture's end once; a failed write is tried again by the next summary. */
  private async markEnded(): Promise<void> {
    if (this.endRecorded) return;
    await this.deps.store.putLecture({ lectureId: this.lectureId, roomId: this.roomId, startedAt: new Date(this.startedAtMs).toISOString(), endedAt: new Date().toISOString() });
    this.endRecorded = true;
  }

  private async makeSummary(entries: TranscriptEntry[]): Promise<LectureSummary> {
    const language = this.lectureLanguage.current;
    const input = { lectureId: this.lectureId, entries, ...(language !== undefined ? { language } : {}) };
    try {
      return await this.deps.summarizer.summarize(input);
    } catch (error) {
      // An unreachable LLM must not leave the lecture without a summary.
      this.error('summary', error instanceof LecternError ? error : new LecternError(ErrorCode.UNAVAILABLE, String(error)), false);
      return new OfflineSummarizer().summarize(input);
    }
  }

  /** Requeues what a previous process left: complete batches, then unbatched segments. */
  private async resumeLeftovers(): Promise<void> {
    const batchesDir = path.join(this.dir, 'batches');
    for (const name of (await fs.readdir(batchesDir)).sort()) {
      const dir = path.join(batchesDir, name);
      const manifest = name.startsWith('.') ? undefined : await readManifest(dir);
      if (manifest) this.stt.submit({ dir, manifest });
      else await fs.rm(dir, { recursive: true, force: true }); // a build that never finished: its segments are still there
    }
    const segmentsDir = path.join(this.dir, 'segments');
    for (const name of (await fs.readdir(segmentsDir)).sort()) {
      const file = path.join(segmentsDir, name);
      if (name.endsWith('.wav')) {
        const known = await readSegmentSidecar(file);
        const segment = known ?? (await this.orphanSegment(file));
        if (segment) this.onSegment(segment);
        else await fs.rm(file, { force: true });
      } else if (!name.endsWith('.wav.json')) {
        await fs.rm(file, { force: true }); // SDP and list files of dead runs
      }
    }
  }

  /** A WAV the dead process was still writing: repaired, and placed by its modification time. */
  private async orphanSegment(file: string): Promise<AudioSegment | undefined> {
    const wav = await readWav(file, { repair: true }).catch(() => undefined);
    if (!wav || wav.duration < 0.05) return undefined;
    const { mtimeMs } = await fs.stat(file);
    const offset = Math.max(0, (mtimeMs - this.startedAtMs) / 1000 - wav.duration);
    return { streamKey: 'recovered', producerId: 'recovered', path: file, offset, duration: wav.duration, partial: true };
  }

  private async removeWorkDirIfDone(): Promise<void> {
    const failed = await fs.readdir(path.join(this.dir, 'failed')).catch(() => []);
    const batches = await fs.readdir(path.join(this.dir, 'batches')).catch(() => []);
    const segments = await fs.readdir(path.join(this.dir, 'segments')).catch(() => []);
    if (failed.length === 0 && batches.length === 0 && segments.length === 0) {
      await fs.rm(this.dir, { recursive: true, force: true });
    }
  }
}

function lectureFile(lectureId: string, roomId: string, startedAtMs: number, language: LectureLanguage): LectureFile {
  return {
    version: 1,
    lectureId,
    roomId,
    startedAtMs,
    requestedLanguage: language.requested,
    ...(language.current !== undefined ? { language: language.current } : {}),
  };
}

async function readLectureFile(dir: string): Promise<LectureFile | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(dir, LECTURE_FILE), 'utf8')) as Partial<LectureFile>;
    if (parsed.version !== 1 || typeof parsed.lectureId !== 'string' || typeof parsed.roomId !== 'string' || typeof parsed.startedAtMs !== 'number') {
      return undefined;
    }
    return parsed as LectureFile;
  } catch {
    return undefined;
  }
}
