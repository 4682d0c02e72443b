// WhisperApiClient against real whisper-api servers started with a bearer
// token (WHISPER_API_TOKEN) and with a short audio-length limit
// (WHISPER_MAX_AUDIO_MINUTES): the token goes out as a header, and both
// refusals are typed, non-retryable errors made after exactly one attempt.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SttError, WhisperApiClient, type WhisperApiRetryEvent } from '@lectern/stt-adapter';
import { startWhisperApi, type TestWhisperApi } from '@lectern/testkit';
import { TINY_EN, LECTURE_SENTENCE, speech, tempDir, timed, wer } from './helpers.js';

const TOKEN = 'lectern-test-token-7f3a9c';

let guarded: TestWhisperApi;
let limited: TestWhisperApi;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let lecture: string;

before(async () => {
  tmp = await tempDir();
  [guarded, limited, lecture] = await Promise.all([
    startWhisperApi({ env: { ...TINY_EN, WHISPER_API_TOKEN: TOKEN } }),
    // 3 s (+1 s of grace): the ~7 s lecture sentence is too long.
    startWhisperApi({ env: { ...TINY_EN, WHISPER_MAX_AUDIO_MINUTES: '0.05' } }),
    speech(tmp.dir, 'lecture', LECTURE_SENTENCE),
  ]);
});
after(async () => {
  await Promise.all([guarded?.stop(), limited?.stop()]);
  await tmp?.remove();
});

/** A client that would retry anything retryable quickly, recording each retry. */
function client(baseUrl: string, token?: string) {
  const retries: WhisperApiRetryEvent[] = [];
  const c = new WhisperApiClient({
    baseUrl,
    ...(token !== undefined ? { token } : {}),
    retries: 3,
    minRetryDelayMs: 10,
    maxRetryDelayMs: 20,
    onRetry: (event) => retries.push(event),
  });
  return { c, retries };
}

test('with the token: transcribes; healthy() is true', async () => {
  const { c, retries } = client(guarded.url, TOKEN);
  assert.equal(await c.healthy(), true);
  const result = await c.transcribe(lecture);
  assert.ok(wer(LECTURE_SENTENCE, result.text) <= 0.2, result.text);
  assert.deepEqual(retries, []);
});

test('without or with a wrong token: UNAUTHORIZED, not retried', async () => {
  for (const token of [undefined, `${TOKEN}x`, 'wrong']) {
    const { c, retries } = client(guarded.url, token);
    const { error } = await timed(c.transcribe(lecture));
    assert.ok(error instanceof SttError, String(error));
    assert.equal(error.code, 'UNAUTHORIZED', `token ${token}`);
    assert.equal(error.retryable, false);
    assert.equal(error.status, 401);
    assert.equal(error.serverCode, 'unauthorized');
    assert.equal(error.attempts, 1);
    assert.deepEqual(retries, []);
    // /health is open: the server is up, the credentials are what is wrong.
    assert.equal(await c.healthy(), true);
  }
});

test('the same client with a token against a server without one still works', async () => {
  const { c } = client(limited.url, TOKEN);
  assert.equal(await c.healthy(), true);
});

test('audio longer than the server accepts: BAD_REQUEST audio_too_long (413), not retried', async () => {
  const { c, retries } = client(limited.url);
  const { error, ms } = await timed(c.transcribe(lecture));
  assert.ok(error instanceof SttError, String(error));
  assert.equal(error.code, 'BAD_REQUEST');
  assert.equal(error.retryable, false);
  assert.equal(error.status, 413);
  assert.equal(error.serverCode, 'audio_too_long');
  assert.match(error.message, /limit is 0\.05 min/);
  assert.equal(error.attempts, 1);
  assert.deepEqual(retries, []);
  assert.ok(ms < 5_000, `refused after ${ms} ms`);
});

test('a token that cannot be a header value is refused at construction', () => {
  for (const token of ['', 'two words', 'line\nbreak', 'ünïcode']) {
    assert.throws(() => new WhisperApiClient({ baseUrl: guarded.url, token }), TypeError, JSON.stringify(token));
  }
});
