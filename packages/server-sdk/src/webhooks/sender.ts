import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, LecternError } from '../errors.js';
import type { RoomManagerEvents } from '../rooms/room-manager.js';
import type { TranscriptionServiceEvents } from '../transcription/events.js';
import { backoffDelay, type BackoffPolicy } from '../util/backoff.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEnvelope, type WebhookEventMap, type WebhookEventType } from './events.js';
import { signWebhook, WEBHOOK_HEADERS, webhookSecretKey, type WebhookSecret } from './signature.js';

/** What to do with a new event when {@link WebhookSenderOptions.maxQueueSize} events are held. */
export type WebhookDropPolicy = 'drop-oldest' | 'drop-newest';

export interface WebhookSenderOptions {
  /** The receiver: every event is POSTed here as JSON. */
  url: string | URL;
  /** The signing secret shared with the receiver (`whsec_…`, {@link generateWebhookSecret}). */
  secret: WebhookSecret;
  /** Which types to send. Default: all ({@link WEBHOOK_EVENT_TYPES}). */
  events?: readonly WebhookEventType[];
  /** One attempt (connect, send, response headers) is aborted after this long. Default 10 000 ms. */
  attemptTimeoutMs?: number;
  /** Attempts per event, the first included; then it is dropped (`dropped`, reason `max-attempts`). Default 8. */
  maxAttempts?: number;
  /** The wait between attempts (the SDK's one backoff, `util/backoff.ts`). Default 1 s → 60 s. */
  retryBackoff?: BackoffPolicy;
  /** Events held (waiting or being delivered) across all rooms; past it {@link dropPolicy} applies. Default 1000. */
  maxQueueSize?: number;
  /**
   * `drop-oldest` (default): the oldest waiting event makes room for the new
   * one (the receiver keeps up with the present); `drop-newest`: the new event
   * is refused. Either way `dropped` says which, with reason `queue-full`.
   */
  dropPolicy?: WebhookDropPolicy;
  /** Rooms delivered at the same time (each room's events go one at a time, in order). Default 4. */
  concurrency?: number;
  /** Extra request headers (e.g. a bearer token the receiver's gateway wants). */
  headers?: Readonly<Record<string, string>>;
}

/** Why an event was not delivered. */
export type WebhookDropReason = 'queue-full' | 'max-attempts' | 'closed';

export interface WebhookSenderEvents {
  /** The receiver answered 2xx. `attempts` counts the tries it took (1 = first). */
  delivered: { event: WebhookEnvelope; attempts: number; status: number; durationMs: number };
  /** One attempt failed: `status` for an HTTP answer outside 2xx, none for a network error or timeout. */
  attemptFailed: { eventId: string; type: WebhookEventType; roomId: string; attempt: number; status?: number; error: string; willRetry: boolean };
  /** An event will never be delivered. */
  dropped: { eventId: string; type: WebhookEventType; roomId: string; reason: WebhookDropReason };
  listenerError: { event: string; error: unknown };
}

/** Counters since the sender was created. */
export interface WebhookSenderStats {
  /** Events held now: waiting, in backoff or in flight. */
  queued: number;
  delivered: number;
  /** Failed attempts (each one retried or ended in a drop). */
  failedAttempts: number;
  dropped: Record<WebhookDropReason, number>;
}

/** Emits the room events a {@link WebhookSender} forwards (a `RoomManager`). */
export type WebhookRoomSource = Pick<TypedEmitter<RoomManagerEvents>, 'on' | 'off'>;
/** Emits the transcription events a {@link WebhookSender} forwards (a `TranscriptionService`). */
export type WebhookTranscriptionSource = Pick<TypedEmitter<TranscriptionServiceEvents>, 'on' | 'off'>;

interface Entry {
  readonly envelope: WebhookEnvelope;
  readonly body: string;
  readonly roomId: string;
  attempts: number;
}

/**
 * Sends the SDK's events to an HTTP endpoint as signed webhooks, for an LMS
 * backend in another process or language:
 *
 * ```ts
 * const webhooks = new WebhookSender({ url: 'https://lms.example.org/lectern/webhooks', secret: process.env.LECTERN_WEBHOOK_SECRET! });
 * webhooks.attachRooms(manager);                 // room.created/closed, peer.joined/left
 * webhooks.attachTranscription(transcription);   // transcription.started/stopped, summary.ready
 * // at shutdown, after manager.close(): deliver what is left, for at most 5 s
 * await webhooks.close({ drainTimeoutMs: 5000 });
 * ```
 *
 * Each event is a JSON {@link WebhookEnvelope} POSTed with the Standard Webhooks
 * headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`; see
 * {@link verifyWebhook}). Delivery never blocks the SDK: an event handler only
 * queues (no I/O, no await), and requests go out later. One room's events are
 * delivered one at a time, in order; an event the receiver does not accept
 * (non-2xx, network error, `attemptTimeoutMs`) is retried with backoff up to
 * `maxAttempts`, holding back the later events of its room only. At most
 * `maxQueueSize` events are held; past that `dropPolicy` decides and `dropped`
 * is emitted, so memory stays bounded while a receiver is down.
 */
export class WebhookSender extends TypedEmitter<WebhookSenderEvents> {
  private readonly url: string;
  private readonly key: Buffer;
  private readonly types: ReadonlySet<WebhookEventType>;
  private readonly attemptTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoff: BackoffPolicy;
  private readonly maxQueueSize: number;
  private readonly dropPolicy: WebhookDropPolicy;
  private readonly concurrency: number;
  private readonly extraHeaders: Readonly<Record<string, string>>;
  /** Waiting events, oldest first, whose room has an event in delivery or that wait for a slot. */
  private readonly pending: Entry[] = [];
  /** The event being delivered (or in backoff) per room. */
  private readonly active = new Map<string, Entry>();
  private readonly detachers: (() => void)[] = [];
  private readonly abort = new AbortController();
  private readonly counters = { delivered: 0, failedAttempts: 0, dropped: { 'queue-full': 0, 'max-attempts': 0, closed: 0 } };
  private pumpScheduled = false;
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<{ abandoned: number }> | undefined;

  constructor(options: WebhookSenderOptions) {
    super();
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new LecternError(ErrorCode.INVALID_CONFIG, `webhook url must be http(s), got ${url.protocol}`);
    }
    this.url = url.href;
    this.key = webhookSecretKey(options.secret);
    for (const type of options.events ?? []) {
      if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(type)) {
        throw new LecternError(ErrorCode.INVALID_CONFIG, `unknown webhook event type: ${String(type)}`);
      }
    }
    this.types = new Set(options.events ?? WEBHOOK_EVENT_TYPES);
    this.attemptTimeoutMs = positiveInt(options.attemptTimeoutMs ?? 10_000, 'attemptTimeoutMs');
    this.maxAttempts = positiveInt(options.maxAttempts ?? 8, 'maxAttempts');
    this.backoff = options.retryBackoff ?? { minMs: 1000, maxMs: 60_000 };
    if (!(this.backoff.minMs >= 0 && this.backoff.maxMs >= this.backoff.minMs)) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, 'retryBackoff needs 0 <= minMs <= maxMs');
    }
    this.maxQueueSize = positiveInt(options.maxQueueSize ?? 1000, 'maxQueueSize');
    this.dropPolicy = options.dropPolicy ?? 'drop-oldest';
    if (this.dropPolicy !== 'drop-oldest' && this.dropPolicy !== 'drop-newest') {
      throw new LecternError(ErrorCode.INVALID_CONFIG, `dropPolicy must be drop-oldest or drop-newest`);
    }
    this.concurrency = positiveInt(options.concurrency ?? 4, 'concurrency');
    this.extraHeaders = { ...options.headers };
  }

  /** Forwards a `RoomManager`'s room and peer events. Returns a function that stops forwarding. */
  attachRooms(manager: WebhookRoomSource): () => void {
    const created = ({ roomId }: RoomManagerEvents['roomCreated']) => this.send('room.created', { roomId });
    const closed = ({ roomId }: RoomManagerEvents['roomClosed']) => this.send('room.closed', { roomId });
    const joined = ({ roomId, peerId, role, displayName }: RoomManagerEvents['peerJoined']) =>
      this.send('peer.joined', displayName === undefined ? { roomId, peerId, role } : { roomId, peerId, role, displayName });
    const left = ({ roomId, peerId, reason }: RoomManagerEvents['peerLeft']) => this.send('peer.left', { roomId, peerId, reason });
    manager.on('roomCreated', created);
    manager.on('roomClosed', closed);
    manager.on('peerJoined', joined);
    manager.on('peerLeft', left);
    return this.addDetacher(() => {
      manager.off('roomCreated', created);
      manager.off('roomClosed', closed);
      manager.off('peerJoined', joined);
      manager.off('peerLeft', left);
    });
  }

  /** Forwards a `TranscriptionService`'s lecture events. Returns a function that stops forwarding. */
  attachTranscription(service: WebhookTranscriptionSource): () => void {
    const started = ({ roomId, lectureId }: TranscriptionServiceEvents['transcriptionStarted']) => this.send('transcription.started', { roomId, lectureId });
    const stopped = ({ roomId, lectureId, summary }: TranscriptionServiceEvents['transcriptionStopped']) =>
      this.send('transcription.stopped', { roomId, lectureId, summary });
    const summary = ({ roomId, lectureId, summary }: TranscriptionServiceEvents['summaryReady']) => this.send('summary.ready', { roomId, lectureId, summary });
    service.on('transcriptionStarted', started);
    service.on('transcriptionStopped', stopped);
    service.on('summaryReady', summary);
    return this.addDetacher(() => {
      service.off('transcriptionStarted', started);
      service.off('transcriptionStopped', stopped);
      service.off('summaryReady', summary);
    });
  }

  /**
   * Queues one event (what the attached sources call; a host may send the same
   * types itself). Synchronous and cheap: serialises the body and returns; the
   * request goes out later. Returns the event's id, or `undefined` when the type
   * is filtered out, the sender is closing, or `drop-newest` refused it.
   */
  send<T extends WebhookEventType>(type: T, data: WebhookEventMap[T]): string | undefined {
    if (!this.types.has(type)) return undefined;
    const envelope = { id: `msg_${randomUUID().replaceAll('-', '')}`, type, createdAt: new Date().toISOString(), data } as WebhookEnvelope;
    const entry: Entry = { envelope, body: JSON.stringify(envelope), roomId: data.roomId, attempts: 0 };
    if (this.closing) {
      this.drop(entry, 'closed');
      return undefined;
    }
    if (this.pending.length + this.active.size >= this.maxQueueSize) {
      const oldest = this.dropPolicy === 'drop-oldest' ? this.pending.shift() : undefined;
      if (oldest === undefined) {
        this.drop(entry, 'queue-full');
        return undefined;
      }
      this.drop(oldest, 'queue-full');
    }
    this.pending.push(entry);
    this.schedulePump();
    return envelope.id;
  }

  /** Counters and the current queue length. */
  stats(): WebhookSenderStats {
    return {
      queued: this.pending.length + this.active.size,
      delivered: this.counters.delivered,
      failedAttempts: this.counters.failedAttempts,
      dropped: { ...this.counters.dropped },
    };
  }

  /**
   * Stops forwarding, then delivers what is held for at most `drainTimeoutMs`
   * (default 5000; retries continue meanwhile); past it, requests in flight are
   * aborted and every event left is dropped (reason `closed`). Resolves within
   * the bound (plus the abort's few milliseconds) with the number abandoned.
   * `drainTimeoutMs: 0` abandons at once. Idempotent.
   */
  close(options: { drainTimeoutMs?: number } = {}): Promise<{ abandoned: number }> {
    this.closing ??= this.shutdown(Math.max(0, options.drainTimeoutMs ?? 5000));
    return this.closing;
  }

  private async shutdown(drainTimeoutMs: number): Promise<{ abandoned: number }> {
    for (const detach of this.detachers.splice(0)) detach();
    const idle = this.whenIdle();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      idle.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), drainTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (!timedOut) return { abandoned: 0 };
    const abandoned = this.pending.length + this.active.size;
    for (const entry of this.pending.splice(0)) this.drop(entry, 'closed');
    this.notifyIfIdle();
    this.abort.abort(); // in-flight requests and backoff waits end now; their loops drop their entries
    await idle;
    return { abandoned };
  }

  private addDetacher(detach: () => void): () => void {
    let done = false;
    const once = () => {
      if (done) return;
      done = true;
      const i = this.detachers.indexOf(once);
      if (i >= 0) this.detachers.splice(i, 1);
      detach();
    };
    this.detachers.push(once);
    return once;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Never start I/O inside the emitter's call stack: the SDK's event handlers return at once.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    for (let i = 0; i < this.pending.length && this.active.size < this.concurrency; ) {
      const entry = this.pending[i]!;
      if (this.active.has(entry.roomId)) {
        i++;
        continue;
      }
      this.pending.splice(i, 1);
      this.active.set(entry.roomId, entry);
      void this.deliver(entry);
    }
    this.notifyIfIdle();
  }

  private async deliver(entry: Entry): Promise<void> {
    const signal = this.abort.signal;
    for (;;) {
      entry.attempts++;
      const started = performance.now();
      const result = await this.attempt(entry, signal);
      if (result.ok) {
        this.counters.delivered++;
        this.safeEmit('delivered', { event: entry.envelope, attempts: entry.attempts, status: result.status, durationMs: performance.now() - started });
        break;
      }
      this.counters.failedAttempts++;
      const willRetry = entry.attempts < this.maxAttempts && !signal.aborted;
      const { id: eventId, type } = entry.envelope;
      this.safeEmit('attemptFailed', {
        eventId,
        type,
        roomId: entry.roomId,
        attempt: entry.attempts,
        ...(result.status === undefined ? {} : { status: result.status }),
        error: result.error,
        willRetry,
      });
      if (!willRetry) {
        this.drop(entry, signal.aborted ? 'closed' : 'max-attempts');
        break;
      }
      await sleep(backoffDelay(entry.attempts, this.backoff), undefined, { signal, ref: false }).catch(() => undefined);
      if (signal.aborted) {
        this.drop(entry, 'closed');
        break;
      }
    }
    this.active.delete(entry.roomId);
    this.pump();
  }

  private async attempt(entry: Entry, closeSignal: AbortSignal): Promise<{ ok: true; status: number } | { ok: false; status?: number; error: string }> {
    const timestamp = Math.floor(Date.now() / 1000);
    const { id } = entry.envelope;
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: {
          ...this.extraHeaders,
          'content-type': 'application/json',
          'user-agent': 'lectern-webhooks/0.1',
          [WEBHOOK_HEADERS.id]: id,
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: signWebhook(this.key, id, timestamp, entry.body),
        },
        body: entry.body,
        redirect: 'manual',
        signal: AbortSignal.any([closeSignal, AbortSignal.timeout(this.attemptTimeoutMs)]),
      });
      await response.body?.cancel().catch(() => undefined); // the answer's body is not read; free the connection
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      return { ok: false, status: response.status, error: `HTTP ${response.status}` };
    } catch (error) {
      return { ok: false, error: describe(error) };
    }
  }

  private drop(entry: Entry, reason: WebhookDropReason): void {
    this.counters.dropped[reason]++;
    this.safeEmit('dropped', { eventId: entry.envelope.id, type: entry.envelope.type, roomId: entry.roomId, reason });
  }

  private whenIdle(): Promise<void> {
    if (this.pending.length === 0 && this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIfIdle(): void {
    if (this.pending.length > 0 || this.active.size > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new LecternError(ErrorCode.INVALID_CONFIG, `${name} must be a positive integer, got ${value}`);
  return value;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out';
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (cause && typeof cause.code === 'string') return `${error.message}: ${cause.code}`;
    return error.message;
  }
  return String(error);
}
