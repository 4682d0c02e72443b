// The whole transcription pipeline with real parts: a lecturer (a real WebRTC
// peer whose Opus RTP comes from FFmpeg playing a flite recording) in a room,
// the tap, FFmpeg segments, batches, the real whisper-api, a real Redis, and
// the summary. Then the same with things breaking mid-lecture.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  LECTURE_PARAGRAPHS,
  LECTURE_TEXT,
  RoomTestPeer,
  audioDuration,
  requester,
  speak,
  startRedis,
  freeTcpPort,
  startWhisperApi,
  waitFor,
  wordErrorRate,
  type TestRedis,
  type TestWhisperApi,
} from '@lectern/testkit';
import { WhisperApiClient } from '@lectern/stt-adapter';
import { RoomManager } from '@lectern/server-sdk';
import {
  RedisTranscriptStore,
  TranscriptionService,
  type TranscriptEntry,
  type TranscriptionServiceEvents,
} from '@lectern/server-sdk/transcription';

/** English lectures run on tiny.en (2-3× faster than the default base; transcription-korean-e2e.test.ts covers base). */
const TINY_EN = { WHISPER_MODEL: 'tiny.en' };

let tmp: string;
let lectureWav: string;
let lectureSeconds: number;
let shortWav: string;
let shortSeconds: number;
let redis: TestRedis;
let whisper: TestWhisperApi;
let manager: RoomManager;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-e2e-'));
  lectureWav = path.join(tmp, 'lecture.wav');
  shortWav = path.join(tmp, 'short.wav');
  await Promise.all([speak(LECTURE_TEXT, lectureWav), speak(LECTURE_PARAGRAPHS.slice(0, 2).join(' '), shortWav)]);
  lectureSeconds = await audioDuration(lectureWav);
  shortSeconds = await audioDuration(shortWav);
  [redis, whisper, manager] = await Promise.all([
    startRedis({ persistent: true }),
    startWhisperApi({ env: TINY_EN }),
    RoomManager.create({ workers: { numWorkers: 1 } }),
  ]);
});

after(async () => {
  await manager?.close();
  await whisper?.stop();
  await redis?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

function record(service: TranscriptionService) {
  const log: { [K in keyof TranscriptionServiceEvents]?: TranscriptionServiceEvents[K][] } = {};
  const names = ['segmentWritten', 'batchReady', 'batchTranscribed', 'transcriptUpdated', 'summaryReady', 'pipelineError', 'tapRestarted'] as const;
  for (const name of names) {
    (service.on as (n: string, l: (e: unknown) => void) => void)(name, (e) => {
      ((log[name] ??= []) as unknown[]).push(e);
    });
  }
  return log;
}

function assertTimeline(entries: TranscriptEntry[]) {
  for (let i = 1; i < entries.length; i++) {
    assert.ok(entries[i]!.start >= entries[i - 1]!.start, `offsets increase at ${i}: ${entries[i - 1]!.start} → ${entries[i]!.start}`);
    assert.ok(entries[i]!.end >= entries[i]!.start);
  }
}

async function lecturer(roomId: string): Promise<RoomTestPeer> {
  return RoomTestPeer.join(requester(manager, roomId, 'lecturer', 'lecturer'));
}

test('a 2-minute lecture: transcript in Redis with WER <= 30 %, increasing offsets, and a summary', { timeout: 600_000 }, async () => {
  assert.ok(lectureSeconds >= 120, `lecture is ${lectureSeconds} s`);
  const store = new RedisTranscriptStore({ url: redis.url, keyPrefix: 'e2e:' });
  const workDir = path.join(tmp, 'work-e2e');
  const service = new TranscriptionService(manager, {
    engine: new WhisperApiClient({ baseUrl: whisper.url }),
    store,
    workDir,
    segmentSeconds: 10,
    segmentsPerBatch: 3,
  });
  const log = record(service);
  const peer = await lecturer('e2e');
  try {
    const { lectureId } = await service.startTranscription('e2e', { language: 'en' });
    await peer.produceAudio({ inputFile: lectureWav });
    await new Promise((r) => setTimeout(r, (lectureSeconds + 1.5) * 1000));
    const t0 = Date.now();
    const summary = await service.stopTranscription('e2e');
    const toSummary = Date.now() - t0;

    const entries = await store.getTranscript(lectureId);
    const text = entries.map((e) => e.text).join(' ');
    const wer = wordErrorRate(LECTURE_TEXT, text);
    console.log(`e2e: ${entries.length} entries, WER ${(wer * 100).toFixed(1)} %, ${log.segmentWritten?.length} segments, ${log.batchReady?.length} batches, lecture end → summary ${toSummary} ms`);
    assert.ok(wer <= 0.3, `WER ${(wer * 100).toFixed(1)} %: ${text}`);
    assertTimeline(entries);
    assert.ok(entries.at(-1)!.end > lectureSeconds - 15, `transcript reaches the end: ${entries.at(-1)!.end}`);

    const stored = await store.getSummary(lectureId);
    assert.ok(stored && stored.text.length > 50, 'summary stored next to the transcript');
    assert.deepEqual(stored, summary);
    assert.ok(summary.keyPoints.length >= 2);
    const record = await store.getLecture(lectureId);
    assert.ok(record?.endedAt, 'lecture record has its end');

    // Every stage reported, nothing failed.
    assert.ok((log.segmentWritten?.length ?? 0) >= 12);
    assert.equal(log.batchReady?.length, log.batchTranscribed?.length);
    assert.equal(log.summaryReady?.length, 1);
    assert.deepEqual(log.pipelineError ?? [], []);
    // The same registry as the manager's serves the pipeline's metrics.
    const scraped = await manager.metrics.registry.metrics();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(scraped)?.[1] ?? NaN);
    assert.equal(value('lectern_transcription_segments_written_total'), log.segmentWritten?.length);
    assert.equal(value('lectern_stt_latency_seconds_count'), log.batchTranscribed?.length);
    assert.equal(value('lectern_transcription_batches_pending'), 0);
    // No files, no FFmpeg left; the working directory of the lecture is gone.
    assert.deepEqual(await fs.readdir(workDir), []);
    await store.deleteLecture(lectureId);
    // Nothing left running: no transports on the worker, no FFmpeg child.
    await peer.leave();
    await waitFor('transports released', () => manager.pool.workers.every((w) => w.load.transports === 0), 5_000);
    assert.deepEqual(childFfmpegs(), [], 'no FFmpeg left');
  } finally {
    await peer.leave().catch(() => undefined);
    await service.close();
    await store.close();
  }
});

function childFfmpegs(): string[] {
  const out = spawnSync('pgrep', ['-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' }).stdout.trim();
  return out ? out.split('\n') : [];
}

test('crash paths: FFmpeg killed, whisper-api down for a while, Redis restarted — nothing lost', { timeout: 600_000 }, async () => {
  const store = new RedisTranscriptStore({ url: redis.url, keyPrefix: 'crash:' });
  const workDir = path.join(tmp, 'work-crash');
  const service = new TranscriptionService(manager, {
    engine: new WhisperApiClient({ baseUrl: whisper.url, retries: 1, minRetryDelayMs: 200, maxRetryDelayMs: 500 }),
    store,
    workDir,
    segmentSeconds: 6,
    segmentsPerBatch: 2,
    sttRetry: { retryMinDelayMs: 500, retryMaxDelayMs: 2000 },
  });
  const log = record(service);
  const peer = await lecturer('crash');
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    const { lectureId } = await service.startTranscription('crash', { language: 'en' });
    const started = Date.now();
    await peer.produceAudio({ inputFile: shortWav });

    // 1. FFmpeg dies in the middle of a segment.
    await sleep(9_000);
    const [tapped] = service.pipeline('crash')!.tappedProducers;
    assert.ok(tapped?.ffmpegPid);
    process.kill(tapped.ffmpegPid, 'SIGKILL');

    // 2. The STT server goes away; batches wait on disk.
    await sleep(4_000);
    await whisper.stop();
    const batchesDir = path.join(workDir, lectureId, 'batches');
    await waitFor('a batch waits on disk while whisper-api is down', async () => (await fs.readdir(batchesDir).catch(() => [])).length >= 2, 30_000);
    assert.ok((log.pipelineError ?? []).some((e) => e.stage === 'stt' && e.willRetry), 'STT failure reported, will retry');

    // 3. Redis restarts (persistent, as in production) while whisper-api is still down.
    await redis.restart();
    whisper = await startWhisperApi({ port: whisper.port, env: TINY_EN });

    const remaining = shortSeconds + 1.5 - (Date.now() - started) / 1000;
    if (remaining > 0) await sleep(remaining * 1000);
    const summary = await service.stopTranscription('crash');

    const entries = await store.getTranscript(lectureId);
    const text = entries.map((e) => e.text).join(' ');
    const wer = wordErrorRate(LECTURE_PARAGRAPHS.slice(0, 2).join(' '), text);
    const recorded = (log.segmentWritten ?? []).reduce((a, s) => a + s.duration, 0);
    const restarts = (log.tapRestarted ?? []).length;
    console.log(`crash: ${entries.length} entries, WER ${(wer * 100).toFixed(1)} %, recorded ${recorded.toFixed(1)} of ${shortSeconds.toFixed(1)} s, restarts ${restarts}, errors ${(log.pipelineError ?? []).map((e) => e.stage).join(',')}`);
    assert.ok(restarts >= 1, 'the tap restarted FFmpeg');
    assert.ok(shortSeconds - recorded < 6 + 1.5, `lost ${(shortSeconds - recorded).toFixed(1)} s: at most one 6 s segment`);
    // Every batch that was built was transcribed and stored.
    const batchIds = new Set((log.batchReady ?? []).map((b) => b.batchId));
    assert.deepEqual(new Set(await store.getBatchIds(lectureId)), batchIds);
    assert.ok(wer <= 0.3, `WER ${(wer * 100).toFixed(1)} %: ${text}`);
    assertTimeline(entries);
    assert.ok(summary.text.length > 0);
    assert.deepEqual(await store.getSummary(lectureId), summary);
    assert.deepEqual(await fs.readdir(workDir), [], 'no files left');
    await store.deleteLecture(lectureId);
    await peer.leave();
    assert.deepEqual(childFfmpegs(), [], 'no FFmpeg left');
  } finally {
    await peer.leave().catch(() => undefined);
    await service.close();
    await store.close();
  }
});

test('after a restart, batches a dead process left on disk are transcribed and summarised by recover()', { timeout: 300_000 }, async () => {
  const store = new RedisTranscriptStore({ url: redis.url, keyPrefix: 'recover:' });
  const workDir = path.join(tmp, 'work-recover');
  const deadPort = await freeTcpPort(); // nothing listens: the STT engine is down for the whole first run
  const first = new TranscriptionService(manager, {
    engine: new WhisperApiClient({ baseUrl: `http://127.0.0.1:${deadPort}`, retries: 0 }),
    store,
    workDir,
    segmentSeconds: 5,
    segmentsPerBatch: 2,
    sttRetry: { retryMinDelayMs: 200, retryMaxDelayMs: 500 },
    finalizeTimeoutMs: 2_000,
    // The engine is down on purpose; without this startTranscription would refuse to start.
    engineCheck: false,
  });
  const peer = await lecturer('recover');
  let lectureId = '';
  try {
    ({ lectureId } = await first.startTranscription('recover', { language: 'en' }));
    await peer.produceAudio({ inputFile: shortWav });
    await new Promise((r) => setTimeout(r, 22_000));
    await first.stopTranscription('recover'); // gives up waiting after 2 s: the batches stay
  } finally {
    await peer.leave().catch(() => undefined);
    await first.close();
  }
  const batchesDir = path.join(workDir, lectureId, 'batches');
  const left = (await fs.readdir(batchesDir)).sort();
  assert.ok(left.length >= 2, `batches left on disk: ${left.join(', ')}`);
  assert.deepEqual(await store.getBatchIds(lectureId), []);

  // "The process restarts": a new service over the same working directory.
  const second = new TranscriptionService(manager, { engine: new WhisperApiClient({ baseUrl: whisper.url }), store, workDir });
  try {
    assert.deepEqual(await second.recover(), [lectureId]);
    assert.deepEqual((await store.getBatchIds(lectureId)).sort(), left);
    const entries = await store.getTranscript(lectureId);
    const text = entries.map((e) => e.text).join(' ').toLowerCase();
    assert.ok(text.includes('photosynthesis') || text.includes('sunlight'), text);
    assertTimeline(entries);
    assert.ok((await store.getSummary(lectureId))?.text);
    assert.deepEqual(await fs.readdir(workDir), [], 'recovered lecture directory removed');
    await store.deleteLecture(lectureId);
  } finally {
    await second.close();
    await store.close();
  }
});

test('the lecturer re-joins with a new producer: the tap follows, one stream, one timeline', { timeout: 300_000 }, async () => {
  const workDir = path.join(tmp, 'work-rejoin');
  const service = new TranscriptionService(manager, {
    engine: new WhisperApiClient({ baseUrl: whisper.url }),
    workDir,
    segmentSeconds: 3,
    segmentsPerBatch: 2,
  });
  const log = record(service);
  try {
    const first = await lecturer('rejoin');
    const { lectureId } = await service.startTranscription('rejoin', { language: 'en' });
    await first.produceAudio({ inputFile: shortWav });
    await new Promise((r) => setTimeout(r, 8_000));
    const [before] = service.pipeline('rejoin')!.tappedProducers;
    assert.ok(before);
    await first.leave(); // the producer closes with the peer
    await waitFor('the old tap ends with its producer', () => service.pipeline('rejoin')!.tappedProducers.length === 0, 10_000);

    const again = await lecturer('rejoin');
    await again.produceAudio({ inputFile: shortWav });
    await waitFor('the new producer is tapped', () => service.pipeline('rejoin')!.tappedProducers.length === 1, 10_000);
    const [after] = service.pipeline('rejoin')!.tappedProducers;
    assert.notEqual(after!.producerId, before.producerId);
    assert.equal(after!.streamKey, before.streamKey, 'same stream: lecturer:microphone');
    await new Promise((r) => setTimeout(r, 8_000));
    await service.stopTranscription('rejoin');
    await again.leave();

    const producers = new Set((log.segmentWritten ?? []).map((s) => s.producerId));
    assert.equal(producers.size, 2, 'segments from both producers');
    const entries = await service.store.getTranscript(lectureId);
    assert.ok(entries.length >= 2, `entries: ${entries.length}`);
    assertTimeline(entries);
    const offsets = (log.segmentWritten ?? []).filter((s) => s.producerId === after!.producerId).map((s) => s.offset);
    assert.ok(Math.min(...offsets) >= 8, `the re-joined producer's audio sits later on the timeline: ${offsets.join(', ')}`);
    assert.deepEqual(log.pipelineError ?? [], []);
    assert.deepEqual(await fs.readdir(workDir), []);
  } finally {
    await service.close();
  }
});
