import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { TranscriptEntry } from '../store/transcript-store.js';
import type { LectureSummary, SummarizeInput, Summarizer } from './summarizer.js';
import { ErrorCode, LecternError } from '../../errors.js';

/** Options of {@link OfflineSummarizer}. */
export interface OfflineSummarizerOptions {
  /**
   * Most key points to return (default 5). Short lectures get fewer:
   * about √(number of sentences), so a 9-sentence transcript yields 3.
   */
  maxSentences?: number;
  /**
   * Budget in characters for all key points together (default 1500). Sentences
   * that would overflow it are skipped; a single sentence longer than the
   * budget is cut at a word boundary.
   */
  maxChars?: number;
}

/** Scripts written without spaces between words: their text is joined without separators. */
const NO_SPACE_LANGUAGES = new Set(['zh', 'ja', 'th', 'lo', 'km', 'my', 'bo']);

/** Sentences longer than this (no punctuation from the engine) are cut into pieces of about {@link PIECE_CHARS}. */
const MAX_SENTENCE_CHARS = 400;
const PIECE_CHARS = 250;
/** Characters handed to `Intl.Segmenter` at once (see {@link splitSentences}). */
const SEGMENT_WINDOW_CHARS = 4 * MAX_SENTENCE_CHARS;
/** A sentence needs this many distinct content terms to be a key point (unless none has). */
const MIN_TERMS = 3;
/** Terms found in more than this share of the sentences are treated as stop words (any language), from {@link DF_CUTOFF_MIN_SENTENCES} sentences up. */
const DF_CUTOFF_RATIO = 0.3;
const DF_CUTOFF_MIN_SENTENCES = 40;
/** Edges of the similarity graph below this cosine are dropped (noise; keeps the graph sparse). */
const EDGE_MIN_SIMILARITY = 0.05;
/** Each sentence is compared with at most this many following sentences (bounds the work on very long lectures; exact below 2 × this). */
const SIMILARITY_WINDOW = 1200;
const DAMPING = 0.85;
const MAX_ITERATIONS = 100;
const CONVERGENCE = 1e-7;
/** MMR: weight of centrality against redundancy with key points already picked. */
const MMR_LAMBDA = 0.7;
/** A candidate this similar (cosine) to a picked key point is a near-duplicate and never picked. */
const DUPLICATE_SIMILARITY = 0.6;
/** Rows of the similarity graph computed between two yields to the event loop. */
const ROWS_PER_YIELD = 250;

/** Small English stop-word list (function words and lecture fillers), applied only for English or unknown language. */
const ENGLISH_STOP_WORDS = new Set(
  (
    'a about above after again against all almost also although am an and any are aren\'t around as at be because been before being below ' +
    'between both but by can can\'t cannot could couldn\'t did didn\'t do does doesn\'t doing don\'t done down during each either else enough even ever ' +
    'every few for from further get gets getting go goes going gonna got had hadn\'t has hasn\'t have haven\'t having he her here hers herself him ' +
    'himself his how however i i\'d i\'ll i\'m i\'ve if in into is isn\'t it it\'s its itself just kind let let\'s like lot lots make many may maybe me might ' +
    'more most much must my myself need no nor not now of off often oh ok okay on once one only or other others our ours ourselves out over own ' +
    'please pretty quite rather really right said same say says see seen shall she should shouldn\'t since so some something sort still such sure take ' +
    'than that that\'s the their theirs them themselves then there there\'s these they they\'re thing things think this those though through thus to ' +
    'today too under until up upon us use used uh um very want wanna was wasn\'t way we we\'ll we\'re we\'ve well were weren\'t what what\'s when where ' +
    'whether which while who whom whose why will with within without won\'t would wouldn\'t yeah yes yet you you\'d you\'ll you\'re you\'ve your yours ' +
    'yourself yourselves actually basically going know mean okay alright anyway'
  ).split(' '),
);

const EMPTY_SUMMARY_TEXT: Readonly<Record<string, string>> = {
  en: 'No speech was transcribed.',
  de: 'Es wurde keine Sprache transkribiert.',
  fr: "Aucune parole n'a été transcrite.",
  es: 'No se transcribió ninguna intervención.',
  it: 'Non è stato trascritto alcun parlato.',
  pt: 'Nenhuma fala foi transcrita.',
  nl: 'Er is geen spraak getranscribeerd.',
  ko: '전사된 음성이 없습니다.',
  ja: '文字起こしされた音声はありません。',
  zh: '没有转录到任何语音。',
};

/** Seconds of lecture the entries cover: last end − first start (0 when there are none). */
export function coveredSeconds(entries: readonly TranscriptEntry[]): number {
  let first = Infinity;
  let last = -Infinity;
  for (const entry of entries) {
    if (Number.isFinite(entry.start)) first = Math.min(first, entry.start);
    if (Number.isFinite(entry.end)) last = Math.max(last, entry.end);
  }
  return Number.isFinite(first) && Number.isFinite(last) && last > first ? last - first : 0;
}

/** True when no entry carries any text. */
export function isEmptyTranscript(entries: readonly TranscriptEntry[]): boolean {
  return entries.every((entry) => entry.text.trim() === '');
}

/**
 * The summary of a lecture in which nothing was transcribed: a one-line text
 * (in the lecture's language when known, else English) and no key points.
 * Shared by Lectern's summarizers so they agree on it.
 */
export function emptySummary(generator: string, entries: readonly TranscriptEntry[], language?: string): LectureSummary {
  const base = baseLanguage(language);
  return {
    text: (base !== undefined ? EMPTY_SUMMARY_TEXT[base] : undefined) ?? EMPTY_SUMMARY_TEXT['en'] ?? '',
    keyPoints: [],
    generator,
    createdAt: new Date().toISOString(),
    coveredSeconds: coveredSeconds(entries),
  };
}

/** `de-AT` → `de`; undefined when absent or not a language tag. */
export function baseLanguage(language: string | undefined): string | undefined {
  const locale = safeLocale(language);
  return locale?.split('-')[0]?.toLowerCase();
}

function safeLocale(language: string | undefined): string | undefined {
  if (language === undefined || language.trim() === '') return undefined;
  try {
    return Intl.getCanonicalLocales(language.trim())[0];
  } catch {
    return undefined;
  }
}

interface Sentence {
  text: string;
  /** Distinct term ids, ascending. */
  terms: Int32Array;
  /** L2-normalised TF-IDF weights, parallel to `terms`. */
  weights: Float64Array;
  /** Position of this sentence in each term's posting list, parallel to `terms`. */
  postingIndex: Int32Array;
}

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
    const stopWords = base === undefined || base === 'en' ? ENGLISH_STOP_WORDS : undefined;
    const sentences = vectorise(texts, wordSegmenter, locale, stopWords, !noSpaces);
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
      const length = sentence.text.length + (picked.length > 0 ? 1 : 0);
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
    if (first === undefined || first.length <= this.maxChars) return keyPoints;
    const cut = first.slice(0, this.maxChars - 1);
    const space = cut.search(/\s\S*$/u);
    return [`${space > this.maxChars / 2 ? cut.slice(0, space) : cut}…`, ...rest];
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

/**
 * Joins the entries' text and splits it into sentences. Engines split segments
 * by time, not by sentence, so sentences are found in the joined text; a
 * "sentence" far too long (an engine that emits no punctuation) is cut at word
 * boundaries.
 *
 * V8 copies the whole input string into every segment `Intl.Segmenter` yields,
 * so segmenting a long text in one go is quadratic (a 2-hour transcript is
 * ~120 000 chars): the text is segmented through a sliding window instead.
 */
function splitSentences(
  entries: readonly TranscriptEntry[],
  locale: string | undefined,
  separator: string,
  wordSegmenter: Intl.Segmenter,
): string[] {
  const joined = entries
    .map((entry) => entry.text.trim())
    .filter((text) => text !== '')
    .join(separator)
    .replace(/\s+/gu, ' ');
  const sentenceSegmenter = new Intl.Segmenter(locale, { granularity: 'sentence' });
  const out: string[] = [];
  const push = (segment: string) => {
    const sentence = segment.trim();
    if (sentence === '') return;
    if (sentence.length <= MAX_SENTENCE_CHARS) out.push(sentence);
    else out.push(...splitLongSentence(sentence, wordSegmenter));
  };
  let offset = 0;
  while (offset < joined.length) {
    const end = offset + SEGMENT_WINDOW_CHARS;
    let window = joined.slice(offset, end);
    if (end >= joined.length) {
      for (const { segment } of sentenceSegmenter.segment(window)) push(segment);
      break;
    }
    const segments = [...sentenceSegmenter.segment(window)];
    const last = segments.at(-1);
    if (last !== undefined && last.index > 0) {
      // The window's last sentence may be cut: keep the complete ones, resume at the cut one.
      for (const { segment } of segments.slice(0, -1)) push(segment);
      offset += last.index;
    } else {
      // No sentence break in the whole window: take it up to its last space (if any) as one long "sentence".
      const space = window.lastIndexOf(' ');
      if (space > SEGMENT_WINDOW_CHARS / 2) window = window.slice(0, space + 1);
      push(window);
      offset += window.length;
    }
  }
  return out;
}

/** Cuts an over-long sentence into pieces of about {@link PIECE_CHARS}, at word boundaries (preferably at spaces or punctuation). */
function splitLongSentence(sentence: string, wordSegmenter: Intl.Segmenter): string[] {
  const out: string[] = [];
  let piece = '';
  for (const { segment, isWordLike } of wordSegmenter.segment(sentence)) {
    if (piece.length >= PIECE_CHARS && (!isWordLike || piece.length >= MAX_SENTENCE_CHARS - segment.length)) {
      const trimmed = (isWordLike ? piece : piece + segment).trim();
      if (trimmed !== '') out.push(trimmed);
      piece = isWordLike ? segment : '';
    } else {
      piece += segment;
    }
  }
  if (piece.trim() !== '') out.push(piece.trim());
  return out;
}

/** Tokenises each sentence and builds L2-normalised sublinear TF-IDF vectors plus posting lists. */
function vectorise(
  texts: string[],
  wordSegmenter: Intl.Segmenter,
  locale: string | undefined,
  stopWords: ReadonlySet<string> | undefined,
  dropSingleChars: boolean,
): Sentence[] {
  const termIds = new Map<string, number>();
  const documentFrequency: number[] = [];
  const counts: Map<number, number>[] = [];
  for (const text of texts) {
    const tf = new Map<number, number>();
    for (const { segment, isWordLike } of wordSegmenter.segment(text)) {
      if (!isWordLike) continue;
      let token = lower(segment.normalize('NFKC'), locale);
      if (stopWords !== undefined) token = token.replace(/['’]s$/u, '').replace(/’/gu, "'");
      if (token === '' || (dropSingleChars && [...token].length < 2) || stopWords?.has(token)) continue;
      let id = termIds.get(token);
      if (id === undefined) {
        id = termIds.size;
        termIds.set(token, id);
        documentFrequency.push(0);
      }
      const previous = tf.get(id);
      if (previous === undefined) documentFrequency[id] = (documentFrequency[id] ?? 0) + 1;
      tf.set(id, (previous ?? 0) + 1);
    }
    counts.push(tf);
  }

  const n = texts.length;
  const maxDf = n >= DF_CUTOFF_MIN_SENTENCES ? DF_CUTOFF_RATIO * n : Infinity;
  const postingSizes = new Int32Array(termIds.size);
  const sentences: Sentence[] = counts.map((tf, s) => {
    const kept = [...tf.entries()].filter(([id]) => (documentFrequency[id] ?? 0) <= maxDf).sort((a, b) => a[0] - b[0]);
    const terms = new Int32Array(kept.length);
    const weights = new Float64Array(kept.length);
    const postingIndex = new Int32Array(kept.length);
    let norm = 0;
    kept.forEach(([id, count], t) => {
      const weight = (1 + Math.log(count)) * Math.log(1 + n / (documentFrequency[id] ?? 1));
      terms[t] = id;
      weights[t] = weight;
      postingIndex[t] = postingSizes[id] ?? 0;
      postingSizes[id] = (postingSizes[id] ?? 0) + 1;
      norm += weight * weight;
    });
    norm = Math.sqrt(norm);
    if (norm > 0) for (let t = 0; t < weights.length; t++) weights[t] = (weights[t] ?? 0) / norm;
    return { text: texts[s] ?? '', terms, weights, postingIndex };
  });
  return sentences;
}

function lower(token: string, locale: string | undefined): string {
  try {
    return token.toLocaleLowerCase(locale);
  } catch {
    return token.toLowerCase();
  }
}

/**
 * LexRank: builds the sparse cosine-similarity graph (via posting lists, each
 * sentence compared with at most {@link SIMILARITY_WINDOW} followers) and runs
 * a damped power iteration on it. Returns one centrality score per sentence.
 */
async function lexRank(sentences: Sentence[], signal: AbortSignal | undefined): Promise<Float64Array> {
  const n = sentences.length;
  const scores = new Float64Array(n).fill(1 / Math.max(n, 1));
  if (n <= 1) return scores;

  // Posting lists: for each term, the sentences containing it (ascending) and its weight there.
  const postingSentences: number[][] = [];
  const postingWeights: number[][] = [];
  sentences.forEach((sentence, s) => {
    sentence.terms.forEach((term, t) => {
      (postingSentences[term] ??= []).push(s);
      (postingWeights[term] ??= []).push(sentence.weights[t] ?? 0);
    });
  });

  // Upper triangle of the similarity matrix, row by row, with an accumulator.
  const neighbours: number[][] = Array.from({ length: n }, () => []);
  const edgeWeights: number[][] = Array.from({ length: n }, () => []);
  const accumulator = new Float64Array(n);
  const touched = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const sentence = sentences[i];
    if (sentence === undefined) continue;
    let touchedCount = 0;
    const limit = i + SIMILARITY_WINDOW;
    for (let t = 0; t < sentence.terms.length; t++) {
      const term = sentence.terms[t] ?? 0;
      const weight = sentence.weights[t] ?? 0;
      const others = postingSentences[term] ?? [];
      const otherWeights = postingWeights[term] ?? [];
      for (let p = (sentence.postingIndex[t] ?? 0) + 1; p < others.length; p++) {
        const j = others[p] ?? 0;
        if (j > limit) break;
        if (accumulator[j] === 0) touched[touchedCount++] = j;
        accumulator[j] = (accumulator[j] ?? 0) + weight * (otherWeights[p] ?? 0);
      }
    }
    for (let k = 0; k < touchedCount; k++) {
      const j = touched[k] ?? 0;
      const similarity = accumulator[j] ?? 0;
      accumulator[j] = 0;
      if (similarity < EDGE_MIN_SIMILARITY) continue;
      neighbours[i]?.push(j);
      edgeWeights[i]?.push(similarity);
      neighbours[j]?.push(i);
      edgeWeights[j]?.push(similarity);
    }
    if (i % ROWS_PER_YIELD === ROWS_PER_YIELD - 1) {
      await yieldToEventLoop();
      signal?.throwIfAborted();
    }
  }

  const degree = new Float64Array(n);
  for (let i = 0; i < n; i++) for (const w of edgeWeights[i] ?? []) degree[i] = (degree[i] ?? 0) + w;

  // p' = (1-d)/n + d * (Σ_i p_i * w_ij / deg_i + dangling/n)
  let next = new Float64Array(n);
  let current = scores;
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    let dangling = 0;
    next.fill(0);
    for (let i = 0; i < n; i++) {
      const p = current[i] ?? 0;
      const deg = degree[i] ?? 0;
      if (deg === 0) {
        dangling += p;
        continue;
      }
      const js = neighbours[i] ?? [];
      const ws = edgeWeights[i] ?? [];
      const share = p / deg;
      for (let e = 0; e < js.length; e++) {
        const j = js[e] ?? 0;
        next[j] = (next[j] ?? 0) + share * (ws[e] ?? 0);
      }
    }
    const base = (1 - DAMPING) / n + (DAMPING * dangling) / n;
    let delta = 0;
    for (let j = 0; j < n; j++) {
      const value = base + DAMPING * (next[j] ?? 0);
      delta += Math.abs(value - (current[j] ?? 0));
      next[j] = value;
    }
    [current, next] = [next, current];
    if (delta < CONVERGENCE) break;
  }
  return current;
}
