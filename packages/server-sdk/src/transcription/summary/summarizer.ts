import type { TranscriptEntry } from '../store/transcript-store.js';

/** A lecture summary, stored next to the transcript. */
export interface LectureSummary {
  /** The summary as prose (or bullet lines), in the lecture's language. */
  text: string;
  /** Key points, one sentence each, in lecture order (may be empty). */
  keyPoints: string[];
  /** Which summarizer made it, e.g. `offline-extractive` or `openai-compatible:gpt-4o-mini`. */
  generator: string;
  /** ISO time it was made. */
  createdAt: string;
  /** Seconds of lecture the transcript covered. */
  coveredSeconds: number;
}

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
