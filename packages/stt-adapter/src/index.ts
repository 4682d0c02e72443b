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
  STREAM_SAMPLE_RATE,
  STREAM_BYTES_PER_SECOND,
  type StreamingSttEngine,
  type SttStream,
  type SttStreamEvents,
  type SttStreamOptions,
  type SttStreamPartial,
  type SttStreamFinal,
  type SttStreamStatus,
} from './streaming.js';
export {
  WhisperApiClient,
  type WhisperApiStreamOptions,
  WHISPER_API_CLIENT_DEFAULTS,
  type WhisperApiClientOptions,
  type WhisperApiRetryEvent,
} from './whisper-api-client.js';
