/**
 * What Lectern's summarizers share, so they agree on it: the summary of an empty
 * transcript, the seconds a transcript covers, and reading a language tag.
 */
import type { LectureSummary, TranscriptEntry } from '@lectern/protocol';

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

/** The canonical BCP 47 form of `language`; undefined when absent or not a language tag. */
export function safeLocale(language: string | undefined): string | undefined {
  if (language === undefined || language.trim() === '') return undefined;
  try {
    return Intl.getCanonicalLocales(language.trim())[0];
  } catch {
    return undefined;
  }
}
