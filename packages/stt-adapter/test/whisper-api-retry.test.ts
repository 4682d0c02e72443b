// Retries against a whisper-api that is not there yet, or not at all: backoff
// until it comes up, giving up after `retries`, and abort during the backoff.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SttError, WhisperApiClient, type WhisperApiRetryEvent } from '@lectern/stt-adapter';
import { freeTcpPort, startWhisperApi, type TestWhisperApi } from '@lectern/testkit';
import { TINY_EN, LECTURE_SENTENCE, speech, tempDir, timed, wer } from './helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let lecture: string;

before(async () => {
  tmp = await tempDir();
  lecture = await speech(tmp.dir, 'lecture', LECTURE_SENTENCE);
});
after(() => tmp?.remove());

test('a call made while the server is down succeeds once it comes up on that port', async () => {
  const port = await freeTcpPort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const retries: WhisperApiRetryEvent[] = [];
  const client = new WhisperApiClient({
    baseUrl,
    retries: 10,
    minRetryDelayMs: 200,
    maxRetryDelayMs: 1_000,
    onRetry: (event) => retries.push(event),
  });
  assert.equal(await client.healthy(), false, 'healthy() is false (and does not throw) with nothing listening');

  let server: TestWhisperApi | undefined;
  try {
    const call = timed(client.transcribe(lecture));
    await new Promise((r) => setTimeout(r, 2_000));
    server = await startWhisperApi({ port, env: TINY_EN });
    const { value, error } = await call;
    assert.equal(error, undefined);
    assert.ok(value && wer(LECTURE_SENTENCE, value.text) <= 0.2, value?.text);
    assert.equal(await client.healthy(), true);

    assert.ok(retries.length >= 2, `${retries.length} retries`);
    retries.forEach((event, i) => {
      assert.equal(event.attempt, i + 2);
      assert.equal(event.filePath, lecture);
      assert.equal(event.error.code, 'UNAVAILABLE');
      assert.equal(event.error.retryable, true);
      assert.match(event.error.message, /ECONNREFUSED/);
      // Backoff with jitter: min(200 * 2^n, 1000) * [1, 2), capped at 1000.
      const floor = Math.min(200 * 2 ** i, 1_000);
      assert.ok(event.delayMs >= floor - 5 && event.delayMs <= 1_500, `retry ${i + 1} after ${event.delayMs} ms`);
    });
  } finally {
    await server?.stop();
  }
  assert.equal(await server?.process.exited, 0, 'whisper-api exits 0 on SIGTERM');
  assert.equal(await client.healthy(), false);
});

test('gives up after `retries`: UNAVAILABLE with attempts = retries + 1', async () => {
  const port = await freeTcpPort();
  const retries: WhisperApiRetryEvent[] = [];
  const client = new WhisperApiClient({
    baseUrl: `http://127.0.0.1:${port}`,
    retries: 2,
    minRetryDelayMs: 10,
    maxRetryDelayMs: 50,
    onRetry: (event) => retries.push(event),
  });
  const { error } = await timed(client.transcribe(lecture));
  assert.ok(error instanceof SttError, String(error));
  assert.equal(error.code, 'UNAVAILABLE');
  assert.equal(error.retryable, true);
  assert.equal(error.status, undefined);
  assert.equal(error.attempts, 3);
  assert.deepEqual(retries.map((e) => e.attempt), [2, 3]);

  const once = new WhisperApiClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 0 });
  const single = await timed(once.transcribe(lecture));
  assert.ok(single.error instanceof SttError);
  assert.equal(single.error.attempts, 1);
});

test('abort during the backoff sleep: ABORTED at once, no further attempt', async () => {
  const port = await freeTcpPort();
  const retries: WhisperApiRetryEvent[] = [];
  const client = new WhisperApiClient({
    baseUrl: `http://127.0.0.1:${port}`,
    minRetryDelayMs: 10_000,
    maxRetryDelayMs: 20_000,
    onRetry: (event) => retries.push(event),
  });
  const controller = new AbortController();
  const call = timed(client.transcribe(lecture, { signal: controller.signal }));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(client.inFlight, 1, 'holds its slot while backing off');
  const abortedAt = performance.now();
  controller.abort();
  const { error } = await call;
  assert.ok(error instanceof SttError, String(error));
  assert.equal(error.code, 'ABORTED');
  assert.equal(error.retryable, false);
  assert.equal(error.attempts, 1);
  assert.ok(performance.now() - abortedAt < 250);
  assert.deepEqual(retries, []);
  assert.equal(client.inFlight, 0);
});
