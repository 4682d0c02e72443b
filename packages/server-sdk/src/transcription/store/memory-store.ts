import type { LectureSummary, TranscriptEntry, TranscriptSource } from '@lectern/protocol';
import type { LectureListing, LectureRecord, ListLecturesOptions, TranscriptReadOptions, TranscriptSourceOption, TranscriptStore } from './transcript-store.js';
import {
  compareEntries,
  compareListings,
  lectureStatus,
  startedAtMs,
  validateListOptions,
  compareStrings,
  isCompleteRecord,
  storeClosed,
  validateBatch,
  validateId,
  validateRange,
  validateRecord,
  validateSource,
  validateSummary,
} from './validation.js';

/**
 * The default {@link TranscriptStore} when no Redis is configured: everything
 * lives in this process and is lost when it exits. Reads return copies, so
 * callers can never mutate what is stored.
 */
export class MemoryTranscriptStore implements TranscriptStore {
  readonly name = 'memory';
  readonly #lectures = new Map<string, MemoryLecture>();
  #closed = false;

  async putLecture(record: LectureRecord): Promise<void> {
    this.#assertOpen();
    const clean = validateRecord(record);
    const lecture = this.#lecture(clean.lectureId);
    lecture.record = { ...lecture.record, ...clean };
  }

  async getLecture(lectureId: string): Promise<LectureRecord | undefined> {
    this.#assertOpen();
    validateId('lectureId', lectureId);
    const record = this.#lectures.get(lectureId)?.record;
    return record && isCompleteRecord(record) ? { ...record } : undefined;
  }

  async listLectures(roomId: string, options?: ListLecturesOptions): Promise<LectureListing[]> {
    this.#assertOpen();
    const { fromMs, toMs, statuses } = validateListOptions(roomId, options);
    const out: LectureListing[] = [];
    for (const lecture of this.#lectures.values()) {
      const record = lecture.record;
      if (!record || !isCompleteRecord(record) || record.roomId !== roomId) continue;
      const started = startedAtMs(record);
      if (!(started >= fromMs && started < toMs)) continue;
      const status = lectureStatus(record, lecture.summary !== undefined);
      if (statuses.has(status)) out.push({ ...record, status });
    }
    return out.sort(compareListings);
  }

  async putBatch(lectureId: string, batchId: string, entries: TranscriptEntry[], options?: TranscriptSourceOption): Promise<void> {
    this.#assertOpen();
    validateId('lectureId', lectureId);
    const source = validateSource(options);
    const clean = validateBatch(batchId, entries);
    this.#lecture(lectureId).transcripts[source].set(batchId, clean);
  }

  async getTranscript(lectureId: string, options?: TranscriptReadOptions): Promise<TranscriptEntry[]> {
    this.#assertOpen();
    validateId('lectureId', lectureId);
    const { from, to } = validateRange(options);
    const source = validateSource(options);
    const lecture = this.#lectures.get(lectureId);
    if (!lecture) return [];
    const out: TranscriptEntry[] = [];
    for (const entries of lecture.transcripts[source].values()) {
      for (const entry of entries) {
        if (entry.start >= from && entry.start < to) out.push(structuredClone(entry));
      }
    }
    return out.sort(compareEntries);
  }

  async getBatchIds(lectureId: string, options?: TranscriptSourceOption): Promise<string[]> {
    this.#assertOpen();
    validateId('lectureId', lectureId);
    const source = validateSource(options);
    return [...(this.#lectures.get(lectureId)?.transcripts[source].keys() ?? [])].sort(compareStrings);
  }

  async putSummary(lectureId: string, summary: LectureSummary): Promise<void> {
    this.#assertOpen();
    validateId('lectureId', lectureId);
    this.#lecture(lectureId).summary = validateSummary(summary);
  }

  async getSummary(lectureId: string): Promise<LectureSummary | undefined> {
    this.#assertOpen();
    validateId('lectureId', lectureId);
    const summary = this.#lectures.get(lectureId)?.summary;
    return summary ? structuredClone(summary) : undefined;
  }

  async deleteLecture(lectureId: string): Promise<void> {
    this.#assertOpen();
    validateId('lectureId', lectureId);
    this.#lectures.delete(lectureId);
  }

  /** Marks the store closed (later calls reject with `CLOSED`); the data is dropped. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#lectures.clear();
  }

  #lecture(lectureId: string): MemoryLecture {
    let lecture = this.#lectures.get(lectureId);
    if (!lecture) {
      lecture = { transcripts: { batch: new Map(), live: new Map() } };
      this.#lectures.set(lectureId, lecture);
    }
    return lecture;
  }

  #assertOpen(): void {
    if (this.#closed) throw storeClosed(this.name);
  }
}

interface MemoryLecture {
  record?: Partial<LectureRecord>;
  summary?: LectureSummary;
  /** Per source, batchId → that batch's entries (already validated copies). */
  transcripts: Record<TranscriptSource, Map<string, TranscriptEntry[]>>;
}
