/**
 * The text side of the offline summarizer: the transcript cut into sentences
 * (`Intl.Segmenter`, in the lecture's language) and each sentence turned into
 * a TF-IDF vector with posting lists, ready for ranking (lexrank.ts).
 */
import type { TranscriptEntry } from '@lectern/protocol';
import { graphemeBoundary, graphemeLength, isMostlyHangul, splitKoreanSentenceEnds } from '../text.js';

/** Scripts written without spaces between words: their text is joined without separators. */
export const NO_SPACE_LANGUAGES: ReadonlySet<string> = new Set(['zh', 'ja', 'th', 'lo', 'km', 'my', 'bo']);

/** Sentences longer than this many graphemes (no punctuation from the engine) are cut into pieces of about {@link PIECE_CHARS}. */
const MAX_SENTENCE_CHARS = 400;
const PIECE_CHARS = 250;
/** UTF-16 code units handed to `Intl.Segmenter` at once (see {@link splitSentences}). */
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

/**
 * Korean function words and lecture fillers (after {@link koreanStem}), applied for Korean: without
 * them, "우리", "오늘", "것" would link every sentence to every other.
 */
export const KOREAN_STOP_WORDS: ReadonlySet<string> = new Set(
  (
    '그리고 그러나 하지만 그래서 그런데 또한 또는 그러면 따라서 이것 그것 저것 이거 그거 저거 우리 저희 여러분 오늘 이제 지금 ' +
    '정말 아주 매우 너무 조금 많이 그냥 바로 다시 먼저 다음 이번 모든 어떤 이런 그런 저런 같은 있는 없는 하는 되는 ' +
    '있습니다 없습니다 합니다 입니다 됩니다 있어요 해요 있다 없다 한다 된다 이다 때문 대해 대한 통해 위해 그럼 네 예 음 어'
  ).split(' '),
);

/** Particles (조사) that attach to Korean nouns, longest first: 광합성은 / 광합성을 / 광합성이 are one term. */
const KOREAN_PARTICLES = [
  '에서는', '에게서', '으로는', '으로서', '으로써', '에서', '에게', '께서', '까지', '부터', '처럼', '보다', '으로', '이나', '이랑',
  '하고', '은', '는', '이', '가', '을', '를', '의', '에', '로', '와', '과', '도', '만',
];

/** A Korean word without its particle, when at least two syllables remain. */
export function koreanStem(token: string): string {
  for (const particle of KOREAN_PARTICLES) {
    if (token.endsWith(particle) && [...token].length - [...particle].length >= 2) return token.slice(0, -particle.length);
  }
  return token;
}

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
  // Korean speech often comes back without punctuation: its sentence endings split it too.
  const korean = locale === undefined ? isMostlyHangul(joined.slice(0, 2000)) : locale.split('-')[0]?.toLowerCase() === 'ko';
  const out: string[] = [];
  const pushOne = (sentence: string) => {
    if (graphemeLength(sentence) <= MAX_SENTENCE_CHARS) out.push(sentence);
    else out.push(...splitLongSentence(sentence, wordSegmenter));
  };
  const push = (segment: string) => {
    const sentence = segment.trim();
    if (sentence === '') return;
    if (korean) splitKoreanSentenceEnds(sentence).forEach(pushOne);
    else pushOne(sentence);
  };
  let offset = 0;
  while (offset < joined.length) {
    // Never cut a surrogate pair or a grapheme cluster at the window's edge.
    const end = graphemeBoundary(joined, offset + SEGMENT_WINDOW_CHARS);
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

/** Cuts an over-long sentence into pieces of about {@link PIECE_CHARS} graphemes, at word boundaries (preferably at spaces or punctuation). */
function splitLongSentence(sentence: string, wordSegmenter: Intl.Segmenter): string[] {
  const out: string[] = [];
  let piece = '';
  let pieceLength = 0;
  for (const { segment, isWordLike } of wordSegmenter.segment(sentence)) {
    const length = graphemeLength(segment);
    if (pieceLength >= PIECE_CHARS && (!isWordLike || pieceLength >= MAX_SENTENCE_CHARS - length)) {
      const trimmed = (isWordLike ? piece : piece + segment).trim();
      if (trimmed !== '') out.push(trimmed);
      piece = isWordLike ? segment : '';
      pieceLength = isWordLike ? length : 0;
    } else {
      piece += segment;
      pieceLength += length;
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
  stem: (token: string) => string = (token) => token,
): Sentence[] {
  const termIds = new Map<string, number>();
  const documentFrequency: number[] = [];
  const counts: Map<number, number>[] = [];
  for (const text of texts) {
    const tf = new Map<number, number>();
    for (const { segment, isWordLike } of wordSegmenter.segment(text)) {
      if (!isWordLike) continue;
      let token = lower(segment.normalize('NFKC'), locale);
      if (stopWords === ENGLISH_STOP_WORDS) token = token.replace(/['’]s$/u, '').replace(/’/gu, "'");
      token = stem(token);
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
