// WhisperApiClient.openStream against the real whisper-api (/v1/stream,
// tiny.en) with real flite speech: partials then finals on the caller's
// clock, a reconnect after the server is killed mid-stream (finals neither
// repeated nor shifted), and refusals that end the stream.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { STREAM_BYTES_PER_SECOND, WhisperApiClient, type SttError, type SttStream, type SttStreamFinal } from '@lectern/stt-adapter';
import { startWhisperApi, type TestWhisperApi } from '@lectern/testkit';
import { TINY_EN, LONG_PARAGRAPH, speech, tempDir, wer, words } from './helpers.js';

const run = promisify(execFile);

let server: TestWhisperApi;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let pcm: Buffer;

/** 16 kHz mono s16le of a WAV, through FFmpeg. */
async function toPcm(wav: string): Promise<Buffer> {
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', wav, '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1'], {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Writes `audio` to the stream in 100 ms frames, `speed` times faster than real time; `at` runs before the frame at that second. */
async function play(stream: SttStream, audio: Buffer, speed: number, at?: { second: number; run: () => Promise<void> }): Promise<void> {
  const frame = STREAM_BYTES_PER_SECOND / 10;
  let fired = false;
  for (let i = 0; i < audio.length; i += frame) {
    if (at && !fired && i >= at.second * STREAM_BYTES_PER_SECOND) {
      fired = true;
      await at.run();
    }
    stream.write(audio.subarray(i, i + frame));
    await new Promise((r) => setTimeout(r, 100 / speed));
  }
}

function collect(stream: SttStream) {
  const finals: SttStreamFinal[] = [];
  const partials: string[] = [];
  const reconnects: SttError[] = [];
  const errors: SttError[] = [];
  const closed: string[] = [];
  stream.on('final', (f) => finals.push(f));
  stream.on('partial', (p) => partials.push(p.text));
  stream.on('reconnecting', (r) => reconnects.push(r.error));
  stream.on('error', (e) => errors.push(e));
  stream.on('closed', (c) => closed.push(c.reason));
  return { finals, partials, reconnects, errors, closed };
}

/** Finals come in order, never overlap, and lie within the audio on the caller's clock. */
function assertTimeline(finals: SttStreamFinal[], offset: number, seconds: number): void {
  let previousEnd = offset;
  for (const f of finals) {
    assert.ok(f.start >= previousEnd - 1e-3, `final "${f.text}" starts at ${f.start} before the previous end ${previousEnd}`);
    assert.ok(f.end >= f.start && f.end <= offset + seconds + 0.5, `final "${f.text}" [${f.start}, ${f.end}] outside [${offset}, ${offset + seconds}]`);
    for (const w of f.words) assert.ok(w.start >= f.start - 1e-3 && w.end <= f.end + 1e-3, `word ${w.word} outside its final`);
    previousEnd = f.end;
  }
}

before(async () => {
  tmp = await tempDir();
  const [started, wav] = await Promise.all([startWhisperApi({ env: { ...TINY_EN, WHISPER_MAX_STREAMS: '2' } }), speech(tmp.dir, 'long', LONG_PARAGRAPH)]);
  server = started;
  pcm = await toPcm(wav);
});
after(async () => {
  await server?.stop();
  await tmp?.remove();
});

test('speech streamed in real time: partials, then finals on the offset clock; end() flushes the rest', async () => {
  const client = new WhisperApiClient({ baseUrl: server.url });
  const offset = 1000;
  const stream = client.openStream({ offset, language: 'en' });
  const got = collect(stream);
  await play(stream, pcm, 2);
  await stream.end();
  const seconds = pcm.length / STREAM_BYTES_PER_SECOND;
  const text = got.finals.map((f) => f.text).join(' ');
  const error = wer(LONG_PARAGRAPH, text);
  console.log(`stream of ${seconds.toFixed(1)} s: ${got.partials.length} partials, ${got.finals.length} finals, WER ${(error * 100).toFixed(1)} %`);
  assert.ok(got.partials.some((p) => p.length > 0), 'partials arrived');
  assert.ok(got.finals.length >= 3, `finals arrived (${got.finals.length})`);
  assert.ok(error <= 0.25, `WER ${error.toFixed(2)}: "${text}"`);
  assert.ok(words(text).includes("questions"), `the last sentence became final before end() resolved: "${text}"`);
  assertTimeline(got.finals, offset, seconds);
  assert.equal(stream.committedUntil, got.finals.at(-1)!.end);
  assert.deepEqual(got.closed, ['ended']);
  assert.deepEqual(got.errors, []);
});

test('the server killed mid-stream: the stream reconnects, replays after its last final, and no final is repeated or shifted', async () => {
  const client = new WhisperApiClient({ baseUrl: server.url, stream: { reconnectMinDelayMs: 200, reconnectMaxDelayMs: 1000 } });
  const offset = 50;
  const stream = client.openStream({ offset, language: 'en' });
  const got = collect(stream);
  let finalsBeforeKill = 0;
  await play(stream, pcm, 2, {
    second: 14,
    run: async () => {
      finalsBeforeKill = got.finals.length;
      await server.process.stop('SIGKILL');
      server = await startWhisperApi({ port: server.port, env: { ...TINY_EN, WHISPER_MAX_STREAMS: '2' } });
    },
  });
  await stream.end();
  const seconds = pcm.length / STREAM_BYTES_PER_SECOND;
  const text = got.finals.map((f) => f.text).join(' ');
  const error = wer(LONG_PARAGRAPH, text);
  console.log(`reconnects ${got.reconnects.length} (${got.reconnects.map((e) => e.code).join(', ')}); finals ${finalsBeforeKill} before the kill, ${got.finals.length} in all; WER ${(error * 100).toFixed(1)} %`);
  assert.ok(finalsBeforeKill >= 1, 'finals arrived before the kill');
  assert.ok(got.reconnects.length >= 1, 'the stream reconnected');
  assert.ok(got.finals.length > finalsBeforeKill, 'finals continued after the reconnect');
  assertTimeline(got.finals, offset, seconds);
  // Replayed audio must not come back as repeated text: every word of the
  // lecture appears at most as often as it was spoken (give or take one).
  const spoken = new Map<string, number>();
  for (const w of words(LONG_PARAGRAPH)) spoken.set(w, (spoken.get(w) ?? 0) + 1);
  const heard = new Map<string, number>();
  for (const w of words(text)) heard.set(w, (heard.get(w) ?? 0) + 1);
  for (const [w, n] of heard) if (spoken.has(w)) assert.ok(n <= spoken.get(w)! + 1, `"${w}" heard ${n}× but spoken ${spoken.get(w)}×: "${text}"`);
  assert.ok(error <= 0.25, `WER ${error.toFixed(2)}: "${text}"`);
  assert.deepEqual(got.closed, ['ended']);
});

test('refusals end the stream: a wrong token (UNAUTHORIZED), a language the model cannot do (BAD_REQUEST)', async () => {
  const secured = await startWhisperApi({ env: { ...TINY_EN, WHISPER_API_TOKEN: 'a-secret-token-of-enough-length' } });
  try {
    for (const [client, language, code] of [
      [new WhisperApiClient({ baseUrl: secured.url, token: 'the-wrong-token-but-long-enough' }), 'en', 'UNAUTHORIZED'],
      [new WhisperApiClient({ baseUrl: secured.url }), 'en', 'UNAUTHORIZED'],
      [new WhisperApiClient({ baseUrl: server.url }), 'ko', 'BAD_REQUEST'],
    ] as const) {
      const stream = client.openStream({ language });
      const got = collect(stream);
      stream.write(pcm.subarray(0, STREAM_BYTES_PER_SECOND));
      const deadline = Date.now() + 10_000;
      while (got.closed.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(got.closed, ['failed'], `${code}: closed`);
      assert.equal(got.errors[0]?.code, code);
      assert.equal(got.errors[0]?.retryable, false);
      assert.equal(got.reconnects.length, 0, 'a refusal is not retried');
    }
    // The right token streams.
    const stream = new WhisperApiClient({ baseUrl: secured.url, token: 'a-secret-token-of-enough-length' }).openStream({ language: 'en' });
    const got = collect(stream);
    await play(stream, pcm.subarray(0, 8 * STREAM_BYTES_PER_SECOND), 4);
    await stream.end();
    assert.ok(got.finals.length >= 1 && got.errors.length === 0, 'finals with the right token');
  } finally {
    await secured.stop();
  }
});

test('close() stops at once; writes after it are ignored; a stream that never got audio ends at once', async () => {
  const client = new WhisperApiClient({ baseUrl: server.url });
  const quiet = client.openStream();
  const started = Date.now();
  await quiet.end();
  assert.ok(Date.now() - started < 2000, 'nothing to finalise');
  const stream = client.openStream({ language: 'en' });
  const got = collect(stream);
  stream.write(pcm.subarray(0, STREAM_BYTES_PER_SECOND));
  stream.close();
  stream.write(pcm.subarray(0, STREAM_BYTES_PER_SECOND));
  await stream.end();
  assert.deepEqual(got.closed, ['closed']);
  assert.throws(() => client.openStream({ offset: -1 }), RangeError);
  assert.throws(() => client.openStream({ offset: 10, committedUntil: 9 }), RangeError);
  assert.throws(() => client.openStream({ offset: 10, committedUntil: 71 }), RangeError);
});
