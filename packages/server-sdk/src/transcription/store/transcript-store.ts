import type { LectureSummary, TranscriptEntry } from '@lectern/protocol';

/** Bookkeeping the pipeline keeps next to a lecture's transcript. */
export interface LectureRecord {
  lectureId: string;
  roomId: string;
  /** ISO time the transcription started. */
  startedAt: string;
  /** ISO time the lecture ended (transcription stopped); absent while live. */
  endedAt?: string;
  /** The lecture's language (ISO 639-1): as requested, or as detected when `requestedLanguage` is `auto`. Absent until known. */
  language?: string;
  /** What the host asked for: `auto` (detect once, on the first batch with speech) or a language code. */
  requestedLanguage?: string;
}

/**
 * Where transcripts and summaries live. Writes are idempotent per batch
 * (`putBatch` with the same `batchId` replaces that batch's entries, never
 * duplicates), so a retried batch is safe. Reads return entries ordered by `start`.
 */
export interface TranscriptStore {
  /** A short name for logs, e.g. `redis` or `memory`. */
  readonly name: string;
  /** Creates or updates the lecture's record (merging fields). */
  putLecture(record: LectureRecord): Promise<void>;
  getLecture(lectureId: string): Promise<LectureRecord | undefined>;
  /** Stores one batch's entries, replacing any earlier write of the same batch. */
  putBatch(lectureId: string, batchId: string, entries: TranscriptEntry[]): Promise<void>;
  /** Entries ordered by `start` (ties by batch then index); optionally only those starting in [from, to). */
  getTranscript(lectureId: string, range?: { from?: number; to?: number }): Promise<TranscriptEntry[]>;
  /** Ids of batches stored for the lecture. */
  getBatchIds(lectureId: string): Promise<string[]>;
  putSummary(lectureId: string, summary: LectureSummary): Promise<void>;
  getSummary(lectureId: string): Promise<LectureSummary | undefined>;
  /** Removes everything stored for the lecture. */
  deleteLecture(lectureId: string): Promise<void>;
  /** Releases connections the store opened (not ones the host passed in). Idempotent. */
  close(): Promise<void>;
}
