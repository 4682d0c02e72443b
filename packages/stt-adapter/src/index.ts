/**
 * @lectern/stt-adapter — the speech-to-text boundary of Lectern.
 * @packageDocumentation
 */
export type {
  SttEngine,
  SttEngineCapabilities,
  Transcription,
  TranscriptSegment,
  TranscriptWord,
  TranscribeOptions,
} from './engine.js';
export { SttError, isSttError, type SttErrorCode, type SttErrorDetails } from './errors.js';
export {
  WhisperApiClient,
  WHISPER_API_CLIENT_DEFAULTS,
  type WhisperApiClientOptions,
  type WhisperApiRetryEvent,
} from './whisper-api-client.js';
