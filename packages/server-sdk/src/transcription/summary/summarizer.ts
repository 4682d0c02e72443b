import type { LectureSummary, TranscriptEntry } from '@lectern/protocol';

export interface SummarizeInput {
  lectureId: string;
  /** The whole transcript, ordered by time. */
  entries: TranscriptEntry[];
  /** ISO 639-1 language of the transcript, when known. */
  language?: string;
}

/**
 * Produces a lecture summary from its transcript. Lectern ships
 * `OfflineSummarizer` (extractive, no network) and `OpenAICompatibleSummarizer`
 * (any chat-completions endpoint); hosts may implement their own.
 */
export interface Summarizer {
  readonly name: string;
  summarize(input: SummarizeInput, options?: { signal?: AbortSignal }): Promise<LectureSummary>;
}
