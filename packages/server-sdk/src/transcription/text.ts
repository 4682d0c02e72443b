/**
 * Text helpers for transcripts in any script: lengths in graphemes (what a
 * reader counts as one character: a Hangul syllable, an emoji with its
 * modifiers, a letter with its combining accents), cuts that never split one,
 * and sentence ends Korean speech leaves without punctuation. Shared by the
 * summarizers and the subtitle export.
 */

const graphemeSegmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Graphemes of `text`, in order. */
export function graphemes(text: string): string[] {
  return Array.from(graphemeSegmenter.segment(text), (s) => s.segment);
}

/** Length of `text` in graphemes (`'한국어'` → 3, `'👍🏽'` → 1, `'e\u0301'` → 1). */
export function graphemeLength(text: string): number {
  // Fast path: text without surrogates, combining marks, joiners or jamo is one grapheme per code unit (CR LF aside).
  // (Surrogates are tested without the u flag: with it, a pair is one code point and would not match.)
  if (!/[\uD800-\uDFFF]/.test(text) && !/[\p{M}\u200D\u1100-\u11FF\u3164\uA960-\uA97F\uD7B0-\uD7FF\uFE00-\uFE0F\r]/u.test(text)) return text.length;
  let n = 0;
  for (const _ of graphemeSegmenter.segment(text)) n++;
  return n;
}

/**
 * The largest grapheme boundary at or before the code-unit `index`: slicing
 * there never cuts a surrogate pair or a grapheme cluster in two.
 */
export function graphemeBoundary(text: string, index: number): number {
  if (index <= 0) return 0;
  if (index >= text.length) return text.length;
  // Clusters are short; look at a window around the index only (linear cost on long texts).
  const from = Math.max(0, index - 64);
  let boundary = from;
  for (const { index: i } of graphemeSegmenter.segment(text.slice(from, Math.min(text.length, index + 64)))) {
    const at = from + i;
    if (at > index) break;
    boundary = at;
  }
  return boundary;
}

/** The first `max` graphemes of `text`. */
export function sliceGraphemes(text: string, max: number): string {
  if (max <= 0) return '';
  if (graphemeLength(text) <= max) return text;
  let end = 0;
  let n = 0;
  for (const { index } of graphemeSegmenter.segment(text)) {
    if (n === max) {
      end = index;
      break;
    }
    n++;
  }
  return text.slice(0, end);
}

/**
 * `text` cut to at most `max` graphemes, ending with `…` when cut; the cut
 * goes back to the last space when that keeps at least half of the budget.
 */
export function truncateGraphemes(text: string, max: number): string {
  if (graphemeLength(text) <= max) return text;
  const cut = sliceGraphemes(text, Math.max(0, max - 1));
  const space = cut.search(/\s\S*$/u);
  const kept = space > 0 && graphemeLength(cut.slice(0, space)) > max / 2 ? cut.slice(0, space) : cut;
  return `${kept.trimEnd()}…`;
}

/**
 * Korean sentence endings (formal and polite final endings, plain
 * declaratives), when followed by a space and more text: where Whisper's
 * Korean often has a sentence end but no punctuation. Nouns that end like
 * this are rare (the list avoids bare `다`/`요`, e.g. 바다 "sea", 필요 "need").
 */
const KOREAN_SENTENCE_END =
  /(?<=(?:니다|습니까|합니까|입니까|됩니까|세요|어요|아요|에요|예요|해요|지요|네요|군요|까요|래요|대요|죠|[한된있없했였었았겠는]다))\s+(?=\S)/gu;

/** Splits an unpunctuated Korean run at its sentence endings ({@link KOREAN_SENTENCE_END}). */
export function splitKoreanSentenceEnds(sentence: string): string[] {
  return sentence
    .split(KOREAN_SENTENCE_END)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** True when most letters of `text` are Hangul. */
export function isMostlyHangul(text: string): boolean {
  let letters = 0;
  let hangul = 0;
  for (const ch of text) {
    if (!/\p{L}/u.test(ch)) continue;
    letters++;
    if (/\p{Script=Hangul}/u.test(ch)) hangul++;
  }
  return letters > 0 && hangul / letters > 0.5;
}
