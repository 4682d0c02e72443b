/**
 * What the OpenAI-compatible summarizer sends: the transcript cut into chunks
 * that fit one request, and the prompts for a whole lecture, one chunk, and
 * the combining (reduce) step. No network here.
 */
import type { TranscriptEntry } from '@lectern/protocol';
import { truncate } from '../../errors.js';
import { graphemeBoundary } from '../text.js';

/** A summary (of a chunk, of several partials, or of the lecture) as the model returned it. */
export interface Part {
  start: number;
  end: number;
  summary: string;
  keyPoints: string[];
}

/** A stretch of the transcript sent in one request (see {@link chunkTranscript}). */
export interface TranscriptChunk {
  start: number;
  end: number;
  /** The entries' text joined with spaces (no header). */
  text: string;
}

/** `[12:30–17:30]`; hours appear when needed (`[1:02:03–1:07:00]`). */
export function formatTimeRange(start: number, end: number): string {
  return `[${formatTime(start)}–${formatTime(end)}]`;
}

function formatTime(seconds: number): string {
  const total = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * Splits the transcript into chunks of at most `maxChars` characters of text,
 * cut at entry boundaries (an entry longer than `maxChars` alone is cut at
 * spaces). Every entry's text lands in exactly one chunk, in order.
 */
export function chunkTranscript(entries: readonly TranscriptEntry[], maxChars: number): TranscriptChunk[] {
  const chunks: TranscriptChunk[] = [];
  let current: TranscriptChunk | undefined;
  for (const entry of entries) {
    const text = entry.text.trim().replace(/\s+/gu, ' ');
    if (text === '') continue;
    for (const piece of splitText(text, maxChars)) {
      if (current !== undefined && current.text.length + 1 + piece.length <= maxChars) {
        current.text += ` ${piece}`;
        current.end = Math.max(current.end, entry.end);
      } else {
        current = { start: entry.start, end: entry.end, text: piece };
        chunks.push(current);
      }
    }
  }
  return chunks;
}

function splitText(text: string, maxChars: number): string[] {
  if (text.length <= maxChars) return [text];
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    let cut = rest.lastIndexOf(' ', maxChars);
    // No space near the end (a script written without spaces): cut between graphemes, never inside one.
    if (cut < maxChars / 2) cut = Math.max(1, graphemeBoundary(rest, maxChars));
    pieces.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut).trim();
  }
  if (rest !== '') pieces.push(rest);
  return pieces;
}

export function spanOf(parts: readonly { start: number; end: number }[]): { start: number; end: number } {
  let start = Infinity;
  let end = -Infinity;
  for (const part of parts) {
    start = Math.min(start, part.start);
    end = Math.max(end, part.end);
  }
  return { start: Number.isFinite(start) ? start : 0, end: Number.isFinite(end) ? end : 0 };
}

export function formatPart(part: Part): string {
  const points = part.keyPoints.map((point) => `- ${point}`).join('\n');
  return `${formatTimeRange(part.start, part.end)}\nSummary: ${part.summary}${points ? `\nKey points:\n${points}` : ''}`;
}

export function truncateText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, graphemeBoundary(text, max - 1))}…`;
}

function languageInstruction(language: string | undefined): string {
  const code = language?.trim();
  if (code) {
    let name: string | undefined;
    try {
      name = new Intl.DisplayNames(['en'], { type: 'language' }).of(code);
    } catch {
      name = undefined;
    }
    if (name !== undefined && name !== code) return `Write the summary and the key points in ${name} (the language of the lecture).`;
    return `Write the summary and the key points in the language with ISO code "${truncate(code, 16)}" (the language of the lecture).`;
  }
  return 'Write the summary and the key points in the same language as the transcript.';
}

function answerFormat(summarySentences: string, keyPoints: string): string {
  return (
    'Answer with a JSON object only, no other text, in this form:\n' +
    '{"summary": "<' + summarySentences + ' of prose>", "keyPoints": ["<one sentence per key point>", "..."]}\n' +
    `Give ${keyPoints} key points, in the order the lecture covers them.`
  );
}

export function wholePrompt(chunk: TranscriptChunk, language: string | undefined): string {
  return [
    `Summarise this lecture transcript ${formatTimeRange(chunk.start, chunk.end)}.`,
    languageInstruction(language),
    answerFormat('3 to 6 sentences', '3 to 8'),
    '',
    'Transcript:',
    `${formatTimeRange(chunk.start, chunk.end)} ${chunk.text}`,
  ].join('\n');
}

export function chunkPrompt(chunk: TranscriptChunk, index: number, count: number, language: string | undefined): string {
  return [
    `This is part ${index + 1} of ${count} of a lecture transcript. Summarise this part only.`,
    languageInstruction(language),
    answerFormat('2 to 4 sentences', '2 to 6'),
    '',
    'Transcript part:',
    `${formatTimeRange(chunk.start, chunk.end)} ${chunk.text}`,
  ].join('\n');
}

export function reducePrompt(parts: readonly { text: string }[], language: string | undefined, final: boolean): string {
  return [
    `Below are partial summaries of consecutive parts of ${final ? 'one lecture' : 'a stretch of one lecture'}, in order, each headed by its time range.`,
    `Combine them into one summary of ${final ? 'the whole lecture' : 'this stretch'}: merge repeated points, keep the order of the lecture.`,
    languageInstruction(language),
    answerFormat(final ? '3 to 6 sentences' : '2 to 5 sentences', final ? '3 to 8' : '3 to 6'),
    '',
    'Partial summaries:',
    parts.map((p) => p.text).join('\n\n'),
  ].join('\n');
}
