/**
 * What every Lectern transcript store accepts, and how it orders: shared by the
 * memory and Redis stores, so both behave exactly alike. Not part of the
 * package's public API.
 */
import { transcriptSources, type LectureSummary, type TranscriptEntry, type TranscriptSource } from '@lectern/protocol';
import { ErrorCode, LecternError, truncate } from '../../errors.js';
import type { LectureListing, LectureRecord, LectureStatus, ListLecturesOptions } from './transcript-store.js';

/** Longest lecture or batch id a store accepts (UTF-16 code units). @internal */
export const MAX_STORE_ID_LENGTH = 256;

/** Largest entry index a store accepts (exclusive); indexes are zero-padded to 10 digits. @internal */
export const MAX_ENTRY_INDEX = 10_000_000_000;

/** Plain code-unit string order (the same for every store). @internal */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Transcript order: by `start`, then `batchId`, then `index`. @internal */
export function compareEntries(a: TranscriptEntry, b: TranscriptEntry): number {
  return a.start - b.start || compareStrings(a.batchId, b.batchId) || a.index - b.index;
}

/** @internal */
export function invalid(message: string, details?: Record<string, unknown>): LecternError {
  return new LecternError(ErrorCode.INVALID_REQUEST, message, details);
}

/** @internal */
export function storeClosed(name: string): LecternError {
  return new LecternError(ErrorCode.CLOSED, `transcript store (${name}) is closed`);
}

/**
 * Ids used as keys: a non-empty string of at most {@link MAX_STORE_ID_LENGTH}
 * characters, without control characters or unpaired surrogates (which would
 * not survive UTF-8 encoding intact). @internal
 */
export function validateId(what: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw invalid(`${what} must be a non-empty string`, { field: what });
  if (id.length > MAX_STORE_ID_LENGTH) {
    throw invalid(`${what} is longer than ${MAX_STORE_ID_LENGTH} characters`, { field: what, id: truncate(id) });
  }
  if (/[\p{Cc}\p{Cs}]/u.test(id)) {
    throw invalid(`${what} contains control characters or unpaired surrogates`, { field: what, id: truncate(id) });
  }
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isOptionalString(value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string';
}

/** A validated copy of the record, with `undefined` fields left out (so a merge keeps the old value). @internal */
export function validateRecord(record: LectureRecord): LectureRecord {
  if (typeof record !== 'object' || record === null) throw invalid('lecture record must be an object');
  validateId('lectureId', record.lectureId);
  validateId('roomId', record.roomId);
  if (typeof record.startedAt !== 'string' || !Number.isFinite(Date.parse(record.startedAt))) {
    throw invalid('startedAt must be an ISO time string');
  }
  if (!isOptionalString(record.endedAt)) throw invalid('endedAt must be an ISO time string');
  if (!isOptionalString(record.language)) throw invalid('language must be a string');
  if (!isOptionalString(record.requestedLanguage)) throw invalid('requestedLanguage must be a string');
  const clean: LectureRecord = { lectureId: record.lectureId, roomId: record.roomId, startedAt: record.startedAt };
  if (record.endedAt !== undefined) clean.endedAt = record.endedAt;
  if (record.language !== undefined) clean.language = record.language;
  if (record.requestedLanguage !== undefined) clean.requestedLanguage = record.requestedLanguage;
  return clean;
}

/** @internal */
export function isCompleteRecord(record: Partial<LectureRecord>): record is LectureRecord {
  return typeof record.lectureId === 'string' && typeof record.roomId === 'string' && typeof record.startedAt === 'string';
}

/**
 * Validated copies of one batch's entries (only the {@link TranscriptEntry}
 * fields). Every entry must carry the batch's id, a unique non-negative integer
 * `index` and finite times. @internal
 */
export function validateBatch(batchId: string, entries: TranscriptEntry[]): TranscriptEntry[] {
  validateId('batchId', batchId);
  if (!Array.isArray(entries)) throw invalid('entries must be an array');
  const seen = new Set<number>();
  return entries.map((entry, i) => {
    const where = { batchId: truncate(batchId), position: i };
    if (typeof entry !== 'object' || entry === null) throw invalid('entry must be an object', where);
    if (entry.batchId !== batchId) throw invalid('entry.batchId does not match the batch', where);
    if (!Number.isSafeInteger(entry.index) || entry.index < 0 || entry.index >= MAX_ENTRY_INDEX) {
      throw invalid('entry.index must be a non-negative integer', where);
    }
    if (seen.has(entry.index)) throw invalid('entry.index is repeated within the batch', { ...where, index: entry.index });
    seen.add(entry.index);
    if (!isFiniteNumber(entry.start) || !isFiniteNumber(entry.end)) throw invalid('entry.start and entry.end must be finite numbers', where);
    if (typeof entry.text !== 'string') throw invalid('entry.text must be a string', where);
    const clean: TranscriptEntry = { batchId, index: entry.index, start: entry.start, end: entry.end, text: entry.text };
    if (entry.words !== undefined) {
      if (!Array.isArray(entry.words)) throw invalid('entry.words must be an array', where);
      clean.words = entry.words.map((w) => {
        const ok = typeof w === 'object' && w !== null && isFiniteNumber(w.start) && isFiniteNumber(w.end)
          && typeof w.word === 'string' && isFiniteNumber(w.probability);
        if (!ok) {
          throw invalid('entry.words must hold { start, end, word, probability }', where);
        }
        return { start: w.start, end: w.end, word: w.word, probability: w.probability };
      });
    }
    return clean;
  });
}

/** A validated copy of the summary (only the {@link LectureSummary} fields). @internal */
export function validateSummary(summary: LectureSummary): LectureSummary {
  if (typeof summary !== 'object' || summary === null) throw invalid('summary must be an object');
  if (typeof summary.text !== 'string') throw invalid('summary.text must be a string');
  if (!Array.isArray(summary.keyPoints) || !summary.keyPoints.every((p) => typeof p === 'string')) {
    throw invalid('summary.keyPoints must be an array of strings');
  }
  if (typeof summary.generator !== 'string') throw invalid('summary.generator must be a string');
  if (typeof summary.createdAt !== 'string') throw invalid('summary.createdAt must be an ISO time string');
  if (!isFiniteNumber(summary.coveredSeconds)) throw invalid('summary.coveredSeconds must be a finite number');
  if (summary.source !== undefined && !(transcriptSources as readonly unknown[]).includes(summary.source)) {
    throw invalid(`summary.source must be one of ${transcriptSources.join(', ')}`);
  }
  return {
    text: summary.text,
    keyPoints: [...summary.keyPoints],
    generator: summary.generator,
    createdAt: summary.createdAt,
    coveredSeconds: summary.coveredSeconds,
    ...(summary.source !== undefined ? { source: summary.source } : {}),
  };
}

/** The `[from, to)` bounds of a range query (missing ends are infinite). @internal */
export function validateRange(range: { from?: number; to?: number } | undefined): { from: number; to: number } {
  const from = range?.from ?? -Infinity;
  const to = range?.to ?? Infinity;
  if (typeof from !== 'number' || Number.isNaN(from) || typeof to !== 'number' || Number.isNaN(to)) {
    throw invalid('range.from and range.to must be numbers');
  }
  return { from, to };
}

/** The transcript an operation concerns (default `batch`). @internal */
export function validateSource(options: { source?: unknown } | undefined): TranscriptSource {
  const source = options?.source ?? 'batch';
  if (!(transcriptSources as readonly unknown[]).includes(source)) {
    throw invalid(`source must be one of ${transcriptSources.join(', ')} (got ${String(source)})`);
  }
  return source as TranscriptSource;
}

const LECTURE_STATUSES: readonly LectureStatus[] = ['running', 'stopped', 'summarised'];

/** What a lecture's record and summary say about where it is. @internal */
export function lectureStatus(record: LectureRecord, hasSummary: boolean): LectureStatus {
  if (record.endedAt === undefined) return 'running';
  return hasSummary ? 'summarised' : 'stopped';
}

/** A room's lectures' order: by start time, then lecture id. @internal */
export function compareListings(a: LectureListing, b: LectureListing): number {
  return Date.parse(a.startedAt) - Date.parse(b.startedAt) || compareStrings(a.lectureId, b.lectureId);
}

/** The start time of a record in epoch milliseconds (its score in a room's list). @internal */
export function startedAtMs(record: LectureRecord): number {
  return Date.parse(record.startedAt);
}

function timeBound(name: string, value: Date | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw invalid(`${name} must be a Date or an ISO time string`, { field: name });
  return ms;
}

/** The validated filters of a `listLectures` call: `[fromMs, toMs)` and the states wanted. @internal */
export function validateListOptions(
  roomId: string,
  options: ListLecturesOptions | undefined,
): { fromMs: number; toMs: number; statuses: ReadonlySet<LectureStatus> } {
  validateId('roomId', roomId);
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalid('listLectures options must be an object');
  const fromMs = timeBound('from', options?.from, -Infinity);
  const toMs = timeBound('to', options?.to, Infinity);
  const wanted = options?.status === undefined ? LECTURE_STATUSES : typeof options.status === 'string' ? [options.status] : options.status;
  if (!Array.isArray(wanted) || !wanted.every((s) => LECTURE_STATUSES.includes(s))) {
    throw invalid(`status must be one or more of ${LECTURE_STATUSES.join(', ')}`, { field: 'status' });
  }
  return { fromMs, toMs, statuses: new Set(wanted) };
}
