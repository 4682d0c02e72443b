/**
 * @lectern/server-sdk — live lectures over mediasoup.
 *
 * This is the package's whole public API; anything not exported here is internal.
 * @packageDocumentation
 */
export { RoomManager, type RoomManagerOptions, type RoomManagerEvents } from './rooms/room-manager.js';
export { Room, type RoomEvents, type RoomStats } from './rooms/room.js';
export type {
  PeerContext,
  PeerRole,
  PeerInfo,
  PeerLimits,
  ProducerInfo,
  MediaSource,
  RoomOptions,
  StudentMediaPolicy,
  WebRtcTransportSettings,
  PlainTransportSettings,
  LeaveReason,
  Notification,
  NotificationMap,
  NotificationName,
  GestureName,
  GesturePhase,
  HandQueueEntry,
} from './rooms/types.js';
export {
  requestMethods,
  hostRequestMethods,
  type RequestMethod,
  type ClientRequestMethod,
  type HostRequestMethod,
  type PlainSrtpCryptoSuite,
  type RequestData,
} from './api/schemas.js';
export type { ResponseMap, ResponseData } from './api/responses.js';
export { ErrorCode, LecternError, toLecternError, type LecternErrorJSON } from './errors.js';
export {
  WorkerPool,
  type WorkerPoolOptions,
  type WorkerPoolEvents,
  type PoolWorker,
  type PlacementPolicy,
  type WebRtcServerOptions,
} from './workers/worker-pool.js';
export { WorkerLoad, DEFAULT_LOAD_MODEL, type LoadModel } from './workers/worker-load.js';
export { LecternMetrics, type MetricsOptions } from './metrics/metrics.js';
export { DEFAULT_MEDIA_CODECS } from './media/codecs.js';
export { SUPPORTED_MEDIASOUP_RANGE, isSupportedMediasoupVersion } from './media/mediasoup-version.js';

// Transcription: tap → segments → batches → STT → store → summary.
export {
  TranscriptionService,
  type TranscriptionServiceOptions,
  type TranscriptionServiceEvents,
  type StartTranscriptionOptions,
  type LectureTranscription,
} from './transcription/pipeline/transcription-service.js';
export {
  LecturePipeline,
  lecturerAudio,
  type LecturePipelineEvents,
  type PipelineStage,
  type ProducerSelector,
} from './transcription/pipeline/lecture-pipeline.js';
export { toTimeline } from './transcription/pipeline/stt-stage.js';
export type { AudioSegment, TapRunEndReason } from './transcription/tap/audio-tap.js';
export type { BatchManifest, BatchPart, TransferFormat } from './transcription/batch/manifest.js';
export type { TranscriptStore, TranscriptEntry, LectureRecord } from './transcription/store/transcript-store.js';
export { MemoryTranscriptStore } from './transcription/store/memory-store.js';
export {
  RedisTranscriptStore,
  DEFAULT_TRANSCRIPT_TTL_SECONDS,
  type RedisTranscriptStoreOptions,
} from './transcription/store/redis-store.js';
export type { Summarizer, LectureSummary, SummarizeInput } from './transcription/summary/summarizer.js';
export { OfflineSummarizer, emptySummary, type OfflineSummarizerOptions } from './transcription/summary/offline-summarizer.js';
export {
  OpenAICompatibleSummarizer,
  type OpenAICompatibleSummarizerOptions,
} from './transcription/summary/openai-summarizer.js';
