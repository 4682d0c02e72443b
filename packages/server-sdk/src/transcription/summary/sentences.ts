/**
 * The text side of the offline summarizer: the transcript cut into sentences
 * (`Intl.Segmenter`, in the lecture's language) and each sentence turned into
 * a TF-IDF vector with posting lists, ready for ranking (lexrank.ts).
 */
import type { TranscriptEntry } from '@lectern/protocol';

/** Scripts written without spaces between words: their text is joined without separators. */
export const NO_SPACE_LANGUAGES: ReadonlySet<string> = new Set(['zh', 'ja', 'th', 'lo', 'km', 'my', 'bo']);

/** Sentences longer than this (no punctuation from the engine) are cut into pieces of about {@link PIECE_CHARS}. */
const MAX_SENTENCE_CHARS = 400;
const PIECE_CHARS = 250;
/** Characters handed to `Intl.Segmenter` at once (see {@link splitSentences}). */
const SEGMENT_WINDOW_CHARS = 4 * MAX_SENTENCE_CHARS;
/** Terms found in more than this share of the sentences are treated as stop words (any language), from {@link DF_CUTOFF_MIN_SENTENCES} sentences up. */
const DF_CUTOFF_RATIO = 0.3;
const DF_CUTOFF_MIN_SENTENCES = 40;

/** Small English stop-word list (function words and lecture fillers), applied only for English or unknown language. */
export const ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set(
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

/** One sentence of the transcript as a sparse, L2-normalised TF-IDF vector. */
export interface Sentence {
  text: string;
  /** Distinct term ids, ascending. */
  terms: Int32Array;
  /** L2-normalised TF-IDF weights, parallel to `terms`. */
  weights: Float64Array;
  /** Position of this sentence in each term's posting list, parallel to `terms`. */
  postingIndex: Int32Array;
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
export function splitSentences(
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
export function vectorise(
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
