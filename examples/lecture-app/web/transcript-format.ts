/**
 * Transcript downloads, made in the browser from the entries the page has
 * shown: plain text (one timestamped line per entry) and WebVTT subtitles.
 * Pure functions, no DOM: the unit test runs them in Node.
 */
import type { TranscriptEntry } from '@lectern/protocol';

/** The fields a download needs (a TranscriptEntry has them, plus batch bookkeeping). */
export type TimedText = Pick<TranscriptEntry, 'start' | 'end' | 'text'>;

/** Seconds as a finite, non-negative number of whole milliseconds. */
function toMilliseconds(seconds: number): number {
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : 0;
}

/** `HH:MM:SS.mmm` (hours grow past two digits for very long lectures, as WebVTT allows). */
export function vttTimestamp(seconds: number): string {
  const ms = toMilliseconds(seconds);
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor(ms / 60_000) % 60;
  const secs = Math.floor(ms / 1000) % 60;
  const millis = ms % 1000;
  return `${pad(hours, 2)}:${pad(minutes, 2)}:${pad(secs, 2)}.${pad(millis, 3)}`;
}

/** `HH:MM:SS` for the plain-text download (readers do not need milliseconds). */
export function clockTimestamp(seconds: number): string {
  return vttTimestamp(seconds).slice(0, -4);
}

const pad = (value: number, width: number) => String(value).padStart(width, '0');

/** The entries in lecture order, without those that carry no words. */
function speakable<T extends TimedText>(entries: readonly T[]): T[] {
  return entries.filter((e) => e.text.trim() !== '').sort((a, b) => a.start - b.start || a.end - b.end);
}

/** The text on one line: engines may return line breaks, the plain-text format is one line per entry. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** `[HH:MM:SS] text` per entry, in lecture order, newline-terminated. */
export function toPlainText(entries: readonly TimedText[]): string {
  return speakable(entries).map((e) => `[${clockTimestamp(e.start)}] ${oneLine(e.text)}\n`).join('');
}

/**
 * Cue payload: `&` and `<` must be escaped in WebVTT cue text, and escaping `>`
 * too means a `-->` in the words cannot read as a timing line. A blank line would
 * end the cue early, so empty lines are dropped and the rest kept.
 */
export function vttCueText(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('\n');
}

/**
 * A WebVTT file: the `WEBVTT` header, then one numbered cue per entry with its
 * start and end. WebVTT needs the end after the start, so an entry without
 * duration is given one millisecond.
 */
export function toWebVtt(entries: readonly TimedText[]): string {
  const cues = speakable(entries).map((entry, i) => {
    const start = toMilliseconds(entry.start);
    const end = Math.max(toMilliseconds(entry.end), start + 1);
    return `${i + 1}\n${vttTimestamp(start / 1000)} --> ${vttTimestamp(end / 1000)}\n${vttCueText(entry.text)}\n`;
  });
  return ['WEBVTT\n', ...cues].join('\n');
}

/** `lecture-<room>-transcript.<ext>`, keeping only characters safe in a file name. */
export function transcriptFileName(room: string, extension: 'txt' | 'vtt'): string {
  const safe = room.replace(/[^A-Za-z0-9_-]/g, '_') || 'lecture';
  return `lecture-${safe}-transcript.${extension}`;
}
