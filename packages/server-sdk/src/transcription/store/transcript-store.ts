import type { LectureSummary, TranscriptEntry } from '@lectern/protocol';

/** Bookkeeping the pipeline keeps next to a lecture's transcript. */
export interface LectureRecord {
  lectureId: string;
  roomId: string;
  /** ISO time the transcription started (must parse as a date). */
  startedAt: string;
  /** ISO time the lecture ended (transcription stopped); absent while live. */
  endedAt?: string;
  /** The lecture's language (ISO 639-1): as requested, or as detected when `requestedLanguage` is `auto`. Absent until known. */
  language?: string;
  /** What the host asked for: `auto` (detect once, on the first batch with speech) or a language code. */
  requestedLanguage?: string;
}

/**
 * Where a lecture is: `running` (transcription started, not ended: no
 * `endedAt`), `stopped` (ended, no summary stored yet: the summary is being
 * made, or its write failed) or `summarised` (ended, summary stored).
 */
export type LectureStatus = 'running' | 'stopped' | 'summarised';

/** A lecture as {@link TranscriptStore.listLectures} lists it: its record and where it is. */
export interface LectureListing extends LectureRecord {
  status: LectureStatus;
}

/** Filters of {@link TranscriptStore.listLectures}. */
export interface ListLecturesOptions {
  /** Only lectures that started at or after this time (a `Date` or an ISO time string). */
  from?: Date | string;
  /** Only lectures that started before this time (a `Date` or an ISO time string). */
  to?: Date | string;
  /** Only lectures in this state (or these states). Default: all. */
  status?: LectureStatus | readonly LectureStatus[];
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
  /**
   * The lectures of a room, oldest first (by `startedAt`, ties by `lectureId`),
   * optionally only those that started in `[from, to)` and in the given states.
   * A lecture is listed under the `roomId` of its record; a deleted or expired
   * lecture is not listed. Bad filters are `INVALID_REQUEST`.
   */
  listLectures(roomId: string, options?: ListLecturesOptions): Promise<LectureListing[]>;
  /** Stores one batch's entries, replacing any earlier write of the same batch. */
  putBatch(lectureId: string, batchId: string, entries: TranscriptEntry[]): Promise<void>;
  /** Entries ordered by `start` (ties by batch then index); optionally only those starting in [from, to). */
  getTranscript(lectureId: string, range?: { from?: number; to?: number }): Promise<TranscriptEntry[]>;
  /** Ids of batches stored for the lecture. */
  getBatchIds(lectureId: string): Promise<string[]>;
  putSummary(lectureId: string, summary: LectureSummary): Promise<void>;
  getSummary(lectureId: string): Promise<LectureSummary | undefined>;
  /** Removes everything stored for the lecture, including its place in its room's list. */
  deleteLecture(lectureId: string): Promise<void>;
  /** Releases connections the store opened (not ones the host passed in). Idempotent. */
  close(): Promise<void>;
}
