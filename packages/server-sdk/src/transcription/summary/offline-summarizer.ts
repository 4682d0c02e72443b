import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { LectureSummary } from '@lectern/protocol';
import type { SummarizeInput, Summarizer } from './summarizer.js';
import { ErrorCode, LecternError } from '../../errors.js';
import { baseLanguage, coveredSeconds, emptySummary, isEmptyTranscript, safeLocale } from './common.js';
import { lexRank } from './lexrank.js';
import { ENGLISH_STOP_WORDS, KOREAN_STOP_WORDS, koreanStem, NO_SPACE_LANGUAGES, splitSentences, vectorise, type Sentence } from './sentences.js';
import { graphemeLength, isMostlyHangul, truncateGraphemes } from '../text.js';

/** Options of {@link OfflineSummarizer}. */
export interface OfflineSummarizerOptions {
  /**
   * Most key points to return (default 5). Short lectures get fewer:
   * about √(number of sentences), so a 9-sentence transcript yields 3.
   */
  maxSentences?: number;
  /**
   * Budget in graphemes (user-perceived characters: a Hangul syllable or an
   * emoji counts one) for all key points together (default 1500). Sentences
   * that would overflow it are skipped; a single sentence longer than the
   * budget is cut at a word boundary, never inside a character.
   */
  maxChars?: number;
}

/** A sentence needs this many distinct content terms to be a key point (unless none has). */
const MIN_TERMS = 3;
/** MMR: weight of centrality against redundancy with key points already picked. */
const MMR_LAMBDA = 0.7;
/** A candidate this similar (cosine) to a picked key point is a near-duplicate and never picked. */
const DUPLICATE_SIMILARITY = 0.6;

/**
 * Extractive summarizer that needs no network and gives the same output for
 * the same input. It splits the transcript into sentences (`Intl.Segmenter`,
 * in the lecture's language), builds TF-IDF sentence vectors, ranks sentences
 * by LexRank centrality over their cosine-similarity graph, and picks the most
 * central ones while skipping near-duplicates (MMR), returned in lecture order.
 *
 * Cost is bounded: a 2-hour lecture (~1500 sentences) takes well under a
 * second, and the event loop is yielded to while it runs.
 */
export class OfflineSummarizer implements Summarizer {
  readonly name = 'offline-extractive';
  private readonly maxSentences: number;
  private readonly maxChars: number;

  constructor(options: OfflineSummarizerOptions = {}) {
    const { maxSentences = 5, maxChars = 1500 } = options;
    if (!Number.isInteger(maxSentences) || maxSentences < 1) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, 'maxSentences must be a positive integer', { maxSentences });
    }
    if (!Number.isInteger(maxChars) || maxChars < 20) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, 'maxChars must be an integer of at least 20', { maxChars });
    }
    this.maxSentences = maxSentences;
    this.maxChars = maxChars;
  }

  async summarize(input: SummarizeInput, options: { signal?: AbortSignal } = {}): Promise<LectureSummary> {
    const { signal } = options;
    signal?.throwIfAborted();
    const { entries } = input;
    if (isEmptyTranscript(entries)) return emptySummary(this.name, entries, input.language);

    const locale = safeLocale(input.language);
    const base = baseLanguage(input.language);
    const noSpaces = base !== undefined && NO_SPACE_LANGUAGES.has(base);
    const separator = noSpaces ? '' : ' ';
    const wordSegmenter = new Intl.Segmenter(locale, { granularity: 'word' });

    const texts = splitSentences(entries, locale, separator, wordSegmenter);
    const korean = base === 'ko' || (base === undefined && isMostlyHangul(texts.slice(0, 20).join(' ')));
    const stopWords = korean ? KOREAN_STOP_WORDS : base === undefined || base === 'en' ? ENGLISH_STOP_WORDS : undefined;
    const sentences = vectorise(texts, wordSegmenter, locale, stopWords, !noSpaces, korean ? koreanStem : undefined);
    await yieldToEventLoop();
    signal?.throwIfAborted();

    const scores = await lexRank(sentences, signal);
    const picked = this.select(sentences, scores);
    const keyPoints = this.fitBudget(picked.map((i) => sentences[i]?.text ?? ''));

    return {
      text: keyPoints.join(separator),
      keyPoints,
      generator: this.name,
      createdAt: new Date().toISOString(),
      coveredSeconds: coveredSeconds(entries),
    };
  }

  /** Greedy MMR over eligible sentences; returns the picked indexes in lecture order. */
  private select(sentences: Sentence[], scores: Float64Array): number[] {
    const n = sentences.length;
    const k = Math.min(this.maxSentences, Math.max(1, Math.round(Math.sqrt(n))));
    let candidates = range(n).filter((i) => (sentences[i]?.terms.length ?? 0) >= MIN_TERMS);
    if (candidates.length === 0) candidates = range(n).filter((i) => (sentences[i]?.terms.length ?? 0) > 0);
    if (candidates.length === 0) candidates = range(n);

    let maxScore = 0;
    for (const i of candidates) maxScore = Math.max(maxScore, scores[i] ?? 0);
    if (maxScore <= 0) maxScore = 1;

    const picked: number[] = [];
    const pickedKeys = new Set<string>();
    /** Highest similarity of each candidate to any picked sentence. */
    const redundancy = new Float64Array(n);
    const available = new Uint8Array(n);
    for (const i of candidates) available[i] = 1;
    let chars = 0;

    while (picked.length < k) {
      let best = -1;
      let bestValue = -Infinity;
      for (const i of candidates) {
        if (available[i] === 0) continue;
        const value = MMR_LAMBDA * ((scores[i] ?? 0) / maxScore) - (1 - MMR_LAMBDA) * (redundancy[i] ?? 0);
        // Strictly greater: ties go to the earlier sentence (determinism).
        if (value > bestValue) {
          bestValue = value;
          best = i;
        }
      }
      if (best < 0) break;
      available[best] = 0;
      const sentence = sentences[best];
      if (sentence === undefined) break;
      const key = normaliseForDuplicates(sentence.text);
      const length = graphemeLength(sentence.text) + (picked.length > 0 ? 1 : 0);
      if (pickedKeys.has(key)) continue;
      if (picked.length > 0 && chars + length > this.maxChars) continue;
      picked.push(best);
      pickedKeys.add(key);
      chars += length;
      const vector = new Map<number, number>();
      sentence.terms.forEach((term, t) => vector.set(term, sentence.weights[t] ?? 0));
      for (const i of candidates) {
        if (available[i] === 0) continue;
        const similarity = dotWithMap(sentences[i], vector);
        if (similarity >= DUPLICATE_SIMILARITY) available[i] = 0;
        else if (similarity > (redundancy[i] ?? 0)) redundancy[i] = similarity;
      }
    }
    return picked.sort((a, b) => a - b);
  }

  /** Cuts the first key point at a word boundary if it alone overflows the budget (the others were chosen to fit). */
  private fitBudget(keyPoints: string[]): string[] {
    const [first, ...rest] = keyPoints;
    if (first === undefined) return keyPoints;
    return [truncateGraphemes(first, this.maxChars), ...rest];
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function normaliseForDuplicates(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\p{P}\p{S}\s]+/gu, ' ')
    .trim();
}

function dotWithMap(sentence: Sentence | undefined, vector: Map<number, number>): number {
  if (sentence === undefined) return 0;
  let dot = 0;
  for (let t = 0; t < sentence.terms.length; t++) {
    const other = vector.get(sentence.terms[t] ?? -1);
    if (other !== undefined) dot += other * (sentence.weights[t] ?? 0);
  }
  return dot;
}
