/**
 * A stored transcript as subtitles: WebVTT (`toWebVtt`) and SubRip (`toSrt`).
 * Pure functions over {@link TranscriptEntry}s in any script: lines are
 * wrapped at word boundaries with lengths counted in graphemes (a Hangul
 * syllable or an emoji is one), never cut inside a character, and a long entry
 * becomes several cues whose times are shared out by length.
 */
import type { TranscriptEntry } from '@lectern/protocol';
import { ErrorCode, LecternError } from '../../errors.js';
import { baseLanguage, safeLocale } from '../summary/common.js';
import { graphemeLength, graphemes } from '../text.js';

/** Options of {@link toWebVtt} and {@link toSrt}. */
export interface SubtitleOptions {
  /**
   * The transcript's language (ISO 639-1 / BCP 47), for word boundaries and the
   * default line length. Default: none (Unicode's default word rules, 42).
   */
  language?: string;
  /**
   * Longest line, in graphemes. Default by language, after common subtitle
   * guidelines: 16 for Korean and Chinese, 13 for Japanese, 42 otherwise.
   */
  maxLineLength?: number;
  /** Lines per cue; longer entries are split into consecutive cues. Default 2. */
  maxLines?: number;
}

/** Default {@link SubtitleOptions.maxLineLength} per base language; others get {@link DEFAULT_LINE_LENGTH}. */
export const LINE_LENGTH_BY_LANGUAGE: Readonly<Record<string, number>> = { ko: 16, zh: 16, ja: 13 };
/** Default {@link SubtitleOptions.maxLineLength} for languages not in {@link LINE_LENGTH_BY_LANGUAGE}. */
export const DEFAULT_LINE_LENGTH = 42;
/** Default {@link SubtitleOptions.maxLines}. */
export const DEFAULT_MAX_LINES = 2;

/** One cue: times in whole milliseconds (`end > start`), text lines without line breaks. */
interface Cue {
  startMs: number;
  endMs: number;
  lines: string[];
}

/**
 * The entries as a WebVTT file: the `WEBVTT` header, then one cue per
 * entry (or several for a long one), `HH:MM:SS.mmm --> HH:MM:SS.mmm`. Cue
 * text is escaped (`&` → `&amp;`, `<` → `&lt;`, `>` → `&gt;`), so it can
 * never hold a `-->` or a tag, and has no blank lines. Entries with no text
 * are left out; cues are in time order and never overlap (one that runs into
 * the next ends where the next starts).
 */
export function toWebVtt(entries: readonly TranscriptEntry[], options: SubtitleOptions = {}): string {
  const cues = buildCues(entries, options).map(
    (cue) => `${timestamp(cue.startMs, '.')} --> ${timestamp(cue.endMs, '.')}\n${cue.lines.map(escapeCueText).join('\n')}`,
  );
  return cues.length === 0 ? 'WEBVTT\n' : `WEBVTT\n\n${cues.join('\n\n')}\n`;
}

/**
 * The entries as a SubRip (.srt) file: numbered cues from 1,
 * `HH:MM:SS,mmm --> HH:MM:SS,mmm`, cue text escaped as in {@link toWebVtt}
 * (SubRip has no escaping of its own; players that read its HTML-like tags
 * read these entities too), no blank lines inside a cue.
 */
export function toSrt(entries: readonly TranscriptEntry[], options: SubtitleOptions = {}): string {
  const cues = buildCues(entries, options).map(
    (cue, i) => `${i + 1}\n${timestamp(cue.startMs, ',')} --> ${timestamp(cue.endMs, ',')}\n${cue.lines.map(escapeCueText).join('\n')}`,
  );
  return cues.length === 0 ? '' : `${cues.join('\n\n')}\n`;
}

/** `HH:MM:SS.mmm` (or with `,`); hours grow past two digits when they must. */
export function timestamp(ms: number, separator: '.' | ','): string {
  const total = Math.max(0, Math.round(ms));
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = Math.floor((total % 60_000) / 1000);
  const millis = total % 1000;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(hours)}:${two(minutes)}:${two(seconds)}${separator}${String(millis).padStart(3, '0')}`;
}

/** `&`, `<` and `>` as character references: no tags, no `-->`. */
function escapeCueText(text: string): string {
  return text.replace(/&/gu, '&amp;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;');
}

function buildCues(entries: readonly TranscriptEntry[], options: SubtitleOptions): Cue[] {
  const locale = safeLocale(options.language);
  const base = baseLanguage(options.language);
  const maxLineLength = options.maxLineLength ?? (base !== undefined ? LINE_LENGTH_BY_LANGUAGE[base] : undefined) ?? DEFAULT_LINE_LENGTH;
  const maxLines = options.maxLines ?? DEFAULT_MAX_LINES;
  if (!Number.isInteger(maxLineLength) || maxLineLength < 1) {
    throw new LecternError(ErrorCode.INVALID_CONFIG, 'maxLineLength must be a positive integer', { maxLineLength });
  }
  if (!Number.isInteger(maxLines) || maxLines < 1) {
    throw new LecternError(ErrorCode.INVALID_CONFIG, 'maxLines must be a positive integer', { maxLines });
  }
  const words = new Intl.Segmenter(locale, { granularity: 'word' });
  const cues: Cue[] = [];
  for (const entry of entries) {
    const text = entry.text.replace(/\s+/gu, ' ').trim();
    if (text === '') continue;
    const lines = wrap(text, maxLineLength, words);
    const groups: string[][] = [];
    for (let i = 0; i < lines.length; i += maxLines) groups.push(lines.slice(i, i + maxLines));
    const startMs = Math.max(0, Math.round(entry.start * 1000));
    const endMs = Math.max(startMs + groups.length, Math.round(entry.end * 1000));
    // A long entry's time is shared out by how much text each cue holds.
    const weights = groups.map((group) => group.reduce((sum, line) => sum + graphemeLength(line), 0));
    const total = weights.reduce((a, b) => a + b, 0);
    let from = startMs;
    let done = 0;
    groups.forEach((group, i) => {
      done += weights[i] ?? 0;
      const to = i === groups.length - 1 ? endMs : Math.max(from + 1, startMs + Math.round(((endMs - startMs) * done) / total));
      cues.push({ startMs: from, endMs: to, lines: group });
      from = to;
    });
  }
  return sequence(cues);
}

/**
 * Cues in time order that never overlap: entries from two streams, or an
 * engine's segments that overlap slightly, would make players show two cues at
 * once (or drop one). A cue that runs into the next ends where the next starts;
 * a cue starting at the same time as the previous one starts where that ends.
 * Starts come out strictly increasing and every cue lasts at least 1 ms.
 */
function sequence(cues: Cue[]): Cue[] {
  const sorted = cues.map((cue, i) => ({ cue, i })).sort((a, b) => a.cue.startMs - b.cue.startMs || a.i - b.i).map(({ cue }) => cue);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    const cue = sorted[i]!;
    if (previous.endMs > cue.startMs) previous.endMs = Math.max(previous.startMs + 1, cue.startMs);
    if (cue.startMs < previous.endMs) cue.startMs = previous.endMs;
    if (cue.endMs <= cue.startMs) cue.endMs = cue.startMs + 1;
  }
  return sorted;
}

/**
 * Greedy line wrapping at word boundaries, lengths in graphemes. A word longer
 * than a line is cut between graphemes. Lines are trimmed and never empty.
 */
function wrap(text: string, maxLength: number, words: Intl.Segmenter): string[] {
  const lines: string[] = [];
  let line = '';
  let length = 0;
  const flush = () => {
    const trimmed = line.trim();
    if (trimmed !== '') lines.push(trimmed);
    line = '';
    length = 0;
  };
  for (const { segment } of words.segment(text)) {
    const size = graphemeLength(segment);
    if (/^\s+$/u.test(segment)) {
      if (length + size > maxLength) flush();
      else if (length > 0) {
        line += segment;
        length += size;
      }
      continue;
    }
    if (length + size <= maxLength) {
      line += segment;
      length += size;
      continue;
    }
    if (length > 0) flush();
    if (size <= maxLength) {
      line = segment;
      length = size;
      continue;
    }
    for (const g of graphemes(segment)) {
      if (length === maxLength) flush();
      line += g;
      length += 1;
    }
  }
  flush();
  return lines;
}
