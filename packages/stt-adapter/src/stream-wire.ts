/**
 * The WebSocket wire format of whisper-api's `/v1/stream`: the messages the
 * client sends, the server's messages (checked before use), and the server's
 * error codes turned into {@link SttError}s. The Python side is
 * `python/whisper-api/src/whisper_api/stream.py` (and `captions.py`); its README documents the protocol.
 */
import type { TranscriptWord } from './engine.js';
import { SttError, type SttErrorCode } from './errors.js';
import { isRecord } from './wire.js';

/** The first message of a connection. */
export interface WireStreamStart {
  type: 'start';
  sampleRate: 16000;
  encoding: 's16le';
  /** ISO code, or null = detect once. */
  language: string | null;
  /** Audio clock (seconds) of the connection's first sample. */
  offset: number;
  prompt?: string;
  partials: boolean;
  /** Audio clock up to which the client already has finals (a reconnect's replay starts a little before it). */
  committedUntil?: number;
}

export type WireStreamServerMessage =
  | { type: 'ready'; model: string; language: string | null; maxBufferSeconds: number; sessionId: string }
  | { type: 'partial'; text: string; start: number; end: number }
  | { type: 'final'; text: string; start: number; end: number; words: TranscriptWord[] }
  | { type: 'language'; language: string; probability?: number }
  | { type: 'status'; audioSeconds: number; backlogSeconds: number; rtf: number; bufferSeconds: number }
  | { type: 'error'; code: string; message: string; retryAfterSeconds?: number }
  | { type: 'done' };

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const str = (v: unknown): v is string => typeof v === 'string';

function isWord(v: unknown): v is TranscriptWord {
  return isRecord(v) && str(v.word) && finite(v.start) && finite(v.end) && finite(v.probability);
}

/** Parses one text frame of the server; undefined for anything that is not a known, well-formed message. */
export function parseStreamMessage(text: string): WireStreamServerMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(m) || !str(m.type)) return undefined;
  switch (m.type) {
    case 'ready':
      return str(m.model) && (m.language === null || str(m.language)) && finite(m.maxBufferSeconds) && str(m.sessionId)
        ? { type: 'ready', model: m.model, language: m.language, maxBufferSeconds: m.maxBufferSeconds, sessionId: m.sessionId }
        : undefined;
    case 'partial':
      return str(m.text) && finite(m.start) && finite(m.end) ? { type: 'partial', text: m.text, start: m.start, end: m.end } : undefined;
    case 'final':
      return str(m.text) && finite(m.start) && finite(m.end) && m.end >= m.start && Array.isArray(m.words) && m.words.every(isWord)
        ? {
            type: 'final',
            text: m.text,
            start: m.start,
            end: m.end,
            words: m.words.map((w: TranscriptWord) => ({ word: w.word, start: w.start, end: w.end, probability: w.probability })),
          }
        : undefined;
    case 'language':
      return str(m.language) && (m.probability === undefined || finite(m.probability))
        ? { type: 'language', language: m.language, ...(finite(m.probability) ? { probability: m.probability } : {}) }
        : undefined;
    case 'status':
      return finite(m.audioSeconds) && finite(m.backlogSeconds) && finite(m.rtf) && finite(m.bufferSeconds)
        ? { type: 'status', audioSeconds: m.audioSeconds, backlogSeconds: m.backlogSeconds, rtf: m.rtf, bufferSeconds: m.bufferSeconds }
        : undefined;
    case 'error':
      return str(m.code) && str(m.message)
        ? { type: 'error', code: m.code, message: m.message, ...(finite(m.retryAfterSeconds) ? { retryAfterSeconds: m.retryAfterSeconds } : {}) }
        : undefined;
    case 'done':
      return { type: 'done' };
    default:
      return undefined;
  }
}

/**
 * The one place a `/v1/stream` error code becomes an {@link SttErrorCode}
 * (and with it whether reconnecting may help):
 *
 * | server code | code | the stream |
 * | --- | --- | --- |
 * | `busy` (the server's stream limit), `internal`, `idle_timeout`, unknown | `UNAVAILABLE` | reconnects |
 * | `unauthorized` | `UNAUTHORIZED` | fails |
 * | `bad_request`, `bad_frame`, `unsupported_audio`, `unsupported_language` | `BAD_REQUEST` | fails |
 */
export function streamErrorCode(serverCode: string): SttErrorCode {
  if (serverCode === 'unauthorized') return 'UNAUTHORIZED';
  if (['bad_request', 'bad_frame', 'unsupported_audio', 'unsupported_language'].includes(serverCode)) return 'BAD_REQUEST';
  return 'UNAVAILABLE';
}

/** An {@link SttError} for a server `error` message. */
export function streamError(message: { code: string; message: string; retryAfterSeconds?: number }): SttError {
  return new SttError(streamErrorCode(message.code), `whisper-api stream: ${message.code}: ${message.message}`, {
    serverCode: message.code,
    ...(message.retryAfterSeconds !== undefined ? { retryAfterMs: message.retryAfterSeconds * 1000 } : {}),
  });
}
