// STT on a BullMQ queue with real parts: a real redis-server, two real
// whisper-api servers (tiny.en), real batches of flite speech. A lecture in a
// room transcribed by two workers; a worker process killed with SIGKILL while
// it transcribes (the job is recovered by another worker: stalled-job
// recovery); a duplicate enqueue; a batch the engine refuses (BAD_REQUEST).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import {
  LECTURE_PARAGRAPHS,
  RoomTestPeer,
  audioDuration,
  requester,
  speak,
  startProcess,
  startRedis,
  startWhisperApi,
  wordErrorRate,
  type TestRedis,
  type TestWhisperApi,
} from '@lectern/testkit';
import { SttError, WhisperApiClient, type SttEngine } from '@lectern/stt-adapter';
import { ErrorCode, RoomManager } from '@lectern/server-sdk';
import {
  RedisTranscriptStore,
  STT_AUDIO_KEY_PREFIX,
  SttQueueWorker,
  TranscriptionService,
  sttJobId,
  type BatchManifest,
  type TranscriptionServiceEvents,
} from '@lectern/server-sdk/transcription';
import { SttQueueProducer } from '../src/transcription/queue/producer.js';
import { EnginePool } from '../src/transcription/queue/worker.js';
import { audioConnection, sttJobBackoff } from '../src/transcription/queue/common.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./stt-queue-worker-child.ts', import.meta.url));
/** One core's worth each: the two servers share the machine's two cores. */
const WHISPER_ENV = { WHISPER_MODEL: 'tiny.en', WHISPER_CPU_THREADS: '1' };

let tmp: string;
let shortWav: string;
let paragraphWavs: string[];
let redis: TestRedis;
let whisper: TestWhisperApi[];
let manager: RoomManager;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-stt-queue-'));
  shortWav = path.join(tmp, 'short.wav');
  paragraphWavs = LECTURE_PARAGRAPHS.map((_, i) => path.join(tmp, `p${i}.wav`));
  await Promise.all([speak(LECTURE_PARAGRAPHS.slice(0, 2).join(' '), shortWav), ...LECTURE_PARAGRAPHS.map((p, i) => speak(p, paragraphWavs[i]!))]);
  [redis, manager] = await Promise.all([startRedis(), RoomManager.create({ workers: { numWorkers: 1 } })]);
  whisper = await Promise.all([startWhisperApi({ env: WHISPER_ENV }), startWhisperApi({ env: WHISPER_ENV })]);
});

after(async () => {
  await manager?.close();
  await Promise.all((whisper ?? []).map((w) => w.stop()));
  await redis?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Keys of batch audio left in Redis. */
async function audioKeys(): Promise<string[]> {
  const client = audioConnection(redis.url);
  try {
    return await client.keys(`${STT_AUDIO_KEY_PREFIX}*`);
  } finally {
    await client.quit();
  }
}

/** A lecture directory as a crashed producer leaves it: its record and complete batches (recover() resumes it). */
async function lectureDir(workDir: string, lectureId: string, batches: { batchId: string; wav?: string; garbage?: boolean; offset: number }[]) {
  const dir = path.join(workDir, lectureId);
  await fs.mkdir(path.join(dir, 'segments'), { recursive: true });
  await fs.writeFile(path.join(dir, 'lecture.json'), JSON.stringify({ version: 1, lectureId, roomId: `room-${lectureId}`, startedAtMs: Date.now() - 600_000, requestedLanguage: 'en' }));
  for (const b of batches) {
    const batchDir = path.join(dir, 'batches', b.batchId);
    await fs.mkdir(batchDir, { recursive: true });
    const file = path.join(batchDir, 'audio.mp3');
    let duration = 10;
    if (b.garbage) {
      await fs.writeFile(file, 'this is not audio at all '.repeat(200));
    } else {
      const p = startProcess('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', b.wav!, '-ac', '1', '-ar', '16000', '-c:a', 'libmp3lame', '-b:a', '48k', file]);
      assert.equal(await p.exited, 0, p.stderr());
      duration = await audioDuration(file);
    }
    const manifest: BatchManifest = {
      version: 1, lectureId, batchId: b.batchId, streamKey: 'lecturer:microphone', file: 'audio.mp3', format: 'mp3',
      createdAt: new Date().toISOString(), duration, offset: b.offset,
      parts: [{ batchStart: 0, offset: b.offset, duration, partial: false }],
    };
    await fs.writeFile(path.join(batchDir, 'manifest.json'), JSON.stringify(manifest));
  }
}

function record(service: TranscriptionService) {
  const errors: TranscriptionServiceEvents['pipelineError'][] = [];
  const ready: string[] = [];
  service.on('pipelineError', (e) => errors.push(e));
  service.on('batchReady', (e) => ready.push(e.batchId));
  return { errors, ready };
}

function countStored(worker: SttQueueWorker, counts: Map<string, number>): void {
  worker.on('batchStored', (e) => counts.set(e.batchId, (counts.get(e.batchId) ?? 0) + 1));
}

test('engine pool: least busy engine with room; one that failed to answer is skipped while another is free', () => {
  const engine = (name: string): SttEngine => ({ name, healthy: async () => true, transcribe: () => Promise.reject(new Error('unused')) });
  const pool = new EnginePool([engine('a'), engine('b')], 2, 60_000);
  assert.equal(pool.capacity, 4);
  const s1 = pool.acquire();
  const s2 = pool.acquire();
  assert.notEqual(s1.engine.name, s2.engine.name, 'spread over both');
  pool.release(s1, true); // s1 failed to answer: cooling down
  const s3 = pool.acquire();
  assert.equal(s3.engine.name, s2.engine.name, 'the cooling engine is skipped');
  const s4 = pool.acquire();
  assert.equal(s4.engine.name, s1.engine.name, 'the cooling engine is used when the healthy one is full');
  // Refused credentials retry at the ceiling; anything else backs off from the floor.
  const policy = { minMs: 1000, maxMs: 60_000 };
  assert.equal(sttJobBackoff(1, new SttError('UNAUTHORIZED', 'no'), policy), 60_000);
  assert.equal(sttJobBackoff(1, Object.assign(new Error('[UNAUTHORIZED] no'), { sttCode: 'UNAUTHORIZED' }), policy), 60_000);
  assert.ok(sttJobBackoff(1, new SttError('UNAVAILABLE', 'down'), policy) <= 1000);
});

test('a lecture through the queue: two workers on two whisper-api servers, every batch stored once, WER and summary as in-process', { timeout: 300_000 }, async () => {
  const shortSeconds = await audioDuration(shortWav);
  const store = new RedisTranscriptStore({ url: redis.url, keyPrefix: 'sq1:' });
  const workerStores = [0, 1].map(() => new RedisTranscriptStore({ url: redis.url, keyPrefix: 'sq1:' }));
  const workers = [0, 1].map((i) => new SttQueueWorker({ connection: redis.url, name: 'q-lecture', engines: [new WhisperApiClient({ baseUrl: whisper[i]!.url })], store: workerStores[i]! }));
  const stored = new Map<string, number>();
  const byEngine = new Map<number, number>();
  workers.forEach((w, i) => {
    countStored(w, stored);
    w.on('batchStored', () => byEngine.set(i, (byEngine.get(i) ?? 0) + 1));
  });
  const workDir = path.join(tmp, 'work-lecture');
  const service = new TranscriptionService(manager, {
    engine: new WhisperApiClient({ baseUrl: whisper[0]!.url }),
    store,
    workDir,
    segmentSeconds: 10,
    segmentsPerBatch: 2,
    sttQueue: { connection: redis.url, name: 'q-lecture' },
  });
  const log = record(service);
  const peer = await RoomTestPeer.join(requester(manager, 'sq', 'lecturer', 'lecturer'));
  try {
    await Promise.all(workers.map((w) => w.ready()));
    const { lectureId } = await service.startTranscription('sq', { language: 'en' });
    await peer.produceAudio({ inputFile: shortWav });
    await new Promise((r) => setTimeout(r, (shortSeconds + 1.5) * 1000));
    const summary = await service.stopTranscription('sq');
    const entries = await store.getTranscript(lectureId);
    const text = entries.map((e) => e.text).join(' ');
    const wer = wordErrorRate(LECTURE_PARAGRAPHS.slice(0, 2).join(' '), text);
    console.log(`stt-queue lecture: ${log.ready.length} batches, WER ${(wer * 100).toFixed(1)} %, stored by worker ${JSON.stringify([...byEngine])}`);
    assert.deepEqual(log.errors, []);
    assert.ok(log.ready.length >= 3, `${log.ready.length} batches`);
    assert.ok(wer <= 0.3, `WER ${(wer * 100).toFixed(1)} % (the in-process e2e test allows 30 %): ${text}`);
    assert.deepEqual((await store.getBatchIds(lectureId)).sort(), [...log.ready].sort(), 'every batch stored');
    assert.deepEqual([...stored.values()].filter((n) => n !== 1), [], `each batch stored exactly once: ${JSON.stringify([...stored])}`);
    assert.equal(stored.size, log.ready.length);
    assert.deepEqual(await store.getSummary(lectureId), summary);
    assert.equal(summary.source, 'batch');
    assert.deepEqual(await audioKeys(), [], 'no batch audio left in Redis');
    assert.deepEqual(await fs.readdir(workDir), [], 'the lecture directory is gone');
  } finally {
    await peer.leave().catch(() => undefined);
    await service.close();
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all([store, ...workerStores].map((s) => s.close()));
  }
});

test('a worker killed (SIGKILL) mid-job: another worker takes the job again after its lock expires, stored once', { timeout: 180_000 }, async () => {
  const workDir = path.join(tmp, 'work-kill');
  const lectureId = 'kill-1';
  const batchId = 'lecturer_microphone-0000000000';
  await lectureDir(workDir, lectureId, [{ batchId, wav: shortWav, offset: 0 }]);
  const store = new RedisTranscriptStore({ url: redis.url, keyPrefix: 'sq2:' });
  const service = new TranscriptionService(manager, { engine: new WhisperApiClient({ baseUrl: whisper[0]!.url }), store, workDir, sttQueue: { connection: redis.url, name: 'q-kill' } });
  const log = record(service);
  const config = { redisUrl: redis.url, keyPrefix: 'sq2:', queue: 'q-kill', whisperUrls: [whisper[0]!.url], lockDurationMs: 2000, stalledIntervalMs: 1000, tmpDir: tmp };
  const child: ChildProcess = spawn(process.execPath, ['--conditions=lectern-source', '--import', 'tsx', CHILD, JSON.stringify(config)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let childOut = '';
  let childErr = '';
  child.stderr!.on('data', (d: Buffer) => (childErr += d.toString()));
  const childExited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));
  const line = (prefix: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (childOut.split('\n').some((l) => l.startsWith(prefix)) ? resolve() : undefined);
      child.stdout!.on('data', (d: Buffer) => {
        childOut += d.toString();
        check();
      });
      void childExited.then(() => reject(new Error(`the child exited before "${prefix}": ${childErr}`)));
      check();
    });
  const survivorStore = new RedisTranscriptStore({ url: redis.url, keyPrefix: 'sq2:' });
  let survivor: SttQueueWorker | undefined;
  const stored = new Map<string, number>();
  try {
    await line('ready');
    const recovered = service.recover();
    await line('transcribing');
    child.kill('SIGKILL');
    assert.equal(await childExited, 'SIGKILL');
    // The other worker starts only now: the job can only reach it through stalled-job recovery.
    survivor = new SttQueueWorker({ connection: redis.url, name: 'q-kill', engines: [new WhisperApiClient({ baseUrl: whisper[1]!.url })], store: survivorStore, stalled: { stalledIntervalMs: 1000 } });
    countStored(survivor, stored);
    const t0 = Date.now();
    assert.deepEqual(await recovered, [lectureId]);
    console.log(`stt-queue kill: job recovered and stored ${Date.now() - t0} ms after the kill`);
    assert.ok(!childOut.includes('stored '), 'the killed worker never stored it');
    assert.deepEqual([...stored], [[batchId, 1]], 'stored once, by the survivor');
    assert.deepEqual(await store.getBatchIds(lectureId), [batchId]);
    assert.ok((await store.getTranscript(lectureId)).length > 0);
    assert.ok(await store.getSummary(lectureId), 'summary made');
    assert.deepEqual(log.errors, []);
    assert.deepEqual(await audioKeys(), []);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await childExited;
    await service.close();
    await survivor?.close();
    await Promise.all([store.close(), survivorStore.close()]);
  }
});

test('a duplicate enqueue is one job; a batch the engine refuses (BAD_REQUEST) fails at once, is reported, and the lecture still ends with a summary', { timeout: 180_000 }, async () => {
  const workDir = path.join(tmp, 'work-bad');
  const lectureId = 'bad:1'; // a ':' in the lecture id, which BullMQ job ids may not hold as such
  const good = 'lecturer_microphone-0000000000';
  const bad = 'lecturer_microphone-0000060000';
  await lectureDir(workDir, lectureId, [{ batchId: good, wav: paragraphWavs[0]!, offset: 0 }, { batchId: bad, garbage: true, offset: 60 }]);
  const store = new RedisTranscriptStore({ url: redis.url, keyPrefix: 'sq3:' });
  const producer = new SttQueueProducer({ connection: redis.url, name: 'q-bad' });
  const service = new TranscriptionService(manager, { engine: new WhisperApiClient({ baseUrl: whisper[0]!.url }), store, workDir, sttQueue: { connection: redis.url, name: 'q-bad' } });
  const log = record(service);
  let worker: SttQueueWorker | undefined;
  const workerStore = new RedisTranscriptStore({ url: redis.url, keyPrefix: 'sq3:' });
  try {
    // The same batch enqueued twice, before any worker runs: one job.
    const manifest = JSON.parse(await fs.readFile(path.join(workDir, lectureId, 'batches', good, 'manifest.json'), 'utf8')) as BatchManifest;
    const data = { lectureId, batchId: good, manifest, language: 'en', transcribe: {} };
    const audio = path.join(workDir, lectureId, 'batches', good, 'audio.mp3');
    const [first, second] = [await producer.enqueue(data, audio), await producer.enqueue(data, audio)];
    assert.equal(first.id, sttJobId(lectureId, good));
    assert.equal(second.id, first.id);
    const counts = await producer.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 1, `one job: ${JSON.stringify(counts)}`);

    worker = new SttQueueWorker({ connection: redis.url, name: 'q-bad', engines: [new WhisperApiClient({ baseUrl: whisper[1]!.url, retries: 0 })], store: workerStore });
    const jobErrors: { batchId: string; willRetry: boolean }[] = [];
    worker.on('jobError', (e) => jobErrors.push({ batchId: e.batchId, willRetry: e.willRetry }));
    const stored = new Map<string, number>();
    countStored(worker, stored);
    // recover() enqueues both leftover batches again (the good one a third time: still the one job).
    assert.deepEqual(await service.recover(), [lectureId]);
    assert.deepEqual([...stored], [[good, 1]]);
    assert.deepEqual(await store.getBatchIds(lectureId), [good]);
    const summary = await store.getSummary(lectureId);
    assert.ok(summary && summary.text.length > 0, 'the lecture ends with a summary');
    assert.equal(log.errors.length, 1, JSON.stringify(log.errors));
    const reported = log.errors[0]!;
    assert.equal(reported.stage, 'stt');
    assert.equal(reported.willRetry, false);
    assert.equal(reported.error.code, ErrorCode.INVALID_REQUEST);
    assert.equal(reported.error.details?.['sttCode'], 'BAD_REQUEST');
    assert.equal(reported.error.details?.['batchId'], bad);
    const badJob = await producer.queue.getJob(sttJobId(lectureId, bad));
    assert.equal(badJob?.attemptsMade, 1, 'no retry of bad input');
    assert.deepEqual(jobErrors, [{ batchId: bad, willRetry: false }]);
    // Kept for an operator, as in the single-process mode.
    assert.deepEqual(await fs.readdir(path.join(workDir, lectureId, 'failed')), [bad]);
    assert.deepEqual(await audioKeys(), []);
  } finally {
    await service.close();
    await producer.close();
    await worker?.close();
    await Promise.all([store.close(), workerStore.close()]);
  }
});
