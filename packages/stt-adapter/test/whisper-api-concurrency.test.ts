// The client's concurrency limit against a whisper-api that runs one
// transcription at a time and queues none (WHISPER_MAX_CONCURRENCY=1,
// WHISPER_MAX_QUEUE=0): within the limit every call succeeds; past it the
// server answers 503 busy, which the client retries after its Retry-After.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SttError, WhisperApiClient, type Transcription, type WhisperApiRetryEvent } from '@lectern/stt-adapter';
import { startWhisperApi, type TestWhisperApi } from '@lectern/testkit';
import { TINY_EN, LECTURE_SENTENCE, speech, tempDir, wer } from './helpers.js';

let server: TestWhisperApi;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let lecture: string;

before(async () => {
  tmp = await tempDir();
  [server, lecture] = await Promise.all([
    startWhisperApi({ env: { ...TINY_EN, WHISPER_MAX_CONCURRENCY: '1', WHISPER_MAX_QUEUE: '0' } }),
    speech(tmp.dir, 'lecture', LECTURE_SENTENCE),
  ]);
});
after(async () => {
  await server?.stop();
  await tmp?.remove();
});

/** Samples the client's counters (every turn of the event loop) and the server's /health while `work` runs. */
async function watch<T>(client: WhisperApiClient, work: () => Promise<T>) {
  // The server's "waiting" includes a request admitted but not yet on a worker
  // thread, so running + waiting is what it holds.
  const seen = { inFlight: 0, queued: 0, serverHolds: 0 };
  let done = false;
  const counters = (async () => {
    while (!done) {
      seen.inFlight = Math.max(seen.inFlight, client.inFlight);
      seen.queued = Math.max(seen.queued, client.queued);
      await new Promise((r) => setImmediate(r));
    }
  })();
  const health = (async () => {
    while (!done) {
      try {
        const body = (await (await fetch(`${server.url}/health`)).json()) as { running: number; waiting: number };
        seen.serverHolds = Math.max(seen.serverHolds, body.running + body.waiting);
      } catch {
        // A sample lost is fine.
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    return { result: await work(), seen };
  } finally {
    done = true;
    await Promise.all([counters, health]);
  }
}

test('maxConcurrent 1: three calls at once all succeed, one in flight at a time', async () => {
  const client = new WhisperApiClient({ baseUrl: server.url, maxConcurrent: 1, retries: 0 });
  const { result, seen } = await watch(client, () =>
    Promise.all([client.transcribe(lecture), client.transcribe(lecture), client.transcribe(lecture)]),
  );
  for (const transcription of result) {
    assert.ok(wer(LECTURE_SENTENCE, transcription.text) <= 0.2, transcription.text);
  }
  assert.equal(seen.inFlight, 1);
  assert.equal(seen.queued, 2);
  assert.equal(seen.serverHolds, 1);
  assert.equal(client.inFlight + client.queued, 0);
});

test('maxConcurrent 3, no retries: the server is flooded and answers 503 busy (retryable UNAVAILABLE)', async () => {
  const client = new WhisperApiClient({ baseUrl: server.url, maxConcurrent: 3, retries: 0 });
  const { result, seen } = await watch(client, () =>
    Promise.allSettled([client.transcribe(lecture), client.transcribe(lecture), client.transcribe(lecture)]),
  );
  assert.equal(seen.inFlight, 3);
  const ok = result.filter((r): r is PromiseFulfilledResult<Transcription> => r.status === 'fulfilled');
  const failed = result.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.ok(ok.length >= 1, 'the server still serves one');
  assert.ok(failed.length >= 1, 'at least one is refused');
  for (const { reason } of failed) {
    assert.ok(reason instanceof SttError, String(reason));
    assert.equal(reason.code, 'UNAVAILABLE');
    assert.equal(reason.retryable, true);
    assert.equal(reason.status, 503);
    assert.equal(reason.serverCode, 'busy');
    // The server's estimate of when its slot frees up: ~9 s of audio at its RTF.
    assert.ok(reason.retryAfterMs !== undefined && reason.retryAfterMs >= 1_000 && reason.retryAfterMs <= 10_000, String(reason.retryAfterMs));
    assert.equal(reason.attempts, 1);
  }
});

test('a 503 busy is retried no sooner than its Retry-After', async () => {
  const retries: WhisperApiRetryEvent[] = [];
  const client = new WhisperApiClient({
    baseUrl: server.url,
    maxConcurrent: 2,
    minRetryDelayMs: 100,
    onRetry: (event) => retries.push(event),
  });
  const result = await Promise.all([client.transcribe(lecture), client.transcribe(lecture)]);
  for (const transcription of result) {
    assert.ok(wer(LECTURE_SENTENCE, transcription.text) <= 0.2, transcription.text);
  }
  assert.ok(retries.length >= 1, 'one of the two was refused at first');
  for (const event of retries) {
    assert.equal(event.error.serverCode, 'busy');
    const asked = event.error.retryAfterMs ?? 0;
    assert.ok(asked >= 1_000, `Retry-After ${asked} ms`);
    assert.ok(event.delayMs >= asked - 5, `retried after ${event.delayMs} ms, Retry-After was ${asked} ms`);
    assert.ok(event.delayMs < asked + 1_000, `retried after ${event.delayMs} ms, Retry-After was ${asked} ms`);
  }
});
