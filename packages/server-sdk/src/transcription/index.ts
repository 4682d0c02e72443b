/**
 * @lectern/server-sdk/transcription — the lecture transcription pipeline:
 * tap → 30 s WAV segments → 5-minute batches → STT → transcript store → summary.
 *
 * Importing this entry point loads execa (FFmpeg) and the pipeline, nothing
 * more: `ioredis`, `openai` and `bullmq` are optional peer dependencies, loaded only when
 * a `RedisTranscriptStore` (with a `url`), an `OpenAICompatibleSummarizer`,
 * or the STT queue (`sttQueue`, `SttQueueWorker`) is constructed (`INVALID_CONFIG` if the package is not installed).
 * @packageDocumentation
 */
export {
  TranscriptionService,
  type TranscriptionServiceOptions,
  type StartTranscriptionOptions,
  type LectureTranscription,
  type SubtitleFormat,
  DEFAULT_ENGINE_CHECK_TIMEOUT_MS,
  type TranscriptExport,
} from './pipeline/transcription-service.js';
export type { TranscriptionServiceEvents, LecturePipelineEvents, PipelineStage } from './events.js';
export { LecturePipeline, lecturerAudio, type ProducerSelector } from './pipeline/lecture-pipeline.js';
export { AUTO_LANGUAGE, type RequestedLanguage } from './pipeline/lecture-language.js';
export { toTimeline } from './pipeline/stt-stage.js';
export type { SttQueueOptions } from './queue/producer.js';
export { SttQueueWorker, type SttQueueWorkerOptions, type SttQueueWorkerEvents } from './queue/worker.js';
export { sttJobId, sttAudioKey, STT_AUDIO_KEY_PREFIX, DEFAULT_STT_QUEUE_NAME, type SttQueueConnection, type SttJobData, type SttJobResult } from './queue/common.js';
export type { AudioSegment, TapRunEndReason } from './tap/audio-tap.js';
export type { BatchManifest, BatchPart, TransferFormat } from './batch/manifest.js';
export type {
  TranscriptStore,
  LectureRecord,
  LectureStatus,
  LectureListing,
  ListLecturesOptions,
  TranscriptReadOptions,
  TranscriptSourceOption,
} from './store/transcript-store.js';
export { DEFAULT_MAX_PARTIALS_PER_SECOND } from './captions/live-captions.js';
export { MemoryTranscriptStore } from './store/memory-store.js';
export { RedisTranscriptStore, DEFAULT_TRANSCRIPT_TTL_SECONDS, type RedisTranscriptStoreOptions } from './store/redis-store.js';
export type { Summarizer, SummarizeInput } from './summary/summarizer.js';
export { OfflineSummarizer, type OfflineSummarizerOptions } from './summary/offline-summarizer.js';
export { emptySummary } from './summary/common.js';
export {
  toWebVtt,
  toSrt,
  type SubtitleOptions,
  LINE_LENGTH_BY_LANGUAGE,
  DEFAULT_LINE_LENGTH,
  DEFAULT_MAX_LINES,
} from './export/subtitles.js';
export { graphemeLength, truncateGraphemes } from './text.js';
export { OpenAICompatibleSummarizer, type OpenAICompatibleSummarizerOptions } from './summary/openai-summarizer.js';
export type { TranscriptEntry, TranscriptWord, LectureSummary, TranscriptSource, CaptionInfo } from '@lectern/protocol';
