// Live captions with real parts: a lecturer (a real WebRTC peer playing flite
// speech), the tap's live PCM, the real whisper-api's /v1/stream (tiny.en),
// captions to every peer of the room while the lecture runs, the live
// transcript beside the batch one in Redis, and the two summaries.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  LECTURE_PARAGRAPHS,
  RoomTestPeer,
  audioDuration,
  normalizeWords,
  requester,
  speak,
  startRedis,
  startWhisperApi,
  waitFor,
  wordErrorRate,
  type TestRedis,
  type TestWhisperApi,
} from '@lectern/testkit';
import { WhisperApiClient } from '@lectern/stt-adapter';
import { RoomManager, type Notification } from '@lectern/server-sdk';
import { RedisTranscriptStore, TranscriptionService, type CaptionInfo, type LectureSummary, type TranscriptEntry } from '@lectern/server-sdk/transcription';
import { parseWebVtt } from './subtitle-parser.js';

const TINY_EN = { WHISPER_MODEL: 'tiny.en' };
const TEXT = LECTURE_PARAGRAPHS.slice(0, 2).join(' ');

let tmp: string;
let wav: string;
let seconds: number;
let redis: TestRedis;
let whisper: TestWhisperApi;
let manager: RoomManager;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-captions-'));
  wav = path.join(tmp, 'lecture.wav');
  await speak(TEXT, wav);
  seconds = await audioDuration(wav);
  [redis, whisper, manager] = await Promise.all([startRedis(), startWhisperApi({ env: TINY_EN }), RoomManager.create({ workers: { numWorkers: 1 } })]);
});

after(async () => {
  await manager?.close();
  await whisper?.stop();
  await redis?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** How many of the caption finals' words the batch transcript has at about the same time (the two clocks agree). */
function clockAgreement(finals: CaptionInfo[], batch: TranscriptEntry[], toleranceSeconds: number): number {
  const batchWords = batch.flatMap((e) => e.words ?? []).map((w) => ({ key: normalizeWords(w.word)[0], mid: (w.start + w.end) / 2 }));
  const liveWords = finals.flatMap((c) => c.words ?? []).map((w) => ({ key: normalizeWords(w.word)[0], mid: (w.start + w.end) / 2 }));
  const matched = liveWords.filter((l) => l.key && batchWords.some((b) => b.key === l.key && Math.abs(b.mid - l.mid) <= toleranceSeconds));
  return liveWords.length === 0 ? 0 : matched.length / liveWords.length;
}

test('captions reach every peer while the lecture runs; finals are stored as the live transcript; a live summary, then the batch one', { timeout: 300_000 }, async () => {
  const store = new RedisTranscriptStore({ url: redis.url, keyPrefix: 'captions:' });
  const engine = new WhisperApiClient({ baseUrl: whisper.url });
  const service = new TranscriptionService(manager, {
    engine,
    store,
    workDir: path.join(tmp, 'work'),
    segmentSeconds: 10,
    segmentsPerBatch: 2,
    transcribe: { wordTimestamps: true },
    captions: { engine },
  });
  const notes: Notification[] = [];
  const onNote = (n: Notification) => {
    if (n.roomId === 'cap' && n.name === 'caption') notes.push(n);
  };
  manager.on('notification', onNote);
  const events: CaptionInfo[] = [];
  service.on('caption', (c) => events.push(c));
  const summaries: { summary: LectureSummary; at: number }[] = [];
  service.on('summaryReady', ({ summary }) => summaries.push({ summary, at: Date.now() }));
  const errors: string[] = [];
  // The FFmpeg killed on purpose is reported (stage tap, will retry); anything else is a failure.
  service.on('pipelineError', ({ stage, error, willRetry }) => {
    if (!(stage === 'tap' && willRetry)) errors.push(`${stage}: ${error.message}`);
  });

  const lecturer = await RoomTestPeer.join(requester(manager, 'cap', 'lecturer', 'lecturer'));
  const student = await RoomTestPeer.join(requester(manager, 'cap', 'student', 'student'));
  try {
    const { lectureId } = await service.startTranscription('cap', { language: 'en' });
    const producerId = await lecturer.produceAudio({ inputFile: wav });
    const playing = Date.now();
    // Halfway through, captions are already on the student's screen.
    await sleep((seconds / 2) * 1000);
    const midway = notes.filter((n) => n.to.includes('student'));
    assert.ok(midway.some((n) => (n.data as CaptionInfo).kind === 'partial'), 'partials reached the student during the lecture');
    assert.ok(midway.some((n) => (n.data as CaptionInfo).kind === 'final'), 'finals reached the student during the lecture');
    // A pause of 4 s: the tap's run ends, the next starts on the lecture's clock again.
    await lecturer.request('pauseProducer', { producerId });
    await sleep(4000);
    await lecturer.request('resumeProducer', { producerId });
    // Then the tap's FFmpeg dies: it is restarted on a new run, whose stream starts on the same clock.
    await sleep(6000);
    const [tapped] = service.pipeline('cap')!.tappedProducers;
    assert.ok(tapped?.ffmpegPid, 'the tap runs');
    process.kill(tapped.ffmpegPid, 'SIGKILL');
    await sleep(Math.max(0, seconds * 1000 - (Date.now() - playing)) + 2000);
    const stopAt = Date.now();
    const summary = await service.stopTranscription('cap');

    const finals = events.filter((c) => c.kind === 'final');
    const partials = events.filter((c) => c.kind === 'partial');
    const liveText = finals.map((c) => c.text).join(' ');
    const batch = await store.getTranscript(lectureId);
    const batchText = batch.map((e) => e.text).join(' ');
    const liveWer = wordErrorRate(TEXT, liveText);
    const batchWer = wordErrorRate(TEXT, batchText);
    const agreement = clockAgreement(finals, batch, 1.5);
    console.log(
      `captions: ${partials.length} partials, ${finals.length} finals; WER live ${(liveWer * 100).toFixed(1)} % vs batch ${(batchWer * 100).toFixed(1)} % ` +
        `(the 4 s pause and the FFmpeg restart lost their words for both); clock agreement ${(agreement * 100).toFixed(0)} %; summaries ${summaries.map((s) => `${s.summary.source} +${s.at - stopAt} ms`).join(', ')}`,
    );
    assert.deepEqual(errors, []);
    // Every caption went to every peer of the room, in order, each once.
    assert.equal(notes.length, events.length);
    for (const n of notes) assert.deepEqual([...n.to].sort(), ['lecturer', 'student']);
    assert.deepEqual(notes.map((n) => (n.data as CaptionInfo).seq), events.map((c) => c.seq));
    assert.ok(events.every((c, i) => i === 0 || c.seq > events[i - 1]!.seq));
    // Finals: append-only on the lecture clock, agreeing with the batch transcript's times.
    for (let i = 1; i < finals.length; i++) assert.ok(finals[i]!.start >= finals[i - 1]!.end - 1e-3, `final ${i} overlaps the one before`);
    assert.ok(agreement >= 0.6, `only ${(agreement * 100).toFixed(0)} % of the live words sit where the batch transcript has them`);
    // A run after the FFmpeg restart continues the previous one (its last second as context), so
    // the live path loses no more there than the batch path does.
    assert.ok(liveWer <= batchWer + 0.1, `live WER ${(liveWer * 100).toFixed(1)} % vs batch ${(batchWer * 100).toFixed(1)} %: ${liveText}`);
    // The live transcript is stored beside the batch one.
    const live = await store.getTranscript(lectureId, { source: 'live' });
    assert.deepEqual(live.map((e) => e.text), finals.map((c) => c.text));
    const vtt = await service.exportTranscript(lectureId, 'vtt', { source: 'live' });
    assert.ok(parseWebVtt(vtt.text).length >= 1 && vtt.cues >= 1, 'the live transcript exports as WebVTT');
    // Two summaries: the live one within seconds of the end, then the batch one, which stays.
    assert.deepEqual(summaries.map((s) => s.summary.source), ['live', 'batch']);
    assert.ok(summaries[0]!.at - stopAt <= 10_000, `live summary after ${summaries[0]!.at - stopAt} ms`);
    assert.equal(summary.source, 'batch');
    assert.deepEqual(await store.getSummary(lectureId), summary);
    await store.deleteLecture(lectureId);
  } finally {
    manager.off('notification', onNote);
    await lecturer.leave().catch(() => undefined);
    await student.leave().catch(() => undefined);
    await service.close();
    await store.close();
  }
});

test('a lecture can opt out of captions; a service without them sends none', { timeout: 120_000 }, async () => {
  const engine = new WhisperApiClient({ baseUrl: whisper.url });
  const service = new TranscriptionService(manager, { engine, workDir: path.join(tmp, 'work-off'), captions: { engine } });
  const events: CaptionInfo[] = [];
  service.on('caption', (c) => events.push(c));
  const lecturer = await RoomTestPeer.join(requester(manager, 'quiet', 'lecturer', 'lecturer'));
  try {
    await service.startTranscription('quiet', { language: 'en', captions: false });
    await lecturer.produceAudio({ inputFile: wav });
    await sleep(8000);
    await service.stopTranscription('quiet');
    assert.deepEqual(events, []);
  } finally {
    await lecturer.leave().catch(() => undefined);
    await service.close();
  }
  assert.throws(() => new TranscriptionService(manager, { engine, captions: { engine: {} as never } }), /captions.engine/);
  assert.throws(() => new TranscriptionService(manager, { engine, captions: { engine, maxPartialsPerSecond: 0 } }), /maxPartialsPerSecond/);
  await waitFor('no transports left', () => manager.pool.workers.every((w) => w.load.transports === 0), 5000);
});
