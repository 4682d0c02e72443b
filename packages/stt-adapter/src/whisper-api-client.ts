import { openAsBlob } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import pRetry from 'p-retry';
import type { SttEngine, SttEngineCapabilities, TranscribeOptions, Transcription } from './engine.js';
import { SttError } from './errors.js';
import type { StreamingSttEngine, SttStream, SttStreamOptions } from './streaming.js';
import { WhisperApiStream, type WhisperApiStreamSettings } from './whisper-api-stream.js';
import { httpError, isRecord, isWireTranscription, toTranscription } from './wire.js';

/** What {@link WhisperApiClientOptions.onRetry} receives before each retry. */
export interface WhisperApiRetryEvent {
  /** The attempt about to start: 2 for the first retry, 3 for the second, ... */
  readonly attempt: number;
  /** Why the previous attempt failed (always a retryable error). */
  readonly error: SttError;
  /**
   * How long the client waited between that failure and this attempt, in
   * milliseconds: the exponential backoff with jitter, stretched to the
   * server's `Retry-After` when it sent one.
   */
  readonly delayMs: number;
  /** The file being transcribed. */
  readonly filePath: string;
}

/** Configuration of a {@link WhisperApiClient}. Only `baseUrl` is required. */
export interface WhisperApiClientOptions {
  /**
   * Where the whisper-api server listens, e.g. `http://127.0.0.1:8765`. A path
   * prefix (a reverse proxy's `http://host/stt/`) is kept: requests go to
   * `<baseUrl>/v1/transcribe` and `<baseUrl>/health`.
   */
  baseUrl: string | URL;
  /**
   * Bearer token for a whisper-api started with `WHISPER_API_TOKEN`: sent as
   * `Authorization: Bearer <token>` with every request. A missing or wrong
   * token makes the server answer 401, which rejects with a non-retryable
   * `UNAUTHORIZED`. Unset = no header (a server on loopback without a token).
   */
  token?: string;
  /**
   * Time limit of one attempt (upload, transcription and response), in
   * milliseconds. A timed-out attempt fails with a retryable `TIMEOUT`.
   * Default 600 000 (10 minutes): a 5-minute batch takes about 20 s on two CPU
   * cores, but a busy server works through its queue first.
   */
  timeoutMs?: number;
  /** Time limit of {@link WhisperApiClient.healthy}, in milliseconds. Default 2 000. */
  healthTimeoutMs?: number;
  /**
   * How many times a retryable failure (connection refused/reset, 5xx, 503
   * busy, 408, 429, timeout) is retried; 0 = never. Default 4.
   */
  retries?: number;
  /**
   * Backoff before the first retry, in milliseconds; it doubles with each
   * retry and is multiplied by a random factor in [1, 2) (jitter), so clients
   * that failed together do not come back together. Default 1 000.
   */
  minRetryDelayMs?: number;
  /**
   * Upper bound of the backoff between two attempts, in milliseconds; also caps
   * how long a server's `Retry-After` is honoured. Default 30 000.
   */
  maxRetryDelayMs?: number;
  /**
   * Transcriptions this client runs at once (each holds its slot through its
   * retries); more calls wait in line, first come first served, so many rooms
   * sharing one client cannot flood the server. Default 2.
   */
  maxConcurrent?: number;
  /** Default language (ISO 639-1) when a call sets none; unset = the server detects it. */
  language?: string;
  /** Default beam size (1..10) when a call sets none; unset = the server's default (5). */
  beamSize?: number;
  /** Default for the Silero VAD filter when a call sets none; unset = the server's default (on). */
  vadFilter?: boolean;
  /** Default for word timestamps when a call sets none; unset = off. */
  wordTimestamps?: boolean;
  /** Default decoding temperature (0..1) when a call sets none; unset = Whisper's fallback schedule. */
  temperature?: number;
  /**
   * The `fetch` to use, for hosts that route HTTP through their own agent or
   * dispatcher (proxies, keep-alive pools, instrumentation). Default: the global `fetch`.
   */
  fetch?: typeof fetch;
  /**
   * Called just before each retry (for logs and metrics). Exceptions it throws
   * are ignored.
   */
  onRetry?: (event: WhisperApiRetryEvent) => void;
  /** Live streams ({@link WhisperApiClient.openStream}): connection, reconnect and replay. */
  stream?: WhisperApiStreamOptions;
}

/** How {@link WhisperApiClient.openStream}'s streams connect and recover. */
export interface WhisperApiStreamOptions {
  /** Time limit from connecting to the server's `ready`, in milliseconds. Default 10 000. */
  connectTimeoutMs?: number;
  /** First reconnect delay, in milliseconds; doubles per failure, with jitter. Default 250. */
  reconnectMinDelayMs?: number;
  /** Longest reconnect delay (also caps a `busy` server's retry hint), in milliseconds. Default 5 000. */
  reconnectMaxDelayMs?: number;
  /**
   * Audio a stream keeps until a final covers it, replayed after a reconnect,
   * in seconds. Older audio is dropped while the server is unreachable
   * (`audioDropped`). Default 60.
   */
  maxReplaySeconds?: number;
  /** How long `end()` waits for the last finals, in milliseconds. Default 20 000. */
  endTimeoutMs?: number;
}

/** The defaults of {@link WhisperApiClientOptions}. */
export const WHISPER_API_CLIENT_DEFAULTS = Object.freeze({
  timeoutMs: 600_000,
  healthTimeoutMs: 2_000,
  retries: 4,
  minRetryDelayMs: 1_000,
  maxRetryDelayMs: 30_000,
  maxConcurrent: 2,
  stream: Object.freeze({
    connectTimeoutMs: 10_000,
    reconnectMinDelayMs: 250,
    reconnectMaxDelayMs: 5_000,
    maxReplaySeconds: 60,
    endTimeoutMs: 20_000,
  }),
});

/**
 * {@link SttEngine} over the HTTP API of Lectern's `python/whisper-api` server
 * (`POST /v1/transcribe`, `GET /health`).
 *
 * - Files are streamed from disk in a multipart upload (`fs.openAsBlob`), never
 *   read into memory as a whole.
 * - At most `maxConcurrent` transcriptions run at once; the rest wait in line.
 * - Retryable failures (`UNAVAILABLE`, `TIMEOUT`) are retried with exponential
 *   backoff and jitter, honouring the server's `Retry-After`; a refused request
 *   (`BAD_REQUEST`, e.g. `audio_too_long`), refused credentials (`UNAUTHORIZED`)
 *   or an unreadable answer (`BAD_RESPONSE`) is not.
 * - Those retries are the client's own, short and bounded: they cover one
 *   request's transport failures (at most `1 + retries` tries per
 *   `transcribe()` call), then the call settles. Anything longer-lived — e.g.
 *   Lectern's pipeline keeping a batch on disk and trying again minutes later —
 *   belongs to the caller, which calls `transcribe()` again; each such call
 *   gets its own bounded set of tries. Set `retries: 0` when the caller wants
 *   to own every retry.
 * - `signal` cancels the call wherever it is: in line, in flight or in backoff.
 *
 * Every failure rejects with an {@link SttError}.
 *
 * It is also a {@link StreamingSttEngine}: {@link WhisperApiClient.openStream}
 * opens a live stream over the server's `/v1/stream` WebSocket (same base URL
 * and token), for captions while a lecture runs.
 */
export class WhisperApiClient implements SttEngine, StreamingSttEngine {
  /** Engine name for logs and metrics. */
  readonly name = 'whisper-api';
  /** The normalised base URL (always ends with `/`). */
  readonly baseUrl: string;
  /** Per-attempt time limit in milliseconds. */
  readonly timeoutMs: number;
  /** Retries after the first attempt for retryable failures. */
  readonly retries: number;
  /** Transcriptions this client runs at once. */
  readonly maxConcurrent: number;

  readonly #options: WhisperApiClientOptions;
  readonly #fetch: typeof fetch;
  readonly #transcribeUrl: URL;
  readonly #healthUrl: URL;
  readonly #healthTimeoutMs: number;
  readonly #minRetryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #limit: LimitFunction;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #stream: WhisperApiStreamSettings;
  #inFlight = 0;
  #queued = 0;

  /** @throws TypeError / RangeError when an option is invalid. */
  constructor(options: WhisperApiClientOptions) {
    const d = WHISPER_API_CLIENT_DEFAULTS;
    const base = new URL(String(options.baseUrl));
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new TypeError(`baseUrl must be an http(s) URL, got ${base.href}`);
    }
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    base.search = '';
    base.hash = '';
    this.baseUrl = base.href;
    this.#transcribeUrl = new URL('v1/transcribe', base);
    this.#healthUrl = new URL('health', base);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs ?? d.timeoutMs);
    this.#healthTimeoutMs = positive('healthTimeoutMs', options.healthTimeoutMs ?? d.healthTimeoutMs);
    this.retries = nonNegativeInteger('retries', options.retries ?? d.retries);
    this.#minRetryDelayMs = nonNegative('minRetryDelayMs', options.minRetryDelayMs ?? d.minRetryDelayMs);
    this.#maxRetryDelayMs = nonNegative('maxRetryDelayMs', options.maxRetryDelayMs ?? Math.max(d.maxRetryDelayMs, this.#minRetryDelayMs));
    if (this.#maxRetryDelayMs < this.#minRetryDelayMs) {
      throw new RangeError(`maxRetryDelayMs (${this.#maxRetryDelayMs}) must be >= minRetryDelayMs (${this.#minRetryDelayMs})`);
    }
    this.maxConcurrent = nonNegativeInteger('maxConcurrent', options.maxConcurrent ?? d.maxConcurrent);
    if (this.maxConcurrent < 1) throw new RangeError('maxConcurrent must be at least 1');
    // Called unbound: some fetch implementations reject a foreign `this`.
    const fetchFn = options.fetch ?? globalThis.fetch;
    this.#fetch = (input, init) => fetchFn(input, init);
    this.#options = { ...options };
    this.#limit = pLimit(this.maxConcurrent);
    this.#headers = options.token === undefined ? {} : { authorization: `Bearer ${bearerToken(options.token)}` };
    const streamUrl = new URL('v1/stream', base);
    streamUrl.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
    const s = { ...d.stream, ...options.stream };
    this.#stream = {
      url: streamUrl,
      headers: this.#headers,
      connectTimeoutMs: positive('stream.connectTimeoutMs', s.connectTimeoutMs),
      reconnectMinDelayMs: positive('stream.reconnectMinDelayMs', s.reconnectMinDelayMs),
      reconnectMaxDelayMs: positive('stream.reconnectMaxDelayMs', Math.max(s.reconnectMaxDelayMs, s.reconnectMinDelayMs)),
      maxReplaySeconds: positive('stream.maxReplaySeconds', s.maxReplaySeconds),
      endTimeoutMs: positive('stream.endTimeoutMs', s.endTimeoutMs),
    };
  }

  /**
   * Opens a live stream on the server's `/v1/stream`: write 16 kHz mono s16le
   * PCM, get `partial` and `final` events on the audio clock that starts at
   * `options.offset`. The stream connects in the background, reconnects with
   * backoff when the connection fails (replaying the audio after its last
   * final) and reports a refusal by the server (`UNAUTHORIZED`, `BAD_REQUEST`
   * for an unsupported language) as its `error` event.
   *
   * @throws RangeError for a negative or non-finite `offset`, or a
   * `committedUntil` outside `[offset, offset + 60]`.
   */
  openStream(options: SttStreamOptions = {}): SttStream {
    return new WhisperApiStream(this.#stream, options);
  }

  /**
   * Transcriptions holding one of the `maxConcurrent` slots: uploading,
   * being transcribed, or waiting to retry.
   */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Transcriptions waiting in line for a slot. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Transcribes one audio file (anything FFmpeg decodes). Options left unset
   * fall back to the client's defaults, then to the server's.
   *
   * @throws {@link SttError} `BAD_REQUEST` (refused by the server, or the file
   * cannot be read), `UNAUTHORIZED` (missing or wrong `token`), `BAD_RESPONSE`,
   * `ABORTED`, or, once retries are used up,
   * `UNAVAILABLE` / `TIMEOUT`. Its `attempts` tells how many were made.
   */
  async transcribe(filePath: string, options: TranscribeOptions = {}): Promise<Transcription> {
    const { signal } = options;
    if (signal?.aborted) throw abortedError(signal.reason, 0);
    const fields = this.#formFields(options);
    return this.#enqueue(signal, () => this.#withRetries(filePath, fields, signal));
  }

  /**
   * Resolves true when `GET /health` answers 200 with `status: "ok"` (the model
   * is loaded) within the health timeout; false otherwise. Never throws.
   */
  async healthy(): Promise<boolean> {
    const body = await this.#health();
    return body !== undefined && body.status === 'ok';
  }

  /**
   * What `GET /health` says about the loaded model: `multilingual` (false for
   * an English-only model such as `tiny.en`, which refuses other languages) and
   * `model`. Resolves `undefined` when the server is unreachable, not ready, or
   * too old to say; never throws.
   */
  async capabilities(): Promise<SttEngineCapabilities | undefined> {
    const body = await this.#health();
    if (body === undefined || body.status !== 'ok') return undefined;
    const capabilities: SttEngineCapabilities = {};
    if (typeof body.multilingual === 'boolean') capabilities.multilingual = body.multilingual;
    if (typeof body.model === 'string') capabilities.model = body.model;
    return capabilities;
  }

  /** The JSON body of a 200 from `GET /health` within the health timeout; undefined otherwise. */
  async #health(): Promise<Record<string, unknown> | undefined> {
    try {
      const response = await this.#fetch(this.#healthUrl, {
        headers: this.#headers,
        signal: AbortSignal.timeout(this.#healthTimeoutMs),
      });
      const text = await response.text();
      if (!response.ok) return undefined;
      const body: unknown = JSON.parse(text);
      return isRecord(body) ? body : undefined;
    } catch {
      return undefined;
    }
  }

  #formFields(options: TranscribeOptions): [string, string][] {
    const o = this.#options;
    const fields: [string, string][] = [];
    const language = options.language ?? o.language;
    const beamSize = options.beamSize ?? o.beamSize;
    const vadFilter = options.vadFilter ?? o.vadFilter;
    const wordTimestamps = options.wordTimestamps ?? o.wordTimestamps;
    const temperature = options.temperature ?? o.temperature;
    if (language !== undefined) fields.push(['language', language]);
    if (beamSize !== undefined) fields.push(['beam_size', String(beamSize)]);
    if (vadFilter !== undefined) fields.push(['vad_filter', String(vadFilter)]);
    if (wordTimestamps !== undefined) fields.push(['word_timestamps', String(wordTimestamps)]);
    if (temperature !== undefined) fields.push(['temperature', String(temperature)]);
    return fields;
  }

  /** Runs `run` in one of the `maxConcurrent` slots; `signal` also takes the call out of the line. */
  #enqueue<T>(signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
    this.#queued += 1;
    let waiting = true;
    const leaveLine = (): void => {
      if (waiting) {
        waiting = false;
        this.#queued -= 1;
      }
    };
    const job = this.#limit(async () => {
      leaveLine();
      // Given up while in line: free the slot at once.
      if (signal?.aborted) throw abortedError(signal.reason, 0);
      this.#inFlight += 1;
      try {
        return await run();
      } finally {
        this.#inFlight -= 1;
      }
    });
    if (!signal) return job;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        // Once running, the request itself reacts to the signal (fetch, backoff).
        if (!waiting) return;
        leaveLine();
        reject(abortedError(signal.reason, 0));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      job.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  async #withRetries(filePath: string, fields: [string, string][], signal: AbortSignal | undefined): Promise<Transcription> {
    let attempts = 0;
    let lastError: SttError | undefined;
    let failedAt = 0;
    try {
      return await pRetry(
        async (attempt) => {
          attempts = attempt;
          if (attempt > 1 && lastError) {
            this.#emitRetry({ attempt, error: lastError, delayMs: Math.round(performance.now() - failedAt), filePath });
          }
          return this.#attempt(filePath, fields, signal);
        },
        {
          retries: this.retries,
          factor: 2,
          minTimeout: this.#minRetryDelayMs,
          maxTimeout: this.#maxRetryDelayMs,
          randomize: true,
          signal,
          onFailedAttempt: ({ error }) => {
            lastError = toSttError(error);
            failedAt = performance.now();
          },
          shouldRetry: async ({ error, retriesConsumed }) => {
            const sttError = toSttError(error);
            if (!sttError.retryable) return false;
            // p-retry sleeps next, at least min(minTimeout * 2^n, maxTimeout);
            // sleep the rest of what the server asked for first.
            const floor = Math.min(this.#minRetryDelayMs * 2 ** retriesConsumed, this.#maxRetryDelayMs);
            const asked = Math.min(sttError.retryAfterMs ?? 0, this.#maxRetryDelayMs);
            if (asked > floor) await sleep(asked - floor, undefined, signal ? { signal } : undefined);
            return true;
          },
        },
      );
    } catch (error) {
      const final = signal?.aborted ? abortedError(signal.reason, attempts, error) : toSttError(error);
      final.attempts = attempts;
      throw final;
    }
  }

  async #attempt(filePath: string, fields: [string, string][], signal: AbortSignal | undefined): Promise<Transcription> {
    let file: Blob;
    try {
      file = await openAsBlob(filePath);
    } catch (cause) {
      throw new SttError('BAD_REQUEST', `cannot read audio file ${filePath}: ${describe(cause)}`, { cause });
    }
    const form = new FormData();
    form.append('file', file, path.basename(filePath));
    for (const [name, value] of fields) form.append(name, value);

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`attempt timed out after ${this.timeoutMs} ms`));
    }, this.timeoutMs);
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let response: Response;
    let body: string;
    try {
      if (signal?.aborted) throw signal.reason;
      response = await this.#fetch(this.#transcribeUrl, {
        method: 'POST',
        body: form,
        headers: this.#headers,
        signal: controller.signal,
      });
      body = await response.text();
    } catch (cause) {
      if (signal?.aborted) throw abortedError(signal.reason, undefined, cause);
      if (timedOut) {
        throw new SttError('TIMEOUT', `whisper-api did not answer within ${this.timeoutMs} ms`, { cause });
      }
      throw new SttError('UNAVAILABLE', `whisper-api at ${this.baseUrl} is unreachable: ${describe(cause)}`, { cause });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }

    if (!response.ok) throw httpError(response, body);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (cause) {
      throw new SttError('BAD_RESPONSE', `whisper-api answered ${response.status} with a body that is not JSON`, {
        status: response.status,
        cause,
      });
    }
    if (!isWireTranscription(json)) {
      throw new SttError('BAD_RESPONSE', `whisper-api answered ${response.status} with JSON that is not a transcription`, {
        status: response.status,
      });
    }
    return toTranscription(json);
  }

  #emitRetry(event: WhisperApiRetryEvent): void {
    try {
      this.#options.onRetry?.(event);
    } catch {
      // A logging hook must not break the transcription.
    }
  }
}

// ---------------------------------------------------------------- errors

function abortedError(reason: unknown, attempts: number | undefined, cause: unknown = reason): SttError {
  return new SttError('ABORTED', `transcription aborted${reason instanceof Error ? `: ${reason.message}` : ''}`, {
    cause,
    ...(attempts !== undefined ? { attempts } : {}),
  });
}

function toSttError(error: unknown): SttError {
  if (error instanceof SttError) return error;
  return new SttError('UNAVAILABLE', `whisper-api request failed: ${describe(error)}`, { cause: error });
}

/** A one-line reason, including the system error code fetch hides in `cause`. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  const code = isRecord(cause) && typeof cause.code === 'string' ? cause.code : (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}

// ---------------------------------------------------------------- options

function bearerToken(token: string): string {
  // What whisper-api accepts for WHISPER_API_TOKEN; also keeps CR/LF and spaces out of the header.
  if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) {
    throw new TypeError('token must be a non-empty string of visible ASCII characters without spaces');
  }
  return token;
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function positive(name: string, value: number): number {
  // setTimeout cannot wait longer than 2^31 - 1 ms (about 24.8 days).
  if (nonNegative(name, value) === 0 || value > 2 ** 31 - 1) {
    throw new RangeError(`${name} must be > 0 and <= ${2 ** 31 - 1}, got ${value}`);
  }
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(nonNegative(name, value))) throw new RangeError(`${name} must be an integer, got ${value}`);
  return value;
}
