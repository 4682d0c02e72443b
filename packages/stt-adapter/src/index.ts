/**
 * @lectern/stt-adapter — the speech-to-text boundary of Lectern.
 * @packageDocumentation
 */
export type {
  SttEngine,
  Transcription,
  TranscriptSegment,
  TranscriptWord,
  TranscribeOptions,
} from './engine.js';
