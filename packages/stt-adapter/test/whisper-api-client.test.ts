// WhisperApiClient against the real whisper-api (faster-whisper, tiny.en) with
// real flite speech: results, options, non-retryable errors, abort and timeout.
// One server for the whole file; the tests that leave work on it run last.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { SttError, WhisperApiClient, type WhisperApiRetryEvent } from '@lectern/stt-adapter';
import { audioDuration, startWhisperApi, waitFor, type TestWhisperApi } from '@lectern/testkit';
import { TINY_EN, LECTURE_SENTENCE, LONG_PARAGRAPH, speech, tempDir, timed, wer, words } from './helpers.js';

let server: TestWhisperApi;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let lecture: string;
let long: string;

before(async () => {
  tmp = await tempDir();
  [server, lecture, long] = await Promise.all([
    startWhisperApi({ env: TINY_EN }),
    speech(tmp.dir, 'lecture', LECTURE_SENTENCE),
    speech(tmp.dir, 'long', LONG_PARAGRAPH),
  ]);
});
after(async () => {
  await server?.stop();
  await tmp?.remove();
});

test('transcribes flite speech: the words, ordered segments, the audio duration', async () => {
  const client = new WhisperApiClient({ baseUrl: server.url });
  assert.equal(client.name, 'whisper-api');
  assert.equal(await client.healthy(), true);

  const result = await client.transcribe(lecture);
  const error = wer(LECTURE_SENTENCE, result.text);
  assert.ok(error <= 0.2, `WER ${error.toFixed(2)} too high: "${result.text}"`);
  for (const word of ['morning', 'solar', 'system', 'planets', 'sun']) {
    assert.ok(words(result.text).includes(word), `"${word}" missing from "${result.text}"`);
  }
  assert.equal(result.language, 'en');
  assert.equal(typeof result.languageProbability, 'number');
  assert.ok((result.processingSeconds ?? 0) > 0);

  const seconds = await audioDuration(lecture);
  assert.ok(Math.abs(result.duration - seconds) < 0.1, `duration ${result.duration} vs ${seconds} s of audio`);
  assert.ok(result.segments.length >= 1);

  // The ~30 s paragraph comes back in several segments.
  const paragraph = await client.transcribe(long);
  assert.ok(wer(LONG_PARAGRAPH, paragraph.text) <= 0.2, `WER too high: "${paragraph.text}"`);
  assert.ok(Math.abs(paragraph.duration - (await audioDuration(long))) < 0.1);
  assert.ok(paragraph.segments.length >= 2, `${paragraph.segments.length} segment(s)`);
  for (const r of [result, paragraph]) {
    let previousEnd = 0;
    for (const [index, segment] of r.segments.entries()) {
      assert.equal(segment.id, index);
      assert.ok(segment.start >= previousEnd - 1e-6, `segment ${index} starts before the previous one ends`);
      assert.ok(segment.end > segment.start);
      assert.ok(segment.end <= r.duration + 1e-6);
      assert.equal(segment.words, undefined, 'no words unless requested');
      previousEnd = segment.end;
    }
    assert.equal(r.text, r.segments.map((s) => s.text).filter(Boolean).join(' '));
  }
  assert.equal(client.inFlight, 0);
  assert.equal(client.queued, 0);
});

test('word timestamps when requested (per call or as the client default)', async () => {
  for (const client of [
    { c: new WhisperApiClient({ baseUrl: server.url }), options: { wordTimestamps: true } },
    { c: new WhisperApiClient({ baseUrl: server.url, wordTimestamps: true }), options: {} },
  ]) {
    const result = await client.c.transcribe(lecture, client.options);
    const all = result.segments.flatMap((segment) => {
      assert.ok(segment.words && segment.words.length > 0, 'every segment has words');
      for (const w of segment.words) {
        assert.ok(w.start >= segment.start - 1e-6 && w.end <= segment.end + 1e-6, `word "${w.word}" outside its segment`);
        assert.ok(w.end >= w.start);
        assert.ok(w.probability >= 0 && w.probability <= 1);
      }
      return segment.words;
    });
    for (let i = 1; i < all.length; i++) {
      assert.ok(all[i]!.start >= all[i - 1]!.start, 'word times increase');
    }
    assert.ok(wer(LECTURE_SENTENCE, all.map((w) => w.word).join(' ')) <= 0.2);
  }
});

test('language, beam size and VAD options reach the server', async () => {
  const client = new WhisperApiClient({ baseUrl: server.url });
  const english = await client.transcribe(lecture, { language: 'en', beamSize: 1, vadFilter: false });
  assert.equal(english.language, 'en');
  assert.ok(wer(LECTURE_SENTENCE, english.text) <= 0.25, english.text);

  // tiny.en is English-only: the server refuses any other language, which proves the field is sent.
  const german = await timed(client.transcribe(lecture, { language: 'de' }));
  assert.ok(german.error instanceof SttError);
  assert.equal(german.error.code, 'BAD_REQUEST');
  assert.equal(german.error.serverCode, 'unsupported_language');
  assert.equal(german.error.status, 400);

  const byDefault = await timed(new WhisperApiClient({ baseUrl: server.url, language: 'de' }).transcribe(lecture));
  assert.ok(byDefault.error instanceof SttError);
  assert.equal(byDefault.error.serverCode, 'unsupported_language');

  // A fixed temperature reaches the server too: out of range, it is refused.
  const fixed = await client.transcribe(lecture, { temperature: 0, beamSize: 1 });
  assert.ok(wer(LECTURE_SENTENCE, fixed.text) <= 0.25, fixed.text);
  const hot = await timed(client.transcribe(lecture, { temperature: 1.5 }));
  assert.ok(hot.error instanceof SttError);
  assert.equal(hot.error.serverCode, 'invalid_option');

  const beam = await timed(client.transcribe(lecture, { beamSize: 11 }));
  assert.ok(beam.error instanceof SttError);
  assert.equal(beam.error.code, 'BAD_REQUEST');
  assert.equal(beam.error.status, 422);
  assert.equal(beam.error.serverCode, 'invalid_option');
});

test('a file that is not audio: BAD_REQUEST after exactly one attempt', async () => {
  const notAudio = tmp.file('notes.wav');
  await writeFile(notAudio, 'these are lecture notes, not audio\n'.repeat(100));
  const retries: WhisperApiRetryEvent[] = [];
  const client = new WhisperApiClient({ baseUrl: server.url, minRetryDelayMs: 10, onRetry: (e) => retries.push(e) });

  const { error } = await timed(client.transcribe(notAudio));
  assert.ok(error instanceof SttError, String(error));
  assert.equal(error.code, 'BAD_REQUEST');
  assert.equal(error.retryable, false);
  assert.equal(error.status, 400);
  assert.equal(error.serverCode, 'invalid_audio');
  assert.equal(error.attempts, 1);
  assert.deepEqual(retries, []);

  const empty = tmp.file('empty.wav');
  await writeFile(empty, '');
  const emptyResult = await timed(client.transcribe(empty));
  assert.ok(emptyResult.error instanceof SttError);
  assert.equal(emptyResult.error.serverCode, 'empty_file');
  assert.equal(emptyResult.error.attempts, 1);

  const missing = await timed(client.transcribe(tmp.file('does-not-exist.wav')));
  assert.ok(missing.error instanceof SttError);
  assert.equal(missing.error.code, 'BAD_REQUEST');
  assert.equal(missing.error.status, undefined, 'refused locally, nothing sent');
  assert.equal(missing.error.attempts, 1);
  assert.deepEqual(retries, []);
});

test('a malformed success body: BAD_RESPONSE, not retried (through the fetch override)', async () => {
  let calls = 0;
  // The real server answers; the host's fetch (e.g. a broken proxy) mangles the body.
  const mangle = (body: string): typeof fetch => async (input, init) => {
    calls += 1;
    const real = await fetch(input, init);
    await real.arrayBuffer();
    return new Response(body, { status: real.status, headers: { 'content-type': 'application/json' } });
  };
  for (const body of ['{"language": "en", "segm', '{"language": "en", "duration": 1, "text": "hi", "segments": [{"id": 0}]}']) {
    calls = 0;
    const client = new WhisperApiClient({ baseUrl: server.url, minRetryDelayMs: 10, fetch: mangle(body) });
    const { error } = await timed(client.transcribe(lecture));
    assert.ok(error instanceof SttError, String(error));
    assert.equal(error.code, 'BAD_RESPONSE');
    assert.equal(error.retryable, false);
    assert.equal(error.status, 200);
    assert.equal(error.attempts, 1);
    assert.equal(calls, 1);
  }
});

test('a tiny timeoutMs: TIMEOUT, retryable, retried `retries` times', async () => {
  const retries: WhisperApiRetryEvent[] = [];
  const client = new WhisperApiClient({
    baseUrl: server.url,
    timeoutMs: 20,
    retries: 1,
    minRetryDelayMs: 10,
    maxRetryDelayMs: 20,
    onRetry: (e) => retries.push(e),
  });
  const { error, ms } = await timed(client.transcribe(lecture));
  assert.ok(error instanceof SttError, String(error));
  assert.equal(error.code, 'TIMEOUT');
  assert.equal(error.retryable, true);
  assert.equal(error.attempts, 2);
  assert.equal(retries.length, 1);
  assert.equal(retries[0]?.attempt, 2);
  assert.equal(retries[0]?.error.code, 'TIMEOUT');
  assert.ok((retries[0]?.delayMs ?? 0) >= 9, `delay ${retries[0]?.delayMs}`);
  assert.ok(ms < 1_000, `took ${ms} ms`);
});

test('abort: while waiting in line and while in flight, ABORTED at once', async () => {
  const client = new WhisperApiClient({ baseUrl: server.url, maxConcurrent: 1 });
  const inFlight = new AbortController();
  const waiting = new AbortController();
  const first = timed(client.transcribe(long, { signal: inFlight.signal }));
  const second = timed(client.transcribe(lecture, { signal: waiting.signal }));
  await waitFor('the first call to be in flight', () => client.inFlight === 1);
  assert.equal(client.queued, 1);

  const abortedAt = performance.now();
  waiting.abort(new Error('room closed'));
  const inLine = await second;
  assert.ok(inLine.error instanceof SttError, String(inLine.error));
  assert.equal(inLine.error.code, 'ABORTED');
  assert.equal(inLine.error.retryable, false);
  assert.equal(inLine.error.attempts, 0, 'never sent');
  assert.ok(performance.now() - abortedAt < 250);
  assert.equal(client.queued, 0);
  assert.equal(client.inFlight, 1, 'the first call is unaffected');

  // Let the server start on the long file, then give up on it.
  await new Promise((r) => setTimeout(r, 500));
  const abortedAt2 = performance.now();
  inFlight.abort();
  const running = await first;
  assert.ok(running.error instanceof SttError, String(running.error));
  assert.equal(running.error.code, 'ABORTED');
  assert.equal(running.error.attempts, 1);
  assert.ok(performance.now() - abortedAt2 < 500, 'rejected at once, not when the server finishes');
  assert.equal(client.inFlight, 0);

  // An already aborted signal never reaches the line.
  const already = await timed(client.transcribe(lecture, { signal: AbortSignal.abort() }));
  assert.ok(already.error instanceof SttError);
  assert.equal(already.error.code, 'ABORTED');
  assert.equal(client.queued + client.inFlight, 0);
});
