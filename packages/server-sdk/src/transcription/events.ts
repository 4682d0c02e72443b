/**
 * The events of the transcription pipeline, in one module that imports no
 * stage: the pipeline and the service emit them, their subscribers (the
 * service's forwarding, the metrics, the host) read them, and nobody has to
 * import the emitter back to know their shape.
 */
import type { CaptionInfo, LectureSummary, TranscriptEntry } from '@lectern/protocol';
import type { LecternError } from '../errors.js';

/** Which stage a pipeline error comes from. */
export type PipelineStage = 'tap' | 'batch' | 'stt' | 'store' | 'summary' | 'cleanup' | 'captions';

/** Events of one lecture's pipeline (the service re-emits them with `roomId`). */
export interface LecturePipelineEvents {
  segmentWritten: { lectureId: string; streamKey: string; producerId: string; offset: number; duration: number; partial: boolean };
  batchReady: { lectureId: string; batchId: string; streamKey: string; offset: number; duration: number; segments: number };
  /** `attempt` counts the STT stage's tries of the batch; retries inside the engine (one request) are not counted here. */
  batchTranscribed: { lectureId: string; batchId: string; streamKey: string; sttSeconds: number; audioSeconds: number; segments: number; attempt: number };
  transcriptUpdated: { lectureId: string; batchId: string; entries: TranscriptEntry[] };
  /**
   * A lecture started with `language: 'auto'` has its language: detected in
   * the first batch with speech (`batchId`) and pinned for the rest of the
   * lecture; also stored in the lecture record. Emitted once per lecture.
   */
  languageDetected: { lectureId: string; batchId: string; language: string; probability?: number };
  /**
   * A live caption (with `captions` on), as the room's peers get it in the
   * `caption` notification: partials (throttled) and finals.
   */
  caption: CaptionInfo;
  /**
   * A summary is stored. With live captions there are two per lecture, told
   * apart by `summary.source`: `live` from the caption finals, seconds after
   * the lecture ends, then `batch` from the stored batch transcript, which
   * replaces it once every batch is stored.
   */
  summaryReady: { lectureId: string; summary: LectureSummary };
  pipelineError: { lectureId: string; stage: PipelineStage; error: LecternError; willRetry: boolean };
  tapRestarted: { lectureId: string; streamKey: string; producerId: string };
  listenerError: { event: string; error: unknown };
}

/** Service events: each pipeline event plus the room it belongs to. */
export type TranscriptionServiceEvents = {
  [K in Exclude<keyof LecturePipelineEvents, 'listenerError'>]: LecturePipelineEvents[K] & { roomId: string };
} & {
  transcriptionStarted: { lectureId: string; roomId: string };
  transcriptionStopped: { lectureId: string; roomId: string; summary: LectureSummary };
  listenerError: { event: string; error: unknown };
};

/** The pipeline events the service forwards (with `roomId`). */
export const FORWARDED_PIPELINE_EVENTS = [
  'segmentWritten',
  'batchReady',
  'batchTranscribed',
  'transcriptUpdated',
  'languageDetected',
  'caption',
  'summaryReady',
  'pipelineError',
  'tapRestarted',
] as const satisfies readonly Exclude<keyof LecturePipelineEvents, 'listenerError'>[];
