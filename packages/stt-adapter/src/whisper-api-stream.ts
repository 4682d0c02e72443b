import { EventEmitter } from 'eventemitter3';
import WebSocket from 'ws';
import { SttError } from './errors.js';
import { STREAM_BYTES_PER_SECOND, type SttStream, type SttStreamEvents, type SttStreamFinal, type SttStreamOptions } from './streaming.js';
import { parseStreamMessage, streamError, type WireStreamStart } from './stream-wire.js';
import { errorCodeForStatus } from './wire.js';

/** How a {@link WhisperApiStream} connects, reconnects and buffers (from {@link WhisperApiClientOptions}). */
export interface WhisperApiStreamSettings {
  /** `ws(s)://…/v1/stream`. */
  url: URL;
  headers: Readonly<Record<string, string>>;
  /** Time limit from connecting to the server's `ready`, in milliseconds. */
  connectTimeoutMs: number;
  /** Reconnect backoff: doubles from `minDelayMs` up to `maxDelayMs`, times a random factor in [1, 2). */
  reconnectMinDelayMs: number;
  reconnectMaxDelayMs: number;
  /** Audio kept for replay after a reconnect (everything after the last final), in seconds. */
  maxReplaySeconds: number;
  /** How long {@link WhisperApiStream.end} waits for the last finals, in milliseconds. */
  endTimeoutMs: number;
}

/** Largest binary frame sent (the server accepts up to 64 KiB). */
const MAX_FRAME_BYTES = 32 * 1024;
/** A connection that was ready this long counts as healthy: the next failure starts the backoff from the beginning. */
const HEALTHY_CONNECTION_MS = 10_000;
/**
 * Audio kept before the last final and replayed with it after a reconnect, in
 * seconds: Whisper skips the rest of an utterance whose audio starts mid-word,
 * so the replay starts a little early and tells the server where the finals
 * end (`committedUntil`); the server sends nothing before it again.
 */
const REPLAY_CONTEXT_SECONDS = 1.0;
/** Characters of committed text sent as the prompt of a reconnect. */
const PROMPT_TAIL = 200;
const MAX_PROMPT = 500;

type ConnectionOutcome =
  | { kind: 'done' }
  | { kind: 'fatal'; error: SttError }
  | { kind: 'idle' }
  | { kind: 'dropped'; error: SttError; wasReady: boolean; readyForMs: number };

/**
 * One live stream to whisper-api's `/v1/stream` ({@link WhisperApiClient.openStream}).
 *
 * The audio clock: every time is `offset + samples before / 16 000`, so the
 * stream keeps, until a final covers it, every byte it wrote (the replay
 * buffer, at most `maxReplaySeconds`). When the connection fails the stream
 * reconnects with backoff and starts the new connection a second before the
 * end of the last final (`committedUntil` tells the server where the finals
 * end), replaying the buffer: finals are neither lost, repeated nor shifted,
 * and a final that would overlap an earlier one is dropped. A server
 * that closes an idle stream is reconnected when audio comes again. The
 * server refusing the stream itself (credentials, language, format) is final:
 * `error`, then `closed`.
 */
export class WhisperApiStream implements SttStream {
  readonly #events = new EventEmitter();
  readonly #settings: WhisperApiStreamSettings;
  readonly #offset: number;
  readonly #partials: boolean;
  readonly #prompt: string;
  #language: string | null;
  /** Replay buffer: chunks holding absolute bytes [#bufferStart, #written). */
  #chunks: Buffer[] = [];
  #bufferStart = 0;
  #written = 0;
  /** Absolute byte position sent on the current connection. */
  #sent = 0;
  #carry: Buffer | undefined;
  #committedUntil: number;
  #committedText = '';
  #partialShown = false;
  #ws: WebSocket | undefined;
  #ready = false;
  #ending = false;
  #over = false;
  #idle = false;
  #wake: (() => void) | undefined;
  readonly #finished: Promise<void>;
  #resolveFinished!: () => void;

  constructor(settings: WhisperApiStreamSettings, options: SttStreamOptions = {}) {
    this.#settings = settings;
    const offset = options.offset ?? 0;
    if (!Number.isFinite(offset) || offset < 0) throw new RangeError(`offset must be a non-negative number of seconds (got ${String(offset)})`);
    this.#offset = offset;
    const committedUntil = options.committedUntil ?? offset;
    if (!Number.isFinite(committedUntil) || committedUntil < offset || committedUntil > offset + 60) {
      throw new RangeError(`committedUntil must be within [offset, offset + 60] seconds (got ${String(committedUntil)})`);
    }
    this.#committedUntil = committedUntil;
    this.#partials = options.partials ?? true;
    this.#prompt = (options.prompt ?? '').slice(-MAX_PROMPT);
    this.#language = options.language === undefined || options.language === 'auto' ? null : options.language;
    this.#finished = new Promise((resolve) => (this.#resolveFinished = resolve));
    void this.#run();
  }

  get committedUntil(): number {
    return this.#committedUntil;
  }

  write(pcm: Uint8Array): void {
    if (this.#over || this.#ending || pcm.byteLength === 0) return;
    let data = Buffer.from(pcm);
    if (this.#carry) {
      data = Buffer.concat([this.#carry, data]);
      this.#carry = undefined;
    }
    if (data.length % 2 === 1) {
      this.#carry = data.subarray(data.length - 1);
      data = data.subarray(0, data.length - 1);
    }
    if (data.length === 0) return;
    this.#chunks.push(data);
    this.#written += data.length;
    this.#enforceReplayLimit();
    if (this.#idle) {
      this.#idle = false;
      this.#wake?.();
    }
    this.#sendPending();
  }

  end(): Promise<void> {
    if (!this.#over && !this.#ending) {
      this.#ending = true;
      this.#carry = undefined;
      if (this.#ready) this.#sendStop();
      else if (this.#written === this.#bufferStart && !this.#ws) this.#finish('ended'); // nothing left to finalise
      this.#wake?.();
      const timer = setTimeout(() => this.#finish('ended'), this.#settings.endTimeoutMs);
      void this.#finished.then(() => clearTimeout(timer));
    }
    return this.#finished;
  }

  close(): void {
    this.#finish('closed');
  }

  on<K extends keyof SttStreamEvents>(event: K, listener: (event: SttStreamEvents[K]) => void): this {
    this.#events.on(event, listener);
    return this;
  }

  once<K extends keyof SttStreamEvents>(event: K, listener: (event: SttStreamEvents[K]) => void): this {
    this.#events.once(event, listener);
    return this;
  }

  off<K extends keyof SttStreamEvents>(event: K, listener?: (event: SttStreamEvents[K]) => void): this {
    this.#events.off(event, listener);
    return this;
  }

  #emit<K extends keyof SttStreamEvents>(name: K, event: SttStreamEvents[K]): void {
    try {
      this.#events.emit(name, event);
    } catch {
      // A listener's bug must not break the stream (documented on SttStream).
    }
  }

  #finish(reason: SttStreamEvents['closed']['reason']): void {
    if (this.#over) return;
    this.#over = true;
    this.#ready = false;
    this.#chunks = [];
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      if (ws.readyState === WebSocket.OPEN && reason === 'ended') ws.close(1000);
      else ws.terminate();
    }
    this.#wake?.();
    this.#emit('closed', { reason });
    this.#resolveFinished();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#over) {
      if (this.#idle && !this.#ending) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      const outcome = await this.#connect();
      if (this.#over) return;
      if (outcome.kind === 'done') return this.#finish('ended');
      if (outcome.kind === 'fatal') {
        this.#emit('error', outcome.error);
        return this.#finish('failed');
      }
      if (outcome.kind === 'idle') {
        // The server closed a stream that sent nothing for a while: reconnect when audio comes.
        this.#idle = this.#written === this.#bufferStart;
        continue;
      }
      if (outcome.wasReady && outcome.readyForMs >= HEALTHY_CONNECTION_MS) failures = 0;
      failures += 1;
      const { reconnectMinDelayMs: min, reconnectMaxDelayMs: max } = this.#settings;
      const backoff = Math.min(max, min * 2 ** (failures - 1) * (1 + Math.random()));
      const delayMs = Math.round(Math.min(max, Math.max(backoff, outcome.error.retryAfterMs ?? 0)));
      this.#emit('reconnecting', { attempt: failures, delayMs, error: outcome.error });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        this.#wake = () => {
          // Only close() cuts the wait short; end() lets the reconnect flush the rest.
          if (this.#over) {
            clearTimeout(timer);
            resolve();
          }
        };
      });
      this.#wake = undefined;
    }
  }

  /** One connection, from the handshake to its close. */
  #connect(): Promise<ConnectionOutcome> {
    return new Promise((resolve) => {
      const ws = new WebSocket(this.#settings.url, {
        headers: { ...this.#settings.headers },
        handshakeTimeout: this.#settings.connectTimeoutMs,
        maxPayload: 1024 * 1024,
        perMessageDeflate: false,
      });
      this.#ws = ws;
      let outcome: ConnectionOutcome | undefined;
      let readyAt: number | undefined;
      const connectTimer = setTimeout(() => {
        outcome ??= dropped(new SttError('TIMEOUT', `whisper-api stream: no ready within ${this.#settings.connectTimeoutMs} ms`));
        ws.terminate();
      }, this.#settings.connectTimeoutMs);
      const dropped = (error: SttError): ConnectionOutcome => ({
        kind: 'dropped',
        error,
        wasReady: readyAt !== undefined,
        readyForMs: readyAt === undefined ? 0 : Date.now() - readyAt,
      });

      ws.on('unexpected-response', (request, response) => {
        const status = response.statusCode ?? 0;
        const code = errorCodeForStatus(status);
        const error = new SttError(code, `whisper-api refused the stream: HTTP ${status}`, { status });
        outcome ??= code === 'UNAVAILABLE' || code === 'TIMEOUT' ? dropped(error) : { kind: 'fatal', error };
        response.resume();
        request.destroy();
        ws.terminate();
      });
      ws.on('open', () => {
        const start: WireStreamStart = {
          type: 'start',
          sampleRate: 16000,
          encoding: 's16le',
          language: this.#language,
          offset: this.#offset + this.#bufferStart / STREAM_BYTES_PER_SECOND,
          partials: this.#partials,
        };
        const prompt = `${this.#prompt} ${this.#committedText.slice(-PROMPT_TAIL)}`.trim().slice(-MAX_PROMPT);
        if (prompt) start.prompt = prompt;
        if (this.#committedUntil > start.offset) start.committedUntil = this.#committedUntil;
        ws.send(JSON.stringify(start));
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary || this.#ws !== ws) return;
        const message = parseStreamMessage(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
        if (!message) return; // a newer server's message this client does not know
        switch (message.type) {
          case 'ready':
            clearTimeout(connectTimer);
            readyAt = Date.now();
            this.#ready = true;
            if (message.language) this.#language = message.language;
            this.#sent = this.#bufferStart;
            this.#sendPending();
            if (this.#ending) this.#sendStop();
            break;
          case 'partial':
            this.#partialShown = message.text !== '';
            this.#emit('partial', { text: message.text, start: message.start, end: message.end });
            break;
          case 'final':
            this.#onFinal(message);
            break;
          case 'language':
            this.#language = message.language;
            this.#emit('language', message.probability === undefined ? { language: message.language } : { language: message.language, probability: message.probability });
            break;
          case 'status':
            this.#emit('status', { audioSeconds: message.audioSeconds, backlogSeconds: message.backlogSeconds, rtf: message.rtf, bufferSeconds: message.bufferSeconds });
            break;
          case 'error': {
            const error = streamError(message);
            outcome ??= message.code === 'idle_timeout' ? { kind: 'idle' } : error.code === 'UNAVAILABLE' ? dropped(error) : { kind: 'fatal', error };
            break;
          }
          case 'done':
            outcome ??= { kind: 'done' };
            ws.close(1000);
            break;
        }
      });
      ws.on('error', (error) => {
        outcome ??= dropped(new SttError('UNAVAILABLE', `whisper-api stream: ${error.message}`, { cause: error }));
      });
      ws.on('close', (code, reason) => {
        clearTimeout(connectTimer);
        if (this.#ws === ws) {
          this.#ws = undefined;
          this.#ready = false;
        }
        if (this.#partialShown && !this.#over) {
          // The engine's guess died with the connection; the next one replaces it.
          this.#partialShown = false;
          this.#emit('partial', { text: '', start: this.#committedUntil, end: this.#committedUntil });
        }
        resolve(outcome ?? dropped(new SttError('UNAVAILABLE', `whisper-api stream closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`)));
      });
    });
  }

  #onFinal(final: SttStreamFinal): void {
    // Never repeat or overlap: after a reconnect the server only has audio from committedUntil on.
    if (final.end <= this.#committedUntil + 1e-3) return;
    this.#committedUntil = final.end;
    this.#committedText = `${this.#committedText} ${final.text}`.trim().slice(-PROMPT_TAIL * 2);
    this.#partialShown = false;
    this.#trimTo(this.#byteAt(final.end - REPLAY_CONTEXT_SECONDS));
    this.#emit('final', final);
  }

  /** The absolute byte position of a time on the caller's clock (sample-aligned). */
  #byteAt(seconds: number): number {
    return Math.floor(((seconds - this.#offset) * STREAM_BYTES_PER_SECOND) / 2) * 2;
  }

  /** Forgets audio before `position` (never what was not sent yet). */
  #trimTo(position: number): void {
    const target = Math.min(position, this.#sent, this.#written);
    while (this.#bufferStart < target && this.#chunks.length > 0) {
      const first = this.#chunks[0]!;
      const drop = Math.min(first.length, target - this.#bufferStart);
      if (drop === first.length) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(drop);
      this.#bufferStart += drop;
    }
  }

  #enforceReplayLimit(): void {
    const limit = Math.floor(this.#settings.maxReplaySeconds * STREAM_BYTES_PER_SECOND);
    const excess = this.#written - this.#bufferStart - limit;
    if (excess <= 0) return;
    const dropFrom = this.#bufferStart;
    const dropTo = dropFrom + excess + (excess % 2);
    const unsentFrom = Math.max(dropFrom, this.#sent);
    // Bytes the engine has (sent) stay its business; bytes it never got are lost for captions.
    const sentBefore = this.#sent;
    this.#sent = Math.max(this.#sent, dropTo);
    this.#trimTo(dropTo);
    if (dropTo > unsentFrom && sentBefore < dropTo) {
      this.#emit('audioDropped', {
        start: this.#offset + unsentFrom / STREAM_BYTES_PER_SECOND,
        end: this.#offset + this.#bufferStart / STREAM_BYTES_PER_SECOND,
      });
    }
  }

  #sendPending(): void {
    const ws = this.#ws;
    if (!this.#ready || !ws || ws.readyState !== WebSocket.OPEN) return;
    let position = this.#bufferStart;
    for (const chunk of this.#chunks) {
      const end = position + chunk.length;
      if (end > this.#sent) {
        let from = Math.max(0, this.#sent - position);
        while (from < chunk.length) {
          const frame = chunk.subarray(from, Math.min(chunk.length, from + MAX_FRAME_BYTES));
          ws.send(frame, { binary: true });
          from += frame.length;
        }
        this.#sent = end;
      }
      position = end;
    }
  }

  #sendStop(): void {
    this.#sendPending();
    const ws = this.#ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'stop' }));
  }
}
