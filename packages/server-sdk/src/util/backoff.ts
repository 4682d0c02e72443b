/**
 * The one backoff of the server SDK: every retry loop in `@lectern/server-sdk`
 * waits {@link backoffDelay} between its tries. Each loop has exactly one owner,
 * and loops nest only where written down here, each inner one bounded:
 *
 * | What is retried | Owner (the only loop) | Policy |
 * |---|---|---|
 * | Replacing a dead mediasoup worker | `WorkerPool.respawn` | 250 ms → 30 s, until it succeeds or the pool closes |
 * | FFmpeg of a transcription tap | `AudioTap` run loop | 250 ms → 10 s; gives up after 10 failures in a row (`tapRestart`); an idle input is re-listened after 250 ms |
 * | One STT request (HTTP) | the engine, e.g. `WhisperApiClient` (`@lectern/stt-adapter`, p-retry) | transport-level, bounded: `retries` (4) per `transcribe()` call, 1 s → 30 s, honours `Retry-After` |
 * | A batch the engine or the store failed | `SttStage` | lecture-long: the batch stays on disk and is tried again, 1 s → 60 s, for as long as the lecture runs (then `recover()`); each try is ONE `transcribe()` call, so the engine's bounded retries nest inside one stage attempt and are never multiplied by a retry of the stage's own |
 * | A batch on the STT queue (`sttQueue`) | BullMQ job `attempts` (12), delays from `SttQueueWorker`'s `backoffStrategy` → {@link backoffDelay} | 1 s → 60 s on whichever worker takes the job; each attempt is ONE `transcribe()` + ONE `putBatch()` (the engine's bounded retries nest inside, once); bad input fails the job at once (`UnrecoverableError`), `UNAUTHORIZED` waits the 60 s ceiling; the producer's `QueuedSttStage` never retries (a failed job → `failed/`) |
 * | A job whose worker died | BullMQ's stalled-job check | the lock lapses after `lockDuration` (30 s); each `stalledInterval` (30 s) a worker requeues it, at most `maxStalledCount` (1) times |
 * | One transcript-store operation (Redis) | `RedisTranscriptStore` | 25 ms → 250 ms, within the operation's `commandTimeoutMs` deadline; the stage above treats a final failure like any other (retry the batch later) |
 * | One room-directory operation (Redis) | the cluster's `ClusterConnection.run` (`RoomDirectory`) | 25 ms → 250 ms within its `commandTimeoutMs` deadline, then `UNAVAILABLE` |
 * | A node's heartbeat and sweep | `NodeRegistry` | never retried: the next tick (heartbeat 1 s, sweep 250 ms) is the retry; no sweep while Redis is unreachable nor for a grace after it returns |
 * | Reconnecting an owned Redis connection | ioredis, with the `retryStrategy` of `RedisTranscriptStore` and of the cluster's connection (`util/redis.ts`) | 100 ms → 1 s, forever until `close()` |
 * | A live-caption stream's connection | the engine's stream, e.g. `WhisperApiClient.openStream` (`@lectern/stt-adapter`) | 250 ms → 5 s, for as long as the stream is open; replays the audio after its last final |
 * | Storing one caption final | `LiveCaptions` | 3 tries, 250 ms → 2 s; then the final lives in memory only (the live summary still has it; the batch transcript is the durable one) |
 * | One summary request (LLM) | the `openai` SDK inside `OpenAICompatibleSummarizer` | its own transport retries (`maxRetries`, 2); the pipeline never retries a summary: it falls back to the offline summarizer |
 * | One webhook event | `WebhookSender.deliver` | `maxAttempts` (8) tries, 1 s → 60 s, each bounded by `attemptTimeoutMs`; then dropped (`dropped`, `max-attempts`) |
 *
 * Libraries that bring their own retry of one request (p-retry in the stt-adapter,
 * the `openai` SDK) keep it: those are the innermost, bounded layer.
 */

/** Bounds of an exponential backoff, in milliseconds. */
export interface BackoffPolicy {
  /** The delay before the first retry, and the floor of every delay. */
  readonly minMs: number;
  /** The ceiling of every delay, whatever the attempt. */
  readonly maxMs: number;
}

/**
 * The delay before retry number `attempt` (1 = the first retry): exponential
 * with full jitter, uniformly random within
 * `[minMs, min(maxMs, minMs · 2^(attempt−1))]`, so callers that failed
 * together do not come back together. Never above `maxMs` (nor below 0).
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy): number {
  const { minMs, maxMs } = policy;
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  const delay = Math.round(minMs + Math.random() * Math.max(0, ceiling - minMs));
  return Math.max(0, Math.min(maxMs, delay));
}
