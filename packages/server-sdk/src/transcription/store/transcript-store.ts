import type { LectureSummary, TranscriptEntry, TranscriptSource } from '@lectern/protocol';

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
 * Which of a lecture's two transcripts an operation concerns: `batch` (the
 * default: the 5-minute batch path, what summaries and exports rely on) or
 * `live` (the live captions' finals, kept beside it).
 */
export interface TranscriptSourceOption {
  source?: TranscriptSource;
}

/** What {@link TranscriptStore.getTranscript} reads: a source, and only entries starting in [from, to). */
export interface TranscriptReadOptions extends TranscriptSourceOption {
  from?: number;
  to?: number;
}

/**
 * Where transcripts and summaries live. A lecture has two transcripts, kept
 * apart: the `batch` one (default) and the `live` one (caption finals); both
 * follow the same rules and go with the lecture. Writes are idempotent per batch
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
  /** Stores one batch's entries (of `options.source`, default `batch`), replacing any earlier write of the same batch. */
  putBatch(lectureId: string, batchId: string, entries: TranscriptEntry[], options?: TranscriptSourceOption): Promise<void>;
  /** Entries of `options.source` (default `batch`) ordered by `start` (ties by batch then index); optionally only those starting in [from, to). */
  getTranscript(lectureId: string, options?: TranscriptReadOptions): Promise<TranscriptEntry[]>;
  /** Ids of batches stored for the lecture (of `options.source`, default `batch`). */
  getBatchIds(lectureId: string, options?: TranscriptSourceOption): Promise<string[]>;
  putSummary(lectureId: string, summary: LectureSummary): Promise<void>;
  getSummary(lectureId: string): Promise<LectureSummary | undefined>;
  /** Removes everything stored for the lecture, including its place in its room's list. */
  deleteLecture(lectureId: string): Promise<void>;
  /** Releases connections the store opened (not ones the host passed in). Idempotent. */
  close(): Promise<void>;
}
